// Gateway core (issue 3) against the built Worker in workerd, real Postgres and fake origins:
// auth, allow-lists, listings, mapping, groups, node strategies, failover and cooldown, and
// streams that end with an in-band error instead of a fake success.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, signToken, getJson, sseEvents, ndjson, sleep } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, A, B, OA, OB, V;
const tokens = {};
const nodes = {};

async function addNode(o, extra = {}) {
  const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url, ...extra }, 201);
  await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  nodes[o.name] = n.id;
  return n;
}

const chat = (model, extra = {}) => ({ model, messages: [{ role: "user", content: "hi" }], ...extra });

async function openai(user, body, path = "/v1/chat/completions") {
  return getJson(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${tokens[user]}`, "content-type": "application/json" }, body: JSON.stringify(body) });
}
async function ollama(user, body, path = "/api/chat") {
  const r = await fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${tokens[user]}` }, body: JSON.stringify(body) });
  return { status: r.status, headers: r.headers, text: await r.text() };
}
async function stream(user, body, path = "/v1/chat/completions") {
  const r = await fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${tokens[user]}`, "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

before(async () => {
  env = await setup({ name: "gateway" });
  admin = adminClient(env.url);
  // One failure opens a breaker here (breaker.min_requests 1, breaker.failure_pct 1), so cooldowns show at once.
  await admin.put("/settings", { "timeouts.ttfb_ms": 1500, "timeouts.stream_idle_ms": 700, "routing.cooldown_ms": 400, "breaker.min_requests": 1, "breaker.failure_pct": 1 });
  A = await startOrigin({ name: "ollama-a", kind: "ollama", models: ["llama3:latest", "qwen3:8b", "llava:latest"], ps: ["llama3:latest"] });
  B = await startOrigin({ name: "ollama-b", kind: "ollama", models: ["llama3:latest"] });
  OA = await startOrigin({ name: "openai-a", kind: "openai", models: ["gpt-4o-mini", "big-model"] });
  OB = await startOrigin({ name: "openai-b", kind: "openai", models: ["gpt-4o-mini"] });
  V = await startOrigin({ name: "vision", kind: "ollama", models: ["llava:13b"] });
  await addNode(A, { priority: 10 });
  await addNode(B, { priority: 20 });
  await addNode(OA, { priority: 10, api_key: "sk-origin-secret" });
  await addNode(OB, { priority: 20 });
  await addNode(V, { priority: 10 });
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest", context_length: "128K", capabilities: ["completion", "tools"] }, 201);
  await admin.post("/model-mappings", { display_name: "chatty", real_name: "qwen3:8b", node_ids: [nodes["ollama-a"]] }, 201);
  await admin.post("/model-groups", { name: "team", strategy: "priority", members: [{ model_name: "fast", priority: 0 }, { model_name: "gpt-4o-mini", priority: 1 }] }, 201);
  await admin.post("/model-groups", { name: "rr", strategy: "round_robin", members: [{ model_name: "fast", priority: 0 }, { model_name: "gpt-4o-mini", priority: 1 }] }, 201);
  await admin.post("/model-groups", { name: "eyes", strategy: "priority", members: [{ model_name: "fast", priority: 0, capability_tags: ["tools"] }, { model_name: "llava:13b", priority: 1, capability_tags: ["vision"] }, { model_name: "gpt-4o-mini", priority: 2, capability_tags: ["tools"] }] }, 201);
  await admin.post("/model-groups", { name: "big", strategy: "priority", members: [{ model_name: "gpt-4o-mini", priority: 0 }, { model_name: "big-model", priority: 1, is_fallback_413: true }, { model_name: "fast", priority: 2 }] }, 201);
  await admin.post("/model-groups", { name: "spread", strategy: "priority", node_strategy: "round_robin", members: [{ model_name: "fast", priority: 0 }] }, 201);
  tokens.alice = (await admin.post("/users", { username: "alice", has_all_models: true }, 201)).token;
  tokens.bob = (await admin.post("/users", { username: "bob", models: ["fast", "team"] }, 201)).token;
});

after(async () => {
  await env?.stop();
  for (const o of [A, B, OA, OB, V]) await o?.stop();
});

const reset = async () => {
  for (const o of [A, B, OA, OB, V]) o.reset();
  await sleep(450); // past any cooldown from the previous test
};

describe("auth", () => {
  test("missing and malformed credentials are 401 in each dialect with WWW-Authenticate", async () => {
    const r = await getJson(`${env.url}/v1/models`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), "Bearer");
    assert.equal(r.body.error.type, "authentication_error");
    const o = await getJson(`${env.url}/api/tags`, { headers: { authorization: "Basic abc" } });
    assert.equal(o.status, 401);
    assert.equal(typeof o.body.error, "string");
  });

  test("forged, alg:none, wrong-type and unknown-jti tokens are rejected", async () => {
    const bad = [
      signToken({ sub: "alice", jti: "x", secret: "wrong-secret" }),
      signToken({ sub: "alice", jti: "nope" }),
      signToken({ sub: "alice", jti: "x", typ: "admin" }),
      tokens.alice.split(".").slice(0, 2).join(".") + ".",
      Buffer.from('{"alg":"none"}').toString("base64url") + "." + tokens.alice.split(".")[1] + ".",
    ];
    for (const t of bad) {
      const r = await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${t}` } });
      assert.equal(r.status, 401, t);
    }
  });

  test("x-api-key works like Bearer", async () => {
    const r = await getJson(`${env.url}/v1/models`, { headers: { "x-api-key": tokens.alice } });
    assert.equal(r.status, 200);
  });

  test("a refreshed token replaces the old one at once; a deleted user's token dies", async () => {
    const u = await admin.post("/users", { username: "carol", has_all_models: true }, 201);
    assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${u.token}` } })).status, 200);
    const fresh = await admin.put("/users/carol/token", {}, 200);
    assert.notEqual(fresh.token, u.token);
    assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${u.token}` } })).status, 401);
    assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${fresh.token}` } })).status, 200);
    await admin.del("/users/carol", 204);
    assert.equal((await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${fresh.token}` } })).status, 401);
  });
});

