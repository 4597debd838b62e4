// Maintenance at the edge (issue 6), driving the scheduled handler directly: health with
// hysteresis, discovery that reaches routing (gained, vanished, admin switch preserved),
// warm-up of only existing, reachable, non-cloud models and never on busy nodes, loaded models
// preferred by routing, active-stream leases back to zero after cut and abandoned streams, and
// the per-run subrequest budget rotating over nodes.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, sleep } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, A, B, token;
const ids = {};
const MIN = 60_000;
let tick = Date.UTC(2026, 0, 1, 12, 0); // distinct scheduled minutes: rotation and intervals are per minute
const cron = async () => {
  tick += MIN;
  await env.gw.scheduled("* * * * *", new Date(tick));
};
const chat = (model) => getJson(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model, messages: [{ role: "user", content: "x" }] }) });
const node = async (name) => (await admin.get(`/nodes/${ids[name]}`));

before(async () => {
  A = await startOrigin({ name: "a", models: ["llama3:latest", "big:cloud", "unmapped:latest"] });
  B = await startOrigin({ name: "b", models: ["llama3:latest"] });
  env = await setup({ name: "maint" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "discovery.interval_minutes": 1, "timeouts.stream_idle_ms": 800 });
  for (const [o, extra] of [[A, { priority: 10, warmup_enabled: true }], [B, { priority: 10 }]]) {
    ids[o.name] = (await admin.post("/nodes", { name: o.name, base_url: o.url, ...extra }, 201)).id;
  }
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  await admin.post("/model-mappings", { display_name: "cloudy", real_name: "big:cloud" }, 201);
  await admin.post("/model-mappings", { display_name: "ghost", real_name: "ghost:latest" }, 201);
  token = (await admin.post("/users", { username: "m", has_all_models: true }, 201)).token;
  await cron(); // first discovery of both nodes
});
after(async () => {
  await env?.stop();
  for (const o of [A, B]) await o?.stop();
});

describe("health", () => {
  test("hysteresis: unhealthy after 3 failed probes, healthy after 2 good ones; routing follows", async () => {
    B.mode = "down";
    await cron();
    await cron();
    assert.equal((await node("b")).health_status, "healthy", "two failures are not enough");
    await cron();
    assert.equal((await node("b")).health_status, "unhealthy");
    B.reset();
    for (let i = 0; i < 4; i++) assert.equal((await chat("fast")).status, 200);
    assert.equal(B.inference().length, 0, "routing skips the unhealthy node");
    await cron();
    assert.equal((await node("b")).health_status, "unhealthy", "one success is not enough");
    await cron();
    assert.equal((await node("b")).health_status, "healthy");
  });
});

describe("discovery", () => {
  test("a model that appears becomes callable; one that vanishes stops being routed", async () => {
    assert.equal((await chat("fresh:latest")).status, 404);
    A.models.push("fresh:latest");
    await cron();
    assert.equal((await chat("fresh:latest")).status, 200);
    A.models.pop();
    await cron();
    const a = await node("a");
    assert.equal(a.models.find((m) => m.model_name === "fresh:latest").is_present, false);
    assert.equal((await chat("fresh:latest")).status, 404);
  });

  test("the admin's availability switch survives rediscovery", async () => {
    await admin.patch(`/nodes/${ids.a}/models/unmapped:latest/available`, { is_available: false }, 200);
    assert.equal((await chat("unmapped:latest")).status, 404);
    await cron();
    assert.equal((await node("a")).models.find((m) => m.model_name === "unmapped:latest").is_available, false);
    assert.equal((await chat("unmapped:latest")).status, 404);
    await admin.patch(`/nodes/${ids.a}/models/unmapped:latest/available`, { is_available: true }, 200);
  });
});

