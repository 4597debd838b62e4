// Faulty origins (issue 12): every fault x dialect x streamed or not x with and without a
// healthy fallback. The client always gets the full correct answer (failover) or a clear error
// in its own format: never a truncated answer presented as success, never a hang past the
// configured deadlines.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, sleep } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

const TTFB = 800;
const IDLE = 600;
let env, A, B, token;

before(async () => {
  A = await startOrigin({ name: "flaky", models: ["duo:latest", "solo:latest"] });
  B = await startOrigin({ name: "steady", models: ["duo:latest"] });
  env = await setup({ name: "faults" });
  const admin = adminClient(env.url);
  await admin.put("/settings", { "timeouts.ttfb_ms": TTFB, "timeouts.stream_idle_ms": IDLE, "routing.cooldown_ms": 50 });
  for (const [o, priority] of [[A, 10], [B, 20]]) {
    const n = await admin.post("/nodes", { name: o.name, base_url: o.url, priority }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  token = (await admin.post("/users", { username: "f", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  await A?.stop();
  await B?.stop();
});

// Faults that happen before the first byte: a fallback must give the whole answer.
const EARLY = { "status:429:0": 429, "status:500": 502, "status:503": 502, down: 502, hang: 504, [`delay:${TTFB + 700}`]: 504, html: 502 };
// Faults after bytes went out (streams only): a clear in-band error, with or without fallback.
const LATE = ["cut", "stall", "malformed", "nodone"];

async function ask(dialect, stream, model) {
  const openai = dialect === "openai";
  const path = openai ? "/v1/chat/completions" : "/api/chat";
  const t0 = Date.now();
  const r = await fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "x" }] }) });
  const text = await r.text();
  return { status: r.status, text, ms: Date.now() - t0, ct: r.headers.get("content-type") };
}

/** What the client got, judged in its own format. */
function outcome(dialect, stream, res) {
  if (res.status !== 200) {
    const body = JSON.parse(res.text);
    const message = dialect === "openai" ? body.error?.message : body.error;
    assert.equal(typeof message, "string", `error body in the client's format: ${res.text}`);
    return { kind: "error", status: res.status, message };
  }
  if (!stream) {
    const body = JSON.parse(res.text);
    return { kind: "answer", text: dialect === "openai" ? body.choices[0].message.content : body.message.content };
  }
  if (dialect === "openai") {
    const events = res.text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim());
    const done = events.at(-1) === "[DONE]";
    const err = events.map((e) => { try { return JSON.parse(e); } catch { return null; } }).find((e) => e?.error);
    assert.ok(done !== Boolean(err), `exactly one of success or error ends the stream: ${res.text}`);
    for (const e of events) if (e !== "[DONE]") JSON.parse(e); // never garbage to the client
    const text = events.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e).choices?.[0]?.delta?.content ?? "").join("");
    return done ? { kind: "answer", text } : { kind: "stream-error", message: err.error.message };
  }
  const lines = res.text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  const done = lines.at(-1).done === true;
  const err = lines.find((l) => l.error);
  assert.ok(done !== Boolean(err), `exactly one of done or error ends the stream: ${res.text}`);
  return done ? { kind: "answer", text: lines.map((l) => l.message?.content ?? "").join("") } : { kind: "stream-error", message: err.error };
}

const budget = (fault) => TTFB * 2 + IDLE + 1500; // two attempts at most, then the idle deadline

for (const dialect of ["openai", "ollama"]) {
  for (const stream of [false, true]) {
    for (const [fault, status] of Object.entries(EARLY)) {
      test(`${dialect} ${stream ? "stream" : "json"}: ${fault} before the first byte`, async () => {
        A.mode = fault;
        const withFallback = await ask(dialect, stream, "duo");
        const got = outcome(dialect, stream, withFallback);
        assert.deepEqual(got, { kind: "answer", text: "Hello from steady" }, "failover gives the whole answer");
        await sleep(80);
        const alone = await ask(dialect, stream, "solo");
        const err = outcome(dialect, stream, alone);
        assert.equal(err.kind, "error");
        assert.equal(err.status, status);
        assert.match(err.message, /flaky/, "the error names the node that failed");
        assert.ok(alone.ms < budget(fault), `no hang: ${alone.ms} ms`);
        A.mode = "ok";
        await sleep(80);
      });
    }
    if (!stream) continue;
    for (const fault of LATE) {
      test(`${dialect} stream: ${fault} after the first byte`, async () => {
        A.mode = fault;
        for (const model of ["duo", "solo"]) {
          const res = await ask(dialect, true, model);
          const got = outcome(dialect, true, res);
          assert.equal(got.kind, "stream-error", `${model}: ${res.text}`);
          assert.ok(res.ms < budget(fault), `no hang: ${res.ms} ms`);
          await sleep(80);
        }
        A.mode = "ok";
      });
    }
  }
}
