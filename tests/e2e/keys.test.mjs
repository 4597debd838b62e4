// API keys (issue 21): many keys per user, shown once and stored hashed, labels, expiry,
// revocation and rotation with grace, restrictions (models, IP allow-list, per-key limits), last
// use from usage records, the user's own token as the first key (also after the migration).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, sleep, sha256hex, ADMIN_TOKEN, waitForRows } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { readFileSync } from "node:fs";

let env, admin, O;

const chat = { model: "fast", messages: [{ role: "user", content: "hi" }] };
const call = (path, { token, header = "bearer", body = chat, ip, extra = {} } = {}) => {
  const headers = { "content-type": "application/json", ...extra };
  if (header === "bearer") headers.authorization = `Bearer ${token}`;
  else headers["x-api-key"] = token;
  if (ip) headers["cf-connecting-ip"] = ip;
  return getJson(`${env.url}${path}`, { method: body ? "POST" : "GET", headers, body: body ? JSON.stringify(body) : undefined });
};
const openai = (token, o = {}) => call("/v1/chat/completions", { token, ...o });
const anthropic = (token, o = {}) =>
  call("/v1/messages", { token, header: "x-api-key", body: { model: "fast", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }, extra: { "anthropic-version": "2023-06-01" }, ...o });

before(async () => {
  O = await startOrigin({ name: "o", models: ["llama3:latest", "qwen3:8b"] });
  O.chunkDelay = 0;
  env = await setup({ name: "keys" });
  admin = adminClient(env.url);
  const n = await admin.post("/nodes", { name: "o", node_type: "ollama", base_url: O.url }, 201);
  await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  await admin.post("/model-mappings", { display_name: "smart", real_name: "qwen3:8b" }, 201);
});
after(async () => {
  await env?.stop();
  await O?.stop();
});

