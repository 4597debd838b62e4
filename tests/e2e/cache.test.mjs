// The routing-snapshot cache store (backend.cache): where a publish puts its copies and version,
// and that a new runtime is served from that store rather than from Postgres.
//
// Runs once per backend: KV + Coordinator here, Redis when cache-redis.test.mjs sets
// MAESTRO_CACHE_BACKEND=redis before importing this file (it adds the Redis-only cases).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "@upstash/redis";
import { setup, adminClient, getJson, defaultVars, pg, redis, redisVars, uniqueName } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { startGateway } from "../../devtools/gateway.mjs";

export const BACKEND = process.env.MAESTRO_CACHE_BACKEND ?? "kv";
const STORE = BACKEND === "redis" ? "Redis" : "KV";

let O;
before(async () => {
  O = await startOrigin({ name: "o", models: ["llama3:latest"] });
  O.chunkDelay = 0;
});
after(() => O?.stop());

export async function cacheWorld(e) {
  const a = adminClient(e.url);
  await a.put("/settings", { "backend.cache": BACKEND }, 200);
  const n = await a.post("/nodes", { name: "o", node_type: "ollama", base_url: O.url }, 201);
  await a.post(`/nodes/${n.id}/discover`, {}, 200);
  await a.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  return a;
}

export const chatAs = (url, token) =>
  getJson(`${url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hi" }] }) });

/** A database with nothing in it: a runtime on it can only serve what a cache store gave it. */
async function emptyDatabase() {
  return (await pg()).createDatabase(uniqueName("empty"));
}

describe(`snapshot cache in ${STORE}`, () => {
  let prefix, vars;
  before(async () => {
    prefix = `${uniqueName("cache")}:`;
    // Redis is configured in both passes: with backend.cache = kv it only carries the version
    // pointer, which must not change where the copies go.
    vars = redisVars(await redis(), prefix);
  });

  test(`a publish puts the copies and the version in ${STORE} only`, async () => {
    const e = await setup({ name: "cache_publish", vars });
    try {
      const a = await cacheWorld(e);
      await a.post("/users", { username: "someone", has_all_models: true }, 201);
      const srv = await redis();
      const R = new Redis({ url: srv.url, token: srv.token, retry: false, enableTelemetry: false });
      const kv = await e.gw.mf.getKVNamespace("KV");
      const pointer = Number(await R.get(`${prefix}{snapshot}:version`));
      assert.ok(pointer >= 5, `the Redis version pointer moves on every publish (${pointer})`);
      const inRedis = await R.get(`${prefix}{snapshot}:current`);
      const inKv = await kv.get("snapshot:current", "json");
      if (BACKEND === "redis") {
        assert.equal(inRedis.version, pointer);
        assert.ok(inRedis.users.some((u) => u.username === "someone"));
        assert.equal((await R.get(`${prefix}{snapshot}:v${pointer}`)).version, pointer);
        const ttl = await R.ttl(`${prefix}{snapshot}:v${pointer}`);
        assert.ok(ttl > 6 * 86400 && ttl <= 7 * 86400, `versioned copies are kept a week (${ttl} s)`);
        assert.ok(!inKv || inKv.version < pointer, "KV does not get the copies");
      } else {
        assert.equal(inKv.version, pointer);
        assert.ok((await kv.get(`snapshot:v${pointer}`, "json")).users.some((u) => u.username === "someone"));
        assert.equal(inRedis, null, "Redis gets only the version pointer");
      }
    } finally {
      await e.stop();
    }
  });

  test(`a new runtime is served from ${STORE}, not from Postgres`, async () => {
    // KV and Durable Objects persist on disk for the KV pass (a "new runtime" of the same
    // deployment); the Redis pass shares only Redis.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "maestro-cache-"));
    const persistTo = BACKEND === "kv" ? dir : undefined;
    const e = await setup({ name: "cache_a", vars, persistTo });
    let u;
    try {
      const a = await cacheWorld(e);
      u = await a.post("/users", { username: "cached", has_all_models: true }, 201);
      assert.equal((await chatAs(e.url, u.token)).status, 200);
    } finally {
      await e.stop();
    }
    // Its own database is empty: a snapshot built from it would know no user and no model.
    const b = await startGateway({ databaseUrl: await emptyDatabase(), vars: { ...defaultVars, ...vars }, persistTo });
    try {
      const r = await chatAs(b.url, u.token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.model, "fast");
      assert.ok(b.logs.some((l) => new RegExp(`snapshot v\\d+ loaded from ${STORE}`).test(l)), b.logs.join("\n"));
    } finally {
      await b.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("readiness reports Redis and whether the cache uses it", async () => {
    const e = await setup({ name: "cache_ready", vars });
    try {
      await cacheWorld(e);
      const ready = await getJson(`${e.url}/health/ready`);
      assert.equal(ready.status, 200);
      assert.equal(ready.body.checks.redis.configured, true);
      assert.equal(ready.body.checks.redis.up, true);
      assert.deepEqual(ready.body.checks.redis.used_by, BACKEND === "redis" ? ["cache"] : []);
    } finally {
      await e.stop();
    }
  });
});
