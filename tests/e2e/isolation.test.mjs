// Failure isolation (issue 19): failures are blamed on what failed (node, model on a node, or
// nobody), circuit breakers open on a failure ratio and heal through a probe, an all-open plan
// still tries the candidate that failed longest ago, empty answers fail over, Retry-After is
// capped and cleared by the admin, and a client that hangs up ends its attempts.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, sleep, sseEvents, ndjson } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

const OPEN_MS = 800;
const TTFB = 1500;
let env, admin, G, S, token;
const nodes = {};

before(async () => {
  G = await startOrigin({ name: "gpu-box", models: ["good-one:latest", "fault-500:latest", "duo:latest"] });
  S = await startOrigin({ name: "spare", models: ["duo:latest"] });
  env = await setup({ name: "isolation" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "timeouts.ttfb_ms": TTFB, "timeouts.stream_idle_ms": 1000, "routing.cooldown_ms": OPEN_MS, "breaker.min_requests": 3, "breaker.failure_pct": 50 });
  for (const [o, priority] of [[G, 10], [S, 20]]) {
    const n = await admin.post("/nodes", { name: o.name, base_url: o.url, priority }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
    nodes[o.name] = n.id;
  }
  token = (await admin.post("/users", { username: "iso", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  await G?.stop();
  await S?.stop();
});

/** Fresh origins and breakers (a healthy admin health check clears a node's breakers). */
async function reset() {
  G.reset();
  S.reset();
  for (const id of Object.values(nodes)) await admin.post(`/nodes/${id}/health-check`, {}, 200);
}

/** The shared view in the Breakers Durable Object (what every isolate adopts). */
async function sharedView() {
  const ns = await env.gw.mf.getDurableObjectNamespace("BREAKERS");
  const r = await ns.get(ns.idFromName("global")).fetch("https://breakers/view");
  return r.json();
}

async function chat(model, { stream = false, path = "/v1/chat/completions", signal } = {}) {
  const r = await fetch(`${env.url}${path}`, { method: "POST", signal, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "x" }] }) });
  const text = await r.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, text, body };
}

/** The answer's text in whichever shape came back (OpenAI/Ollama, streamed or not). */
function answer(res, { stream, ollama }) {
  assert.equal(res.status, 200, res.text);
  if (!stream) return ollama ? res.body.message.content : res.body.choices[0].message.content;
  if (ollama) {
    const lines = ndjson(res.text);
    assert.equal(lines.at(-1).done, true, res.text);
    return lines.map((l) => l.message?.content ?? "").join("");
  }
  const events = sseEvents(res.text);
  assert.equal(events.at(-1), "[DONE]", res.text);
  return events.filter((e) => e !== "[DONE]").map((e) => e.choices?.[0]?.delta?.content ?? "").join("");
}

describe("failures are scoped by what failed", () => {
  test("the issue's sequence: good-one keeps answering while fault-500 fails", async () => {
    await reset();
    G.modelModes["fault-500:latest"] = "status:500";
    assert.equal((await chat("good-one")).status, 200);
    const bad = await chat("fault-500");
    assert.equal(bad.status, 502, bad.text);
    assert.match(bad.body.error.message, /gpu-box: HTTP 500/);
    const good = await chat("good-one");
    assert.equal(good.status, 200, `one model's 500 must not take the node out: ${good.text}`);
    // Enough failures to open fault-500's breaker: good-one is untouched, fault-500 (its only
    // candidate) is still tried, and the error says why.
    for (let i = 0; i < 5; i++) assert.equal((await chat("fault-500")).status, 502);
    const again = await chat("fault-500");
    assert.match(again.body.error.message, /every candidate for 'fault-500' is failing/);
    assert.match(again.body.error.message, /gpu-box/);
    const before = G.inference().filter((r) => r.body?.model === "good-one:latest").length;
    for (let i = 0; i < 3; i++) assert.equal((await chat("good-one")).status, 200);
    assert.equal(G.inference().filter((r) => r.body?.model === "good-one:latest").length, before + 3, "good-one reached the node each time");
  });

  test("a user's bad request (origin 4xx) moves no breaker", async () => {
    await reset();
    G.modelModes["duo:latest"] = "status:400";
    for (let i = 0; i < 6; i++) {
      const r = await chat("duo");
      assert.equal(r.status, 400, r.text);
    }
    assert.equal(S.inference().length, 0, "a client error is not failed over");
    G.modelModes = {};
    const r = await chat("duo");
    assert.equal(answer(r, {}), "Hello from gpu-box", "the node still comes first for everybody");
  });

  test("a model's 500s on one node leave the node's other models and the other node's model alone", async () => {
    await reset();
    G.modelModes["fault-500:latest"] = "status:500";
    for (let i = 0; i < 6; i++) await chat("fault-500");
    assert.equal(answer(await chat("duo"), {}), "Hello from gpu-box");
    assert.equal(answer(await chat("good-one", { stream: true }), { stream: true }), "Hello from gpu-box");
  });

  test("a dead node (connection refused) is skipped for all its models once its breaker opens", async () => {
    await reset();
    G.mode = "down";
    for (let i = 0; i < 3; i++) assert.equal(answer(await chat("duo"), {}), "Hello from spare");
    const n = G.requests.length;
    assert.equal(answer(await chat("duo"), {}), "Hello from spare");
    assert.equal(G.requests.length, n, "the open node is not contacted");
  });
});