describe("allow-lists and listings", () => {
  test("listings show exactly the names a user may call", async () => {
    const bob = await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${tokens.bob}` } });
    assert.deepEqual(bob.body.data.map((m) => m.id).sort(), ["fast", "team"]);
    const tags = await getJson(`${env.url}/api/tags`, { headers: { authorization: `Bearer ${tokens.bob}` } });
    assert.deepEqual(tags.body.models.map((m) => m.name).sort(), ["fast", "team"]);
    const alice = await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${tokens.alice}` } });
    const ids = alice.body.data.map((m) => m.id);
    for (const want of ["fast", "chatty", "team", "rr", "gpt-4o-mini", "llava:13b", "llava:latest"]) assert.ok(ids.includes(want), `${want} in ${ids}`);
    // Real names hidden behind a mapping are not offered (nor callable) by their real name.
    assert.ok(!ids.includes("llama3:latest"));
    assert.ok(!ids.includes("qwen3:8b"));
    const fast = alice.body.data.find((m) => m.id === "fast");
    assert.equal(fast.max_model_len, 131072);
    assert.equal(fast.context_length, 131072);
    // Ollama-native listings include OpenAI-node models: they are served by translation.
    const atags = await getJson(`${env.url}/api/tags`, { headers: { authorization: `Bearer ${tokens.alice}` } });
    assert.ok(atags.body.models.some((m) => m.name === "gpt-4o-mini"));
  });

  test("calling outside the allow-list is 404 like an unknown name (nothing confirms a hidden name), a hidden real name 404", async () => {
    const r = await openai("bob", chat("gpt-4o-mini"));
    assert.equal(r.status, 404);
    assert.equal(r.body.error.message, "model 'gpt-4o-mini' not found, or not available to you");
    assert.equal((await openai("alice", chat("no-such-model"))).status, 404);
    assert.equal((await openai("alice", chat("llama3:latest"))).status, 404);
    const m = await getJson(`${env.url}/v1/models/fast`, { headers: { authorization: `Bearer ${tokens.bob}` } });
    assert.equal(m.status, 200);
    assert.equal(m.body.id, "fast");
    assert.equal((await getJson(`${env.url}/v1/models/gpt-4o-mini`, { headers: { authorization: `Bearer ${tokens.bob}` } })).status, 404);
  });
});

