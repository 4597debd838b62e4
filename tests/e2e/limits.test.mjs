// Limits that hold and usage that loses nothing (issue 4): exact admission under concurrency,
// no quota for refused requests, daily reset at UTC midnight (injected clock), per-minute model
// limits, token capture per endpoint and stream kind, and zero loss / zero duplicates across a
// Postgres outage.
//
// The suite runs once per limits backend (issue 11): the Limiter Durable Objects here, and Redis
// (through the Upstash REST bridge) when limits-redis.test.mjs sets MAESTRO_LIMITS_BACKEND=redis
// before importing this file.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, sleep, defaultVars, uniqueName, redis, redisVars, waitForRows } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { startGateway } from "../../devtools/gateway.mjs";
import { startPostgres } from "../../devtools/postgres.mjs";

export const BACKEND = process.env.MAESTRO_LIMITS_BACKEND ?? "durable_objects";

let env, admin, O;

/** Vars for a gateway of this pass: Redis connection details when Redis holds the limits. */
async function backendVars() {
  return BACKEND === "redis" ? redisVars(await redis()) : {};
}

async function world(e) {
  const a = adminClient(e.url);
  if (BACKEND !== "durable_objects") await a.put("/settings", { "backend.limits": BACKEND }, 200);
  const n = await a.post("/nodes", { name: "o", node_type: "ollama", base_url: O.url }, 201);
  await a.post(`/nodes/${n.id}/discover`, {}, 200);
  await a.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  return a;
}

