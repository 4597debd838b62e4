// Observability (issue 22, "Alerts" and "Metrics and traces"): GET /metrics parsed by the official
// Prometheus parser with values equal to the requests sent (and to usage_records); webhooks for
// node down / back up, breaker open, test alerts and the daily digest received by a test server
// that verifies every signature, with retries after a failing receiver; OTLP spans received and
// decoded by a test collector; payload logging per user with truncation, the admin API and
// retention.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setup, adminClient, sleep, JWT_SECRET, SECRETS_KEY, ADMIN_TOKEN } from "./helpers.mjs";
import { startGateway } from "../../devtools/gateway.mjs";
import { startOrigin } from "./fake-origin.mjs";

const ALERT_SECRET = "e2e-alert-secret-0123456789abcdef";
const METRICS_TOKEN = "e2e-metrics-token-0123456789";
const OTLP_TOKEN = "e2e-otlp-token";
const HERE = path.dirname(fileURLToPath(import.meta.url));
const PY = path.join(os.homedir(), ".cache/maestro-edge/venv/bin/python");

/** A test HTTP server recording every request; `failNext` answers that many with 500 first. */
async function recorder() {
  const r = { requests: [], failNext: 0, url: "" };
  r.server = http.createServer(async (req, res) => {
    let raw = "";
    for await (const c of req) raw += c;
    let json = null;
    try {
      json = JSON.parse(raw);
    } catch {}
    const failed = r.failNext > 0;
    if (failed) r.failNext--;
    r.requests.push({ path: req.url, method: req.method, headers: req.headers, raw, json, failed });
    res.writeHead(failed ? 500 : 200, { "content-type": "application/json" });
    res.end(failed ? '{"error":"receiver down"}' : "{}");
  });
  await new Promise((ok) => r.server.listen(0, "127.0.0.1", ok));
  r.url = `http://127.0.0.1:${r.server.address().port}`;
  r.stop = () => new Promise((ok) => r.server.close(ok));
  return r;
}

/** What a receiver does with X-Maestro-Signature (README, "Verifying a webhook"). */
function verify(req, secret = ALERT_SECRET) {
  const ts = req.headers["x-maestro-timestamp"];
  const sig = req.headers["x-maestro-signature"] ?? "";
  const want = "v1=" + crypto.createHmac("sha256", secret).update(`${ts}.${req.raw}`).digest("hex");
  const fresh = Math.abs(Date.now() / 1000 - Number(ts)) < 300;
  return fresh && sig.length === want.length && crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want));
}

