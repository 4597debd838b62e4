// Budgets in currency (issue 22): per user, team and key, per UTC day and month, enforced by the
// Limiter's leases with a reservation per request, so 200 concurrent requests never overspend
// by more than one reservation; a soft threshold (headers, a budget event) and a hard limit
// (429 in the client's own format, naming the budget, Retry-After until the window resets);
// free models never blocked.
//
// It runs once per limits backend: the Limiter Durable Objects here, and Redis (sync.lua behind
// the Upstash REST bridge) when budgets-redis.test.mjs sets MAESTRO_LIMITS_BACKEND=redis first.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, waitForRows, redis, redisVars } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

const BACKEND = process.env.MAESTRO_LIMITS_BACKEND ?? "durable_objects";

let env, admin, OA, OL;
// gpt-b: 1000 input tokens at 10 per million = 10,000 millionths (0.01) per request, the same
// as the reservation, so the bound below is one request.
const COST = 10_000;
const RESERVE = 10_000;

before(async () => {
  OA = await startOrigin({ name: "openai-b", kind: "openai", models: ["gpt-b"] });
  OL = await startOrigin({ name: "ollama-b", kind: "ollama", models: ["llama3:latest"] });
  OA.usage = { prompt: 1000, completion: 0 };
  env = await setup({ name: `budgets-${BACKEND}`, vars: BACKEND === "redis" ? redisVars(await redis()) : {} });
  admin = adminClient(env.url);
  if (BACKEND !== "durable_objects") await admin.put("/settings", { "backend.limits": BACKEND }, 200);
  for (const o of [OA, OL]) {
    const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  await admin.put("/settings", { "budgets.reserve_micros": RESERVE });
  await admin.post("/prices", { model: "gpt-b", input: 10 }, 201);
});
after(async () => {
  await env?.stop();
  for (const o of [OA, OL]) await o?.stop();
});

const call = (token, p, body, headers = {}) =>
  fetch(`${env.url}${p}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const chat = (token, model = "gpt-b", stream = false) => call(token, "/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }], stream });
const secondsUntil = (ms) => Math.ceil((ms - Date.now()) / 1000);
const nextUtcMidnight = () => {
  const d = new Date();
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
};
const nextUtcMonth = () => {
  const d = new Date();
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};
const spent = (username) => Number(env.psql(`SELECT COALESCE(sum(cost_micros), 0) FROM usage_records WHERE username = '${username}'`));

describe(`a daily user budget under 200 concurrent requests (budgets in ${BACKEND})`, () => {
  const LIMIT = 505_000; // 50.5 requests' worth: the last grant crosses it
  let token, results;

  before(async () => {
    token = (await admin.post("/users", { username: "burst", has_all_models: true }, 201)).token;
    const b = await admin.post("/budgets", { user: "burst", period: "day", limit: "0.505", soft_pct: 50 }, 201);
    assert.deepEqual([b.scope, b.scope_name, b.period, b.limit_micros, b.spent_micros], ["user", "burst", "day", LIMIT, 0]);
    OA.mode = "delay:300"; // the answers overlap: all 200 are in flight together
    results = await Promise.all(
      [...Array(200)].map(async (_, i) => {
        const r = await chat(token, "gpt-b", i % 2 === 1);
        return { status: r.status, headers: r.headers, body: await r.text() };
      }),
    );
    OA.mode = "ok";
  });

  test("admits at most the budget plus one reservation, and refuses the rest with 429", async (t) => {
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    t.diagnostic(`${ok.length} admitted (${ok.length * COST} spent of ${LIMIT}, bound ${LIMIT + RESERVE}), ${refused.length} refused`);
    assert.equal(ok.length + refused.length, 200, JSON.stringify(results.filter((r) => ![200, 429].includes(r.status)).map((r) => r.body).slice(0, 3)));
    assert.ok(ok.length * COST <= LIMIT + RESERVE, `${ok.length} admitted: ${ok.length * COST} spent of ${LIMIT}`);
    assert.ok(ok.length * COST >= LIMIT - RESERVE, `the budget is used up (${ok.length} admitted)`);
    // Every usage record in Postgres, and the stored costs agree.
    const rows = await waitForRows(env, "SELECT status FROM usage_records WHERE username = 'burst'", (r) => r.length === 200);
    assert.equal(rows.length, 200);
    assert.equal(spent("burst"), ok.length * COST);
    assert.ok(spent("burst") <= LIMIT + RESERVE);
  });

  test("the refusal is OpenAI's quota error naming the budget, with Retry-After until UTC midnight", async () => {
    const r = results.find((x) => x.status === 429 && !x.body.startsWith("data:"));
    const e = JSON.parse(r.body).error;
    assert.equal(e.type, "insufficient_quota");
    assert.equal(e.code, "budget_exceeded");
    assert.match(e.message, /^budget exhausted: your daily budget of 0\.505000 USD is spent; it resets in \d+ s$/);
    const retry = Number(r.headers.get("retry-after"));
    assert.ok(Math.abs(retry - secondsUntil(nextUtcMidnight())) <= 5, `retry-after ${retry}`);
    assert.equal(r.headers.get("x-maestro-budget-remaining"), "0.000000");
  });

  test("answers carry what is left and, past the soft threshold, a warning", async () => {
    const ok = results.filter((r) => r.status === 200);
    const left = ok.map((r) => Number(r.headers.get("x-maestro-budget-remaining")));
    assert.ok(left.every((v) => v >= 0 && v <= 0.505), String(left.slice(0, 5)));
    assert.ok(ok.every((r) => r.headers.get("x-maestro-budget-scope")?.endsWith(":day")));
    assert.ok(ok.some((r) => /of your daily budget spent/.test(r.headers.get("x-maestro-budget-warning") ?? "")), "past 50%");
    assert.equal(ok.every((r) => r.headers.get("x-maestro-budget-currency") === "USD"), true);
  });

  test("a spent budget never blocks a free model", async () => {
    const r = await call(token, "/api/chat", { model: "llama3:latest", messages: [{ role: "user", content: "hi" }], stream: false });
    assert.equal(r.status, 200, await r.text());
    assert.equal(r.headers.get("x-maestro-budget-remaining"), null, "free requests are not held against the budget");
    assert.equal((await chat(token)).status, 429, "the priced model stays refused");
  });

  test("the cron records the soft and hard crossings once each", async () => {
    const rows = await waitForRows(env, "SELECT threshold || ':' || scope || ':' || scope_name || ':' || limit_micros FROM budget_events ORDER BY threshold DESC", (r) => r.length >= 2);
    assert.deepEqual(rows, [`soft:user:burst:${LIMIT}`, `hard:user:burst:${LIMIT}`]);
    await env.gw.scheduled();
    assert.equal(env.psql("SELECT count(*) FROM budget_events"), "2", "a second run adds nothing");
    const ev = await admin.get("/budget-events?undelivered=true");
    assert.equal(ev.total, 2);
    assert.ok(ev.events.every((e) => e.delivered_at === null && e.currency === "USD" && e.spent_micros >= LIMIT / 2));
    const listed = (await admin.get("/budgets")).budgets.find((b) => b.scope_name === "burst");
    assert.equal(listed.spent_micros, spent("burst"));
    assert.equal(listed.remaining, "0.000000");
  });
});

describe("team and key budgets", () => {
  test("a team's monthly budget refuses in the Anthropic format, naming the team, until the month ends", async () => {
    const token = (await admin.post("/users", { username: "teamer", has_all_models: true }, 201)).token;
    await admin.post("/teams", { name: "eng", members: ["teamer"] }, 201);
    await admin.post("/budgets", { team: "eng", period: "month", limit: 0.015 }, 201);
    const statuses = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await call(token, "/v1/messages", { model: "gpt-b", max_tokens: 20, messages: [{ role: "user", content: "hi" }] }, { "anthropic-version": "2023-06-01" });
      statuses.push(last.status);
      if (last.status !== 200) break;
      await last.text();
    }
    // 0.015: the first request holds 0.01; the second finds 0.01 spent (below 0.015) and holds
    // another; the third finds 0.02 spent: refused. Overspent by 0.005, less than a reservation.
    assert.deepEqual(statuses, [200, 200, 429]);
    const body = await last.json();
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "rate_limit_error");
    assert.match(body.error.message, /the monthly budget of your team 'eng' of 0\.015000 USD is spent/);
    const retry = Number(last.headers.get("retry-after"));
    assert.ok(Math.abs(retry - secondsUntil(nextUtcMonth())) <= 5, `retry-after ${retry}`);
  });

  test("a key's budget applies to that key only; the Ollama dialect gets its own error shape", async () => {
    await admin.post("/users", { username: "keyed", has_all_models: true }, 201);
    const key = await admin.post("/users/keyed/keys", { label: "ci" }, 201);
    const other = await admin.post("/users/keyed/keys", { label: "laptop" }, 201);
    await admin.post("/budgets", { key_id: key.id, period: "day", limit: 0.005 }, 201);
    const gen = (k) => call(k, "/api/generate", { model: "gpt-b", prompt: "hi", stream: false });
    assert.equal((await gen(key.key)).status, 200, "the first request is within one reservation");
    const r = await gen(key.key);
    assert.equal(r.status, 429);
    assert.match((await r.json()).error, /this API key's daily budget of 0\.005000 USD is spent/);
    assert.equal((await gen(other.key)).status, 200, "another key of the same user is not limited by it");
  });

  test("budgets are validated and unique per owner and period", async () => {
    for (const [body, field] of [
      [{ period: "day", limit: 1 }, "user"],
      [{ user: "burst", team: "eng", period: "day", limit: 1 }, "user"],
      [{ user: "burst", period: "week", limit: 1 }, "period"],
      [{ user: "burst", period: "month", limit: 0 }, "limit"],
      [{ user: "nobody", period: "month", limit: 1 }, "user"],
      [{ user: "burst", period: "month", limit: 1, soft_pct: 0 }, "soft_pct"],
    ]) {
      const r = await admin.call("POST", "/budgets", body, 400);
      assert.equal(r.error.field, field, JSON.stringify(body));
    }
    assert.equal((await admin.call("POST", "/budgets", { user: "burst", period: "day", limit: 1 }, 409)).error.field, "period");
    const b = (await admin.get("/budgets")).budgets.find((x) => x.scope_name === "burst");
    const patched = await admin.patch(`/budgets/${b.id}`, { limit: "100", soft_pct: 90 });
    assert.deepEqual([patched.limit_micros, patched.soft_pct], [100_000_000, 90]);
    await admin.del(`/budgets/${b.id}`, 204);
    await admin.del(`/budgets/${b.id}`, 404);
  });

  test("a raised budget admits again at once", async () => {
    const token = (await admin.post("/users", { username: "raised", has_all_models: true }, 201)).token;
    const b = await admin.post("/budgets", { user: "raised", period: "day", limit: 0.001 }, 201);
    assert.equal((await chat(token)).status, 200);
    assert.equal((await chat(token)).status, 429);
    await admin.patch(`/budgets/${b.id}`, { limit: 1 });
    assert.equal((await chat(token)).status, 200, "the isolate that made the change has the new rules");
  });
});