const post = (url, token, path, body) =>
  getJson(`${url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
const chat = { model: "fast", messages: [{ role: "user", content: "hi" }] };

before(async () => {
  O = await startOrigin({ name: "o", models: ["llama3:latest"] });
  O.chunkDelay = 0;
  env = await setup({ name: "limits", vars: await backendVars() });
  admin = await world(env);
});
after(async () => {
  await env?.stop();
  await O?.stop();
});

describe(`admission (limits in ${BACKEND})`, () => {
  test("200 concurrent requests against a limit of 50 admit exactly 50", async () => {
    const u = await admin.post("/users", { username: "burst", has_all_models: true, request_limit: 50 }, 201);
    const results = await Promise.all([...Array(200)].map(() => post(env.url, u.token, "/v1/chat/completions", chat)));
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429);
    assert.equal(ok, 50);
    assert.equal(limited.length, 150);
    const r = limited[0];
    assert.equal(r.body.error.type, "rate_limit_error");
    assert.ok(Number(r.headers.get("retry-after")) > 0);
    assert.equal(r.headers.get("x-ratelimit-limit-requests"), "50");
    assert.equal(r.headers.get("x-ratelimit-remaining-requests"), "0");
    assert.equal(O.inference().filter((q) => q.headers.authorization === undefined).length, O.inference().length, "no client credential reaches the origin");
  });

  test("headers on every limited response; refused requests do not consume quota", async () => {
    const u = await admin.post("/users", { username: "careful", models: ["fast"], request_limit: 2, token_limit: 1000 }, 201);
    assert.equal((await post(env.url, u.token, "/v1/chat/completions", { model: "other", messages: [] })).status, 404);
    assert.equal((await post(env.url, u.token, "/v1/chat/completions", "{bad")).status, 400);
    const a = await post(env.url, u.token, "/v1/chat/completions", chat);
    assert.equal(a.status, 200);
    assert.equal(a.headers.get("x-ratelimit-limit-requests"), "2");
    assert.equal(a.headers.get("x-ratelimit-remaining-requests"), "1");
    assert.equal(a.headers.get("x-ratelimit-limit-tokens"), "1000");
    assert.equal((await post(env.url, u.token, "/v1/chat/completions", chat)).status, 200);
    const c = await post(env.url, u.token, "/api/chat", { ...chat, stream: false });
    assert.equal(c.status, 429);
    assert.match(c.body.error, /daily limit/);
  });

  test("token limits settle when the answer completes", async () => {
    const u = await admin.post("/users", { username: "tokens", has_all_models: true, token_limit: 15 }, 201);
    assert.equal((await post(env.url, u.token, "/v1/chat/completions", chat)).status, 200); // 10 tokens
    await sleep(200); // settlement runs after the response (wait_until)
    assert.equal((await post(env.url, u.token, "/v1/chat/completions", { ...chat, stream: true })).status, 200); // 20 after it
    await sleep(200);
    const r = await post(env.url, u.token, "/v1/chat/completions", chat);
    assert.equal(r.status, 429);
    assert.equal(r.headers.get("x-ratelimit-remaining-tokens"), "0");
  });

  test("per-minute limits of a model config are enforced", async () => {
    env.psql("INSERT INTO model_configs (model_prefix, requests_per_minute) VALUES ('fast', 3)");
    await admin.post("/snapshot/publish", {}, 200);
    const u = await admin.post("/users", { username: "minute", has_all_models: true }, 201);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await post(env.url, u.token, "/v1/chat/completions", chat)).status);
    // Other users share the model's budget too: the limit protects the model, not one user.
    assert.deepEqual(statuses.slice(0, 3).every((s) => s === 200 || s === 429), true);
    assert.equal(statuses[3], 429);
    const r = await post(env.url, u.token, "/v1/chat/completions", chat);
    assert.ok(Number(r.headers.get("retry-after")) <= 60);
    assert.match(r.body.error.message, /per-minute limit of model 'fast'/);
    env.psql("DELETE FROM model_configs");
    await admin.post("/snapshot/publish", {}, 200);
  });

  test("all or nothing across scopes: a request the model's limit refuses gives the user's admission back", async () => {
    await admin.post("/model-mappings", { display_name: "slow", real_name: "llama3:latest" }, 201);
    await admin.post("/model-mappings", { display_name: "free", real_name: "llama3:latest" }, 201);
    env.psql("INSERT INTO model_configs (model_prefix, requests_per_minute) VALUES ('slow', 1)");
    await admin.post("/snapshot/publish", {}, 200);
    const u = await admin.post("/users", { username: "giveback", has_all_models: true, request_limit: 2 }, 201);
    const call = (model) => post(env.url, u.token, "/v1/chat/completions", { ...chat, model });
    assert.equal((await call("slow")).status, 200); // user 1 of 2, model 1 of 1
    const refused = await call("slow"); // the user's scope admits (2 of 2), the model's refuses
    assert.equal(refused.status, 429);
    assert.match(refused.body.error.message, /per-minute limit of model 'slow'/);
    await sleep(300); // the release is settled after the response (wait_until)
    assert.equal((await call("free")).status, 200, "the refused request's user admission was released");
    const r = await call("free");
    assert.equal(r.status, 429);
    assert.match(r.body.error.message, /daily limit/);
    env.psql("DELETE FROM model_configs");
    await admin.post("/snapshot/publish", {}, 200);
  });
});

test(`the daily window resets at UTC midnight (clock injected; limits in ${BACKEND})`, async () => {
  const now = Date.now();
  const toMidnight = 86_400_000 - (now % 86_400_000);
  // Midnight (on the gateway's clock) 8 s after start: setup and the fixtures take 2-3 s on a
  // loaded machine, and the wait below is what Retry-After says, not a fixed time.
  const e = await setup({ name: "midnight", vars: { CLOCK_OFFSET_MS: String(toMidnight - 8000), ...(await backendVars()) } });
  try {
    const a = await world(e);
    const u = await a.post("/users", { username: "night", has_all_models: true, request_limit: 1 }, 201);
    assert.equal((await post(e.url, u.token, "/v1/chat/completions", chat)).status, 200);
    const r = await post(e.url, u.token, "/v1/chat/completions", chat);
    assert.equal(r.status, 429);
    const retry = Number(r.headers.get("retry-after"));
    assert.ok(retry >= 1 && retry <= 8, r.headers.get("retry-after"));
    await sleep(retry * 1000 + 250);
    assert.equal((await post(e.url, u.token, "/v1/chat/completions", chat)).status, 200, "a new UTC day");
  } finally {
    await e.stop();
  }
});

// Usage capture and the Postgres outage never touch the limits store: once (in the first pass) is enough.
const usageOnly = { skip: BACKEND !== "durable_objects" && "usage only, no limits store involved: covered by the durable_objects pass" };

test("tokens are captured for every endpoint and stream kind, estimated only when the origin is silent", usageOnly, async () => {
  const u = await admin.post("/users", { username: "meter", has_all_models: true }, 201);
  const t = u.token;
  const calls = [
    ["/api/chat", { ...chat }, "api/chat", true],
    ["/api/chat", { ...chat, stream: false }, "api/chat", false],
    ["/api/generate", { model: "fast", prompt: "hi" }, "api/generate", true],
    ["/api/generate", { model: "fast", prompt: "hi", stream: false }, "api/generate", false],
    ["/v1/chat/completions", { ...chat, stream: true }, "v1/chat/completions", true],
    ["/v1/chat/completions", { ...chat }, "v1/chat/completions", false],
    ["/v1/completions", { model: "fast", prompt: "hi", stream: true }, "v1/completions", true],
  ];
  for (const [path, body] of calls) {
    const r = await fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${t}` }, body: JSON.stringify(body) });
    assert.equal(r.status, 200, path);
    await r.text();
  }
  await post(env.url, t, "/api/embed", { model: "fast", input: "hi" });
  await post(env.url, t, "/v1/embeddings", { model: "fast", input: "hi" });
  O.noUsage = true;
  const silent = await fetch(`${env.url}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${t}` }, body: JSON.stringify(chat) });
  await silent.text();
  O.noUsage = false;
  await waitForRows(env, "SELECT id FROM usage_records WHERE username = 'meter'", (r) => r.length >= calls.length + 3);
  const rows = JSON.parse(env.psql("SELECT json_agg(json_build_object('endpoint', endpoint, 'stream', stream, 'p', prompt_tokens, 'c', completion_tokens, 't', total_tokens, 'est', estimated, 'status', status, 'node', node_name, 'real', real_model) ORDER BY created_at) FROM usage_records WHERE username = 'meter'"));
  assert.equal(rows.length, calls.length + 3);
  for (const [i, [, , endpoint, stream]] of calls.entries()) {
    assert.deepEqual({ endpoint: rows[i].endpoint, stream: rows[i].stream, p: rows[i].p, c: rows[i].c, t: rows[i].t, est: rows[i].est }, { endpoint, stream, p: 7, c: 3, t: 10, est: false }, `${endpoint} stream=${stream}`);
    assert.equal(rows[i].node, "o");
    assert.equal(rows[i].real, "llama3:latest");
  }
  assert.deepEqual([rows[calls.length].p, rows[calls.length].est], [4, false], "Ollama embed reports prompt tokens");
  assert.deepEqual([rows[calls.length + 1].p, rows[calls.length + 1].est], [4, false], "OpenAI embeddings report prompt tokens");
  const last = rows.at(-1);
  assert.equal(last.est, true, "no counts from the origin: estimated and marked so");
  assert.ok(last.c > 0);
});