describe("keys", () => {
  test("the user's own token is their first key; more keys are shown once, stored hashed, work with bearer and x-api-key", async () => {
    const u = await admin.post("/users", { username: "kate", has_all_models: true }, 201);
    const list0 = await admin.get("/users/kate/keys", 200);
    assert.equal(list0.total, 1);
    assert.equal(list0.keys[0].primary, true);
    assert.equal(list0.keys[0].status, "active");
    assert.equal((await openai(u.token)).status, 200);

    const k = await admin.post("/users/kate/keys", { label: "laptop" }, 201);
    assert.match(k.key, /^ey/);
    assert.equal(k.label, "laptop");
    assert.equal(k.hint, `…${k.key.slice(-6)}`);
    assert.equal((await openai(k.key)).status, 200);
    assert.equal((await anthropic(k.key)).status, 200);
    assert.equal((await call("/v1/models", { token: k.key, header: "x-api-key", body: null })).status, 200);

    const list = await admin.get("/users/kate/keys", 200);
    assert.equal(list.total, 2);
    assert.ok(!JSON.stringify(list).includes(k.key), "a key is never shown again");
    assert.ok(!JSON.stringify(await admin.get(`/users/kate/keys/${k.id}`, 200)).includes(k.key));
    const jti = JSON.parse(Buffer.from(k.key.split(".")[1], "base64url")).jti;
    const stored = env.psql(`SELECT key_hash FROM api_keys WHERE id = ${k.id}`).trim();
    assert.equal(stored, sha256hex(jti), "stored as SHA-256 of the jti");
    assert.ok(!env.psql("SELECT string_agg(key_hash || key_prefix || label, ',') FROM api_keys").includes(k.key));

    // Refreshing the user's token replaces the primary key and leaves the others alone.
    const fresh = await admin.put("/users/kate/token", {}, 200);
    assert.equal((await openai(u.token)).status, 401);
    assert.equal((await openai(fresh.token)).status, 200);
    assert.equal((await openai(k.key)).status, 200);
    assert.equal((await admin.get("/users/kate/keys", 200)).total, 2);

    // Deleting the user ends every key.
    await admin.del("/users/kate", 204);
    assert.equal((await openai(k.key)).status, 401);
    assert.equal((await openai(fresh.token)).status, 401);
    // Reactivating issues a new own token and does not bring the old keys back.
    const back = await admin.post("/users/kate/reactivate", {}, 200);
    assert.equal((await openai(back.token)).status, 200);
    assert.equal((await openai(k.key)).status, 401);
    assert.match((await openai(k.key)).body.error.message, /revoked/);
    assert.equal((await openai(fresh.token)).status, 401);
  });

  test("revoked and expired keys get a 401 that says which, in the client's dialect", async () => {
    await admin.post("/users", { username: "rex", has_all_models: true }, 201);
    const a = await admin.post("/users/rex/keys", { label: "ci" }, 201);
    const b = await admin.post("/users/rex/keys", { label: "short", expires_in_seconds: 2 }, 201);
    assert.equal((await openai(a.key)).status, 200);
    assert.equal((await openai(b.key)).status, 200);
    await admin.del(`/users/rex/keys/${a.id}`, 204);
    const r1 = await openai(a.key);
    assert.equal(r1.status, 401);
    assert.equal(r1.headers.get("www-authenticate")?.startsWith("Bearer"), true);
    assert.match(r1.body.error.message, /API key revoked/);
    const r2 = await anthropic(a.key);
    assert.equal(r2.status, 401);
    assert.equal(r2.body.type, "error");
    assert.equal(r2.body.error.type, "authentication_error");
    assert.match(r2.body.error.message, /API key revoked/);
    const r3 = await call("/api/chat", { token: a.key, body: { ...chat, stream: false } });
    assert.equal(r3.status, 401);
    assert.match(r3.body.error, /API key revoked/, "Ollama's shape");
    assert.equal((await admin.get(`/users/rex/keys/${a.id}`, 200)).status, "revoked");

    await sleep(2100);
    const e = await openai(b.key);
    assert.equal(e.status, 401);
    assert.match(e.body.error.message, /API key expired/);
    assert.match((await anthropic(b.key)).body.error.message, /API key expired/);
    assert.equal((await admin.get(`/users/rex/keys/${b.id}`, 200)).status, "expired");

    // Expiry can be lifted again; revocation cannot.
    await admin.patch(`/users/rex/keys/${b.id}`, { expires_at: null }, 200);
    assert.equal((await openai(b.key)).status, 200);
    await admin.post(`/users/rex/keys/${a.id}/rotate`, {}, 409);
  });

  test("rotation issues a new key with the same restrictions and keeps the old one for the grace period", async () => {
    await admin.post("/users", { username: "rota", has_all_models: true }, 201);
    const old = await admin.post("/users/rota/keys", { label: "helper", models: ["fast"] }, 201);
    const r = await admin.post(`/users/rota/keys/${old.id}/rotate`, { grace_seconds: 2 }, 201);
    assert.notEqual(r.key, old.key);
    assert.equal(r.label, "helper");
    assert.deepEqual(r.models, ["fast"]);
    assert.equal(r.previous.id, old.id);
    assert.equal(r.previous.rotated_to, r.id);
    assert.ok(new Date(r.previous.expires_at).getTime() <= Date.now() + 2500);
    assert.equal((await openai(old.key)).status, 200, "inside the grace period");
    assert.equal((await openai(r.key)).status, 200);
    assert.equal((await openai(r.key, { body: { ...chat, model: "smart" } })).status, 404, "restrictions carried over (a name outside the allow-list is 404)");
    await sleep(2100);
    const after = await openai(old.key);
    assert.equal(after.status, 401);
    assert.match(after.body.error.message, /API key expired/);
    assert.equal((await openai(r.key)).status, 200);

    // Grace 0 ends the old key at once.
    const again = await admin.post(`/users/rota/keys/${r.id}/rotate`, { grace_seconds: 0 }, 201);
    assert.equal((await openai(r.key)).status, 401);
    assert.equal((await openai(again.key)).status, 200);
    await admin.post(`/users/rota/keys/${r.id}/rotate`, { grace_seconds: 99999999 }, 400);
  });

  test("a key limited to some models narrows the user's access and never widens it", async () => {
    await admin.post("/users", { username: "narrow", models: ["fast"] }, 201);
    const k = await admin.post("/users/narrow/keys", { models: ["fast", "smart"] }, 201);
    const m = await call("/v1/models", { token: k.key, body: null });
    assert.deepEqual(m.body.data.map((x) => x.id), ["fast"]);
    assert.equal((await openai(k.key, { body: { ...chat, model: "smart" } })).status, 404, "outside the key's access: as if it did not exist");
    const only = await admin.post("/users/narrow/keys", { models: [] }, 201);
    assert.equal((await openai(only.key)).status, 404, "an empty list allows nothing");
    await admin.patch(`/users/narrow/keys/${only.id}`, { models: null }, 200);
    assert.equal((await openai(only.key)).status, 200);
  });

  test("an IP allow-list is checked against CF-Connecting-IP", async () => {
    await admin.post("/users", { username: "ipper", has_all_models: true }, 201);
    const k = await admin.post("/users/ipper/keys", { ip_allow: ["203.0.113.0/24", "2001:db8::1"] }, 201);
    assert.deepEqual(k.ip_allow, ["203.0.113.0/24", "2001:db8::1"]);
    assert.equal((await openai(k.key, { ip: "203.0.113.77" })).status, 200);
    assert.equal((await openai(k.key, { ip: "2001:db8::1" })).status, 200);
    const no = await openai(k.key, { ip: "198.51.100.1" });
    assert.equal(no.status, 403);
    assert.match(no.body.error.message, /may not be used from address 198\.51\.100\.1/);
    assert.equal((await anthropic(k.key, { ip: "198.51.100.1" })).body.error.type, "permission_error");
    await admin.post("/users/ipper/keys", { ip_allow: ["not-an-ip"] }, 400);
    await admin.post("/users/ipper/keys", { ip_allow: ["10.0.0.0/33"] }, 400);
    await admin.patch(`/users/ipper/keys/${k.id}`, { ip_allow: [] }, 200);
    assert.equal((await openai(k.key, { ip: "198.51.100.1" })).status, 200, "[] = any address");
  });

  test("per-key limits add to the user's: the key runs out, the user's other keys do not", async () => {
    await admin.post("/users", { username: "capped", has_all_models: true, request_limit: 10 }, 201);
    const k = await admin.post("/users/capped/keys", { label: "ci", request_limit: 2 }, 201);
    const other = await admin.post("/users/capped/keys", { label: "laptop" }, 201);
    assert.equal((await openai(k.key)).status, 200);
    const second = await openai(k.key);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get("x-ratelimit-remaining-requests"), "0", "the tightest limit is the key's");
    const third = await openai(k.key);
    assert.equal(third.status, 429);
    assert.match(third.body.error.message, /this API key's daily limit/);
    assert.equal((await openai(other.key)).status, 200);
    const r = await openai(other.key);
    assert.equal(r.headers.get("x-ratelimit-remaining-requests"), "6", "the user's limit counts every key");
  });

  test("last use comes from usage records (no write per request)", async () => {
    await admin.post("/users", { username: "lastuse", has_all_models: true }, 201);
    const k = await admin.post("/users/lastuse/keys", { label: "x" }, 201);
    assert.equal(k.last_used_at, null);
    const before = Date.now();
    assert.equal((await openai(k.key)).status, 200);
    await waitForRows(env, `SELECT id FROM usage_records WHERE key_id = ${k.id}`, (r) => r.length >= 1);
    const v = await admin.get(`/users/lastuse/keys/${k.id}`, 200);
    assert.ok(v.last_used_at && new Date(v.last_used_at).getTime() >= before - 1000, JSON.stringify(v));
    assert.equal(env.psql(`SELECT count(*) FROM usage_records WHERE key_id = ${k.id}`).trim(), "1");
  });

  test("bad input, unknown keys and users, and the audit trail (no secrets)", async () => {
    await admin.post("/users", { username: "audited" }, 201);
    await admin.post("/users/audited/keys", { label: 5 }, 400);
    await admin.post("/users/audited/keys", { expires_at: "yesterday" }, 400);
    await admin.post("/users/audited/keys", { expires_at: "2000-01-01T00:00:00Z" }, 400);
    await admin.post("/users/audited/keys", { bogus: 1 }, 400);
    await admin.post("/users/audited/keys", { request_limit: -1 }, 400);
    await admin.post("/users/nobody/keys", {}, 404);
    await admin.get("/users/audited/keys/999999", 404);
    await admin.del("/users/audited/keys/999999", 404);
    const k = await admin.post("/users/audited/keys", { label: "x", expires_at: "2030-01-01T00:00:00Z" }, 201);
    assert.equal(new Date(k.expires_at).toISOString(), "2030-01-01T00:00:00.000Z");
    await admin.get(`/users/rex/keys/${k.id}`, 404);
    await admin.post(`/users/audited/keys/${k.id}/rotate`, { grace_seconds: 60 }, 201);
    await admin.del(`/users/audited/keys/${k.id}`, 204);
    const log = await admin.get("/audit-logs?entity_type=api_key&limit=100", 200);
    const actions = log.logs;
    for (const a of ["key.create", "key.rotate", "key.revoke"]) assert.ok(actions.some((e) => e.action === a), a);
    assert.ok(!JSON.stringify(log).includes(k.key));
  });

  test("the migration turns every existing token into its user's first key", async () => {
    const u = await admin.post("/users", { username: "legacy", has_all_models: true }, 201);
    // The state before 0005: no keys at all for this user.
    env.psql("DELETE FROM api_keys WHERE user_id = (SELECT id FROM users WHERE username = 'legacy')");
    await admin.post("/snapshot/publish", {}, 200);
    assert.equal((await openai(u.token)).status, 401, "no key: not accepted");
    env.psql(readFileSync(new URL("../../migrations/0005_keys_teams.sql", import.meta.url), "utf8"));
    await admin.post("/snapshot/publish", {}, 200);
    assert.equal((await openai(u.token)).status, 200, "the old token works again as the first key");
    const keys = await admin.get("/users/legacy/keys", 200);
    assert.equal(keys.total, 1);
    assert.equal(keys.keys[0].primary, true);
    assert.equal(keys.keys[0].label, "default");
  });

  test("admin credentials are never accepted as keys and keys never open the admin API", async () => {
    await admin.post("/users", { username: "sep", has_all_models: true }, 201);
    const k = await admin.post("/users/sep/keys", {}, 201);
    assert.equal((await getJson(`${env.url}/admin/users`, { headers: { authorization: `Bearer ${k.key}` } })).status, 401);
    assert.equal((await openai(ADMIN_TOKEN)).status, 401);
  });
});
