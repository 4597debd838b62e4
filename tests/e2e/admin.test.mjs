// Admin API (issue 5) against the built Worker in workerd and a real Postgres: every resource,
// every error class, sessions, the audit trail, usage views over usage_records rows, streamed
// pulls from a fake Ollama, and a sweep proving no secret ever leaves through a response or
// the audit log.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, signToken, ndjson, ADMIN_TOKEN, ADMIN_USERNAME, ADMIN_PASSWORD } from "./helpers.mjs";
import { startGateway, ROOT } from "../../devtools/gateway.mjs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { defaultVars } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { checkResponse, validate, template } from "./openapi-check.mjs";

const IP = "198.51.100.10";
let env, A, B, C;
const nodes = {};
const tokens = {}; // username -> latest token
const issued = []; // every user token ever handed out
const seen = []; // every response of this file: {method, path, status, text}
const mutations = []; // successful admin mutations that must each leave one audit row

/** One admin request. `token: null` sends no credentials. */
async function call(method, path, { body, token = ADMIN_TOKEN, ip = IP, headers = {}, url } = {}) {
  const h = { "cf-connecting-ip": ip, ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h["content-type"] = "application/json";
  const r = await fetch(`${url ?? env.url}${path}`, { method, headers: h, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {}
  seen.push({ method, path, status: r.status, text, type: r.headers.get("content-type") });
  if (!url && method !== "GET" && r.status < 400 && !path.startsWith("/admin/auth/")) mutations.push(`${method} ${path}`);
  for (const t of [json?.token].filter(Boolean)) if (!path.startsWith("/admin/auth/")) issued.push(t);
  return { status: r.status, headers: r.headers, body: json, text };
}
/** Like `call`, but the status must be `want`. */
async function must(want, method, path, opts) {
  const r = await call(method, path, opts);
  assert.equal(r.status, want, `${method} ${path} -> ${r.status}: ${r.text}`);
  return r.body;
}
function assertFieldError(r, status, field) {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.body.error.message, "string");
  assert.equal(typeof r.body.error.type, "string");
  assert.equal(r.body.error.field, field, r.text);
}
const day = (offset = 0) => new Date(Date.now() + offset * 86400e3).toISOString().slice(0, 10);

before(async () => {
  env = await setup({ name: "admin" });
  A = await startOrigin({ name: "ollama-a", kind: "ollama", models: ["llama3:latest", "qwen3:8b"] });
  B = await startOrigin({ name: "ollama-b", kind: "ollama", models: ["llama3:latest"] });
  C = await startOrigin({ name: "openai-c", kind: "openai", models: ["gpt-4o-mini"] });
  for (const [o, extra] of [[A, { priority: 10 }], [B, { priority: 20 }], [C, { priority: 30, api_key: "sk-node-secret-0123456789", headers: { Authorization: "Bearer hdr-secret-0123456789", "X-Team": "red" } }]]) {
    const n = await must(201, "POST", "/admin/nodes", { body: { name: o.name, node_type: o.kind, base_url: o.url, ...extra } });
    await must(200, "POST", `/admin/nodes/${n.id}/discover`);
    nodes[o.name] = n.id;
  }
  await must(201, "POST", "/admin/model-mappings", { body: { display_name: "fast", real_name: "llama3:latest", context_length: "128K" } });
  await must(201, "POST", "/admin/model-groups", { body: { name: "team", members: [{ model_name: "fast" }] } });
  for (const u of ["ana", "ben"]) tokens[u] = (await must(201, "POST", "/admin/users", { body: { username: u, has_all_models: true } })).token;
});

after(async () => {
  await env?.stop();
  for (const o of [A, B, C]) await o?.stop();
});

describe("routing, errors and the OpenAPI document", () => {
  test("GET /admin/openapi.json needs no credentials and documents every contract route", async () => {
    const r = await call("GET", "/admin/openapi.json", { token: null });
    assert.equal(r.status, 200);
    assert.match(r.body.openapi, /^3\.1/);
    const want = [
      ["get", "/admin/model-config"], ["post", "/admin/model-config"], ["patch", "/admin/model-config/{id}"], ["delete", "/admin/tool-sets/{id}"],
      ["put", "/admin/system-prompts/reorder"], ["get", "/admin/audit-logs"], ["get", "/admin/requests"], ["get", "/admin/dashboard/stats"],
      ["get", "/admin/dashboard/series"], ["get", "/admin/dashboard/top-models"], ["get", "/admin/dashboard/top-users"], ["get", "/admin/users/{username}/activity"],
      ["get", "/admin/users/{username}/token-usage"], ["get", "/admin/users/{username}/model-usage"], ["get", "/admin/nodes/load"], ["post", "/admin/nodes/{id}/pull"],
      ["post", "/admin/nodes/pull-all"], ["delete", "/admin/nodes/{id}/models/{model}"], ["get", "/admin/models"], ["patch", "/admin/models/{model}/available"],
      ["post", "/admin/users"], ["patch", "/admin/nodes/{id}/toggle"], ["post", "/admin/model-groups/{name}/members"],
    ];
    for (const [m, p] of want) assert.ok(r.body.paths[p]?.[m], `${m} ${p} documented`);
  });

  test("unknown paths are 404 and wrong methods 405 with Allow, before authentication", async () => {
    const nope = await call("GET", "/admin/nope", { token: null });
    assert.equal(nope.status, 404);
    assert.equal(nope.body.error.type, "not_found");
    assert.equal((await call("GET", "/admin/nodes/abc")).status, 404);
    // Methods the runtime does not know are not read as GET.
    for (const [m, p, allow] of [["QUERY", "/admin/users", "GET, POST"], ["PROPFIND", "/admin/audit-logs", "GET"], ["DELETE", "/admin/users", "GET, POST"], ["GET", "/admin/nodes/sync-all", "POST"], ["POST", "/admin/requests", "GET"], ["GET", "/admin/system-prompts/reorder", "PUT"], ["PATCH", "/admin/openapi.json", "GET"]]) {
      const r = await call(m, p, { token: null });
      assert.equal(r.status, 405, `${m} ${p}`);
      assert.equal(r.headers.get("allow"), allow, `${m} ${p}`);
      assert.equal(r.body.error.type, "method_not_allowed");
    }
  });

  test("missing or wrong credentials are 401 with WWW-Authenticate", async () => {
    for (const token of [null, "wrong", signToken({ sub: "admin", jti: "x", typ: "admin", secret: "other" })]) {
      const r = await call("GET", "/admin/users", { token });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get("www-authenticate"), "Bearer");
      assert.equal(r.body.error.type, "unauthorized");
    }
    // A user token is not an admin credential.
    assert.equal((await call("GET", "/admin/users", { token: tokens.ana })).status, 401);
  });

  test("bad input is 400 naming the field; bad JSON is 400", async () => {
    assertFieldError(await call("POST", "/admin/tool-sets", { body: { name: 5 } }), 400, "name");
    assertFieldError(await call("POST", "/admin/tool-sets", { body: { name: "x", tool: ["a"] } }), 400, "tool");
    assertFieldError(await call("POST", "/admin/model-config", { body: { model_prefix: "x", cost_multiplier: "cheap" } }), 400, "cost_multiplier");
    assertFieldError(await call("POST", "/admin/system-prompts", { body: { scope_type: "team", scope_value: "x", prompt: "p" } }), 400, "scope_type");
    assertFieldError(await call("POST", "/admin/system-prompts", { body: { scope_type: "user", scope_value: "x" } }), 400, "prompt");
    assertFieldError(await call("GET", "/admin/requests?limit=0"), 400, "limit");
    assertFieldError(await call("GET", "/admin/requests?limit=501"), 400, "limit");
    assertFieldError(await call("GET", "/admin/audit-logs?offset=-3"), 400, "offset");
    assertFieldError(await call("GET", "/admin/audit-logs?start_date=yesterday"), 400, "start_date");
    assertFieldError(await call("GET", "/admin/requests?status=ok"), 400, "status");
    assertFieldError(await call("GET", "/admin/dashboard/series?days=0"), 400, "days");
    assertFieldError(await call("GET", "/admin/dashboard/series?days=91"), 400, "days");
    assertFieldError(await call("GET", "/admin/dashboard/top-models?period=2w"), 400, "period");
    assertFieldError(await call("GET", "/admin/users/ana/token-usage?period=1y"), 400, "period");
    assertFieldError(await call("PATCH", "/admin/models/fast/available", { body: {} }), 400, "is_available");
    assertFieldError(await call("POST", "/admin/model-groups", { body: { name: "g", members: "fast" } }), 400, "members");
    assertFieldError(await call("POST", "/admin/model-groups", { body: { name: "g", priority: 2 ** 40 } }), 400, "priority");
    const notObject = await call("POST", "/admin/nodes/sync-all", { body: "[1]" });
    assert.equal(notObject.status, 400);
    const bad = await call("POST", "/admin/tool-sets", { body: "{not json" });
    assert.equal(bad.status, 400);
  });

  test("unknown ids are 404, not 500", async () => {
    for (const p of ["/admin/tool-sets/999999", "/admin/model-config/999999", "/admin/system-prompts/999999", "/admin/nodes/999999", "/admin/users/nobody/activity", "/admin/users/nobody/limits"]) {
      const r = await call("GET", p);
      assert.equal(r.status, 404, `${p}: ${r.text}`);
    }
    assert.equal((await call("DELETE", "/admin/tool-sets/999999")).status, 404);
    assert.equal((await call("PATCH", "/admin/models/no-such-model/available", { body: { is_available: false } })).status, 404);
  });

  test("duplicates are 409 naming the field", async () => {
    assertFieldError(await call("POST", "/admin/users", { body: { username: "ana" } }), 409, "username");
    assertFieldError(await call("POST", "/admin/nodes", { body: { name: "ollama-a", base_url: "http://127.0.0.1:9" } }), 409, "name");
  });

  test("a successful mutation publishes a new routing snapshot; a failed one does not", async () => {
    const v0 = Number(env.psql("SELECT version FROM snapshot_version"));
    await must(201, "POST", "/admin/tool-sets", { body: { name: "snapshot-probe", tools: [] } });
    const v1 = Number(env.psql("SELECT version FROM snapshot_version"));
    assert.ok(v1 > v0, `${v1} > ${v0}`);
    assert.equal((await call("POST", "/admin/tool-sets", { body: { name: "snapshot-probe" } })).status, 409);
    assert.equal(Number(env.psql("SELECT version FROM snapshot_version")), v1);
  });
});

// One fixed set of usage rows; every expectation below is computed from it by hand.
describe("usage views", () => {
  let seq = 0;
  const row = (r) => {
    const v = (x) => (x === null || x === undefined ? "NULL" : typeof x === "number" || typeof x === "boolean" ? String(x) : `'${String(x).replace(/'/g, "''")}'`);
    return `(${v(`t${++seq}`)}, now() - interval '${r.ago}', (SELECT id FROM users WHERE username = ${v(r.user)}), ${v(r.user)}, ${v(r.model)}, ${v(r.model)}, ${v(r.real)}, ${v(nodes[r.node])}, ${v(r.node)},
      ${v(r.endpoint)}, ${v(r.client === "ollama" ? "ollama" : "openai")}, ${v(r.client)}, false, ${r.status}, ${r.p}, ${r.c}, ${r.p + r.c}, false, ${r.ms}, 5, ${v(r.status >= 400 ? "boom" : null)})`;
  };
  const ROWS = [
    { user: "ana", model: "fast", real: "llama3:latest", node: "ollama-a", status: 200, p: 10, c: 5, ago: "0 seconds", endpoint: "/v1/chat/completions", client: "openai", ms: 100 },
    { user: "ana", model: "fast", real: "llama3:latest", node: "ollama-a", status: 200, p: 20, c: 10, ago: "0 seconds", endpoint: "/api/chat", client: "ollama", ms: 300 },
    { user: "ana", model: "gpt-4o-mini", real: "gpt-4o-mini-2024", node: "openai-c", status: 500, p: 3, c: 0, ago: "0 seconds", endpoint: "/v1/chat/completions", client: "openai", ms: 50 },
    { user: "ben", model: "fast", real: "llama3:latest", node: "ollama-b", status: 429, p: 0, c: 0, ago: "0 seconds", endpoint: "/api/chat", client: "ollama", ms: 10 },
    { user: "ben", model: "qwen", real: "qwen3:8b", node: "ollama-a", status: 200, p: 100, c: 50, ago: "2 days", endpoint: "/v1/chat/completions", client: "openai", ms: 200 },
    { user: "ben", model: "fast", real: "llama3:latest", node: "ollama-a", status: 200, p: 7, c: 3, ago: "10 days", endpoint: "/api/generate", client: "ollama", ms: 100 },
    { user: "ana", model: "qwen", real: "qwen3:8b", node: "ollama-b", status: 404, p: 1, c: 0, ago: "40 days", endpoint: "/v1/completions", client: "openai", ms: 5 },
    { user: "ana", model: "fast", real: "llama3:latest", node: "ollama-a", status: 200, p: 1000, c: 1000, ago: "100 days", endpoint: "/api/chat", client: "ollama", ms: 1000 },
  ];
  before(() => {
    env.psql(`INSERT INTO usage_records (id, created_at, user_id, username, requested_model, resolved_model, real_model, node_id, node_name, endpoint, dialect, client, stream,
      status, prompt_tokens, completion_tokens, total_tokens, estimated, duration_ms, ttfb_ms, error) VALUES ${ROWS.map(row).join(",")}`);
  });

  test("request log: filters, filtered totals, pagination, newest first", async () => {
    const q = async (qs) => must(200, "GET", `/admin/requests?${qs}`);
    const all = await q("");
    assert.equal(all.total, 8);
    assert.equal(all.limit, 25);
    assert.equal(all.offset, 0);
    const times = all.requests.map((r) => Date.parse(r.created_at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));
    const r0 = all.requests.find((r) => r.real_model === "gpt-4o-mini-2024");
    assert.equal(r0.status, 500);
    assert.equal(r0.node_id, nodes["openai-c"]);
    assert.equal(r0.error, "boom");
    assert.equal(r0.total_tokens, 3);
    for (const [qs, total] of [
      ["username=ana", 5], ["model=fast", 5], ["model=gpt-4o-mini-2024", 1], ["status=5xx", 1], ["status=4xx", 2], ["status=429", 1], ["status=2xx", 5],
      ["endpoint=%2Fapi%2Fchat", 3], ["client=ollama", 4], [`start_date=${day(-5)}`, 5], [`end_date=${day(-30)}`, 2], ["username=ana&status=2xx", 3],
      [`start_date=${day(-50)}&end_date=${day(-20)}`, 1], ["username=nobody", 0], ["action=", 8],
    ]) {
      const r = await q(qs);
      assert.equal(r.total, total, qs);
      assert.equal(r.requests.length, total, qs);
    }
    const page = await q("limit=2&offset=6");
    assert.equal(page.total, 8);
    assert.equal(page.requests.length, 2);
    assert.equal(page.requests[1].prompt_tokens, 1000);
  });

  test("dashboard stats count today, the last 7 and 30 days, and everything", async () => {
    const s = await must(200, "GET", "/admin/dashboard/stats");
    assert.deepEqual(s.requests, { today: 4, week: 5, month: 6, total: 8, errors_today: 2, avg_duration_ms_today: 115 });
    assert.deepEqual(s.tokens.today, { prompt: 33, completion: 15, total: 48 });
    assert.deepEqual(s.tokens.week, { prompt: 133, completion: 65, total: 198 });
    assert.deepEqual(s.tokens.month, { prompt: 140, completion: 68, total: 208 });
    assert.equal(s.users.total, Number(env.psql("SELECT count(*) FROM users WHERE deleted_at IS NULL")));
    assert.equal(s.users.active_today, 2);
    assert.equal(s.nodes.total, 3);
    assert.equal(s.nodes.healthy + s.nodes.unhealthy <= 3, true);
    assert.equal(s.dependencies.database.up, true);
    assert.equal(typeof s.dependencies.database.latency_ms, "number");
  });

  test("dashboard series has every day, zeros included", async () => {
    const { days } = await must(200, "GET", "/admin/dashboard/series?days=7");
    assert.equal(days.length, 7);
    assert.deepEqual(days.map((d) => d.date), [-6, -5, -4, -3, -2, -1, 0].map(day));
    assert.deepEqual(days[6], { date: day(0), requests: 4, errors: 2, prompt_tokens: 33, completion_tokens: 15, total_tokens: 48 });
    assert.deepEqual(days[4], { date: day(-2), requests: 1, errors: 0, prompt_tokens: 100, completion_tokens: 50, total_tokens: 150 });
    for (const i of [0, 1, 2, 3, 5]) assert.equal(days[i].requests, 0);
    assert.equal((await must(200, "GET", "/admin/dashboard/series")).days.length, 7);
    assert.equal((await must(200, "GET", "/admin/dashboard/series?days=90")).days.length, 90);
  });

  test("top models and top users by period", async () => {
    const models = async (qs) => (await must(200, "GET", `/admin/dashboard/top-models?${qs}`)).models;
    assert.deepEqual(await models("period=24h"), [{ model: "fast", requests: 3, total_tokens: 45 }, { model: "gpt-4o-mini", requests: 1, total_tokens: 3 }]);
    assert.deepEqual((await models("period=7d")).map((m) => m.model), ["fast", "qwen", "gpt-4o-mini"]);
    assert.deepEqual(await models("period=all"), [{ model: "fast", requests: 5, total_tokens: 2055 }, { model: "qwen", requests: 2, total_tokens: 151 }, { model: "gpt-4o-mini", requests: 1, total_tokens: 3 }]);
    assert.deepEqual((await models("period=all&limit=1")).map((m) => m.model), ["fast"]);
    const users = async (qs) => (await must(200, "GET", `/admin/dashboard/top-users?${qs}`)).users;
    assert.deepEqual(await users("period=all"), [
      { username: "ana", requests: 5, prompt_tokens: 1034, completion_tokens: 1015, total_tokens: 2049 },
      { username: "ben", requests: 3, prompt_tokens: 107, completion_tokens: 53, total_tokens: 160 },
    ]);
    assert.deepEqual((await users("period=24h")).map((u) => [u.username, u.total_tokens]), [["ana", 48], ["ben", 0]]);
    assert.deepEqual((await users(`start_date=${day(-50)}&end_date=${day(-20)}`)).map((u) => u.username), ["ana"]);
  });

  test("per-user activity, token usage and model usage", async () => {
    const act = await must(200, "GET", "/admin/users/ana/activity?limit=2");
    assert.equal(act.username, "ana");
    assert.equal(act.total, 5);
    assert.equal(act.activities.length, 2);
    assert.ok(act.activities.every((a) => a.username === "ana"));
    assert.equal((await must(200, "GET", "/admin/users/ana/activity?offset=4")).activities[0].prompt_tokens, 1000);
    const tu = async (u, qs) => must(200, "GET", `/admin/users/${u}/token-usage?${qs}`);
    assert.deepEqual((await tu("ben", "period=all")).usage, { requests: 3, prompt_tokens: 107, completion_tokens: 53, total_tokens: 160 });
    assert.deepEqual((await tu("ben", "period=24h")).usage, { requests: 1, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
    const week = await tu("ben", "");
    assert.equal(week.usage.total_tokens, 150);
    assert.ok(Date.parse(week.period.end) - Date.parse(week.period.start) > 6.9 * 86400e3);
    const range = await tu("ana", `start_date=${day(-50)}&end_date=${day(-20)}`);
    assert.deepEqual(range.usage, { requests: 1, prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 });
    assert.equal(range.period.start.slice(0, 10), day(-50));
    assert.equal((await tu("ana", "period=all")).period.start, null);
    const mu = await must(200, "GET", "/admin/users/ana/model-usage?period=all");
    assert.deepEqual(mu.models, [{ model: "fast", requests: 3, total_tokens: 2045 }, { model: "gpt-4o-mini", requests: 1, total_tokens: 3 }, { model: "qwen", requests: 1, total_tokens: 1 }]);
    assert.equal((await call("GET", "/admin/users/nobody/model-usage")).status, 404);
  });

  test("node load counts today's requests and errors per node; active_streams is 0 for now", async () => {
    const { nodes: load } = await must(200, "GET", "/admin/nodes/load");
    const by = Object.fromEntries(load.map((n) => [n.name, n]));
    assert.deepEqual([by["ollama-a"].requests_today, by["ollama-a"].errors_today], [2, 0]);
    assert.deepEqual([by["ollama-b"].requests_today, by["ollama-b"].errors_today], [1, 1]);
    assert.deepEqual([by["openai-c"].requests_today, by["openai-c"].errors_today], [1, 1]);
    assert.ok(load.every((n) => n.active_streams === 0 && typeof n.is_active === "boolean"));
  });
});

describe("sessions", () => {
  const login = (password, ip = "192.0.2.1", username = ADMIN_USERNAME) => call("POST", "/admin/auth/login", { token: null, ip, body: { username, password } });

  test("login, use, logout; a replay after logout is 401", async () => {
    const bad = await login("wrong", "192.0.2.1");
    assert.equal(bad.status, 401);
    assert.equal(env.psql("SELECT count(*) FROM audit_log WHERE action = 'admin.login_failed' AND source_ip = '192.0.2.1'"), "1");
    const ok = await login(ADMIN_PASSWORD);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.token_type, "Bearer");
    assert.equal(ok.body.expires_in, 8 * 3600);
    assert.ok(Date.parse(ok.body.expires_at) > Date.now());
    const me = await must(200, "GET", "/admin/auth/me", { token: ok.body.token });
    assert.equal(me.actor, ADMIN_USERNAME);
    // Mutations under a session are audited with the person's name.
    await must(201, "POST", "/admin/tool-sets", { token: ok.body.token, body: { name: "by-session", tools: ["x"] } });
    assert.equal(env.psql("SELECT actor || '|' || source_ip FROM audit_log WHERE action = 'tool_set.create' ORDER BY id DESC LIMIT 1"), `${ADMIN_USERNAME}|${IP}`);
    assert.equal((await call("POST", "/admin/auth/logout", { token: ok.body.token })).status, 204);
    assert.equal((await call("GET", "/admin/auth/me", { token: ok.body.token })).status, 401);
    assert.equal((await call("POST", "/admin/auth/logout", { token: ok.body.token })).status, 401);
    assert.equal(env.psql("SELECT count(*) FROM audit_log WHERE action IN ('admin.login', 'admin.logout')"), "2");
    // The static token has no session to end.
    assert.equal((await call("POST", "/admin/auth/logout")).status, 409);
  });

  test("an expired session is refused even with a token that is still signed as valid", async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    env.psql("INSERT INTO admin_sessions (id, username, expires_at) VALUES ('sess-expired', 'admin', now() - interval '1 minute'), ('sess-live', 'admin', now() + interval '1 hour')");
    const expired = signToken({ typ: "admin", sub: "admin", jti: "sess-expired", exp });
    assert.equal((await call("GET", "/admin/auth/me", { token: expired })).status, 401);
    // Positive control: the same kind of token for a live session works...
    assert.equal((await call("GET", "/admin/auth/me", { token: signToken({ typ: "admin", sub: "admin", jti: "sess-live", exp }) })).status, 200);
    // ...unless the token itself has expired.
    assert.equal((await call("GET", "/admin/auth/me", { token: signToken({ typ: "admin", sub: "admin", jti: "sess-live", exp: Math.floor(Date.now() / 1000) - 10 }) })).status, 401);
  });

  test("10 failed logins from one address make the next attempt 429 with Retry-After, even with the right password", async () => {
    const ip = "192.0.2.99";
    for (let i = 0; i < 10; i++) assert.equal((await login(`guess-${i}`, ip)).status, 401);
    const blocked = await login(ADMIN_PASSWORD, ip);
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers.get("retry-after")) > 0);
    assert.equal(blocked.body.error.type, "rate_limited");
    assert.equal(env.psql(`SELECT count(*) FROM audit_log WHERE action = 'admin.login_blocked' AND source_ip = '${ip}'`), "1");
    // Another address is not affected.
    assert.equal((await login(ADMIN_PASSWORD, "192.0.2.100")).status, 200);
  });
});

