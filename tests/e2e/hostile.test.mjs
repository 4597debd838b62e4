// Hostile input and auth attacks (issue 12): size limits, invalid UTF-8, deep nesting, header
// injection, expired and forged tokens; and secrets that never show up in responses or in the
// Worker's own logs.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, signToken, ADMIN_PASSWORD, ADMIN_TOKEN } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, O, token;
const logs = [];
const NODE_KEY = "sk-node-secret-do-not-leak-123";

before(async () => {
  O = await startOrigin({ name: "o", models: ["llama3:latest"] });
  env = await setup({ name: "hostile", onLog: (l) => logs.push(l) });
  admin = adminClient(env.url);
  await admin.put("/settings", { "limits.max_body_bytes": 4096 });
  const n = await admin.post("/nodes", { name: "o", base_url: O.url, api_key: NODE_KEY }, 201);
  await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  token = (await admin.post("/users", { username: "h", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  await O?.stop();
});

const post = (path, body, headers = {}) => getJson(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, ...headers }, body });

describe("hostile input", () => {
  test("bodies over the limit get 413 in each client's format", async () => {
    const big = JSON.stringify({ model: "llama3:latest", messages: [{ role: "user", content: "x".repeat(10_000) }] });
    const a = await post("/v1/chat/completions", big);
    assert.equal(a.status, 413);
    assert.equal(a.body.error.code, "request_too_large");
    const b = await post("/api/chat", big);
    assert.equal(b.status, 413);
    assert.match(b.body.error, /4096 bytes/);
    const c = await post("/v1/messages", big, { "x-api-key": token });
    assert.equal(c.status, 413);
    assert.equal(c.body.error.type, "request_too_large");
  });

  test("invalid UTF-8, deep nesting and non-objects are 400, never 500", async () => {
    const bad = Buffer.from([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const r = await post("/v1/chat/completions", bad);
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /UTF-8/);
    const deep = "[".repeat(1500) + "]".repeat(1500); // under the 4 KiB limit, far past any sane depth
    assert.equal((await post("/v1/chat/completions", deep)).status, 400);
    const deepObj = JSON.stringify({ model: "llama3:latest", messages: JSON.parse("[".repeat(100) + "]".repeat(100)) });
    assert.ok([400, 200].includes((await post("/v1/chat/completions", deepObj)).status));
    for (const body of ["null", "42", '"s"', "[]", ""]) assert.equal((await post("/api/chat", body)).status, 400, body);
  });

  test("header injection through model names or node headers goes nowhere", async () => {
    const r = await post("/v1/chat/completions", JSON.stringify({ model: "llama3:latest\r\nX-Evil: 1", messages: [] }));
    assert.equal(r.status, 404);
    assert.equal(r.headers.get("x-evil"), null);
    const n = await getJson(`${env.url}/admin/nodes`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ name: "evil", base_url: O.url, headers: { "X-A": "v\r\nX-Evil: 1" } }) });
    assert.equal(n.status, 400);
    assert.equal(n.body.error.field, "headers");
    const k = await getJson(`${env.url}/admin/nodes`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ name: "evil2", base_url: "http://x\r\nHost: y" }) });
    assert.equal(k.status, 400);
  });
});

describe("auth attacks", () => {
  test("an expired token of a real user is rejected", async () => {
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
    const expired = signToken({ sub: claims.sub, jti: claims.jti, exp: Math.floor(Date.now() / 1000) - 10 });
    const fresh = signToken({ sub: claims.sub, jti: claims.jti, exp: Math.floor(Date.now() / 1000) + 600 });
    assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${expired}` } })).status, 401);
    assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${fresh}` } })).status, 200, "same jti, not expired: accepted");
    const otherSub = signToken({ sub: "root", jti: claims.jti });
    assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${otherSub}` } })).status, 401, "a jti is bound to its user");
  });

  test("an admin session token cannot call the gateway and a user token cannot call the admin API", async () => {
    const login = await getJson(`${env.url}/admin/auth/login`, { method: "POST", body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }) });
    assert.equal(login.status, 200);
    assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${login.body.token}` } })).status, 401);
    assert.equal((await getJson(`${env.url}/admin/users`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
  });
});

test("secrets never reach responses or the Worker's logs", async () => {
  // Exercise paths that log: failures, cooldowns, admin mutations, a stream, a cron run.
  O.mode = "status:500";
  await post("/v1/chat/completions", JSON.stringify({ model: "llama3:latest", messages: [{ role: "user", content: "x" }] }));
  O.mode = "ok";
  await post("/api/chat", JSON.stringify({ model: "llama3:latest", messages: [{ role: "user", content: "x" }] }));
  await getJson(`${env.url}/admin/auth/login`, { method: "POST", body: JSON.stringify({ username: "admin", password: "wrong" }) });
  await env.gw.scheduled();
  const nodes = await admin.get("/nodes");
  const all = [JSON.stringify(nodes), ...logs].join("\n");
  for (const secret of [NODE_KEY, token, ADMIN_PASSWORD, ADMIN_TOKEN, token.split(".")[2]]) assert.ok(!all.includes(secret), `leaked: ${secret.slice(0, 12)}...`);
  assert.ok(logs.length > 0, "the runtime's output was captured");
  // The origin did get the key: it is sealed at rest, not lost.
  assert.equal(O.inference().at(-1).headers.authorization, `Bearer ${NODE_KEY}`);
  const stored = env.psql("SELECT api_key_ciphertext FROM nodes WHERE name = 'o'");
  assert.ok(stored.startsWith("v1.") && !stored.includes(NODE_KEY), "sealed in Postgres");
  const snap = env.psql("SELECT 1");
  assert.equal(snap, "1");
});
