// Hardening (issue 19): catalogs are untrusted input, custom node header values are write-only
// secrets, login limits hold per account and per trusted address, and the small ones (JWT nbf,
// the admin token only in Authorization, hop-by-hop node headers refused, mappings scoped to
// their nodes, one 404 for unknown and not-allowed names). Each was reproduced here first.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, signToken, defaultVars, ADMIN_TOKEN, ADMIN_USERNAME, ADMIN_PASSWORD } from "./helpers.mjs";
import { startGateway } from "../../devtools/gateway.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, A, B, M1, M2;
const ids = {};
const tokens = {};

before(async () => {
  A = await startOrigin({ name: "cat-a", kind: "ollama", models: ["fb-ok:latest", "fb-ok:latest", "fb-ok", "solo:1b"] });
  B = await startOrigin({ name: "hdr-b", kind: "openai", models: ["gpt-hdr"] });
  M1 = await startOrigin({ name: "m1", kind: "ollama", models: ["mock:latest"] });
  M2 = await startOrigin({ name: "m2", kind: "ollama", models: ["mock:latest", "extra:1b"] });
  env = await setup({ name: "hardening" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "discovery.interval_minutes": 1 });
  ids.a = (await admin.post("/nodes", { name: "cat-a", base_url: A.url, priority: 5 }, 201)).id;
  tokens.all = (await admin.post("/users", { username: "everyone", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  for (const o of [A, B, M1, M2]) await o?.stop();
});

const chat = (token, model, path = "/v1/chat/completions") =>
  getJson(`${env.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model, stream: false, messages: [{ role: "user", content: "hi" }] }),
  });
const adminCall = (method, path, body, headers = {}) =>
  getJson(`${env.url}/admin${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
const nodeRow = (id) => admin.get(`/nodes/${id}`);
const present = (node) => node.models.filter((m) => m.is_present).map((m) => m.model_name);

describe("catalogs are untrusted input", () => {
  test("a name listed twice (and name vs name:latest) is one model, from the admin button and the cron", async () => {
    const r = await adminCall("POST", `/nodes/${ids.a}/discover`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.models, 2);
    assert.match(r.body.warning, /2 duplicate entries ignored/);
    const node = await nodeRow(ids.a);
    assert.deepEqual(present(node), ["fb-ok:latest", "solo:1b"]);
    assert.match(node.discovery_error, /duplicate/);
    assert.equal((await chat(tokens.all, "fb-ok")).status, 200);
    // The cron's discovery goes through the same code.
    env.psql(`UPDATE nodes SET discovered_at = NULL WHERE id = ${ids.a}`);
    await env.gw.scheduled();
    assert.equal(env.psql(`SELECT discovered_at IS NOT NULL FROM nodes WHERE id = ${ids.a}`), "t");
    assert.ok(!env.gw.logs.some((l) => /cannot affect row a second time|database error/.test(l)), "the cron wrote the catalog");
    assert.equal(env.psql(`SELECT count(*) FROM node_models WHERE node_id = ${ids.a} AND is_present`), "2");
  });

  test("non-JSON, malformed and wrongly typed answers keep the last good catalog, with the reason on the node; never a 500", async () => {
    const cases = [
      "<html><body>502 Bad Gateway</body></html>",
      '{"models": [',
      { models: "fb-ok:latest" },
      { data: [] },
      { models: [1, null, "x", { name: 5 }, { name: "" }, { name: "nul\u0000name" }] },
      `{"models": [${'{"name": "padding"},'.repeat(500_000)}{"name": "last"}]}`, // 10 MB: not read at all
    ];
    for (const c of cases) {
      A.catalog = c;
      const r = await adminCall("POST", `/nodes/${ids.a}/discover`, {});
      assert.equal(r.status, 502, `${JSON.stringify(c)} -> ${r.status} ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /last good catalog is kept/);
      const node = await nodeRow(ids.a);
      assert.deepEqual(present(node), ["fb-ok:latest", "solo:1b"], JSON.stringify(c));
      assert.match(node.discovery_error, /catalog not read/);
      assert.equal((await chat(tokens.all, "fb-ok")).status, 200, "routing still has the model");
    }
    // The cron keeps it too, and says why.
    env.psql(`UPDATE nodes SET discovery_error = NULL WHERE id = ${ids.a}`);
    await env.gw.scheduled();
    const node = await nodeRow(ids.a);
    assert.deepEqual(present(node), ["fb-ok:latest", "solo:1b"]);
    assert.match(node.discovery_error, /catalog not read/);
    // Entries Postgres cannot hold are dropped, the rest is kept.
    A.catalog = { models: [{ name: "fb-ok:latest", details: { family: "a\u0000b" } }, { name: "bad\u0000name" }, { name: "solo:1b", size: "huge", digest: 7 }] };
    const ok = await adminCall("POST", `/nodes/${ids.a}/discover`, {});
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.match(ok.body.warning, /1 malformed entries ignored/);
    A.catalog = null;
    A.models = ["fb-ok:latest", "solo:1b"];
    const clean = await adminCall("POST", `/nodes/${ids.a}/discover`, {});
    assert.equal(clean.status, 200);
    assert.equal(clean.body.warning, null);
    assert.equal((await nodeRow(ids.a)).discovery_error, null);
  });

  test("thousands of entries are cut at 2000 and the cut is reported", async () => {
    A.catalog = { models: Array.from({ length: 2500 }, (_, i) => ({ name: `bulk-${i}:latest` })) };
    const r = await adminCall("POST", `/nodes/${ids.a}/discover`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 500));
    assert.equal(r.body.models, 2000);
    assert.match(r.body.warning, /500 entries beyond the limit of 2000 ignored/);
    assert.equal(env.psql(`SELECT count(*) FROM node_models WHERE node_id = ${ids.a} AND is_present`), "2000");
    const info = (name) => getJson(`${env.url}/v1/models/${name}`, { headers: { authorization: `Bearer ${tokens.all}` } });
    assert.equal((await info("bulk-1999:latest")).status, 200, "the kept entries are callable");
    assert.equal((await info("bulk-2000:latest")).status, 404, "the cut ones are not");
    A.catalog = null;
    assert.equal((await adminCall("POST", `/nodes/${ids.a}/discover`, {})).status, 200);
    assert.deepEqual(present(await nodeRow(ids.a)), ["fb-ok:latest", "solo:1b"]);
  });
});

describe("custom node header values are write-only", () => {
  const SECRETS = { "X-Custom-Auth": "custom-secret-1111", "X-Auth": "x-auth-secret-2222", "Ocp-Apim-Subscription-Key": "apim-secret-3333", "X-Team": "team-red-4444" };
  const masked = (h) => Object.fromEntries(Object.keys(h).map((k) => [k, "[redacted]"]));

  test("sealed in Postgres, masked in every answer and the audit log, sent to the origin as set", async () => {
    const created = await adminCall("POST", "/nodes", { name: "hdr-b", node_type: "openai", base_url: B.url, priority: 50, headers: SECRETS });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    ids.b = created.body.id;
    assert.deepEqual(created.body.headers, masked(SECRETS));
    await admin.post(`/nodes/${ids.b}/discover`, {}, 200);
    const seen = [JSON.stringify(created.body), JSON.stringify(await admin.get("/nodes")), JSON.stringify(await nodeRow(ids.b)), JSON.stringify(await admin.get("/audit-logs?limit=500"))];
    const stored = env.psql(`SELECT headers::text || headers_sealed::text FROM nodes WHERE id = ${ids.b}`);
    const audit = env.psql("SELECT string_agg(details::text, ' ') FROM audit_log");
    for (const secret of Object.values(SECRETS)) {
      for (const s of [...seen, stored, audit]) assert.ok(!s.includes(secret), `leaked ${secret}`);
    }
    assert.ok(stored.endsWith("true"));
    for (const v of Object.values(JSON.parse(stored.slice(0, -4)))) assert.match(v, /^v1\./);
    const entry = (await admin.get("/audit-logs?action=node.create&limit=1")).logs[0];
    assert.deepEqual(entry.details.headers, masked(SECRETS));
    // Discovery (maintenance) and inference (the snapshot) both send the real values.
    const probe = B.requests.filter((q) => q.path === "/v1/models").at(-1);
    for (const [k, v] of Object.entries(SECRETS)) assert.equal(probe.headers[k.toLowerCase()], v, k);
    assert.equal((await chat(tokens.all, "gpt-hdr")).status, 200);
    const sent = B.inference().at(-1);
    for (const [k, v] of Object.entries(SECRETS)) assert.equal(sent.headers[k.toLowerCase()], v, k);
  });

  test("editing: a [redacted] value keeps the stored one, a new value replaces it, a missing name is removed", async () => {
    const r = await adminCall("PATCH", `/nodes/${ids.b}`, { headers: { "X-Custom-Auth": "[redacted]", "X-Auth": "rotated-secret-5555" } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.headers, { "X-Custom-Auth": "[redacted]", "X-Auth": "[redacted]" });
    assert.equal((await chat(tokens.all, "gpt-hdr")).status, 200);
    const sent = B.inference().at(-1).headers;
    assert.equal(sent["x-custom-auth"], SECRETS["X-Custom-Auth"]);
    assert.equal(sent["x-auth"], "rotated-secret-5555");
    assert.equal(sent["ocp-apim-subscription-key"], undefined);
    assert.equal(sent["x-team"], undefined);
    const entry = (await admin.get("/audit-logs?action=node.update&limit=1")).logs[0];
    assert.deepEqual(entry.details.headers, { "X-Custom-Auth": "[redacted]", "X-Auth": "[redacted]" });
    assert.ok(!env.psql("SELECT string_agg(details::text, ' ') FROM audit_log").includes("rotated-secret-5555"));
    const unknown = await adminCall("PATCH", `/nodes/${ids.b}`, { headers: { "X-Never-Set": "[redacted]" } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.field, "headers");
  });

  test("hop-by-hop, Host and body headers are refused with 400 naming the header", async () => {
    for (const name of ["Host", "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Upgrade", "Proxy-Authorization", "Content-Length", "Content-Type"]) {
      for (const [method, path] of [["POST", "/nodes"], ["PATCH", `/nodes/${ids.b}`]]) {
        const r = await adminCall(method, path, { name: `hop-${name}`, base_url: B.url, headers: { "X-Ok": "v", [name]: "evil.example" } });
        assert.equal(r.status, 400, `${method} ${name}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.field, "headers");
        assert.ok(r.body.error.message.includes(`'${name}'`), r.body.error.message);
      }
    }
    assert.equal(env.psql("SELECT count(*) FROM nodes WHERE name LIKE 'hop-%'"), "0");
  });

  test("migration 4: values written in plain text before it are sealed by the Worker, and still reach the origin", async () => {
    env.psql(`INSERT INTO nodes (name, node_type, base_url, priority, headers, headers_sealed) VALUES ('legacy', 'openai', '${B.url}', 90, '{"X-Legacy": "legacy-secret-6666"}', false)`);
    const gw = await startGateway({ databaseUrl: env.databaseUrl, vars: defaultVars });
    try {
      const list = await getJson(`${gw.url}/admin/nodes`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const legacy = list.body.nodes.find((n) => n.name === "legacy");
      assert.deepEqual(legacy.headers, { "X-Legacy": "[redacted]" });
      const stored = env.psql("SELECT headers::text || ' ' || headers_sealed::text FROM nodes WHERE name = 'legacy'");
      assert.ok(!stored.includes("legacy-secret-6666") && stored.endsWith(" true"), stored);
      const d = await getJson(`${gw.url}/admin/nodes/${legacy.id}/discover`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(d.status, 200);
      assert.equal(B.requests.filter((q) => q.path === "/v1/models").at(-1).headers["x-legacy"], "legacy-secret-6666");
    } finally {
      await gw.stop();
    }
  });
});

describe("login limits", () => {
  const login = (password, headers = {}, username = ADMIN_USERNAME, url = env.url) =>
    getJson(`${url}/admin/auth/login`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ username, password }) });

  test("a trusted address header holding junk is not an address", async () => {
    assert.equal((await login("wrong", { "cf-connecting-ip": "x".repeat(3000) }, "intruder")).status, 401);
    assert.equal(env.psql("SELECT coalesce(source_ip, 'NULL') FROM audit_log WHERE action = 'admin.login_failed' ORDER BY id DESC LIMIT 1"), "NULL");
    assert.equal((await login("wrong", { "cf-connecting-ip": "203.0.113.9" }, "intruder")).status, 401);
    assert.equal(env.psql("SELECT source_ip FROM audit_log WHERE action = 'admin.login_failed' ORDER BY id DESC LIMIT 1"), "203.0.113.9");
  });

  test("per account: new addresses buy no more than 20 tries; the lockout is bounded, said, audited, and the admin token still works", async () => {
    for (let i = 0; i < 20; i++) assert.equal((await login(`guess-${i}`, { "cf-connecting-ip": `198.51.100.${i + 1}` })).status, 401, `try ${i}`);
    const blocked = await login(ADMIN_PASSWORD, { "cf-connecting-ip": "198.51.100.200" });
    assert.equal(blocked.status, 429, JSON.stringify(blocked.body));
    const wait = Number(blocked.headers.get("retry-after"));
    assert.ok(wait > 0 && wait <= 900, `Retry-After ${wait}`);
    assert.match(blocked.body.error.message, /for this account; try again in \d+ s/);
    const audit = JSON.parse(env.psql("SELECT details::text FROM audit_log WHERE action = 'admin.login_blocked' ORDER BY id DESC LIMIT 1"));
    assert.equal(audit.scope, "account");
    assert.equal(audit.retry_after, wait);
    assert.equal((await adminCall("GET", "/auth/me")).status, 200, "the admin token is never locked out");
    // The window passes: the right password works again.
    env.psql("UPDATE audit_log SET created_at = created_at - interval '16 minutes' WHERE action = 'admin.login_failed'");
    assert.equal((await login(ADMIN_PASSWORD, { "cf-connecting-ip": "198.51.100.200" })).status, 200);
  });

  test("where the Worker is not behind Cloudflare (CLIENT_IP_HEADER=none), an invented CF-Connecting-IP buys nothing", async () => {
    const other = await setup({ name: "hardening-noip", vars: { CLIENT_IP_HEADER: "none" } });
    try {
      for (let i = 0; i < 10; i++) assert.equal((await login(`guess-${i}`, { "cf-connecting-ip": `192.0.2.${i + 1}` }, ADMIN_USERNAME, other.url)).status, 401);
      const r = await login(ADMIN_PASSWORD, { "cf-connecting-ip": "192.0.2.77" }, ADMIN_USERNAME, other.url);
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers.get("retry-after")) > 0);
      assert.equal(other.psql("SELECT count(*) FROM audit_log WHERE source_ip IS NOT NULL"), "0", "no invented address was stored");
    } finally {
      await other.stop();
    }
  });
});

describe("small ones", () => {
  test("the admin token (or a session) is accepted in Authorization only, never in x-api-key", async () => {
    const r = await getJson(`${env.url}/admin/users`, { headers: { "x-api-key": ADMIN_TOKEN } });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /x-api-key is not accepted/);
    assert.equal((await getJson(`${env.url}/admin/users`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 200);
  });

  test("a user token is refused before its nbf", async () => {
    const claims = JSON.parse(Buffer.from(tokens.all.split(".")[1], "base64url").toString());
    const now = Math.floor(Date.now() / 1000);
    const early = signToken({ sub: claims.sub, jti: claims.jti, nbf: now + 3600 });
    const r = await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${early}` } });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /nbf/);
    const ripe = signToken({ sub: claims.sub, jti: claims.jti, nbf: now - 10 });
    assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${ripe}` } })).status, 200);
  });

  test("a mapping pinned to one node never hides the same real name on another node", async () => {
    ids.m1 = (await admin.post("/nodes", { name: "m1", base_url: M1.url, priority: 10 }, 201)).id;
    ids.m2 = (await admin.post("/nodes", { name: "m2", base_url: M2.url, priority: 20 }, 201)).id;
    await admin.post(`/nodes/${ids.m1}/discover`, {}, 200);
    await admin.post(`/nodes/${ids.m2}/discover`, {}, 200);
    await admin.post("/model-mappings", { display_name: "fast", real_name: "mock:latest", node_ids: [ids.m1] }, 201);
    tokens.real = (await admin.post("/users", { username: "real-caller", models: ["mock:latest"] }, 201)).token;
    tokens.fast = (await admin.post("/users", { username: "fast-caller", models: ["fast"] }, 201)).token;
    const list = await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${tokens.real}` } });
    assert.deepEqual(list.body.data.map((m) => m.id), ["mock:latest"]);
    const before1 = M1.inference().length;
    const r = await chat(tokens.real, "mock:latest");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(M2.inference().at(-1).body.model, "mock:latest");
    assert.equal(M1.inference().length, before1, "the node where the mapping hides it is not used for the real name");
    const f = await chat(tokens.fast, "fast");
    assert.equal(f.status, 200);
    assert.equal(f.body.model, "fast");
    assert.equal(M1.inference().at(-1).body.model, "mock:latest");
  });

  test("a name outside the allow-list answers exactly like an unknown one: 404", async () => {
    // extra:1b exists (node m2 serves it) but is not on fast-caller's allow-list.
    assert.equal((await chat(tokens.all, "extra:1b")).status, 200);
    const hidden = await chat(tokens.fast, "extra:1b");
    const unknown = await chat(tokens.fast, "no-such-model");
    assert.equal(hidden.status, 404);
    assert.equal(unknown.status, 404);
    assert.equal(hidden.body.error.type, unknown.body.error.type);
    assert.equal(hidden.body.error.message.replace("extra:1b", "X"), unknown.body.error.message.replace("no-such-model", "X"));
    const ollama = await chat(tokens.fast, "extra:1b", "/api/chat");
    assert.equal(ollama.status, 404);
    const info = await getJson(`${env.url}/v1/models/extra:1b`, { headers: { authorization: `Bearer ${tokens.fast}` } });
    assert.equal(info.status, 404);
    const show = await getJson(`${env.url}/api/show`, { method: "POST", headers: { authorization: `Bearer ${tokens.fast}` }, body: JSON.stringify({ model: "extra:1b" }) });
    assert.equal(show.status, 404);
  });
});