describe("warm-up and loaded models", () => {
  test("only existing, reachable, non-cloud models on warm-up nodes; loaded ones recorded and preferred", async () => {
    A.ps = []; // earlier runs already warmed it; start from nothing loaded
    A.reset();
    B.reset();
    await cron();
    const warmed = A.requests.filter((r) => r.path === "/api/generate").map((r) => r.body);
    assert.deepEqual(warmed.map((b) => b.model), ["llama3:latest"], "not the cloud model, not the unmapped one, not the ghost");
    assert.equal(warmed[0].prompt, "");
    assert.equal(B.requests.filter((r) => r.path === "/api/generate").length, 0, "warm-up is off on b");
    assert.deepEqual(A.ps, ["llama3:latest"], "the warmed model is loaded now");
    await cron();
    assert.equal(A.requests.filter((r) => r.path === "/api/generate").length, 1, "a loaded model is not warmed again");
    // Only b has llama3 loaded: both have priority 10, routing prefers the loaded one.
    await admin.patch(`/nodes/${ids.a}`, { warmup_enabled: false }, 200);
    A.ps = [];
    B.ps = ["llama3:latest"];
    await cron();
    const bnode = await node("b");
    assert.equal(bnode.models.find((m) => m.model_name === "llama3:latest").is_loaded, true, JSON.stringify({ health: bnode.health_status, err: bnode.last_error, reqs: B.requests.map((r) => r.path), ps: B.ps }));
    A.reset();
    B.reset();
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await chat("fast")).status);
    const anode = await node("a");
    assert.equal(B.inference().length, 3, JSON.stringify({ statuses, a: anode.models.map((m) => [m.model_name, m.is_loaded]), ah: anode.health_status, bh: bnode.health_status, ai: A.inference().length }));
    B.ps = [];
    await admin.patch(`/nodes/${ids.a}`, { warmup_enabled: true }, 200);
  });

  test("warm-up never runs on a node that is serving streams", async () => {
    A.ps = [];
    A.reset();
    A.mode = "stall";
    await admin.patch(`/nodes/${ids.b}`, { is_active: false }, 200);
    const streaming = fetch(`${env.url}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "x" }] }) }).then((r) => r.text());
    await sleep(150);
    assert.equal((await env.gw.streamCounts())[String(ids.a)], 1);
    await cron();
    assert.equal(A.requests.filter((r) => r.path === "/api/generate").length, 0, "busy: deferred");
    await streaming; // the stall ends it with an in-band error
    A.mode = "ok";
    A.ps = [];
    await sleep(100);
    await cron();
    assert.equal(A.requests.filter((r) => r.path === "/api/generate").length, 1);
    await admin.patch(`/nodes/${ids.b}`, { is_active: true }, 200);
  });
});

describe("active streams", () => {
  test("counts return to zero after cut streams and after clients hang up", async () => {
    A.mode = "cut";
    await Promise.all([...Array(3)].map(() => fetch(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "fast", stream: true, messages: [{ role: "user", content: "x" }] }) }).then((r) => r.text())));
    A.mode = "stall";
    const ctl = new AbortController();
    const r = await fetch(`${env.url}/v1/chat/completions`, { method: "POST", signal: ctl.signal, headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "fast", stream: true, messages: [{ role: "user", content: "x" }] }) });
    const reader = r.body.getReader();
    await reader.read();
    ctl.abort();
    A.mode = "ok";
    await sleep(1200);
    const counts = await env.gw.streamCounts();
    assert.equal(counts[String(ids.a)] ?? 0, 0, JSON.stringify(counts));
    assert.equal(counts[String(ids.b)] ?? 0, 0, JSON.stringify(counts));
  });
});

test("a small subrequest budget defers work and rotation covers every node over runs", async () => {
  for (let i = 0; i < 6; i++) await admin.post("/nodes", { name: `extra-${i}`, base_url: B.url, priority: 50 }, 201);
  // 15 subrequests: the run's connection (1), the reserve for publish, clean-up and one usage
  // shard (8) and the alerts' (2: the Breakers object's new openings, one delivery; see
  // src/observe/alerts.rs) leave 4 health probes per run (src/maintenance/budget.rs).
  await admin.put("/settings", { "maintenance.subrequest_budget": 15, "discovery.interval_minutes": 60 });
  const before = new Date();
  await cron();
  let nodes = (await admin.get("/nodes")).nodes;
  const first = nodes.filter((n) => n.last_health_check && new Date(n.last_health_check) >= before);
  assert.equal(first.length, 4, "one run probes only what its budget allows");
  await cron();
  nodes = (await admin.get("/nodes")).nodes;
  const checked = nodes.filter((n) => n.last_health_check && new Date(n.last_health_check) >= before);
  assert.equal(checked.length, nodes.length, "every node was probed within two runs of 15 subrequests each");
  await admin.put("/settings", { "maintenance.subrequest_budget": 45 });
});
