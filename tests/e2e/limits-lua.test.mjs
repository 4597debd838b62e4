// The Redis limit scripts themselves (src/limits/admit.lua, settle.lua), run against the real
// redis-server: the cases the gateway's plans do not reach yet (several rules in one scope) and
// the edges (refusals count nowhere, releases never go below zero, TTLs are set).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Redis } from "@upstash/redis";
import { redis, uniqueName } from "./helpers.mjs";
import { ROOT } from "../../devtools/gateway.mjs";

const ADMIT = fs.readFileSync(path.join(ROOT, "src/limits/admit.lua"), "utf8");
const SETTLE = fs.readFileSync(path.join(ROOT, "src/limits/settle.lua"), "utf8");
let R, k;

before(async () => {
  const srv = await redis();
  R = new Redis({ url: srv.url, token: srv.token, retry: false, enableTelemetry: false, automaticDeserialization: false });
  const p = uniqueName("lua");
  k = (n) => `${p}:lim:{s}:${n}`;
});

// ARGV per rule: max requests, max tokens (-1 = none), ttl ms.
const admit = (keys, argv) => R.eval(ADMIT, keys, argv);
const settle = (keys, argv) => R.eval(SETTLE, keys, argv);
// Without automatic deserialization HGETALL is Redis's flat [field, value, ...] list.
const counts = async (key) => {
  const flat = (await R.hgetall(key)) ?? [];
  return Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, Number(flat[i + 1])]])));
};

test("all or nothing across the rules of one scope; a refusal is counted nowhere", async () => {
  const keys = [k("day"), k("minute")];
  const argv = ["10", "-1", "60000", "1", "-1", "60000"];
  assert.deepEqual(await admit(keys, argv), [1, 0, 0, 0, 0]);
  assert.deepEqual(await admit(keys, argv), [0, 1, 0, 1, 0], "the minute rule is full; counts before this request");
  assert.deepEqual(await counts(k("day")), { r: 1 }, "the day rule did not count the refused request");
  const ttl = await R.pttl(k("day"));
  assert.ok(ttl > 55_000 && ttl <= 60_000, `TTL set on admission (${ttl})`);
});

test("token limits block once reached; settlement adds tokens and releases, never below zero", async () => {
  const keys = [k("tok")];
  assert.deepEqual(await admit(keys, ["-1", "100", "60000"]), [1, 0, 0]);
  await settle(keys, ["120", "0", "60000"]);
  assert.deepEqual(await counts(k("tok")), { r: 1, t: 120 });
  assert.deepEqual(await admit(keys, ["-1", "100", "60000"]), [0, 1, 120]);
  await settle(keys, ["0", "1", "60000"]);
  await settle(keys, ["0", "1", "60000"]);
  assert.deepEqual(await counts(k("tok")), { r: 0, t: 120 }, "two releases of one request stop at zero");
  await settle([k("absent")], ["0", "1", "60000"]);
  assert.deepEqual(await counts(k("absent")), {}, "a release in an expired window creates nothing");
});

test("100 concurrent admissions against a limit of 30 admit exactly 30", async () => {
  const keys = [k("burst")];
  const results = await Promise.all([...Array(100)].map(() => admit(keys, ["30", "-1", "60000"])));
  assert.equal(results.filter((r) => r[0] === 1).length, 30);
  assert.deepEqual(await counts(k("burst")), { r: 30 });
});
