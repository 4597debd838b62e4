// Protocol fidelity of devtools/upstash_bridge.py: the official @upstash/redis client (pinned in
// package.json, the version verified in the toolchain notes) runs against the bridge and a real
// redis-server. If the bridge spoke the protocol differently from Upstash, this client (which
// the Worker's own client mirrors) would fail here rather than in production.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { redis, uniqueName, sleep } from "./helpers.mjs";

let R, plain, k, srv;

before(async () => {
  srv = await redis();
  // retry: false so a protocol error surfaces at once instead of after five backoffs.
  R = new Redis({ url: srv.url, token: srv.token, retry: false, enableTelemetry: false });
  plain = new Redis({ url: srv.url, token: srv.token, retry: false, enableTelemetry: false, responseEncoding: false });
  const prefix = uniqueName("fid");
  k = (name) => `${prefix}:${name}`;
});

const raw = (path, body, headers = {}) =>
  fetch(`${srv.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${srv.token}`, ...headers }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json() }));

describe("@upstash/redis 1.39.0 against the bridge", () => {
  test("set/get of JSON values, numbers and strings", async () => {
    const doc = { a: 1, b: [1, "two", { c: null }], d: "ünïcödé ✓" };
    assert.equal(await R.set(k("json"), doc), "OK");
    assert.deepEqual(await R.get(k("json")), doc);
    await R.set(k("num"), 42);
    assert.equal(await R.get(k("num")), 42);
    await R.set(k("str"), "hello");
    assert.equal(await R.get(k("str")), "hello");
    assert.equal(await R.get(k("missing")), null);
    assert.deepEqual(await R.mget(k("num"), k("str"), k("missing")), [42, "hello", null]);
    assert.equal(await R.del(k("num"), k("str")), 2);
    assert.equal(await R.exists(k("num"), k("json")), 1);
  });

  test("incr, incrby, decr and an error for a non-integer", async () => {
    assert.equal(await R.incr(k("n")), 1);
    assert.equal(await R.incrby(k("n"), 41), 42);
    assert.equal(await R.decr(k("n")), 41);
    await R.set(k("word"), "abc");
    await assert.rejects(R.incr(k("word")), /ERR value is not an integer/);
  });

  test("expiry: SET EX/PX, EXPIRE, TTL/PTTL, keys vanish", async () => {
    await R.set(k("ex"), "v", { ex: 100 });
    const ttl = await R.ttl(k("ex"));
    assert.ok(ttl > 90 && ttl <= 100, String(ttl));
    await R.set(k("px"), "v", { px: 300 });
    const pttl = await R.pttl(k("px"));
    assert.ok(pttl > 0 && pttl <= 300, String(pttl));
    await R.set(k("later"), "v");
    assert.equal(await R.ttl(k("later")), -1);
    assert.equal(await R.expire(k("later"), 1), 1);
    assert.equal(await R.pexpire(k("px"), 150), 1);
    await sleep(400);
    assert.equal(await R.get(k("px")), null);
    await sleep(900);
    assert.equal(await R.get(k("later")), null);
    assert.equal(await R.ttl(k("later")), -2);
  });

  test("pipeline: results in order, an error in one command leaves the others", async () => {
    const res = await R.pipeline().set(k("p"), 1).incr(k("p")).get(k("p")).hset(k("ph"), { f: "x" }).exec();
    assert.deepEqual(res, ["OK", 2, 2, 1]);
    await R.set(k("pw"), "word");
    const mixed = await R.pipeline().incr(k("pw")).incr(k("pc")).exec({ keepErrors: true });
    assert.match(mixed[0].error, /ERR value is not an integer/);
    assert.deepEqual(mixed[1], { error: undefined, result: 1 });
    await assert.rejects(R.pipeline().incr(k("pw")).exec(), /Command 1 \[ incr \] failed/);
  });

  test("multi-exec: atomic, runtime errors inline, a queue-time error aborts everything", async () => {
    assert.deepEqual(await R.multi().set(k("m"), 1).incr(k("m")).incrby(k("m"), 3).get(k("m")).exec(), ["OK", 2, 5, 5]);
    // Concurrent transactions on one counter never interleave: 50 x (INCR, INCR) ends even.
    await Promise.all([...Array(50)].map(() => R.multi().incr(k("mc")).incr(k("mc")).exec()));
    assert.equal(await R.get(k("mc")), 100);
    const aborted = await raw("/multi-exec", [["SET", k("ab"), "1"], ["NOSUCHCOMMAND"]]);
    assert.equal(aborted.status, 400);
    assert.match(aborted.body.error, /^EXECABORT/);
    assert.equal(await R.get(k("ab")), null, "nothing of an aborted transaction is applied");
  });

  test("eval, and scripts through EVALSHA with the NOSCRIPT fallback", async () => {
    assert.equal(await R.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", [k("e")], [5]), 5);
    assert.deepEqual(await R.eval("return {1, 'two', {3}}", [], []), [1, "two", [3]]);
    const script = R.createScript(`return redis.call('INCRBY', KEYS[1], ARGV[1]) .. '-${uniqueName("s")}'`);
    // A fresh script is unknown to Redis: EVALSHA fails with NOSCRIPT, the client falls back to
    // EVAL; that only works if the bridge keeps Redis's error code in the message.
    assert.match(await script.exec([k("sc")], ["2"]), /^2-/);
    assert.match(await script.evalsha([k("sc")], ["3"]), /^5-/, "loaded by the EVAL");
    await assert.rejects(R.eval("return redis.call('NOPE')", [], []), /Unknown Redis command|ERR/);
  });

  test("hset/hgetall with JSON fields, lists, sets, sorted sets", async () => {
    assert.equal(await R.hset(k("h"), { a: 1, b: "x", c: { d: [1, 2] } }), 3);
    assert.deepEqual(await R.hgetall(k("h")), { a: 1, b: "x", c: { d: [1, 2] } });
    assert.equal(await R.hget(k("h"), "b"), "x");
    assert.equal(await R.hincrby(k("h"), "a", 2), 3);
    await R.rpush(k("l"), "a", "b", "c");
    assert.deepEqual(await R.lrange(k("l"), 0, -1), ["a", "b", "c"]);
    await R.sadd(k("s"), "x", "y");
    assert.deepEqual((await R.smembers(k("s"))).sort(), ["x", "y"]);
    await R.zadd(k("z"), { score: 2, member: "two" }, { score: 1, member: "one" });
    assert.deepEqual(await R.zrange(k("z"), 0, -1, { withScores: true }), ["one", 1, "two", 2]);
  });

  test("base64 response encoding: every string but OK is encoded, both clients read the same", async () => {
    const text = "OK? ünïcödé 😀 / + = \n end";
    await R.set(k("b64"), text);
    assert.equal(await R.get(k("b64")), text);
    assert.equal(await plain.get(k("b64")), text, "plain JSON encoding");
    const enc = await raw("/", ["GET", k("b64")], { "upstash-encoding": "base64" });
    assert.equal(enc.body.result, Buffer.from(text).toString("base64"));
    assert.equal((await raw("/", ["SET", k("b64"), "x"], { "upstash-encoding": "base64" })).body.result, "OK");
    const arr = await raw("/", ["MGET", k("b64"), k("nothing")], { "upstash-encoding": "base64" });
    assert.deepEqual(arr.body.result, [Buffer.from("x").toString("base64"), null]);
    assert.equal(await R.ping(), "PONG");
  });

  test("path form: GET /set/key/value and /get/key, a POST body is the last argument", async () => {
    const h = { authorization: `Bearer ${srv.token}` };
    const key = encodeURIComponent(k("path"));
    assert.deepEqual(await fetch(`${srv.url}/set/${key}/a%2Fb`, { headers: h }).then((r) => r.json()), { result: "OK" });
    assert.deepEqual(await fetch(`${srv.url}/get/${key}`, { headers: h }).then((r) => r.json()), { result: "a/b" });
    await fetch(`${srv.url}/set/${key}`, { method: "POST", headers: h, body: "from the body" });
    assert.equal(await R.get(k("path")), "from the body");
  });

  test("auth: a wrong or missing token is 401 and the client says Unauthorized", async () => {
    const wrong = new Redis({ url: srv.url, token: "not-the-token", retry: false, enableTelemetry: false });
    await assert.rejects(wrong.get(k("x")), /Unauthorized/);
    const none = await fetch(`${srv.url}/`, { method: "POST", body: JSON.stringify(["PING"]) });
    assert.equal(none.status, 401);
    assert.deepEqual(await none.json(), { error: "Unauthorized" });
    const token = await fetch(`${srv.url}/ping?_token=${encodeURIComponent(srv.token)}`);
    assert.deepEqual(await token.json(), { result: "PONG" });
  });
});