describe("mapping and rewriting", () => {
  test("display -> real upstream, real -> display to the client (JSON and streams, both dialects)", async () => {
    await reset();
    const r = await openai("bob", chat("fast"));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.model, "fast");
    assert.equal(A.inference().at(-1).body.model, "llama3:latest");
    const s = await stream("bob", chat("fast"));
    assert.equal(s.headers.get("content-type"), "text/event-stream");
    assert.equal(s.headers.get("content-encoding"), "identity", "nothing between us and the client may compress (and buffer) a stream");
    assert.ok(!s.text.includes("llama3"), s.text);
    const ev = sseEvents(s.text);
    assert.equal(ev.at(-1), "[DONE]");
    assert.ok(ev.filter((e) => e.model).every((e) => e.model === "fast"));
    assert.ok(!ev.some((e) => e.usage), "the usage chunk the gateway asked for is stripped again");
    const o = await ollama("bob", { model: "fast", messages: [{ role: "user", content: "hi" }] });
    assert.equal(o.headers.get("content-type"), "application/x-ndjson");
    const lines = ndjson(o.text);
    assert.ok(lines.every((l) => l.model === "fast"));
    assert.equal(lines.at(-1).done, true);
    assert.equal(lines.map((l) => l.message.content).join(""), "Hello from ollama-a");
  });

  test("node-scoped mapping only routes to its nodes", async () => {
    await reset();
    const r = await openai("alice", chat("chatty"));
    assert.equal(r.status, 200);
    assert.equal(A.inference().at(-1).body.model, "qwen3:8b");
  });

  test("the origin never sees client credentials; it gets its own API key", async () => {
    await reset();
    await openai("alice", chat("gpt-4o-mini"));
    const req = OA.inference().at(-1);
    assert.equal(req.headers.authorization, "Bearer sk-origin-secret");
    assert.ok(!JSON.stringify(req.headers).includes(tokens.alice));
  });
});

