// The Redis limits backend beyond the shared suite (limits-redis.test.mjs): where the counters
// live and how they expire, and what happens when Redis cannot be reached: a documented choice
// (limits.fail_open), a log line, and a bounded wait, never a hang.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Redis } from "@upstash/redis";
import { setup, adminClient, getJson, sleep, redis, redisVars, uniqueName } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { startRedis } from "../../devtools/redis.mjs";

const DAY = 86_400_000;
const SLACK = 60_000; // src/limits/redis.rs SLACK_MS
let O;

before(async () => {
  O = await startOrigin({ name: "o", models: ["llama3:latest"] });
  O.chunkDelay = 0;
});
after(() => O?.stop());

async function world(e, settings) {
  const a = adminClient(e.url);
  await a.put("/settings", settings, 200);
  const n = await a.post("/nodes", { name: "o", node_type: "ollama", base_url: O.url }, 201);
  await a.post(`/nodes/${n.id}/discover`, {}, 200);
  await a.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  return a;
}

const post = (url, token, path, body) =>
  getJson(`${url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const chat = { model: "fast", messages: [{ role: "user", content: "hi" }] };

async function timed(p) {
  const t0 = Date.now();
  const r = await p;
  return { ...r, ms: Date.now() - t0 };
}

/** A TCP server that accepts connections and never answers: the worst kind of unreachable. */
async function blackhole() {
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

test("counters live in Redis under per-window keys that expire when their window ends", async () => {
  const srv = await redis();
  const prefix = `${uniqueName("lim")}:`;
  const e = await setup({ name: "redis_keys", vars: redisVars(srv, prefix) });
  try {
    const a = await world(e, { "backend.limits": "redis" });
    e.psql("INSERT INTO model_configs (model_prefix, requests_per_minute, tokens_per_minute) VALUES ('fast', 100, 100000)");
    await a.post("/snapshot/publish", {}, 200);
    const u = await a.post("/users", { username: "counted", has_all_models: true, request_limit: 10, token_limit: 1000 }, 201);
    for (let i = 0; i < 3; i++) assert.equal((await post(e.url, u.token, "/v1/chat/completions", chat)).status, 200);
    const R = new Redis({ url: srv.url, token: srv.token, retry: false, enableTelemetry: false });
    // The isolate admits from leases and sends tokens and unused requests back when a lease
    // ends (limits::lease::LEASE_MS = 1 s, then one Redis call), so the store is exact once the
    // leases are over: wait for that (bounded), rather than a fixed sleep a loaded machine misses.
    let dayKey;
    for (let waited = 0; waited < 8000; waited += 250) {
      await sleep(250);
      [dayKey] = await R.keys(`${prefix}lim:{user:${u.id}}:day:*`);
      const [mKey] = await R.keys(`${prefix}lim:{model:fast}:minute:*`);
      if (dayKey && mKey && Number((await R.hgetall(dayKey))?.t) === 30 && Number((await R.hgetall(mKey))?.t) === 30) break;
    }
    assert.ok(dayKey, "the user's daily window is a Redis key");
    const start = Number(dayKey.split(":").at(-1));
    const now = Date.now();
    assert.equal(start % DAY, 0, "the window starts at UTC midnight");
    assert.ok(start <= now && now < start + DAY);
    assert.deepEqual(await R.hgetall(dayKey), { r: 3, t: 30 }, "3 requests of 10 tokens each");
    const ttl = await R.pttl(dayKey);
    assert.ok(ttl > 0 && ttl <= start + DAY + SLACK - now + 1000, `expires with its window (+slack), pttl=${ttl}`);
    assert.ok(ttl >= start + DAY + SLACK - now - 10_000, `not earlier either, pttl=${ttl}`);
    const [minuteKey] = await R.keys(`${prefix}lim:{model:fast}:minute:*`);
    assert.deepEqual(await R.hgetall(minuteKey), { r: 3, t: 30 });
    const mttl = await R.pttl(minuteKey);
    assert.ok(mttl > 0 && mttl <= 60_000 + SLACK, `a minute window lives at most 2 minutes, pttl=${mttl}`);
    // The response headers come from the same counts.
    const r = await post(e.url, u.token, "/v1/chat/completions", chat);
    assert.equal(r.headers.get("x-ratelimit-remaining-requests"), "6");
  } finally {
    await e.stop();
  }
});

describe("Redis unreachable (a server that accepts and never answers)", () => {
  let e, a, hole, limited, free;
  before(async () => {
    hole = await blackhole();
    e = await setup({ name: "redis_down", vars: { UPSTASH_REDIS_REST_URL: hole.url, UPSTASH_REDIS_REST_TOKEN: "whatever", UPSTASH_REDIS_PREFIX: "down:" } });
    a = await world(e, { "backend.limits": "redis", "redis.timeout_ms": 300, "limits.fail_open": false });
    limited = await a.post("/users", { username: "limited", has_all_models: true, request_limit: 100 }, 201);
    free = await a.post("/users", { username: "free", has_all_models: true }, 201);
    // The first request of a runtime loads the snapshot (Redis is tried first when configured,
    // so it costs one deadline); an unlimited user never needs the limits store.
    assert.equal((await post(e.url, free.token, "/v1/chat/completions", chat)).status, 200);
  });
  after(async () => {
    await e?.stop();
    await hole?.stop();
  });

  test("limits.fail_open = false: 503 in the client's format after redis.timeout_ms, with a log line", async () => {
    const r = await timed(post(e.url, limited.token, "/v1/chat/completions", chat));
    assert.equal(r.status, 503);
    assert.match(r.body.error.message, /the limits store is unavailable: redis: unreachable: no answer within 300 ms/);
    assert.ok(r.ms >= 250 && r.ms < 2500, `bounded by the deadline, took ${r.ms} ms`);
    const o = await timed(post(e.url, limited.token, "/api/chat", { ...chat, stream: false }));
    assert.equal(o.status, 503);
    assert.match(o.body.error, /the limits store is unavailable/, "Ollama's error shape");
    assert.ok(o.ms < 2500, `took ${o.ms} ms`);
    assert.ok(e.gw.logs.some((l) => /limits store unavailable for user:\d+, rejecting with 503 \(limits\.fail_open=false\): redis: unreachable/.test(l)), "a clear log line");
    assert.equal((await post(e.url, free.token, "/v1/chat/completions", chat)).status, 200, "unlimited users are not affected");
  });

  test("limits.fail_open = true: admitted without a check, with a log line, in bounded time", async () => {
    await a.put("/settings", { "limits.fail_open": true }, 200);
    const r = await timed(post(e.url, limited.token, "/v1/chat/completions", chat));
    assert.equal(r.status, 200);
    assert.ok(r.ms < 2500, `took ${r.ms} ms`);
    assert.ok(e.gw.logs.some((l) => /limits store unavailable for user:\d+, admitting without a limit check \(limits\.fail_open=true\): redis: unreachable/.test(l)));
  });
});

test("Redis stopped and started again: refused while down (fail closed), exact again once back", async () => {
  const private_ = await startRedis({ token: "private-token" });
  const e = await setup({ name: "redis_bounce", vars: redisVars(private_) });
  try {
    const a = await world(e, { "backend.limits": "redis", "limits.fail_open": false });
    const u = await a.post("/users", { username: "bounce", has_all_models: true, request_limit: 2 }, 201);
    assert.equal((await post(e.url, u.token, "/v1/chat/completions", chat)).status, 200);
    await private_.pause();
    const down = await timed(post(e.url, u.token, "/v1/chat/completions", chat));
    assert.equal(down.status, 503);
    assert.match(down.body.error.message, /the limits store is unavailable: redis: HTTP 500/);
    assert.ok(down.ms < 2500, `took ${down.ms} ms`);
    await private_.resume(); // an empty Redis (no persistence): the window starts over
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(e.url, u.token, "/v1/chat/completions", chat)).status);
    assert.deepEqual(statuses, [200, 200, 429]);
  } finally {
    await e.stop();
    await private_.stop();
  }
});
