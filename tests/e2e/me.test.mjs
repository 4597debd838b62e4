// GET /v1/me (issue 21): who I am, my teams, my models, my limits with what remains today, my
// usage (today, this month), my keys masked with last use; with any key, either header.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, sleep } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, O;
const me = (token, header = "bearer") =>
  getJson(`${env.url}/v1/me`, { headers: header === "bearer" ? { authorization: `Bearer ${token}` } : { "x-api-key": token } });
const chat = (token) =>
  getJson(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }] }) });

before(async () => {
  O = await startOrigin({ name: "o", models: ["llama3:latest", "qwen3:8b"] });
  O.chunkDelay = 0;
  env = await setup({ name: "me" });
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

test("GET /v1/me shows the caller's teams, models, limits with what remains, usage and masked keys", async () => {
  const u = await admin.post("/users", { username: "mia", models: ["fast"], request_limit: 100, token_limit: 100000 }, 201);
  await admin.post("/teams", { name: "research", models: ["smart"], request_limit: 40, members: ["mia"] }, 201);
  const k = await admin.post("/users/mia/keys", { label: "laptop", request_limit: 10 }, 201);
  for (let i = 0; i < 3; i++) assert.equal((await chat(k.key)).status, 200);
  await sleep(300);
  await env.gw.scheduled();

  const r = await me(k.key, "x-api-key");
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const v = r.body;
  assert.equal(v.username, "mia");
  assert.deepEqual(v.teams.map((t) => t.name), ["research"]);
  assert.deepEqual(v.models, ["fast", "smart"]);
  const level = (l) => v.limits.find((x) => x.level === l);
  assert.deepEqual(v.limits.map((l) => l.level), ["user", "team", "key"]);
  assert.equal(level("user").rules[0].request_limit, 100);
  assert.equal(level("team").rules[0].request_limit, 40);
  assert.equal(level("key").rules[0].request_limit, 10);
  assert.ok(level("key").rules[0].requests_remaining <= 7, JSON.stringify(level("key")));
  assert.ok(level("key").rules[0].requests_remaining >= 0);
  assert.equal(level("user").rules[0].token_limit, 100000);
  assert.ok(level("user").rules[0].tokens_used > 0, "tokens of finished answers are counted");
  assert.equal(v.usage.today.requests, 3);
  assert.equal(v.usage.month.requests, 3);
  assert.ok(v.usage.today.total_tokens > 0);
  assert.equal(v.keys.length, 2, "the user's own token and the laptop key");
  const mine = v.keys.find((x) => x.id === k.id);
  assert.equal(mine.current, true);
  assert.equal(mine.label, "laptop");
  assert.equal(mine.hint, `…${k.key.slice(-6)}`);
  assert.ok(mine.last_used_at);
  assert.equal(v.key.id, k.id);
  const text = JSON.stringify(v);
  assert.ok(!text.includes(k.key) && !text.includes(u.token), "no key is ever shown");

  const own = await me(u.token);
  assert.equal(own.status, 200);
  assert.deepEqual(own.body.limits.map((l) => l.level), ["user", "team"], "the own token has no key limit");
  assert.equal(own.body.keys.find((x) => x.primary).current, true);
});

test("GET /v1/me refuses bad, revoked and expired keys with 401 and wrong methods with 405", async () => {
  await admin.post("/users", { username: "nia", has_all_models: true }, 201);
  const k = await admin.post("/users/nia/keys", {}, 201);
  assert.equal((await me(k.key)).status, 200);
  await admin.del(`/users/nia/keys/${k.id}`, 204);
  const r = await me(k.key);
  assert.equal(r.status, 401);
  assert.match(r.body.error.message, /API key revoked/);
  assert.equal((await me("nonsense")).status, 401);
  assert.equal((await getJson(`${env.url}/v1/me`)).status, 401);
  const post = await getJson(`${env.url}/v1/me`, { method: "POST", headers: { authorization: `Bearer ${k.key}` } });
  assert.equal(post.status, 405);
});