describe("failover and cooldown", () => {
  test("5xx fails over to the next node; the failed node cools down", async () => {
    await reset();
    A.mode = "status:500";
    const r = await openai("alice", chat("fast"));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.choices[0].message.content, "Hello from ollama-b");
    assert.equal(A.inference().length, 1);
    A.mode = "ok";
    await openai("alice", chat("fast"));
    assert.equal(A.inference().length, 1, "A is cooling down and not contacted");
    assert.equal(B.inference().length, 2);
    await sleep(450);
    await openai("alice", chat("fast"));
    assert.equal(A.inference().length, 2, "after the cooldown A is back");
  });

  test("429 with Retry-After cools a node for that long", async () => {
    await reset();
    A.mode = "status:429:1";
    assert.equal((await openai("alice", chat("fast"))).status, 200);
    A.mode = "ok";
    await sleep(500);
    await openai("alice", chat("fast"));
    assert.equal(A.inference().length, 1, "still cooling after the default cooldown: Retry-After said 1 s");
    await sleep(700);
    await openai("alice", chat("fast"));
    assert.equal(A.inference().length, 2);
  });

  test("a node that never answers is abandoned at the TTFB deadline", async () => {
    await reset();
    A.mode = "hang";
    const t0 = Date.now();
    const r = await openai("alice", chat("fast"));
    assert.equal(r.status, 200);
    assert.equal(r.body.choices[0].message.content, "Hello from ollama-b");
    assert.ok(Date.now() - t0 < 4000);
  });

  test("client errors from the origin are returned as is, without failover", async () => {
    await reset();
    A.mode = "status:400";
    const r = await openai("alice", chat("fast"));
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /ollama-a says 400/);
    assert.equal(B.inference().length, 0);
  });

  test("all nodes failing gives a clear error naming each attempt", async () => {
    await reset();
    A.mode = "status:503";
    B.mode = "status:502";
    const r = await ollama("alice", { model: "fast", messages: [{ role: "user", content: "x" }], stream: false });
    assert.equal(r.status, 502);
    const body = JSON.parse(r.text);
    assert.match(body.error, /ollama-a: HTTP 503/);
    assert.match(body.error, /ollama-b: HTTP 502/);
  });

  test("an unhealthy node is skipped; with none left the answer is 503 with the reason", async () => {
    await reset();
    OB.mode = "down";
    for (let i = 0; i < 3; i++) await admin.post(`/nodes/${nodes["openai-b"]}/health-check`, {}, 200);
    OA.mode = "status:500";
    const r = await openai("alice", chat("gpt-4o-mini"));
    assert.equal(r.status, 502, JSON.stringify(r.body));
    assert.equal(OB.inference().length, 0, "the unhealthy node was not tried");
    await sleep(450);
    OA.mode = "down";
    for (let i = 0; i < 3; i++) await admin.post(`/nodes/${nodes["openai-a"]}/health-check`, {}, 200);
    const r2 = await openai("alice", chat("gpt-4o-mini"));
    assert.equal(r2.status, 503);
    assert.match(r2.body.error.message, /no healthy node.*openai-a.*unhealthy/);
    OA.mode = "ok";
    OB.mode = "ok";
    for (let i = 0; i < 2; i++) {
      await admin.post(`/nodes/${nodes["openai-a"]}/health-check`, {}, 200);
      await admin.post(`/nodes/${nodes["openai-b"]}/health-check`, {}, 200);
    }
    assert.equal((await openai("alice", chat("gpt-4o-mini"))).status, 200);
  });
});

describe("streams never lie", () => {
  test("a stream cut before its first byte fails over: the client gets the whole answer", async () => {
    await reset();
    A.mode = "cut0";
    const s = await stream("alice", chat("fast"));
    const ev = sseEvents(s.text);
    assert.equal(ev.at(-1), "[DONE]");
    assert.equal(ev.map((e) => e.choices?.[0]?.delta?.content ?? "").join(""), "Hello from ollama-b");
  });

  test("a stream cut midway ends with an in-band error and no [DONE]", async () => {
    await reset();
    A.mode = "cut";
    const s = await stream("alice", chat("fast"));
    assert.equal(s.status, 200);
    const ev = sseEvents(s.text);
    assert.ok(!ev.includes("[DONE]"), s.text);
    assert.ok(ev.at(-1).error, s.text);
    assert.ok(!ev.some((e) => e.choices?.[0]?.finish_reason === "stop"));
  });

  test("a stalled NDJSON stream ends with an error line and no done:true", async () => {
    await reset();
    A.mode = "stall";
    const t0 = Date.now();
    const o = await ollama("alice", { model: "fast", messages: [{ role: "user", content: "x" }] });
    const lines = ndjson(o.text);
    assert.match(lines.at(-1).error, /sent nothing for 700 ms/);
    assert.ok(!lines.some((l) => l.done === true));
    assert.ok(Date.now() - t0 < 3000);
  });

  test("an origin that ends without [DONE] after finishing is complete; without finishing it is an error", async () => {
    await reset();
    A.mode = "nodone";
    const o = await ollama("alice", { model: "fast", messages: [{ role: "user", content: "x" }] });
    assert.ok(ndjson(o.text).at(-1).error, "Ollama stream without done:true is an error");
  });

  test("a stream that fails before its first byte fails over", async () => {
    await reset();
    A.mode = "firstbyte:3000";
    const s = await stream("alice", chat("fast"));
    const ev = sseEvents(s.text);
    assert.equal(ev.at(-1), "[DONE]");
    assert.ok(ev.some((e) => e.choices?.[0]?.delta?.content?.includes("ollama-b")), s.text);
  });

  test("usage is kept when the client asked for it", async () => {
    await reset();
    const s = await stream("alice", chat("gpt-4o-mini", { stream_options: { include_usage: true } }));
    const usage = sseEvents(s.text).find((e) => e.usage);
    assert.equal(usage.usage.total_tokens, 10);
  });
});

