// The Redis lease script itself (src/limits/sync.lua), run against the real redis-server: the
// cases the gateway's plans do not reach yet (several rules in one scope) and the edges
// (refusals count nowhere, grants shrink to a fair share and never exceed the limit, give-backs
// never go below zero, TTLs are set).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Redis } from "@upstash/redis";
import { redis, uniqueName } from "./helpers.mjs";
import { ROOT } from "../../devtools/gateway.mjs";

const SYNC = fs.readFileSync(path.join(ROOT, "src/limits/sync.lua"), "utf8");
const FAIR_SHARE = "8"; // limits::FAIR_SHARE
let R, k;

before(async () => {
  const srv = await redis();
  R = new Redis({ url: srv.url, token: srv.token, retry: false, enableTelemetry: false, automaticDeserialization: false });
  const p = uniqueName("lua");
  k = (n) => `${p}:lim:{s}:${n}`;
});

// ARGV: want, tokens, fair share, then per rule: max requests, max tokens (-1 = none), given back, ttl ms, reserve per request.
const sync = (keys, want, tokens, rules) => R.eval(SYNC, keys, [String(want), String(tokens), FAIR_SHARE, ...rules.flat().map(String)]);
// Without automatic deserialization HGETALL is Redis's flat [field, value, ...] list.
const counts = async (key) => {
  const flat = (await R.hgetall(key)) ?? [];
  return Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, Number(flat[i + 1])]])));
};

test("all or nothing across the rules of one scope; a refusal is counted nowhere", async () => {
  const keys = [k("day"), k("minute")];
  const rules = [[10, -1, 0, 60000, 0], [1, -1, 0, 60000, 0]];
  assert.deepEqual(await sync(keys, 1, 0, rules), [1, 0, 0, 0, 0]);
  assert.deepEqual(await sync(keys, 1, 0, rules), [0, 1, 0, 1, 0], "the minute rule is full; counts before this call");
  assert.deepEqual(await counts(k("day")), { r: 1, t: 0 }, "the day rule did not count the refused request");
  const ttl = await R.pttl(k("day"));
  assert.ok(ttl > 55_000 && ttl <= 60_000, `TTL set on a grant (${ttl})`);
});

test("a lease takes at most a fair share of what is left, and all of a limit is granted, no more", async () => {
  const keys = [k("fair")];
  const rule = [[100, -1, 0, 60000, 0]];
  assert.deepEqual(await sync(keys, 64, 0, rule), [12, 0, 0], "100 left: 100/8");
  let total = 12;
  for (;;) {
    const [g] = await sync(keys, 64, 0, rule);
    if (g === 0) break;
    total += g;
  }
  assert.equal(total, 100);
  assert.deepEqual(await counts(k("fair")), { r: 100, t: 0 });
});

test("token limits block once reached; give-backs and tokens settle, never below zero", async () => {
  const keys = [k("tok")];
  assert.deepEqual(await sync(keys, 1, 0, [[-1, 100, 0, 60000, 0]]), [1, 0, 0]);
  assert.deepEqual(await sync(keys, 0, 120, [[-1, 100, 0, 60000, 0]]), [0, 1, 120], "settle only: nothing granted");
  assert.deepEqual(await counts(k("tok")), { r: 1, t: 120 });
  assert.deepEqual(await sync(keys, 1, 0, [[-1, 100, 0, 60000, 0]]), [0, 1, 120], "over the token limit: refused");
  await sync(keys, 0, 0, [[-1, 100, 1, 60000, 0]]);
  await sync(keys, 0, 0, [[-1, 100, 1, 60000, 0]]);
  assert.deepEqual(await counts(k("tok")), { r: 0, t: 120 }, "two give-backs of one request stop at zero");
  await sync([k("absent")], 0, 0, [[-1, -1, 0, 60000, 0]]);
  assert.deepEqual(await counts(k("absent")), {}, "nothing to settle creates nothing");
});

test("100 concurrent calls against a limit of 30 grant exactly 30", async () => {
  const keys = [k("burst")];
  const results = await Promise.all([...Array(100)].map(() => sync(keys, 4, 0, [[30, -1, 0, 60000, 0]])));
  assert.equal(results.reduce((n, r) => n + r[0], 0), 30);
  assert.deepEqual(await counts(k("burst")), { r: 30, t: 0 });
});

test("a budget rule reserves per granted request: grants stop at the budget, give-backs free the reservations", async () => {
  const keys = [k("budget")];
  // Budget 1000, 100 reserved per request: a fair share of the 10 requests it can hold is 1.
  const rule = (back = 0) => [[-1, 1000, back, 60000, 100]];
  let granted = 0;
  for (;;) {
    const [g] = await sync(keys, 64, 0, rule());
    if (g === 0) break;
    granted += g;
  }
  assert.equal(granted, 10, "1000 / 100 reserved each");
  assert.deepEqual(await counts(k("budget")), { r: 10, t: 1000 });
  // Three settle: 3 × 100 reserved given back, 3 × 60 actually spent.
  assert.deepEqual(await sync(keys, 0, 180, rule(3)), [0, 7, 880]);
  assert.deepEqual(await counts(k("budget")), { r: 7, t: 880 });
  assert.deepEqual((await sync(keys, 64, 0, rule()))[0], 1, "room for one more reservation");
});
