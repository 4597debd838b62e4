// The cache suite (cache.test.mjs) again with backend.cache = redis, then what only Redis can
// show here: two running runtimes that share nothing but Redis (the version pointer lives
// there), and a Redis that cannot be reached (KV and Postgres take over, after one deadline).
process.env.MAESTRO_CACHE_BACKEND = "redis";
const { cacheWorld, chatAs } = await import("./cache.test.mjs");

const { test } = await import("node:test");
const { default: assert } = await import("node:assert/strict");
const fs = await import("node:fs");
const os = await import("node:os");
const path = await import("node:path");
const net = await import("node:net");
const { Redis } = await import("@upstash/redis");
const { setup, adminClient, defaultVars, pg, redis, redisVars, uniqueName, sleep } = await import("./helpers.mjs");
const { startGateway } = await import("../../devtools/gateway.mjs");

test("an admin change in one runtime is live in another within snapshot.refresh_ms, through the Redis pointer", async () => {
  const vars = redisVars(await redis());
  const a = await setup({ name: "cache_live_a", vars });
  // B has its own (empty) database, KV and Coordinator: only Redis connects it to A.
  const b = await startGateway({ databaseUrl: (await pg()).createDatabase(uniqueName("empty")), vars: { ...defaultVars, ...vars } });
  try {
    const admin = await cacheWorld(a);
    const first = await admin.post("/users", { username: "first", has_all_models: true }, 201);
    assert.equal((await chatAs(b.url, first.token)).status, 200, "B loaded A's snapshot from Redis");
    const t0 = Date.now();
    const second = await admin.post("/users", { username: "second", has_all_models: true }, 201);
    let status;
    // refresh_ms is 2000: B checks the pointer at most that often, in the background of a request.
    while (Date.now() - t0 < 6000) {
      status = (await chatAs(b.url, second.token)).status;
      if (status === 200) break;
      await sleep(100);
    }
    assert.equal(status, 200, "the new user reached B");
    assert.ok(Date.now() - t0 < 4500, `within about refresh_ms (${Date.now() - t0} ms)`);
    assert.ok(b.logs.filter((l) => /snapshot v\d+ loaded from Redis/.test(l)).length >= 2, "cold start and refresh both from Redis");
  } finally {
    await b.stop();
    await a.stop();
  }
});

test("Redis unreachable: a publish keeps its copies in KV and a new runtime starts from KV after one deadline", async () => {
  const hole = net.createServer((s) => s.on("error", () => {}));
  await new Promise((r) => hole.listen(0, "127.0.0.1", r));
  const vars = { UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${hole.address().port}`, UPSTASH_REDIS_REST_TOKEN: "t", UPSTASH_REDIS_PREFIX: "hole:" };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "maestro-cache-"));
  const a = await setup({ name: "cache_hole", vars, persistTo: dir });
  let u;
  try {
    const admin = adminClient(a.url);
    await admin.put("/settings", { "redis.timeout_ms": 200 }, 200);
    await cacheWorld(a);
    u = await admin.post("/users", { username: "holdout", has_all_models: true }, 201);
    assert.ok(a.gw.logs.some((l) => /Redis publish failed, copies go to KV: unreachable: no answer within 200 ms/.test(l)), "a clear log line");
  } finally {
    await a.stop();
  }
  // A new runtime of the same deployment (same KV, Coordinator and database).
  const b = await startGateway({ databaseUrl: a.databaseUrl, vars: { ...defaultVars, ...vars }, persistTo: dir });
  try {
    const t0 = Date.now();
    const r = await chatAs(b.url, u.token);
    const ms = Date.now() - t0;
    assert.equal(r.status, 200);
    assert.ok(ms >= 900 && ms < 3500, `one cold-start deadline (1000 ms), no hang: ${ms} ms`);
    assert.ok(b.logs.some((l) => /snapshot: Redis unreachable at cold start, using KV/.test(l)));
    assert.ok(b.logs.some((l) => /snapshot v\d+ loaded from KV/.test(l)));
  } finally {
    await b.stop();
    hole.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the cron puts a lost Redis version pointer back", async () => {
  const srv = await redis();
  const prefix = `${uniqueName("cron")}:`;
  const e = await setup({ name: "cache_cron", vars: redisVars(srv, prefix) });
  try {
    // No nodes: the cron has nothing to probe, so it publishes nothing and only the pointer
    // sync can touch Redis.
    const admin = adminClient(e.url);
    await admin.put("/settings", { "backend.cache": "redis" }, 200);
    await admin.post("/users", { username: "someone", has_all_models: true }, 201);
    const R = new Redis({ url: srv.url, token: srv.token, retry: false, enableTelemetry: false });
    const pointer = Number(await R.get(`${prefix}{snapshot}:version`));
    assert.ok(pointer > 0);
    await R.del(`${prefix}{snapshot}:version`); // as if a publish had not reached Redis
    await e.gw.scheduled();
    assert.ok(e.gw.logs.some((l) => /cron: 0 health probes, 0 discoveries, changed=false/.test(l)), "nothing was republished");
    assert.equal(Number(await R.get(`${prefix}{snapshot}:version`)), pointer);
  } finally {
    await e.stop();
  }
});