describe("circuit breakers", () => {
  test("open on the failure ratio, half-open with one probe, close on success", async () => {
    await reset();
    G.modelModes["duo:latest"] = "status:500";
    for (let i = 0; i < 2; i++) assert.equal(answer(await chat("duo"), {}), "Hello from spare");
    assert.equal(G.inference().length, 2, "below breaker.min_requests the node is still tried");
    assert.equal(answer(await chat("duo"), {}), "Hello from spare");
    assert.equal(G.inference().length, 3);
    // Open: the pair is skipped, the answer comes straight from the spare.
    assert.equal(answer(await chat("duo"), {}), "Hello from spare");
    assert.equal(G.inference().length, 3, "open: not contacted");
    // Half-open after routing.cooldown_ms: one probe; it fails, so the breaker opens again.
    await sleep(OPEN_MS + 100);
    assert.equal(answer(await chat("duo"), {}), "Hello from spare");
    assert.equal(G.inference().length, 4, "the probe");
    assert.equal(answer(await chat("duo"), {}), "Hello from spare");
    assert.equal(G.inference().length, 4, "a failed probe opens it again");
    // Next probe succeeds: closed.
    await sleep(OPEN_MS + 100);
    G.modelModes = {};
    assert.equal(answer(await chat("duo"), {}), "Hello from gpu-box");
    assert.equal(answer(await chat("duo"), {}), "Hello from gpu-box");
    assert.equal(G.inference().length, 6);
  });

  test("when every candidate is open, the one that failed longest ago is tried, and the error says why", async () => {
    await reset();
    G.modelModes["duo:latest"] = "status:500";
    S.modelModes["duo:latest"] = "status:503";
    for (let i = 0; i < 3; i++) assert.equal((await chat("duo")).status, 502);
    const [g, s] = [G.inference().length, S.inference().length];
    const r = await chat("duo");
    assert.equal(r.status, 502, r.text);
    assert.equal(G.inference().length, g + 1, "the one that failed longest ago (gpu-box, tried first each time)");
    assert.equal(S.inference().length, s);
    assert.match(r.body.error.message, /every candidate for 'duo' is failing/);
    assert.match(r.body.error.message, /'duo:latest' on node 'gpu-box' is failing \(HTTP 500/);
    assert.match(r.body.error.message, /'duo:latest' on node 'spare' is failing \(HTTP 503/);
    // The forced attempts take turns (gpu-box just failed again, so spare is the oldest now),
    // and as soon as one origin is back the forced attempt serves: not a total outage.
    S.modelModes = {};
    assert.equal(answer(await chat("duo"), {}), "Hello from spare");
    assert.equal(G.inference().length, g + 1, "gpu-box was not tried again");
  });
});

describe("empty answers fail over before the first byte", () => {
  for (const ollama of [false, true]) {
    for (const stream of [false, true]) {
      for (const mode of stream ? ["empty", "ping"] : ["empty"]) {
        test(`${ollama ? "ollama" : "openai"} ${stream ? "stream" : "json"}: ${mode}`, async () => {
          await reset();
          G.modelModes["duo:latest"] = mode;
          const r = await chat("duo", { stream, path: ollama ? "/api/chat" : "/v1/chat/completions" });
          assert.equal(answer(r, { stream, ollama }), "Hello from spare");
          assert.equal(G.inference().length, 1, "the empty answer came first");
        });
      }
    }
  }
});

describe("Retry-After is bounded and operable", () => {
  test("Retry-After: 86400 cools only that model on that node, capped by routing.retry_after_max_ms", async () => {
    await reset();
    await admin.put("/settings", { "routing.retry_after_max_ms": 1500 });
    G.modelModes["duo:latest"] = "status:429:86400";
    assert.equal(answer(await chat("duo"), {}), "Hello from spare");
    G.modelModes = {};
    assert.equal(answer(await chat("duo"), {}), "Hello from spare", "cooling");
    assert.equal(answer(await chat("good-one"), {}), "Hello from gpu-box", "other models on the node are untouched");
    await sleep(1700);
    assert.equal(answer(await chat("duo"), {}), "Hello from gpu-box", "back after the cap, not after a day");
    await admin.put("/settings", { "routing.retry_after_max_ms": 300000 });
  });

  for (const how of ["health-check", "toggle"]) {
    test(`an admin ${how} clears the cooldown at once`, async () => {
      await reset();
      G.modelModes["duo:latest"] = "status:429:86400";
      assert.equal(answer(await chat("duo"), {}), "Hello from spare");
      G.modelModes = {};
      assert.equal(answer(await chat("duo"), {}), "Hello from spare", "cooling for minutes");
      const id = nodes["gpu-box"];
      // The opening reached the shared view (other isolates adopt it from there)...
      await sleep(300);
      const open = (await sharedView()).open.filter((e) => JSON.stringify(e.key) === JSON.stringify({ Pair: [id, "duo:latest"] }));
      assert.equal(open.length, 1, JSON.stringify(await sharedView()));
      assert.match(open[0].reason, /HTTP 429/);
      if (how === "health-check") await admin.post(`/nodes/${id}/health-check`, {}, 200);
      else {
        await admin.patch(`/nodes/${id}/toggle`, {}, 200);
        await admin.patch(`/nodes/${id}/toggle`, {}, 200);
      }
      assert.equal(answer(await chat("duo"), {}), "Hello from gpu-box");
      // ...and so did the clear: no isolate adopts the opening again.
      const view = await sharedView();
      assert.equal(view.open.filter((e) => JSON.stringify(e.key).includes(`[${id},`)).length, 0, JSON.stringify(view));
      assert.ok(view.clears[String(id)] > 0);
    });
  }
});

// The Worker learns of a hang-up from `request.signal` (compatibility flag enable_request_signal),
// which Cloudflare fires when the client disconnects. The local runtime (workerd 2026-04-26,
// through miniflare's entry worker and through a direct socket alike) never fires it before the
// response starts, so this cannot pass locally: the attempt loop's side is covered natively
// (src/app/hangup_tests.rs). Run with HANGUP_SIGNAL=1 where the runtime delivers the signal.
describe("client hang-ups", () => {
  const skip = process.env.HANGUP_SIGNAL ? false : "the local runtime does not fire request.signal before the response starts (see above)";
  test("clients that leave before the first byte end their attempts and blame nobody", { skip }, async () => {
    await reset();
    G.modelModes["duo:latest"] = "hang";
    const clients = [];
    for (let i = 0; i < 10; i++) {
      const ctl = new AbortController();
      clients.push(chat("duo", { signal: ctl.signal }).catch(() => "aborted"));
      setTimeout(() => ctl.abort(), 300);
    }
    await Promise.all(clients);
    const t0 = Date.now();
    while (G.sockets.size > 0 && Date.now() - t0 < 1000) await sleep(50);
    // Whatever is still open, the origin now resets it (as in the issue).
    for (const s of G.sockets) s.destroy();
    await sleep(TTFB + 300); // past the first-byte deadline the attempts would have had
    assert.equal(S.inference().length, 0, "no attempt moved on to the next node");
    G.modelModes = {};
    assert.equal(answer(await chat("duo"), {}), "Hello from gpu-box", "nothing was cooled down");
  });
});