let env, admin, A, B, C, R, O, tokens, ids;
let tick = Date.now();
// Increasing scheduled times, a minute apart (alert back-off is measured against them).
const cron = async (advanceMs = 60_000) => {
  tick += advanceMs;
  await env.gw.scheduled("* * * * *", new Date(tick));
};
const chat = (token, body, pathname = "/v1/chat/completions") => fetch(`${env.url}${pathname}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const hi = [{ role: "user", content: "hi there" }];

async function scrape(token = METRICS_TOKEN) {
  const r = await fetch(`${env.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  const parsed = JSON.parse(execFileSync(PY, [path.join(HERE, "promparse.py")], { input: text }).toString());
  return { text, ...parsed };
}
const total = (m, name, match = {}) => m.samples.filter(([n, l]) => n === name && Object.entries(match).every(([k, v]) => l[k] === v)).reduce((a, [, , v]) => a + v, 0);

before(async () => {
  A = await startOrigin({ name: "a", models: ["llama3:latest"] });
  B = await startOrigin({ name: "b", models: ["other:latest"] });
  C = await startOrigin({ name: "c", models: ["brk:latest"] });
  R = await recorder();
  O = await recorder();
  env = await setup({ name: "observe", vars: { METRICS_TOKEN, ALERT_WEBHOOK_SECRET: ALERT_SECRET, OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${OTLP_TOKEN}` } });
  admin = adminClient(env.url);
  await admin.put("/settings", { "breaker.min_requests": 2, "breaker.failure_pct": 50, "routing.max_failover_retries": 0 });
  ids = {};
  for (const o of [A, B, C]) ids[o.name] = (await admin.post("/nodes", { name: o.name, base_url: o.url, priority: 10 }, 201)).id;
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  tokens = {};
  for (const [u, extra] of [["obs", {}], ["tight", { request_limit: 1 }], ["plog", {}], ["other", {}]]) {
    const user = await admin.post("/users", { username: u, has_all_models: true, ...extra }, 201);
    tokens[u] = user.token;
    ids[u] = user.id;
  }
  await cron(); // discovery
});
after(async () => {
  await env?.stop();
  for (const s of [A, B, C, R, O]) await s?.stop();
});

describe("GET /metrics", () => {
  test("its own bearer token: 401 without or with a wrong one", async () => {
    assert.equal((await fetch(`${env.url}/metrics`)).status, 401);
    const r = await fetch(`${env.url}/metrics`, { headers: { authorization: "Bearer nope" } });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), "Bearer");
    // A user token is not a metrics token.
    assert.equal((await fetch(`${env.url}/metrics`, { headers: { authorization: `Bearer ${tokens.obs}` } })).status, 401);
  });

  test("counters and histograms match the requests sent (and usage_records)", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await chat(tokens.obs, { model: "fast", messages: hi })).status, 200);
    for (let i = 0; i < 2; i++) {
      const r = await chat(tokens.obs, { model: "fast", messages: hi, stream: true, stream_options: { include_usage: true } });
      assert.equal(r.status, 200);
      await r.text();
    }
    const ol = await chat(tokens.obs, { model: "fast", messages: hi }, "/api/chat");
    assert.equal(ol.status, 200);
    await ol.text();
    assert.equal((await chat(tokens.obs, { model: "nope", messages: hi })).status, 404);
    assert.equal((await chat(tokens.tight, { model: "fast", messages: hi })).status, 200);
    assert.equal((await chat(tokens.tight, { model: "fast", messages: hi })).status, 429);
    const sent = 9;
    let m;
    for (let i = 0; i < 40; i++) {
      await sleep(250);
      await cron();
      m = await scrape();
      if (total(m, "maestro_requests_total") >= sent) break;
    }
    assert.equal(total(m, "maestro_requests_total"), sent, m.text);
    assert.equal(m.families.maestro_requests, "counter");
    assert.equal(m.families.maestro_request_duration_seconds, "histogram");
    assert.equal(m.families.maestro_ttfb_seconds, "histogram");
    // By label, as sent.
    assert.equal(total(m, "maestro_requests_total", { model: "fast", node: "a", code: "200" }), 7);
    assert.equal(total(m, "maestro_requests_total", { model: "fast", node: "a", code: "200", dialect: "ollama" }), 1);
    assert.equal(total(m, "maestro_requests_total", { model: "", code: "404" }), 1, "an unknown name is not a series of its own");
    assert.equal(total(m, "maestro_requests_total", { model: "fast", code: "429" }), 1);
    assert.equal(total(m, "maestro_limiter_refusals_total", { model: "fast" }), 1);
    assert.equal(total(m, "maestro_request_errors_total", { class: "rate_limited" }), 1);
    assert.equal(total(m, "maestro_request_errors_total", { class: "not_found" }), 1);
    assert.equal(total(m, "maestro_tokens_total", { model: "fast", node: "a", type: "input" }), 7 * A.usage.prompt);
    assert.equal(total(m, "maestro_tokens_total", { model: "fast", node: "a", type: "output" }), 7 * A.usage.completion);
    // Against Postgres: the same records, the same sums.
    const db = JSON.parse(env.psql(`SELECT json_build_object('n', count(*), 'dur', COALESCE(sum(duration_ms), 0), 'ttfb', count(ttfb_ms), 'ttfb_sum', COALESCE(sum(ttfb_ms), 0), 'tok', COALESCE(sum(prompt_tokens), 0)) FROM usage_records WHERE requested_model = 'fast' AND node_name = 'a'`));
    assert.equal(total(m, "maestro_request_duration_seconds_count", { model: "fast", node: "a" }), db.n);
    assert.ok(Math.abs(total(m, "maestro_request_duration_seconds_sum", { model: "fast", node: "a" }) - db.dur / 1000) < 1e-6);
    assert.equal(total(m, "maestro_ttfb_seconds_count", { model: "fast", node: "a" }), db.ttfb);
    assert.ok(Math.abs(total(m, "maestro_ttfb_seconds_sum", { model: "fast", node: "a" }) - db.ttfb_sum / 1000) < 1e-6);
    // Buckets are cumulative and end at +Inf = count.
    const buckets = m.samples.filter(([n, l]) => n === "maestro_request_duration_seconds_bucket" && l.model === "fast" && l.node === "a");
    assert.equal(buckets.at(-1)[1].le, "+Inf");
    assert.equal(buckets.at(-1)[2], db.n);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][2] >= buckets[i - 1][2]);
    // Gauges: node health from the probes, no stream left active.
    assert.equal(total(m, "maestro_node_up", { node: "a" }), 1);
    assert.equal(total(m, "maestro_node_health", { node: "a", state: "healthy" }), 1);
    assert.equal(total(m, "maestro_active_streams", { node: "a" }), 0);
  });

  test("counters stay put when the cron kicks shards with nothing new (no double counting)", async () => {
    const before = total(await scrape(), "maestro_requests_total");
    await cron();
    await cron();
    assert.equal(total(await scrape(), "maestro_requests_total"), before);
  });
});

describe("webhooks", () => {
  test("node down and back up, to the URL of each kind, signed", async () => {
    await admin.put("/settings", { "alerts.webhook_url": `${R.url}/all`, "alerts.webhook_url.node_down": `${R.url}/down` });
    B.mode = "down";
    for (let i = 0; i < 3; i++) await cron();
    const down = R.requests.filter((r) => r.json?.event?.kind === "node_down");
    assert.equal(down.length, 1, JSON.stringify(R.requests.map((r) => r.json?.event)));
    assert.equal(down[0].path, "/down");
    assert.ok(verify(down[0]), "valid signature");
    assert.ok(!verify(down[0], "another-secret"), "and only with the shared secret");
    assert.equal(down[0].headers["content-type"], "application/json");
    assert.match(down[0].json.text, /Node b is down/);
    assert.equal(down[0].json.blocks[0].type, "header");
    assert.equal(down[0].json.event.details.node_id, ids.b);
    assert.equal(down[0].headers["x-maestro-alert-kind"], "node_down");
    B.mode = "ok";
    for (let i = 0; i < 2; i++) await cron();
    const up = R.requests.filter((r) => r.json?.event?.kind === "node_up");
    assert.equal(up.length, 1);
    assert.equal(up[0].path, "/all");
    assert.ok(verify(up[0]));
    assert.match(up[0].json.text, /Node b is back up/);
    await cron();
    assert.equal(R.requests.filter((r) => r.json?.event?.kind === "node_down").length, 1, "delivered once");
  });

  test("a failing receiver: retried with back-off, same alert id, then delivered", async () => {
    R.failNext = 2;
    const q = await admin.post("/alerts/test", { message: "retry me" }, 202);
    assert.equal(q.queued, true);
    await cron();
    let a = (await admin.get("/alerts?kind=test")).alerts[0];
    assert.equal(a.state, "pending");
    assert.equal(a.attempts, 1);
    assert.equal(a.last_status, 500);
    await cron(10_000); // before its back-off (30 s): not due
    assert.equal(R.requests.filter((r) => r.json?.event?.kind === "test").length, 1);
    await cron(60_000);
    await cron(180_000); // past the second back-off (2 min)
    a = (await admin.get("/alerts?kind=test")).alerts[0];
    assert.equal(a.state, "delivered", JSON.stringify(a));
    assert.equal(a.attempts, 3);
    const sent = R.requests.filter((r) => r.json?.event?.kind === "test");
    assert.deepEqual(sent.map((r) => r.failed), [true, true, false]);
    assert.equal(new Set(sent.map((r) => r.headers["x-maestro-alert-id"])).size, 1, "receivers can dedupe on the id");
    assert.ok(sent.every((r) => verify(r)));
    assert.match(sent[2].json.text, /retry me/);
    assert.equal((await admin.get("/alerts?kind=bogus", 400)).error.field, "kind");
  });

  test("a circuit breaker that opens", async () => {
    C.mode = "status:500";
    for (let i = 0; i < 3; i++) assert.ok([502, 503].includes((await chat(tokens.obs, { model: "brk:latest", messages: hi })).status));
    await sleep(300); // the isolate's breaker changes reach the Breakers object in a 100 ms batch
    const m = await scrape();
    assert.equal(total(m, "maestro_breaker_open", { node: "c" }), 1, m.text);
    await cron();
    const brk = R.requests.filter((r) => r.json?.event?.kind === "breaker_open");
    assert.equal(brk.length, 1, JSON.stringify(R.requests.map((r) => r.json?.event?.kind)));
    assert.ok(verify(brk[0]));
    assert.equal(brk[0].json.event.details.node_id, ids.c);
    assert.match(brk[0].json.text, /Circuit breaker open/);
    C.mode = "ok";
  });

  test("the daily digest summarises the day once", async () => {
    await sleep(1500); // every record of the tests above reaches Postgres first (shard alarms)
    await cron();
    await admin.put("/settings", { "alerts.digest_hour_utc": 0 });
    const now = new Date();
    const today = now.toISOString().slice(0, 10);
    const tomorrow = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 0, 30);
    tick = Math.max(tick, tomorrow);
    await cron();
    await cron();
    const digests = R.requests.filter((r) => r.json?.event?.kind === "digest" && r.json.event.details.day === today);
    assert.equal(digests.length, 1);
    assert.ok(verify(digests[0]));
    const n = Number(env.psql(`SELECT count(*) FROM usage_records WHERE created_at >= '${today}'::date AND created_at < '${today}'::date + 1`).trim());
    assert.equal(digests[0].json.event.details.requests, n);
    assert.match(digests[0].json.text, new RegExp(`Daily digest for ${today}`));
  });
});

// Budget crossings come from the cost module (prices, budgets, budget_events): skipped where it is
// not part of the build.
describe("budget alerts and cost metrics (with the cost module)", () => {
  let D, hasBudgets;
  before(async () => {
    hasBudgets = (await fetch(`${env.url}/admin/budgets`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status === 200;
    if (!hasBudgets) return;
    D = await startOrigin({ name: "d", kind: "openai", models: ["gpt-b"] });
    D.usage = { prompt: 1000, completion: 0 };
    const n = await admin.post("/nodes", { name: "d", node_type: "openai", base_url: D.url }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
    await admin.put("/settings", { "budgets.reserve_micros": 10_000, "alerts.webhook_url": `${R.url}/all` });
    await admin.post("/prices", { model: "gpt-b", input: 10 }, 201); // 1000 tokens: 0.01 a request
  });
  after(async () => D?.stop());

  test("soft and hard thresholds: one signed webhook each; refusals and cost in /metrics", async (t) => {
    if (!hasBudgets) return t.skip("no cost module (GET /admin/budgets is not served)");
    const u = await admin.post("/users", { username: "spender", has_all_models: true }, 201);
    // 0.025: the third request (spent 0.02) is the grant that crosses the limit, as budgets admit it.
    await admin.post("/budgets", { user: "spender", period: "day", limit: "0.025", soft_pct: 50 }, 201);
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      const r = await chat(u.token, { model: "gpt-b", messages: hi });
      statuses.push(r.status);
      await r.text();
    }
    assert.ok(statuses.includes(429), JSON.stringify(statuses));
    let got = [];
    for (let i = 0; i < 40 && got.length < 2; i++) {
      await sleep(250);
      await env.gw.scheduled(); // real time: the budget's window is today
      got = R.requests.filter((r) => /^budget_/.test(r.json?.event?.kind ?? ""));
    }
    const kinds = got.map((r) => r.json.event.kind).sort();
    assert.deepEqual(kinds, ["budget_hard", "budget_soft"], JSON.stringify(got.map((r) => r.json.event)));
    const today = new Date().toISOString().slice(0, 10);
    for (const r of got) {
      assert.ok(verify(r));
      const d = r.json.event.details;
      assert.equal(d.scope, `user:${u.id}`);
      assert.equal(d.window, `day:${today}`);
      assert.equal(d.limit, 0.025);
      assert.equal(d.currency, "USD");
    }
    await env.gw.scheduled();
    assert.equal(R.requests.filter((r) => /^budget_/.test(r.json?.event?.kind ?? "")).length, 2, "one webhook per crossing");
    const refused = statuses.filter((s) => s === 429).length;
    let m;
    for (let i = 0; i < 40; i++) {
      m = await scrape();
      if (total(m, "maestro_requests_total", { model: "gpt-b" }) >= statuses.length) break;
      await sleep(250);
      await env.gw.scheduled();
    }
    assert.equal(total(m, "maestro_budget_refusals_total", { model: "gpt-b" }), refused);
    assert.equal(total(m, "maestro_request_errors_total", { model: "gpt-b", class: "budget_exceeded" }), refused);
    const spent = Number(env.psql("SELECT COALESCE(sum(cost_micros), 0) FROM usage_records WHERE requested_model = 'gpt-b'")) / 1e6;
    assert.ok(Math.abs(total(m, "maestro_cost_total", { model: "gpt-b", node: "d" }) - spent) < 1e-9, `${spent}`);
  });
});

describe("OpenTelemetry", () => {
  const spans = () => O.requests.flatMap((r) => (r.json?.resourceSpans ?? []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, resource: rs.resource, headers: r.headers })))));
  const attr = (s, k) => {
    const v = s.attributes.find((a) => a.key === k)?.value;
    return v?.stringValue ?? v?.intValue ?? v?.boolValue;
  };
  const spanFor = async (id) => {
    for (let i = 0; i < 40; i++) {
      const s = spans().find((s) => attr(s, "maestro.request_id") === id);
      if (s) return s;
      await sleep(100);
    }
    assert.fail(`no span for ${id}: ${JSON.stringify(spans().map((s) => attr(s, "maestro.request_id")))}`);
  };

  test("one span per request with the GenAI conventions, batched, never the prompt", async () => {
    await admin.put("/settings", { "otel.endpoint": `${O.url}/v1/traces` });
    const r1 = await chat(tokens.obs, { model: "fast", messages: hi });
    const r2 = await chat(tokens.obs, { model: "fast", messages: hi, stream: true, stream_options: { include_usage: true } });
    await r2.text();
    const s1 = await spanFor(r1.headers.get("x-request-id"));
    const s2 = await spanFor(r2.headers.get("x-request-id"));
    assert.equal(s1.headers.authorization, `Bearer ${OTLP_TOKEN}`, "OTEL_EXPORTER_OTLP_HEADERS");
    assert.equal(s1.resource.attributes.find((a) => a.key === "service.name").value.stringValue, "maestro-edge");
    for (const s of [s1, s2]) {
      assert.equal(s.name, "chat fast");
      assert.equal(s.kind, 2);
      assert.match(s.traceId, /^[0-9a-f]{32}$/);
      assert.match(s.spanId, /^[0-9a-f]{16}$/);
      assert.equal(attr(s, "gen_ai.operation.name"), "chat");
      assert.equal(attr(s, "gen_ai.request.model"), "fast");
      assert.equal(attr(s, "gen_ai.response.model"), "llama3:latest");
      assert.equal(attr(s, "gen_ai.usage.input_tokens"), String(A.usage.prompt));
      assert.equal(attr(s, "gen_ai.usage.output_tokens"), String(A.usage.completion));
      assert.equal(attr(s, "server.address"), "a");
      assert.equal(attr(s, "user.id"), String(ids.obs));
      assert.equal(attr(s, "http.response.status_code"), "200");
      assert.ok(Number(attr(s, "maestro.ttfb_ms")) >= 0);
      assert.equal(s.events[0].name, "gen_ai.first_byte");
      assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano));
      assert.equal(attr(s, "gen_ai.input.messages"), undefined, "no prompt unless opted in");
      assert.ok(!JSON.stringify(s).includes("hi there"));
    }
    assert.equal(attr(s2, "maestro.stream"), true);
  });

  test("content only when opted in; a 429 is an error span", async () => {
    await admin.put("/settings", { "otel.capture_content": true });
    const r = await chat(tokens.obs, { model: "fast", messages: [{ role: "user", content: "secret prompt 42" }] });
    const s = await spanFor(r.headers.get("x-request-id"));
    assert.match(attr(s, "gen_ai.input.messages"), /secret prompt 42/);
    await admin.put("/settings", { "otel.capture_content": false });
    const refused = await chat(tokens.tight, { model: "fast", messages: hi });
    assert.equal(refused.status, 429);
    let e;
    for (let i = 0; i < 40 && !e; i++) {
      e = spans().find((s) => attr(s, "http.response.status_code") === "429");
      if (!e) await sleep(100);
    }
    assert.ok(e, "a span for the refused request");
    assert.equal(e.status.code, 2);
    assert.equal(attr(e, "error.type"), "rate_limited");
    await admin.put("/settings", { "otel.endpoint": null });
  });
});

describe("Workers Analytics Engine", () => {
  test("with an ANALYTICS dataset bound, every request writes a datapoint and still answers", async () => {
    const gw = await startGateway({ databaseUrl: env.databaseUrl, vars: { JWT_SECRET, SECRETS_KEY, ADMIN_TOKEN: "ae-admin-token-0123456789" }, miniflare: { analyticsEngineDatasets: { ANALYTICS: { dataset: "maestro_requests" } } } });
    try {
      for (const stream of [false, true]) {
        const r = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${tokens.obs}` }, body: JSON.stringify({ model: "fast", messages: hi, stream }) });
        assert.equal(r.status, 200);
        await r.text();
      }
      assert.ok(gw.logs.some((l) => l.includes("analytics engine: one datapoint per request goes to the ANALYTICS dataset")), gw.logs.join("\n"));
      assert.ok(!gw.logs.some((l) => l.includes("datapoint not written")), "writeDataPoint accepted every point");
    } finally {
      await gw.stop();
    }
    // Without the binding (the main gateway) nothing is said or written.
    assert.ok(!env.gw.logs.some((l) => l.includes("analytics engine")));
  });
});