describe("tool sets and model config", () => {
  test("tool set CRUD, used_by, and 409 naming the configs when deleting a set in use", async () => {
    const ts = await must(201, "POST", "/admin/tool-sets", { body: { name: "coding", tools: ["read_file", "write_file"], description: "IDE tools" } });
    assert.deepEqual(ts.tools, ["read_file", "write_file"]);
    assert.equal(ts.used_by, 0);
    const all = await must(201, "POST", "/admin/tool-sets", { body: { name: "everything", tools: null } });
    assert.equal(all.tools, null);
    assertFieldError(await call("POST", "/admin/tool-sets", { body: { name: "coding" } }), 409, "name");
    const cfg = await must(201, "POST", "/admin/model-config", { body: { model_prefix: "qwen3", tool_set_id: ts.id, allowed_tools: ["ignored_when_linked"] } });
    assert.equal(cfg.tool_set_name, "coding");
    assert.deepEqual(cfg.effective_allowed_tools, ["read_file", "write_file"]);
    assert.equal((await must(200, "GET", `/admin/tool-sets/${ts.id}`)).used_by, 1);
    // The link is live: editing the set changes the config's effective tools.
    const patched = await must(200, "PATCH", `/admin/tool-sets/${ts.id}`, { body: { tools: ["read_file"] } });
    assert.equal(patched.description, "IDE tools");
    assert.deepEqual((await must(200, "GET", `/admin/model-config/${cfg.id}`)).effective_allowed_tools, ["read_file"]);
    const inUse = await call("DELETE", `/admin/tool-sets/${ts.id}`);
    assert.equal(inUse.status, 409);
    assert.match(inUse.body.error.message, /qwen3/);
    // Unlink, then the set can go.
    await must(200, "PATCH", `/admin/model-config/${cfg.id}`, { body: { tool_set_id: null } });
    await must(204, "DELETE", `/admin/tool-sets/${ts.id}`);
    assert.equal((await call("GET", `/admin/tool-sets/${ts.id}`)).status, 404);
    const list = await must(200, "GET", "/admin/tool-sets");
    assert.equal(list.total, list.tool_sets.length);
    assert.ok(list.tool_sets.some((t) => t.name === "everything" && t.tools === null));
  });

  test("model config CRUD with validation and partial updates", async () => {
    const c = await must(201, "POST", "/admin/model-config", {
      body: { model_prefix: "llama3", max_context_length: "128K", default_context_length: 32768, unsupported_params: ["logprobs"], node_strategy: "least_busy", cost_multiplier: 0.5, description: "Meta" },
    });
    assert.equal(c.max_context_length, 131072);
    assert.equal(c.cost_multiplier, 0.5);
    assert.equal(c.allowed_tools, null);
    assert.equal(c.effective_allowed_tools, null);
    assert.equal(c.is_active, true);
    assertFieldError(await call("POST", "/admin/model-config", { body: { model_prefix: "llama3" } }), 409, "model_prefix");
    assertFieldError(await call("POST", "/admin/model-config", { body: { model_prefix: "z", tool_set_id: 987654 } }), 400, "tool_set_id");
    assertFieldError(await call("POST", "/admin/model-config", { body: { model_prefix: "z", node_strategy: "fastest" } }), 400, "node_strategy");
    assertFieldError(await call("PATCH", `/admin/model-config/${c.id}`, { body: { default_context_length: 200000 } }), 400, "default_context_length");
    const p = await must(200, "PATCH", `/admin/model-config/${c.id}`, { body: { requests_per_minute: 60, node_strategy: null } });
    assert.equal(p.requests_per_minute, 60);
    assert.equal(p.node_strategy, null);
    assert.equal(p.description, "Meta");
    assert.deepEqual(p.unsupported_params, ["logprobs"]);
    const list = await must(200, "GET", "/admin/model-config");
    assert.equal(list.total, list.configs.length);
    assert.ok(list.configs.some((x) => x.id === c.id));
  });

  // Runs after the usage views: once usage is recorded, these chats add rows of their own.
  test("maintenance mode reaches the gateway through the republished snapshot", async () => {
    const configs = (await must(200, "GET", "/admin/model-config")).configs;
    const qwen = configs.find((x) => x.model_prefix === "qwen3");
    const chat = () => fetch(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${tokens.ana}`, "content-type": "application/json" }, body: JSON.stringify({ model: "qwen3:8b", messages: [{ role: "user", content: "hi" }] }) });
    assert.equal((await chat()).status, 200);
    await must(200, "PUT", `/admin/model-config/${qwen.id}`, { body: { maintenance_mode: true } });
    const down = await chat();
    assert.equal(down.status, 503);
    assert.match((await down.json()).error.message, /maintenance/);
    await must(200, "PATCH", `/admin/model-config/${qwen.id}`, { body: { maintenance_mode: false } });
    assert.equal((await chat()).status, 200);
    const llama = configs.find((x) => x.model_prefix === "llama3");
    await must(204, "DELETE", `/admin/model-config/${llama.id}`);
    assert.equal((await call("GET", `/admin/model-config/${llama.id}`)).status, 404);
  });
});

describe("system prompts", () => {
  test("CRUD, priority order and reorder", async () => {
    const a = await must(201, "POST", "/admin/system-prompts", { body: { scope_type: "user", scope_value: "ana", prompt: "Answer briefly.", priority: 1 } });
    const b = await must(201, "POST", "/admin/system-prompts", { body: { scope_type: "mapping", scope_value: "fast", prompt: "You are fast.", priority: 5, description: "speed" } });
    assert.equal(a.is_active, true);
    let list = await must(200, "GET", "/admin/system-prompts");
    assert.deepEqual(list.prompts.map((p) => p.id), [b.id, a.id]);
    list = await must(200, "PUT", "/admin/system-prompts/reorder", { body: { prompts: [{ id: a.id, priority: 10 }, { id: b.id, priority: 0 }] } });
    assert.deepEqual(list.prompts.map((p) => [p.id, p.priority]), [[a.id, 10], [b.id, 0]]);
    assert.equal((await call("PUT", "/admin/system-prompts/reorder", { body: { prompts: [{ id: 999999, priority: 1 }] } })).status, 404);
    assertFieldError(await call("PUT", "/admin/system-prompts/reorder", { body: { prompts: [{ id: a.id }] } }), 400, "prompts");
    const p = await must(200, "PATCH", `/admin/system-prompts/${b.id}`, { body: { is_active: false } });
    assert.equal(p.is_active, false);
    assert.equal(p.prompt, "You are fast.");
    assertFieldError(await call("PATCH", `/admin/system-prompts/${b.id}`, { body: { prompt: "" } }), 400, "prompt");
    await must(204, "DELETE", `/admin/system-prompts/${b.id}`);
    assert.equal((await call("GET", `/admin/system-prompts/${b.id}`)).status, 404);
    assert.equal((await must(200, "GET", `/admin/system-prompts/${a.id}`)).scope_value, "ana");
  });
});

describe("catalog, pulls and model deletion", () => {
  test("the catalog groups models across nodes with their mappings; availability switches everywhere", async () => {
    const { models } = await must(200, "GET", "/admin/models");
    const llama = models.find((m) => m.model_name === "llama3:latest");
    assert.deepEqual(llama.mapped_as, ["fast"]);
    assert.deepEqual(llama.nodes.map((n) => n.node_name), ["ollama-a", "ollama-b"]);
    assert.equal(llama.is_available, true);
    assert.equal(llama.nodes[0].node_type, "ollama");
    const off = await must(200, "PATCH", "/admin/models/llama3%3Alatest/available", { body: { is_available: false } });
    assert.equal(off.is_available, false);
    assert.ok(off.nodes.every((n) => n.is_available === false));
    await must(200, "PATCH", "/admin/models/llama3%3Alatest/available", { body: { is_available: true } });
  });

  test("pull streams the node's progress and ends with success", async () => {
    const r = await fetch(`${env.url}/admin/nodes/${nodes["ollama-a"]}/pull`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "cf-connecting-ip": IP }, body: JSON.stringify({ model: "mistral:7b" }) });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /ndjson/);
    mutations.push("POST pull");
    const lines = ndjson(await r.text());
    assert.equal(lines[0].status, "pulling manifest");
    assert.ok(lines.some((l) => l.total === 2000 && l.completed === 1000));
    assert.deepEqual(lines.at(-1), { status: "success" });
    assert.deepEqual(A.requests.filter((q) => q.path === "/api/pull").at(-1).body, { model: "mistral:7b", stream: true });
    assert.equal(env.psql("SELECT details->>'model' FROM audit_log WHERE action = 'node.pull' ORDER BY id DESC LIMIT 1"), "mistral:7b");
  });

  test("a pull that fails midway ends with an error line, never a success", async () => {
    const pull = async () => {
      const r = await fetch(`${env.url}/admin/nodes/${nodes["ollama-a"]}/pull`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "cf-connecting-ip": IP }, body: JSON.stringify({ model: "mistral:7b" }) });
      mutations.push("POST pull");
      return { status: r.status, lines: ndjson(await r.text()) };
    };
    for (const mode of ["cut", "error"]) {
      A.pullMode = mode;
      const { status, lines } = await pull();
      assert.equal(status, 200, mode);
      assert.equal(typeof lines.at(-1).error, "string", mode);
      assert.ok(lines.every((l) => l.status !== "success"), mode);
    }
    A.pullMode = "refuse";
    const refused = await call("POST", `/admin/nodes/${nodes["ollama-a"]}/pull`, { body: { model: "mistral:7b" } });
    assert.equal(refused.status, 502);
    assert.match(refused.body.error.message, /disk full/);
    A.pullMode = "ok";
  });

  test("pull checks its input and the node kind", async () => {
    assertFieldError(await call("POST", `/admin/nodes/${nodes["ollama-a"]}/pull`, { body: {} }), 400, "model");
    assertFieldError(await call("POST", `/admin/nodes/${nodes["ollama-a"]}/pull`, { body: { model: "two words" } }), 400, "model");
    const oai = await call("POST", `/admin/nodes/${nodes["openai-c"]}/pull`, { body: { model: "x" } });
    assert.equal(oai.status, 400);
    assert.match(oai.body.error.message, /Ollama/);
    assert.equal((await call("POST", "/admin/nodes/999999/pull", { body: { model: "x" } })).status, 404);
  });

  test("pull-all pulls on every active Ollama node, each line naming its node", async () => {
    const r = await fetch(`${env.url}/admin/nodes/pull-all`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "cf-connecting-ip": IP }, body: JSON.stringify({ model: "phi3:mini" }) });
    assert.equal(r.status, 200);
    mutations.push("POST pull-all");
    const lines = ndjson(await r.text());
    const names = new Set(lines.map((l) => l.node));
    assert.deepEqual([...names].sort(), ["ollama-a", "ollama-b"]);
    for (const n of names) assert.deepEqual(lines.filter((l) => l.node === n).at(-1), { status: "success", node: n });
    assert.ok(!C.requests.some((q) => q.path === "/api/pull"));
  });

  test("deleting a model calls Ollama's /api/delete and marks the catalog row not present", async () => {
    const id = nodes["ollama-a"];
    await must(204, "DELETE", `/admin/nodes/${id}/models/qwen3%3A8b`);
    const del = A.requests.filter((q) => q.path === "/api/delete").at(-1);
    assert.equal(del.method, "DELETE");
    assert.deepEqual(del.body, { model: "qwen3:8b" });
    const node = await must(200, "GET", `/admin/nodes/${id}`);
    assert.equal(node.models.find((m) => m.model_name === "qwen3:8b").is_present, false);
    assert.equal((await call("DELETE", `/admin/nodes/${id}/models/qwen3%3A8b`)).status, 404);
    assert.equal((await call("DELETE", `/admin/nodes/${nodes["openai-c"]}/models/gpt-4o-mini`)).status, 400);
  });
});

describe("audit trail", () => {
  test("entries carry actor, source IP and redacted details; secrets never reach it", async () => {
    await must(200, "PATCH", `/admin/nodes/${nodes["openai-c"]}`, { body: { api_key: "sk-rotated-secret-987654", headers: { Authorization: "Bearer hdr-rotated-secret", "X-Team": "blue" } } });
    const { logs } = await must(200, "GET", "/admin/audit-logs?action=node.update&limit=1");
    const e = logs[0];
    assert.equal(e.actor, "admin-token");
    assert.equal(e.source_ip, IP);
    assert.equal(e.entity_type, "node");
    assert.equal(e.entity_id, String(nodes["openai-c"]));
    assert.equal(e.details.api_key, "[redacted]");
    assert.equal(e.details.api_key_set, true);
    assert.equal(e.details.headers.Authorization, "[redacted]");
    assert.equal(e.details.headers["X-Team"], "[redacted]", "every header value is a secret, whatever its name");
    await must(200, "POST", "/admin/users/ben/limits", { body: { request_limit: 100, token_limit: 5000 } });
    const lim = (await must(200, "GET", "/admin/audit-logs?action=user.limits_set&limit=1")).logs[0];
    assert.deepEqual(lim.details, { request_limit: 100, token_limit: 5000 });
  });

  test("filters and the filtered total", async () => {
    const all = await must(200, "GET", "/admin/audit-logs?limit=500");
    const count = (where) => Number(env.psql(`SELECT count(*) FROM audit_log WHERE ${where}`));
    assert.equal(all.total, count("true"));
    const byAction = await must(200, "GET", "/admin/audit-logs?action=tool_set.create");
    assert.equal(byAction.total, count("action = 'tool_set.create'"));
    assert.ok(byAction.total >= 3 && byAction.total < all.total);
    assert.ok(byAction.logs.every((l) => l.action === "tool_set.create"));
    const page = await must(200, "GET", "/admin/audit-logs?entity_type=node&limit=2&offset=1");
    assert.equal(page.total, count("entity_type = 'node'"));
    assert.equal(page.logs.length, 2);
    assert.equal(page.limit, 2);
    assert.equal(page.offset, 1);
    const bySession = await must(200, "GET", `/admin/audit-logs?actor=${ADMIN_USERNAME}`);
    assert.equal(bySession.total, count(`actor = '${ADMIN_USERNAME}'`));
    assert.ok(bySession.total > 0);
    assert.equal((await must(200, "GET", "/admin/audit-logs?start_date=2999-01-01")).total, 0);
    assert.equal((await must(200, "GET", "/admin/audit-logs?end_date=2000-01-01")).total, 0);
    assert.equal((await must(200, "GET", `/admin/audit-logs?start_date=${day(0)}&action=tool_set.create`)).total, byAction.total);
    const ids = all.logs.map((l) => l.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a));
  });

  test("every successful mutation in this file left exactly one audit entry", async () => {
    const rows = Number(env.psql("SELECT count(*) FROM audit_log WHERE action NOT LIKE 'admin.%'"));
    assert.equal(rows, mutations.length, mutations.join("\n"));
  });
});

describe("secrets", () => {
  test("no response body or audit entry ever contains a user token, node API key or the admin password", async () => {
    // Exercise every GET route of the OpenAPI document with real parameters.
    const doc = (await must(200, "GET", "/admin/openapi.json")).paths;
    const ts = await must(201, "POST", "/admin/tool-sets", { body: { name: "sweep", tools: ["t"] } });
    const mc = await must(201, "POST", "/admin/model-config", { body: { model_prefix: "sweep", tool_set_id: ts.id } });
    const sp = await must(201, "POST", "/admin/system-prompts", { body: { scope_type: "user", scope_value: "ana", prompt: "p" } });
    const key = await must(201, "POST", "/admin/users/ana/keys", { body: { label: "sweep" } });
    issued.push(key.key);
    await must(201, "POST", "/admin/teams", { body: { name: "sweep-team", members: ["ana"] } });
    // A logged payload for /admin/payload-logs/{request_id} (payload logging is off here).
    env.psql("INSERT INTO payload_log (id, created_at, username, model, endpoint, status, request, response) VALUES ('req_sweep', now(), 'ana', 'fast', 'v1/chat/completions', 200, '{}', '{}') ON CONFLICT DO NOTHING");
    const ids = { "/admin/tool-sets/{id}": ts.id, "/admin/model-config/{id}": mc.id, "/admin/system-prompts/{id}": sp.id, "/admin/nodes/{id}": nodes["openai-c"], "/admin/nodes/{id}/routing": nodes["openai-c"], "/admin/users/{username}/keys/{id}": key.id };
    let swept = 0;
    for (const [template, item] of Object.entries(doc)) {
      if (!item.get || template === "/admin/openapi.json") continue;
      const path = template.replace("{id}", ids[template]).replace("{username}", "ana").replace("{display_name}", "fast").replace("{name}", "team").replace("{team}", "sweep-team").replace("{request_id}", "req_sweep");
      assert.ok(!path.includes("{"), template);
      const r = await call("GET", path);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      swept++;
    }
    assert.ok(swept >= 25, `swept ${swept} GET routes`);
    await must(200, "GET", "/admin/users?include_deleted=true");

    const secrets = ["sk-node-secret-0123456789", "sk-rotated-secret-987654", "hdr-secret-0123456789", "hdr-rotated-secret", ADMIN_PASSWORD, ADMIN_TOKEN, ...issued];
    assert.ok(issued.length >= 2);
    // Only the answers that hand out a token once may contain that token.
    const handsOutToken = (s) => (s.method === "POST" && /^\/admin\/users(\/[^/]+\/reactivate|\/[^/]+\/keys(\/\d+\/rotate)?)?$/.test(s.path)) || /\/admin\/users\/[^/]+\/token$/.test(s.path) || s.path === "/admin/auth/login";
    for (const s of seen) {
      for (const secret of secrets) {
        if (handsOutToken(s) && issued.includes(secret)) continue;
        assert.ok(!s.text.includes(secret), `${s.method} ${s.path} leaked a secret`);
      }
    }
    const audit = env.psql("SELECT * FROM audit_log");
    assert.ok(audit.length > 1000);
    for (const secret of secrets) assert.ok(!audit.includes(secret), "the audit log holds a secret");
    // Session tokens appear only in the login answer.
    const sessionTokens = seen.filter((s) => s.path === "/admin/auth/login" && s.status === 200).map((s) => JSON.parse(s.text).token);
    for (const s of seen.filter((s) => s.path !== "/admin/auth/login")) for (const t of sessionTokens) assert.ok(!s.text.includes(t));
    for (const t of sessionTokens) assert.ok(!audit.includes(t));
  });
});

describe("database down", () => {
  test("admin calls are 503 when Postgres is unreachable; routing errors and the document still answer", async () => {
    const gw = await startGateway({ databaseUrl: "postgres://postgres:postgres@127.0.0.1:9/nowhere", vars: defaultVars });
    try {
      const r = await call("GET", "/admin/users", { url: gw.url });
      assert.equal(r.status, 503);
      assert.equal(r.body.error.type, "database_unavailable");
      assert.equal((await call("POST", "/admin/tool-sets", { url: gw.url, body: { name: "x" } })).status, 503);
      assert.equal((await call("POST", "/admin/auth/login", { url: gw.url, token: null, body: { username: "admin", password: "x" } })).status, 503);
      assert.equal((await call("GET", "/admin/openapi.json", { url: gw.url, token: null })).status, 200);
      assert.equal((await call("GET", "/admin/nope", { url: gw.url })).status, 404);
      assert.equal((await call("DELETE", "/admin/users", { url: gw.url })).status, 405);
    } finally {
      await gw.stop();
    }
  });
});

describe("OpenAPI conformance", () => {
  test("every answer recorded in this file has a documented status and matches its schema", async () => {
    const doc = await must(200, "GET", "/admin/openapi.json");
    const problems = seen.flatMap((s) => checkResponse(doc, s));
    assert.deepEqual(problems, []);
    // The check itself bites: a wrong type, a missing field and an undocumented status fail.
    const node = JSON.parse(seen.find((s) => s.method === "GET" && /^\/admin\/nodes\/\d+$/.test(s.path) && s.status === 200).text);
    assert.ok(validate(doc, { $ref: "#/components/schemas/Node" }, { ...node, priority: "1" }).length > 0);
    const { name, ...noName } = node;
    assert.ok(validate(doc, { $ref: "#/components/schemas/Node" }, noName).length > 0);
    assert.ok(checkResponse(doc, { method: "GET", path: "/admin/users", status: 418, text: "{}" }).length > 0);
    assert.ok(checkResponse(doc, { method: "GET", path: "/admin/users", status: 200, text: '{"users":[],"total":0}', type: "application/octet-stream" }).length > 0);
    assert.ok(seen.length > 150, `${seen.length} answers checked`);
  });
});

describe("README examples", () => {
  test("every curl line of the README's admin section succeeds against a fresh gateway", async () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("<!-- admin-api:start -->"), readme.indexOf("<!-- admin-api:end -->"));
    const lines = section.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("curl "));
    assert.ok(lines.length >= 13, `${lines.length} curl lines`);
    // `make dev` registers the local Ollama as node 1; here a fake one stands in for it.
    const ollama = await startOrigin({ name: "local-ollama", models: ["llama3.1:8b"] });
    const fresh = await setup({ name: "readme", vars: { DEFAULT_OLLAMA_URL: ollama.url } });
    const doc = JSON.parse(fs.readFileSync(path.join(ROOT, "src/admin/openapi.json"), "utf8"));
    const covered = new Set();
    try {
      for (const line of lines) {
        // Only the base URL and the token differ from `make dev`.
        assert.match(line, /"\$BASE\/admin\//, line);
        assert.match(line, /Bearer \$ADMIN_TOKEN/, line);
        // Asynchronously: the gateway's database proxy runs in this process's event loop.
        const { stdout: out } = await promisify(execFile)("bash", ["-c", `${line} -w '\\n%{http_code}'`], { env: { ...process.env, BASE: fresh.url, ADMIN_TOKEN }, encoding: "utf8" });
        const code = Number(out.trim().split("\n").at(-1));
        assert.ok(code >= 200 && code < 300, `${line}\n-> ${out}`);
        const method = line.match(/-X (\w+)/)?.[1] ?? "GET";
        covered.add(`${method} ${template(doc, method, line.match(/"\$BASE(\/admin\/[^"]+)"/)[1])}`);
      }
      const documented = [
        "POST /admin/users", "PUT /admin/users/{username}/token", "POST /admin/users/{username}/models", "POST /admin/users/{username}/models/all",
        "POST /admin/users/{username}/limits", "POST /admin/model-mappings", "GET /admin/model-mappings", "DELETE /admin/model-mappings/{display_name}",
        "POST /admin/nodes", "PATCH /admin/nodes/{id}/toggle", "POST /admin/nodes/{id}/discover", "POST /admin/model-groups", "POST /admin/model-groups/{name}/members",
      ];
      for (const d of documented) assert.ok(covered.has(d), `README has no example for ${d}`);
      // And they did what they say.
      const get = async (p) => (await call("GET", p, { url: fresh.url })).body;
      assert.deepEqual(await get("/admin/users/alice/limits"), { username: "alice", request_limit: 1000, token_limit: null });
      assert.equal((await get("/admin/users/alice/models")).has_all_models, true);
      const n = await get("/admin/nodes");
      assert.deepEqual(n.nodes.map((x) => [x.id, x.name, x.is_active]), [[2, "gpu-box", false], [1, "local-ollama", true]]);
      assert.deepEqual(n.nodes[1].models.map((m) => m.model_name), ["llama3.1:8b"]);
      assert.deepEqual((await get("/admin/model-groups/team")).members.map((m) => m.model_name), ["fast"]);
      assert.equal((await get("/admin/model-mappings")).total, 0);
    } finally {
      await fresh.stop();
      await ollama.stop();
    }
  });
});
