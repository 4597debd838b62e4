// Parity with Model Maestro (issue 23): the tool prefixes users already configured
// (/claude, /cursor, /codex, /openclaw) reach the same handlers, auth, limits and usage as the
// root paths; their few own answers (model list shapes, Claude Desktop ids, Cursor defaults);
// the Ollama root probe; CORS for browser clients.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { setup, adminClient, getJson, sleep, sseEvents, ndjson } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, O, OA;
const tokens = {};

before(async () => {
  env = await setup({ name: "parity" });
  admin = adminClient(env.url);
  O = await startOrigin({ name: "ollama-p", kind: "ollama", models: ["llama3:latest", "qwen3:8b"] });
  OA = await startOrigin({ name: "openai-p", kind: "openai", models: ["gpt-p"] });
  for (const o of [O, OA]) {
    const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  await admin.post("/model-mappings", { display_name: "thinker", real_name: "qwen3:8b", context_length: "64K", capabilities: ["completion", "tools", "thinking", "vision"] }, 201);
  tokens.all = (await admin.post("/users", { username: "parity-all", has_all_models: true }, 201)).token;
  tokens.some = (await admin.post("/users", { username: "parity-some", models: ["llama3:latest"] }, 201)).token;
  tokens.limited = (await admin.post("/users", { username: "parity-limited", has_all_models: true, request_limit: 2 }, 201)).token;
});

after(async () => {
  await env?.stop();
  for (const o of [O, OA]) await o?.stop();
});

const call = (method, path, { token = tokens.all, body, headers = {} } = {}) =>
  fetch(`${env.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const json = async (r) => {
  const text = await r.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};
const hi = [{ role: "user", content: "hi" }];
const lastInference = (o) => o.inference().at(-1);

describe("every prefix reaches the root handlers", () => {
  test("/claude: messages (streamed and not), count_tokens, models, HEAD probes", async () => {
    O.reset();
    let r = await call("POST", "/claude/v1/messages", { body: { model: "llama3:latest", max_tokens: 50, messages: hi }, headers: { "anthropic-version": "2023-06-01" } });
    let b = await json(r);
    assert.equal(r.status, 200, JSON.stringify(b));
    assert.equal(b.type, "message");
    assert.match(b.content[0].text, /Hello from ollama-p/);
    assert.equal(lastInference(O).body.model, "llama3:latest");
    r = await call("POST", "/claude/v1/messages", { body: { model: "llama3:latest", max_tokens: 50, stream: true, messages: hi } });
    const text = await r.text();
    assert.equal(r.status, 200);
    assert.match(text, /event: message_start/);
    assert.match(text, /event: message_stop/);
    r = await call("POST", "/claude/v1/messages/count_tokens", { body: { model: "llama3:latest", messages: hi } });
    b = await json(r);
    assert.equal(r.status, 200);
    assert.ok(b.input_tokens >= 1);
    r = await call("GET", "/claude/v1/models");
    b = await json(r);
    assert.equal(r.status, 200);
    assert.ok(b.data.every((m) => m.type === "model" && m.display_name), "Anthropic's shape without an anthropic-version header");
    const thinker = b.data.find((m) => m.id === "thinker");
    assert.equal(thinker.max_input_tokens, 65536);
    for (const p of ["/claude/", "/claude"]) {
      r = await call("HEAD", p, { token: null });
      assert.equal(r.status, 200, p);
    }
  });

  test("/cursor/chat/completions streams by default and reads Agent mode's input bodies as chat", async () => {
    O.reset();
    let r = await call("POST", "/cursor/chat/completions", { body: { model: "llama3:latest", messages: hi } });
    let text = await r.text();
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /text\/event-stream/);
    assert.equal(sseEvents(text).at(-1), "[DONE]");
    r = await call("POST", "/cursor/chat/completions", { body: { model: "llama3:latest", messages: hi, stream: false } });
    const b = await json(r);
    assert.equal(b.object, "chat.completion", "an explicit stream:false is honoured");
    r = await call("POST", "/cursor/chat/completions", {
      body: {
        model: "gpt-p",
        instructions: "be brief",
        input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "list the files" }] }],
        tools: [{ type: "function", name: "ls", description: "list files", parameters: { type: "object", properties: {} } }],
      },
    });
    text = await r.text();
    assert.equal(r.status, 200, text);
    assert.ok(sseEvents(text).some((e) => e.choices?.[0]?.delta?.content), "a chat stream");
    const sent = lastInference(OA).body;
    assert.equal(sent.stream, true);
    assert.equal(sent.input, undefined);
    assert.deepEqual(sent.messages.map((m) => m.role), ["system", "user"]);
    assert.match(JSON.stringify(sent.messages[1].content), /list the files/);
    assert.equal(sent.tools[0].function.name, "ls");
    r = await call("GET", "/cursor/models");
    assert.ok((await json(r)).data.some((m) => m.id === "thinker" && m.max_model_len === 65536));
  });

  test("/codex: responses, completions, embeddings, and models in Codex's shape", async () => {
    OA.reset();
    let r = await call("POST", "/codex/responses", { body: { model: "gpt-p", input: "hi", stream: true } });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.match(text, /event: response\.completed/);
    r = await call("POST", "/codex/responses", { body: { model: "gpt-p", input: "hi" } });
    assert.equal((await json(r)).object, "response");
    r = await call("POST", "/codex/completions", { body: { model: "gpt-p", prompt: "hi" } });
    assert.equal(r.status, 200, await r.text());
    assert.equal(lastInference(OA).path, "/v1/completions");
    r = await call("POST", "/codex/embeddings", { body: { model: "gpt-p", input: "hi" } });
    assert.equal((await json(r)).data[0].embedding.length, 3);
    r = await call("GET", "/codex/models");
    const b = await json(r);
    assert.equal(r.status, 200);
    const t = b.models.find((m) => m.slug === "thinker");
    assert.equal(t.context_window, 65536);
    assert.deepEqual(t.input_modalities, ["text", "image"]);
    assert.deepEqual(t.supported_reasoning_levels.map((l) => l.effort), ["low", "medium", "high"]);
    const plain = b.models.find((m) => m.slug === "gpt-p");
    assert.deepEqual([plain.input_modalities, plain.supported_reasoning_levels], [["text"], []]);
    assert.deepEqual(plain.truncation_policy, { mode: "bytes", limit: 10000 });
  });

  test("/openclaw: the Ollama root, /api/*, /api/show enrichment, OpenAI routes", async () => {
    O.reset();
    let r = await call("GET", "/openclaw/", { token: null, headers: { accept: "application/json" } });
    assert.equal(await r.text(), "Ollama is running");
    r = await call("GET", "/openclaw/api/tags");
    assert.ok((await json(r)).models.some((m) => m.name === "thinker"));
    r = await call("POST", "/openclaw/api/chat", { body: { model: "llama3:latest", messages: hi } });
    const lines = ndjson(await r.text());
    assert.equal(lines.at(-1).done, true, "Ollama chat streams by default");
    assert.equal(lastInference(O).path, "/api/chat");
    r = await call("POST", "/openclaw/api/show", { body: { model: "thinker" } });
    const show = await json(r);
    assert.equal(show.model_info["llama.context_length"], 65536);
    assert.deepEqual(show.model_info["general.capabilities"], ["completion", "tools", "thinking", "vision"]);
    r = await call("POST", "/openclaw/chat/completions", { body: { model: "llama3:latest", messages: hi } });
    assert.equal((await json(r)).object, "chat.completion");
    r = await call("POST", "/openclaw/embeddings", { body: { model: "llama3:latest", input: "hi" } });
    assert.equal((await json(r)).object, "list");
    r = await call("GET", "/openclaw/models");
    assert.equal((await json(r)).object, "list");
  });
});

describe("prefixes share auth, allow-lists, limits and usage", () => {
  test("no token is 401 in the path's dialect; a name outside the allow-list is the same 404", async () => {
    let r = await call("POST", "/claude/v1/messages", { token: null, body: { model: "llama3:latest", max_tokens: 5, messages: hi } });
    let b = await json(r);
    assert.equal(r.status, 401);
    assert.equal(b.type, "error", "Anthropic's error shape");
    r = await call("POST", "/openclaw/api/chat", { token: null, body: { model: "llama3:latest", messages: hi } });
    assert.equal(r.status, 401);
    assert.equal(typeof (await json(r)).error, "string", "Ollama's error shape");
    r = await call("POST", "/codex/responses", { token: tokens.some, body: { model: "gpt-p", input: "hi" } });
    assert.equal(r.status, 404);
    r = await call("GET", "/codex/models", { token: tokens.some });
    assert.deepEqual((await json(r)).models.map((m) => m.slug), ["llama3:latest"]);
    r = await call("GET", "/nope/v1/models");
    assert.equal(r.status, 404);
  });

  test("limits count prefixed requests like root ones, and usage records them", async () => {
    const t = tokens.limited;
    assert.equal((await call("POST", "/cursor/chat/completions", { token: t, body: { model: "llama3:latest", messages: hi, stream: false } })).status, 200);
    assert.equal((await call("POST", "/v1/chat/completions", { token: t, body: { model: "llama3:latest", messages: hi } })).status, 200);
    const r = await call("POST", "/codex/responses", { token: t, body: { model: "llama3:latest", input: "hi" } });
    assert.equal(r.status, 429, await r.text());
    // Records reach Postgres when their usage shard flushes (its alarm, or a cron kick that
    // rotates over the shards): wait for them, bounded, instead of assuming one cron run does it.
    let rows = [];
    for (let i = 0; i < 40 && rows.length < 3; i++) {
      await sleep(250);
      await env.gw.scheduled();
      rows = env.psql("SELECT endpoint || ':' || status FROM usage_records WHERE username = 'parity-limited' ORDER BY created_at").split("\n").filter(Boolean);
    }
    assert.deepEqual(rows, ["v1/chat/completions:200", "v1/chat/completions:200", "v1/responses:429"]);
  });
});

describe("Claude Desktop", () => {
  const desktopId = (name) => `claude-maestro-${crypto.createHash("sha256").update(name.replace(/^claude-/, "")).digest("hex").slice(0, 12)}`;

  test("lists opaque ids with the desktop capability list and routes them back", async () => {
    O.reset();
    const headers = { "x-maestro-client": "claude-desktop" };
    let r = await call("GET", "/claude/v1/models", { headers });
    const b = await json(r);
    const m = b.data.find((x) => x.display_name === "thinker");
    assert.equal(m.id, desktopId("thinker"));
    assert.ok(b.data.every((x) => /^claude-maestro-[0-9a-f]{12}$/.test(x.id)));
    assert.equal(m.capabilities.context_management.supported, true);
    assert.equal(m.capabilities.citations.supported, true);
    assert.equal(m.capabilities.image_input.supported, true);
    r = await call("POST", "/claude/v1/messages", { headers, body: { model: m.id, max_tokens: 20, messages: hi } });
    assert.equal(r.status, 200, await r.text());
    assert.equal(lastInference(O).body.model, "qwen3:8b", "the opaque id reached the mapping's real model");
    r = await call("POST", "/claude/v1/messages/count_tokens", { body: { model: desktopId("llama3:latest"), messages: hi } });
    assert.equal(r.status, 200);
    // Model Maestro's `claude-<name>` listing names still work.
    r = await call("POST", "/claude/v1/messages", { body: { model: "claude-llama3:latest", max_tokens: 20, messages: hi } });
    assert.equal(r.status, 200);
    assert.equal(lastInference(O).body.model, "llama3:latest");
    // An opaque id is resolved among the user's own names only.
    r = await call("POST", "/claude/v1/messages", { token: tokens.some, body: { model: m.id, max_tokens: 20, messages: hi } });
    assert.equal(r.status, 404);
    r = await call("POST", "/claude/v1/messages", { body: { model: "claude-maestro-000000000000", max_tokens: 20, messages: hi } });
    assert.equal(r.status, 404);
  });
});

describe("the root as Ollama clients probe it", () => {
  test("GET and HEAD / answer 'Ollama is running' unless JSON is asked for", async () => {
    let r = await call("GET", "/", { token: null });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type"), /text\/plain/);
    assert.equal(await r.text(), "Ollama is running");
    r = await call("HEAD", "/", { token: null });
    assert.equal(r.status, 200);
    r = await call("GET", "/", { token: null, headers: { accept: "application/json" } });
    assert.equal((await json(r)).status, "ok");
  });
});

describe("CORS for browser clients", () => {
  test("off by default; an allowed origin gets the preflight and headers on answers and errors", async () => {
    const origin = "https://app.example";
    const pre = (o) => call("OPTIONS", "/v1/chat/completions", { token: null, headers: { origin: o, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, x-stainless-os" } });
    let r = await pre(origin);
    assert.equal(r.status, 204);
    assert.equal(r.headers.get("access-control-allow-origin"), null, "no origin is allowed by default");
    await admin.put("/settings", { "cors.allowed_origins": [origin] });
    await sleep(2500); // the snapshot refresh
    r = await pre(origin);
    assert.equal(r.status, 204);
    assert.equal(r.headers.get("access-control-allow-origin"), origin);
    const allowHeaders = r.headers.get("access-control-allow-headers");
    for (const h of ["authorization", "x-api-key", "anthropic-version", "anthropic-beta", "content-type", "x-stainless-os"]) assert.ok(allowHeaders.includes(h), h);
    assert.match(r.headers.get("access-control-allow-methods"), /POST/);
    assert.equal(r.headers.get("access-control-max-age"), "600");
    r = await call("OPTIONS", "/claude/v1/messages", { token: null, headers: { origin } });
    assert.equal(r.headers.get("access-control-allow-origin"), origin, "under a prefix too");
    r = await call("POST", "/v1/chat/completions", { headers: { origin }, body: { model: "llama3:latest", messages: hi } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("access-control-allow-origin"), origin);
    r = await call("GET", "/v1/models", { token: null, headers: { origin } });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("access-control-allow-origin"), origin, "errors carry the grant, so the browser can read why");
    r = await pre("https://evil.example");
    assert.equal(r.headers.get("access-control-allow-origin"), null);
    r = await call("GET", "/v1/models", { headers: { origin: "https://evil.example" } });
    assert.equal(r.headers.get("access-control-allow-origin"), null);
    await admin.put("/settings", { "cors.allowed_origins": [] });
  });
});

describe("node routing: pinning, pinned-only nodes, per-user node access, unknown models, request rules", () => {
  let P, U, R;
  const ids = {};
  const chatAs = (token, model, extra = {}) => call("POST", "/v1/chat/completions", { token, body: { model, messages: hi, stream: false, ...extra } });
  const listed = async (token) => (await json(await call("GET", "/v1/models", { token }))).data.map((m) => m.id);

  before(async () => {
    P = await startOrigin({ name: "pinned-p", kind: "ollama", models: ["llama3:latest", "secret:1b"] });
    U = await startOrigin({ name: "unknown-u", kind: "ollama", models: [] });
    R = await startOrigin({ name: "rules-r", kind: "openai", models: ["gpt-r"] });
    for (const [o, code] of [[P, "pin"], [U, "unk"], [R, "rules"]]) {
      const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url, code, priority: 1 }, 201);
      await admin.post(`/nodes/${n.id}/discover`, {}, 200);
      ids[code] = n.id;
    }
    ids.o = (await admin.get("/nodes")).nodes.find((n) => n.name === "ollama-p").id;
    let v = await admin.put(`/nodes/${ids.pin}/routing`, { pinned_only: true });
    assert.deepEqual([v.pinned_only, v.route_unknown_models, v.code], [true, false, "pin"]);
    await admin.patch(`/nodes/${ids.unk}/routing`, { route_unknown_models: true });
    v = await admin.put(`/nodes/${ids.rules}/routing`, { request_rules: { default_max_tokens: 777, drop_params: ["logprobs", "user"] } });
    assert.deepEqual(v.request_rules, { default_max_tokens: 777, drop_params: ["logprobs", "user"] });
    tokens.acl = (await admin.post("/users", { username: "parity-acl", has_all_models: true }, 201)).token;
    tokens.listed = (await admin.post("/users", { username: "parity-listed", models: ["llama3:latest"] }, 201)).token;
  });
  after(async () => {
    for (const o of [P, U, R]) await o?.stop();
  });

  test("a pinned-only node serves only names that pin it; node:{code}:{model} routes there", async () => {
    for (const o of [O, P]) o.reset();
    // P has the higher priority (1 < 100) but is pinned only: plain requests go to O.
    assert.equal((await chatAs(tokens.all, "llama3:latest")).status, 200);
    assert.equal(P.inference().length, 0);
    assert.equal(O.inference().length, 1);
    assert.ok(!(await listed(tokens.all)).includes("secret:1b"), "a model only a pinned-only node has is not listed");
    assert.equal((await chatAs(tokens.all, "secret:1b")).status, 404);
    let r = await chatAs(tokens.all, "node:pin:secret:1b");
    assert.equal(r.status, 200, await r.text());
    assert.equal(lastInference(P).body.model, "secret:1b");
    r = await chatAs(tokens.all, "node:pin:llama3:latest");
    assert.equal(r.status, 200);
    assert.equal(P.inference().length, 2, "the pin beats O");
    assert.equal(O.inference().length, 1);
    r = await call("POST", "/api/chat", { body: { model: "node:pin:llama3:latest", messages: hi, stream: false } });
    assert.equal(r.status, 200, "pins work in every dialect");
    r = await chatAs(tokens.all, "node:nope:llama3:latest");
    assert.equal(r.status, 404);
    assert.match((await json(r)).error.message, /not found, or not available to you/);
    // The allow-list applies to the model name, not the pinned string.
    assert.equal((await chatAs(tokens.listed, "node:pin:llama3:latest")).status, 200);
    assert.equal((await chatAs(tokens.listed, "node:pin:secret:1b")).status, 404);
  });

  test("per-user node access limits routing and listings alike", async () => {
    for (const o of [O, P, R]) o.reset();
    let v = await admin.put("/users/parity-acl/nodes", { node_ids: [ids.o] });
    assert.deepEqual(v, { username: "parity-acl", node_ids: [ids.o], node_models: [] });
    let names = await listed(tokens.acl);
    assert.ok(names.includes("llama3:latest") && names.includes("thinker"));
    assert.ok(!names.includes("gpt-r") && !names.includes("gpt-p"), "models on other nodes are not listed");
    assert.equal((await chatAs(tokens.acl, "gpt-r")).status, 404);
    assert.equal(R.inference().length, 0);
    assert.equal((await chatAs(tokens.acl, "llama3:latest")).status, 200);
    assert.equal((await chatAs(tokens.acl, "node:pin:llama3:latest")).status, 404, "pinning a node the user may not use");
    assert.equal(P.inference().length, 0);
    // Models per node: on O only qwen3:8b (here through its mapping, "thinker").
    v = await admin.put("/users/parity-acl/nodes", { node_ids: [], node_models: [{ node_id: ids.o, model: "qwen3:8b" }] });
    assert.deepEqual(v.node_models, [{ node_id: ids.o, model: "qwen3:8b" }]);
    names = await listed(tokens.acl);
    assert.ok(names.includes("thinker"));
    assert.ok(!names.includes("llama3:latest"), "llama3 is on O (not allowed there) and on a pinned-only node");
    assert.ok(names.includes("gpt-r"), "nodes without rules are not limited");
    assert.equal((await chatAs(tokens.acl, "llama3:latest")).status, 404);
    assert.equal((await chatAs(tokens.acl, "thinker")).status, 200);
    assert.equal((await chatAs(tokens.acl, "node:pin:llama3:latest")).status, 200, "P has no rules for this user");
    assert.deepEqual(await admin.get("/users/parity-acl/nodes"), v);
    await admin.put("/users/parity-acl/nodes", { node_ids: [999999] }, 400);
    await admin.put("/users/parity-acl/nodes", { node_models: [{ node_id: ids.o }] }, 400);
    await admin.get("/users/nobody-here/nodes", 404);
    await admin.put("/users/parity-acl/nodes", { node_ids: [], node_models: [] });
    assert.ok((await listed(tokens.acl)).includes("llama3:latest"), "cleared: every node again");
  });

  test("a model no catalog lists yet is tried on the node that takes unknown models", async () => {
    U.reset();
    U.models = ["brand-new:7b"]; // on the origin, not yet discovered
    let r = await chatAs(tokens.all, "brand-new:7b");
    assert.equal(r.status, 200, await r.text());
    assert.equal(lastInference(U).body.model, "brand-new:7b");
    r = await call("POST", "/api/chat", { body: { model: "brand-new:7b", messages: hi, stream: false } });
    assert.equal(r.status, 200);
    assert.equal(U.inference().length, 2);
    assert.equal((await chatAs(tokens.listed, "brand-new:7b")).status, 404, "the allow-list still applies");
    r = await chatAs(tokens.all, "never-heard-of:1b");
    assert.notEqual(r.status, 200, "the node's own 404 is the answer");
    // Known models never go there, and switching the option off restores 404.
    assert.equal((await chatAs(tokens.all, "llama3:latest")).status, 200);
    assert.equal(U.inference().length, 3);
    await admin.patch(`/nodes/${ids.unk}/routing`, { route_unknown_models: false });
    assert.equal((await chatAs(tokens.all, "brand-new:7b")).status, 404);
  });

  test("node request rules: default max_tokens and dropped parameters, what the origin receives", async () => {
    R.reset();
    assert.equal((await chatAs(tokens.all, "gpt-r", { logprobs: true, user: "u1", temperature: 0.3 })).status, 200);
    let sent = lastInference(R).body;
    assert.equal(sent.max_tokens, 777);
    assert.equal(sent.logprobs, undefined);
    assert.equal(sent.user, undefined);
    assert.equal(sent.temperature, 0.3);
    assert.equal((await chatAs(tokens.all, "gpt-r", { max_tokens: 5 })).status, 200);
    sent = lastInference(R).body;
    assert.equal(sent.max_tokens, 5, "the client's own value wins");
    await admin.put(`/nodes/${ids.rules}/routing`, { request_rules: { drop_params: ["model"] } }, 400);
    await admin.put(`/nodes/${ids.rules}/routing`, { nope: 1 }, 400);
    await admin.get("/nodes/999999/routing", 404);
    const v = await admin.put(`/nodes/${ids.rules}/routing`, { request_rules: null });
    assert.deepEqual(v.request_rules, { default_max_tokens: null, drop_params: [] });
  });
});