test("nothing is lost and nothing duplicated when Postgres is down, and the hot path keeps serving", usageOnly, async () => {
  const cluster = await startPostgres();
  const db = uniqueName("outage");
  const gw = await startGateway({ databaseUrl: cluster.createDatabase(db), vars: { ...defaultVars, ...(await backendVars()) } });
  try {
    const a = await world(gw);
    const u = await a.post("/users", { username: "steady", has_all_models: true }, 201);
    for (let i = 0; i < 5; i++) assert.equal((await post(gw.url, u.token, "/v1/chat/completions", chat)).status, 200);
    cluster.pause();
    for (let i = 0; i < 5; i++) assert.equal((await post(gw.url, u.token, "/v1/chat/completions", chat)).status, 200, "served from the snapshot");
    const write = await getJson(`${gw.url}/admin/users`, { method: "POST", headers: { authorization: `Bearer ${defaultVars.ADMIN_TOKEN}` }, body: JSON.stringify({ username: "nope" }) });
    assert.equal(write.status, 503, JSON.stringify(write.body));
    await sleep(300);
    await gw.scheduled(); // flush fails: the records stay buffered
    cluster.resume();
    await gw.scheduled();
    await gw.scheduled(); // a second flush must not duplicate anything
    const count = (sql) => cluster.psql(sql, db);
    assert.equal(count("SELECT count(*) FROM usage_records WHERE username = 'steady'"), "10");
    assert.equal(count("SELECT count(DISTINCT id) FROM usage_records WHERE username = 'steady'"), "10");
  } finally {
    await gw.stop();
    cluster.stop();
  }
});
