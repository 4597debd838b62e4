// Teams (issue 21): membership, the union of the user's and their teams' allow-lists, daily
// limits at every level that sets one (user, team, key), admitted all or nothing: 200
// concurrent requests against a team limit of 50 admit exactly 50.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, O;

const chat = (model = "fast") => ({ model, messages: [{ role: "user", content: "hi" }] });
const openai = (token, model) =>
  getJson(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(chat(model)) });
const models = async (token) => (await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } })).body.data.map((m) => m.id).sort();

before(async () => {
  O = await startOrigin({ name: "o", models: ["llama3:latest", "qwen3:8b", "mistral:7b"] });
  O.chunkDelay = 0;
  env = await setup({ name: "teams" });
  admin = adminClient(env.url);
  const n = await admin.post("/nodes", { name: "o", node_type: "ollama", base_url: O.url }, 201);
  await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  await admin.post("/model-mappings", { display_name: "smart", real_name: "qwen3:8b" }, 201);
  await admin.post("/model-mappings", { display_name: "wind", real_name: "mistral:7b" }, 201);
  await admin.post("/model-groups", { name: "pool", strategy: "priority" }, 201);
  await admin.post("/model-groups/pool/members", { model_name: "wind", priority: 0 }, 201);
});
after(async () => {
  await env?.stop();
  await O?.stop();
});

describe("teams", () => {
  test("effective access is the union of the user's and their teams' allow-lists (models and groups)", async () => {
    const u = await admin.post("/users", { username: "tina", models: ["fast"] }, 201);
    assert.deepEqual(await models(u.token), ["fast"]);
    assert.equal((await openai(u.token, "smart")).status, 404, "outside the allow-list");
    const t = await admin.post("/teams", { name: "ml", description: "research", models: ["smart"], members: ["tina"] }, 201);
    assert.deepEqual(t.members, ["tina"]);
    assert.deepEqual(t.models, ["smart"]);
    assert.deepEqual(await models(u.token), ["fast", "smart"]);
    assert.equal((await openai(u.token, "smart")).status, 200);
    await admin.post("/teams", { name: "ops", models: ["pool"], members: ["tina"] }, 201);
    assert.deepEqual(await models(u.token), ["fast", "pool", "smart"]);
    assert.equal((await openai(u.token, "pool")).status, 200, "a team's group");
    assert.equal((await openai(u.token, "wind")).status, 404, "a group member is not on the list by itself");
    await admin.del("/teams/ops/members/tina", 204);
    assert.deepEqual(await models(u.token), ["fast", "smart"]);
    await admin.patch("/teams/ml", { has_all_models: true }, 200);
    assert.deepEqual(await models(u.token), ["fast", "pool", "smart", "wind"]);
    await admin.del("/teams/ml", 204);
    assert.deepEqual(await models(u.token), ["fast"]);
    assert.equal((await admin.get("/users/tina", 200)).username, "tina", "members stay when a team goes");
  });

  test("200 concurrent requests against a team limit of 50 admit exactly 50, across the team's members", async () => {
    const a = await admin.post("/users", { username: "burst-a", has_all_models: true }, 201);
    const b = await admin.post("/users", { username: "burst-b", has_all_models: true }, 201);
    await admin.post("/teams", { name: "burst", request_limit: 50, members: ["burst-a", "burst-b"] }, 201);
    const results = await Promise.all([...Array(200)].map((_, i) => openai(i % 2 ? a.token : b.token)));
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429);
    assert.equal(ok, 50);
    assert.equal(limited.length, 150);
    assert.match(limited[0].body.error.message, /your team's daily limit/);
    assert.ok(Number(limited[0].headers.get("retry-after")) > 0);
    assert.equal(limited[0].headers.get("x-ratelimit-limit-requests"), "50");
    const outsider = await admin.post("/users", { username: "burst-c", has_all_models: true }, 201);
    assert.equal((await openai(outsider.token)).status, 200, "other users are not limited by the team");
  });

  test("limits apply at every level that sets one: user, team, key", async () => {
    const u = await admin.post("/users", { username: "levels", has_all_models: true, request_limit: 5 }, 201);
    await admin.post("/teams", { name: "levels-t", request_limit: 3, members: ["levels"] }, 201);
    const k = await admin.post("/users/levels/keys", { request_limit: 1 }, 201);
    assert.equal((await openai(k.key)).status, 200);
    const byKey = await openai(k.key);
    assert.equal(byKey.status, 429);
    assert.match(byKey.body.error.message, /API key/);
    assert.equal((await openai(u.token)).status, 200);
    assert.equal((await openai(u.token)).status, 200);
    const byTeam = await openai(u.token);
    assert.equal(byTeam.status, 429, "the team's 3 are used (the key's refused request cost nothing)");
    assert.match(byTeam.body.error.message, /team/);
    await admin.patch("/teams/levels-t", { request_limit: null }, 200);
    assert.equal((await openai(u.token)).status, 200);
    assert.equal((await openai(u.token)).status, 200);
    const byUser = await openai(u.token);
    assert.equal(byUser.status, 429);
    assert.match(byUser.body.error.message, /your daily limit/);
  });

  test("team API: list, get, rename, members, errors, audit", async () => {
    await admin.post("/users", { username: "m1" }, 201);
    await admin.post("/users", { username: "m2" }, 201);
    const t = await admin.post("/teams", { name: "crud", token_limit: 1000 }, 201);
    assert.equal(t.token_limit, 1000);
    assert.deepEqual(t.members, []);
    await admin.post("/teams", { name: "crud" }, 409);
    await admin.post("/teams", { name: "bad name" }, 400);
    await admin.post("/teams", {}, 400);
    await admin.post("/teams", { name: "x1", members: ["ghost"] }, 400);
    await admin.get("/teams/x1", 404);
    await admin.post("/teams", { name: "x2", request_limit: -5 }, 400);
    await admin.post("/teams", { name: "x3", colour: "red" }, 400);
    let v = await admin.post("/teams/crud/members", { usernames: ["m1", "m2"] }, 200);
    assert.deepEqual(v.members, ["m1", "m2"]);
    await admin.post("/teams/crud/members", { username: "ghost" }, 400);
    await admin.post("/teams/crud/members", {}, 400);
    await admin.del("/teams/crud/members/ghost", 404);
    await admin.del("/teams/crud/members/m2", 204);
    v = await admin.patch("/teams/crud", { name: "crud2", members: ["m2"], models: ["fast"] }, 200);
    assert.deepEqual([v.name, v.members, v.models], ["crud2", ["m2"], ["fast"]]);
    await admin.get("/teams/crud", 404);
    await admin.post("/teams", { name: "other" }, 201);
    await admin.patch("/teams/crud2", { name: "other" }, 409);
    const list = await admin.get("/teams", 200);
    assert.equal(list.total, list.teams.length);
    assert.ok(list.teams.some((x) => x.name === "crud2"));
    await admin.patch("/teams/nope", {}, 404);
    await admin.del("/teams/nope", 404);
    const log = await admin.get("/audit-logs?entity_type=team&limit=100", 200);
    for (const a of ["team.create", "team.update", "team.members_add", "team.members_remove"]) assert.ok(log.logs.some((e) => e.action === a), a);
  });
});