describe("payload logging", () => {
  test("off by default: nothing is logged", async () => {
    await chat(tokens.plog, { model: "fast", messages: hi }).then((r) => r.text());
    await sleep(1500);
    assert.deepEqual((await admin.get("/payload-logs")).items, []);
  });

  test("per user: request and answer, streamed too, cut at max_bytes; others not logged", async () => {
    await admin.put("/settings", { "payload_log.enabled": true, "payload_log.users": ["plog"], "payload_log.max_bytes": 1024 });
    const r1 = await chat(tokens.plog, { model: "fast", messages: [{ role: "user", content: "log me please" }] });
    const a1 = await r1.text();
    const r2 = await chat(tokens.plog, { model: "fast", messages: hi, stream: true });
    const a2 = await r2.text();
    const r3 = await chat(tokens.plog, { model: "fast", messages: [{ role: "user", content: "x".repeat(5000) }] });
    await r3.text();
    await chat(tokens.other, { model: "fast", messages: [{ role: "user", content: "not me" }] }).then((r) => r.text());
    let items = [];
    for (let i = 0; i < 30 && items.length < 3; i++) {
      await sleep(200);
      items = (await admin.get("/payload-logs?username=plog")).items;
    }
    assert.equal(items.length, 3);
    assert.deepEqual((await admin.get("/payload-logs?username=other")).items, []);
    const e1 = await admin.get(`/payload-logs/${r1.headers.get("x-request-id")}`);
    assert.match(e1.request, /log me please/);
    assert.equal(e1.response, a1, "the answer exactly as the client got it");
    assert.equal(e1.model, "fast");
    assert.equal(e1.status, 200);
    const e2 = await admin.get(`/payload-logs/${r2.headers.get("x-request-id")}`);
    assert.equal(e2.response, a2, "the stream's bytes as sent");
    assert.match(e2.response, /^data: /);
    const e3 = await admin.get(`/payload-logs/${r3.headers.get("x-request-id")}`);
    assert.equal(e3.request_truncated, true);
    assert.equal(e3.request.length, 1024);
    await admin.get("/payload-logs/req_nope", 404);
  });

  test("per team and per model too", async () => {
    const team = await admin.post("/teams", { name: "logged-team", members: ["other"] }, 201);
    await admin.put("/settings", { "payload_log.users": [], "payload_log.teams": [String(team.id)], "payload_log.models": ["other:latest"] });
    const byTeam = await chat(tokens.other, { model: "fast", messages: [{ role: "user", content: "team member" }] });
    const teamText = await byTeam.text();
    const byModel = await chat(tokens.obs, { model: "other:latest", messages: [{ role: "user", content: "by model" }] });
    await byModel.text();
    const neither = await chat(tokens.obs, { model: "fast", messages: [{ role: "user", content: "neither" }] });
    await neither.text();
    assert.deepEqual([byTeam, byModel, neither].map((r) => r.status), [200, 200, 200], teamText);
    const ids = [byTeam, byModel, neither].map((r) => r.headers.get("x-request-id"));
    let found = [];
    for (let i = 0; i < 30 && found.length < 2; i++) {
      await sleep(200);
      found = (await admin.get("/payload-logs?limit=500")).items.map((x) => x.id).filter((id) => ids.includes(id));
    }
    assert.deepEqual(found.sort(), ids.slice(0, 2).sort(), "the team member's and the model's requests, not the third");
    await admin.put("/settings", { "payload_log.users": ["plog"], "payload_log.teams": [], "payload_log.models": [] });
  });

  test("retention and delete", async () => {
    const [first, second] = (await admin.get("/payload-logs?username=plog")).items;
    await admin.del(`/payload-logs/${first.id}`, 204);
    await admin.get(`/payload-logs/${first.id}`, 404);
    await admin.put("/settings", { "payload_log.retention_days": 1 });
    env.psql(`UPDATE payload_log SET created_at = now() - interval '2 days' WHERE id = '${second.id}'`);
    await cron();
    const left = (await admin.get("/payload-logs?username=plog")).items.map((i) => i.id);
    assert.ok(!left.includes(second.id), "expired entries are deleted by the cron");
    assert.equal(left.length, 1);
    await admin.put("/settings", { "payload_log.enabled": false });
  });
});
