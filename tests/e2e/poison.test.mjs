// Poison input never stops shared work (issue 19) and usage keeps flowing (issue 25): model
// names Postgres cannot store as they are (NUL, lone surrogates as JSON escapes, invalid
// escapes, control characters, 10 KB), through every dialect, then ordinary requests. Every
// request yields exactly one usage record in Postgres, later requests show in the request log,
// nothing is quarantined or counted twice, and readiness reports the pipeline as clear.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, waitForRows } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, O, user;

before(async () => {
  O = await startOrigin({ name: "o", models: ["llama3:latest"] });
  O.chunkDelay = 0;
  env = await setup({ name: "poison" });
  admin = adminClient(env.url);
  const n = await admin.post("/nodes", { name: "o", node_type: "ollama", base_url: O.url }, 201);
  await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  user = await admin.post("/users", { username: "poisoner", has_all_models: true }, 201);
});
after(async () => {
  await env?.stop();
  await O?.stop();
});

// Raw JSON text for the model field, so the escapes reach the gateway exactly as written.
const NAMES = {
  nul: String.raw`"mock\u0000"`,
  nul_inside: String.raw`"fa\u0000st"`,
  lone_high_surrogate: String.raw`"m\ud800"`,
  lone_low_surrogate: String.raw`"\udfffm"`,
  invalid_escape: String.raw`"mo\xck"`,
  control: String.raw`"\u0001\u001b[31mred\u007f\u0085\u2028"`,
  long: JSON.stringify("m".repeat(10 * 1024)),
  long_multibyte: JSON.stringify("é€😀".repeat(1200)),
};

const DIALECTS = {
  "/v1/chat/completions": (m) => `{"model":${m},"messages":[{"role":"user","content":"hi"}]}`,
  "/v1/chat/completions (stream)": (m) => `{"model":${m},"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
  "/v1/responses": (m) => `{"model":${m},"input":"hi"}`,
  "/v1/messages": (m) => `{"model":${m},"max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`,
  "/api/chat": (m) => `{"model":${m},"messages":[{"role":"user","content":"hi"}]}`,
  "/api/generate": (m) => `{"model":${m},"prompt":"hi"}`,
  "/v1/embeddings": (m) => `{"model":${m},"input":"hi"}`,
  "/api/embed": (m) => `{"model":${m},"input":"hi"}`,
};

const send = (path, body) =>
  fetch(`${env.url}${path.split(" ")[0]}`, { method: "POST", headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" }, body }).then(async (r) => ({ status: r.status, text: await r.text() }));

const count = (sql) => Number(env.psql(sql));

test("hostile model names in every dialect: each answered, each recorded once, and usage keeps flowing", async () => {
  let sent = 0;
  for (const [dialect, body] of Object.entries(DIALECTS)) {
    for (const [kind, name] of Object.entries(NAMES)) {
      const r = await send(dialect, body(name));
      sent++;
      assert.ok(r.status >= 400 && r.status < 500, `${dialect} ${kind}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.ok(r.text.length < 20_000, `${dialect} ${kind}: the error does not echo 10 KB back`);
    }
  }
  // Ordinary requests after the poison, in every dialect.
  for (const [dialect, body] of Object.entries(DIALECTS)) {
    const r = await send(dialect, body(`"fast"`));
    sent++;
    assert.equal(r.status, 200, `${dialect}: ${r.text.slice(0, 300)}`);
  }
  await waitForRows(env, "SELECT id FROM usage_records WHERE username = 'poisoner'", (r) => r.length >= sent);
  assert.equal(count("SELECT count(*) FROM usage_records WHERE username = 'poisoner'"), sent, "one record per request, none lost");
  assert.equal(count("SELECT count(DISTINCT id) FROM usage_records WHERE username = 'poisoner'"), sent);
  assert.equal(count("SELECT count(*) FROM usage_records WHERE username = 'poisoner' AND status = 200"), Object.keys(DIALECTS).length);
  assert.ok(count("SELECT count(*) FROM usage_records WHERE position(chr(65533) in requested_model) > 0") >= 2 * Object.keys(DIALECTS).length, "NUL and control characters stored as U+FFFD");
  assert.equal(count(String.raw`SELECT count(*) FROM usage_records WHERE requested_model ~ '[--]' OR error ~ '[--]'`), 0, "no control characters stored");
  assert.equal(count("SELECT max(length(requested_model)) FROM usage_records"), 200, "long names cut to 200 characters");
  assert.equal(count("SELECT count(*) FROM usage_quarantine"), 0, "cleaned at the source: nothing needed quarantine");

  // The request log shows the later, ordinary requests.
  const log = await admin.get("/requests?username=poisoner&status=2xx");
  assert.equal(log.total, Object.keys(DIALECTS).length);
  assert.ok(log.requests.every((r) => r.requested_model === "fast"));

  // More traffic and two more flushes: nothing counted twice.
  for (let i = 0; i < 5; i++) assert.equal((await send("/v1/chat/completions", DIALECTS["/v1/chat/completions"](`"fast"`))).status, 200);
  await waitForRows(env, "SELECT id FROM usage_records WHERE username = 'poisoner'", (r) => r.length >= sent + 5);
  await env.gw.scheduled(); // one more flush: nothing counted twice
  assert.equal(count("SELECT count(*) FROM usage_records WHERE username = 'poisoner'"), sent + 5);
  assert.equal(count("SELECT count(DISTINCT id) FROM usage_records WHERE username = 'poisoner'"), sent + 5);

  const ready = await getJson(`${env.url}/health/ready`);
  assert.equal(ready.status, 200, JSON.stringify(ready.body));
  assert.deepEqual({ backlog: ready.body.checks.usage.backlog, quarantined: ready.body.checks.usage.quarantined, alert: ready.body.checks.usage.alert }, { backlog: 0, quarantined: 0, alert: false });
  assert.ok(!env.gw.logs.some((l) => /usage flush postponed/.test(l)), "no flush was postponed");
});

test("usage reaches Postgres without a cron run: each shard's alarm flushes it", async () => {
  const u = await admin.post("/users", { username: "alarmed", has_all_models: true }, 201);
  const chat = `{"model":"fast","messages":[{"role":"user","content":"hi"}]}`;
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${u.token}` }, body: chat });
    assert.equal(r.status, 200);
    await r.text();
  }
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < 15_000) {
    n = count("SELECT count(*) FROM usage_records WHERE username = 'alarmed'");
    if (n === 20) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(n, 20, "every record flushed by the shards' own alarms (1 s after the first record)");
  assert.equal(count("SELECT count(DISTINCT id) FROM usage_records WHERE username = 'alarmed'"), 20);
  assert.ok(count("SELECT count(*) FROM usage_shards WHERE last_flush_at IS NOT NULL") > 0, "shards record their flushes");
});