describe("groups", () => {
  test("priority picks the first member and falls back to the next on failure", async () => {
    await reset();
    const r = await openai("bob", chat("team"));
    assert.equal(r.body.model, "team");
    assert.equal(A.inference().length, 1);
    A.mode = "status:500";
    B.mode = "status:500";
    const r2 = await openai("bob", chat("team"));
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
    assert.equal(r2.body.model, "team");
    assert.equal(OA.inference().at(-1).body.model, "gpt-4o-mini");
  });

  test("round_robin alternates members", async () => {
    await reset();
    const served = [];
    for (let i = 0; i < 4; i++) {
      const r = await openai("alice", chat("rr"));
      served.push(r.body.choices[0].message.content);
    }
    assert.equal(new Set(served).size, 2, served.join(" | "));
    assert.notEqual(served[0], served[1]);
    assert.equal(served[0], served[2]);
  });

  test("images go only to vision members; tools prefer tools members", async () => {
    await reset();
    const img = { model: "eyes", messages: [{ role: "user", content: [{ type: "text", text: "what" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }] };
    assert.equal((await openai("alice", img)).status, 200);
    assert.equal(V.inference().length, 1);
    assert.equal(A.inference().length, 0);
    const native = await ollama("alice", { model: "eyes", messages: [{ role: "user", content: "what", images: ["AAAA"] }], stream: false });
    assert.equal(native.status, 200);
    assert.equal(V.inference().length, 2);
    await openai("alice", chat("eyes", { tools: [{ type: "function", function: { name: "f", parameters: {} } }] }));
    assert.equal(A.inference().length, 1);
  });

  test("413 goes to the member flagged as 413 fallback", async () => {
    await reset();
    OA.mode = "status:413";
    OB.mode = "status:413";
    const r = await openai("alice", chat("big"));
    // big-model lives on openai-a only, which answers 413 too: then the next member.
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(OA.inference().map((q) => q.body.model), ["gpt-4o-mini", "big-model"]);
    assert.equal(OB.inference().length, 0, "413 does not retry the same model on another node");
  });

  test("node round_robin spreads a member across its nodes", async () => {
    await reset();
    for (let i = 0; i < 4; i++) assert.equal((await openai("alice", chat("spread"))).status, 200);
    assert.equal(A.inference().length, 2);
    assert.equal(B.inference().length, 2);
  });
});

describe("Ollama surface", () => {
  test("/api/show is access-checked and carries the gateway's context length", async () => {
    const r = await getJson(`${env.url}/api/show`, { method: "POST", headers: { authorization: `Bearer ${tokens.bob}` }, body: JSON.stringify({ model: "fast" }) });
    assert.equal(r.status, 200);
    assert.equal(r.body.model_info["llama.context_length"], 131072);
    assert.deepEqual(r.body.capabilities, ["completion", "tools"]);
    const denied = await getJson(`${env.url}/api/show`, { method: "POST", headers: { authorization: `Bearer ${tokens.bob}` }, body: JSON.stringify({ model: "chatty" }) });
    assert.equal(denied.status, 404);
  });

  test("/api/ps lists loaded models under callable names; /api/version answers", async () => {
    const r = await getJson(`${env.url}/api/ps`, { headers: { authorization: `Bearer ${tokens.bob}` } });
    assert.deepEqual(r.body.models.map((m) => m.name), ["fast"]);
    // Every key Ollama's /api/ps rows carry (issue 16), a mapped name with its own digest.
    for (const k of ["name", "model", "size", "digest", "details", "expires_at", "size_vram", "context_length"]) assert.ok(k in r.body.models[0], k);
    assert.match(r.body.models[0].digest, /^[0-9a-f]{64}$/);
    const v = await getJson(`${env.url}/api/version`, { headers: { authorization: `Bearer ${tokens.bob}` } });
    assert.match(v.body.version, /^\d+\.\d+\.\d+$/);
  });

  test("generate, embed and embeddings are routed and rewritten", async () => {
    await reset();
    const g = await ollama("alice", { model: "fast", prompt: "hi", stream: false }, "/api/generate");
    assert.equal(JSON.parse(g.text).response, "Hello from ollama-a");
    assert.equal(JSON.parse(g.text).model, "fast");
    const e = await ollama("alice", { model: "fast", input: "hi" }, "/api/embed");
    assert.deepEqual(JSON.parse(e.text).embeddings, [[0.1, 0.2, 0.3]]);
    assert.equal(JSON.parse(e.text).model, "fast");
    const e2 = await ollama("alice", { model: "fast", prompt: "hi" }, "/api/embeddings");
    assert.deepEqual(JSON.parse(e2.text).embedding, [0.1, 0.2, 0.3]);
    const oe = await openai("alice", { model: "gpt-4o-mini", input: "hi" }, "/v1/embeddings");
    assert.equal(oe.body.model, "gpt-4o-mini");
    assert.equal(oe.body.data[0].embedding.length, 3);
    const c = await openai("alice", { model: "gpt-4o-mini", prompt: "hi" }, "/v1/completions");
    assert.equal(c.body.choices[0].text, "Hello from openai-a");
  });

  test("unknown request fields pass through untouched", async () => {
    await reset();
    const body = { model: "fast", messages: [{ role: "user", content: "x" }], stream: false, think: true, format: { type: "object" }, keep_alive: 300, options: { temperature: 0.1 }, tools: [{ type: "function", function: { name: "t" } }] };
    await ollama("alice", body);
    const got = A.inference().at(-1).body;
    for (const k of ["think", "format", "keep_alive", "tools"]) assert.deepEqual(got[k], body[k], k);
    // The client's options stay; the gateway adds the model's context length (issue 7).
    assert.deepEqual(got.options, { temperature: 0.1, num_ctx: 131072 });
  });
});

describe("bad input", () => {
  test("bad JSON, missing model, wrong types: 400 in the client's shape", async () => {
    const send = (path, raw) => getJson(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${tokens.alice}` }, body: raw });
    const a = await send("/v1/chat/completions", "{not json");
    assert.equal(a.status, 400);
    assert.equal(a.body.error.type, "invalid_request_error");
    const b = await send("/api/chat", JSON.stringify({ messages: [] }));
    assert.equal(b.status, 400);
    assert.match(b.body.error, /'model' is required/);
    const c = await send("/v1/chat/completions", JSON.stringify({ model: 5 }));
    assert.equal(c.status, 400);
    assert.equal(c.body.error.param, "model");
    const d = await send("/v1/chat/completions", JSON.stringify({ model: "fast", stream: "yes" }));
    assert.equal(d.status, 400);
    const e = await send("/v1/chat/completions", "[1,2]");
    assert.equal(e.status, 400);
  });

  test("unknown routes 404, wrong methods 405 with Allow", async () => {
    const r = await getJson(`${env.url}/api/chat`, { headers: { authorization: `Bearer ${tokens.alice}` } });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "POST");
    assert.equal(typeof r.body.error, "string");
    assert.equal((await getJson(`${env.url}/nope`)).status, 404);
  });
});
