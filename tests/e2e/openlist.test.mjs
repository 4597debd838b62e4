// Open lists and any dialect on any node (issue 16, Anthropic side). Asserts what the client
// sees AND what reached the origin:
// - a Claude Code 2.1.332-style body (a system message after the first user turn, unknown
//   fields and block types, beta header and ?beta=true) on anthropic, openai and ollama nodes;
// - same-dialect forwarding keeps the client's bytes (thinking signatures, cache_control,
//   spacing, escapes) except the spliced model name, and the origin's errors word for word;
// - the message_stop event keeps its closing blank line (byte-identical streams);
// - OpenAI chat, Responses and Ollama clients on an anthropic node, streamed and not, with a
//   tool round trip.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, ndjson, sseEvents } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, OL, OA, AN, token;
const WEATHER = [{ function: { name: "get_weather", arguments: { city: "Paris" } } }];
const TOOLS_OA = [{ type: "function", function: { name: "get_weather", description: "Weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];

before(async () => {
  OL = await startOrigin({ name: "ollama", kind: "ollama", models: ["llama3:latest"] });
  OA = await startOrigin({ name: "openai", kind: "openai", models: ["gpt-4o-mini"] });
  AN = await startOrigin({ name: "anthropic", kind: "anthropic", models: ["claude-sonnet-4-5"] });
  env = await setup({ name: "openlist" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "timeouts.stream_idle_ms": 2000, "routing.cooldown_ms": 1 });
  for (const [o, extra] of [[OL, {}], [OA, { api_key: "sk-openai-node" }], [AN, { api_key: "sk-ant-node" }]]) {
    const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url, ...extra }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  await admin.post("/model-mappings", { display_name: "gpt", real_name: "gpt-4o-mini" }, 201);
  await admin.post("/model-mappings", { display_name: "claude", real_name: "claude-sonnet-4-5" }, 201);
  await admin.post("/model-mappings", { display_name: "claude-team", real_name: "claude-sonnet-4-5" }, 201);
  await admin.post("/system-prompts", { scope_type: "mapping", scope_value: "claude-team", prompt: "Team rules." }, 201);
  token = (await admin.post("/users", { username: "cc", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  for (const o of [OL, OA, AN]) await o?.stop();
});

const reset = () => {
  for (const o of [OL, OA, AN]) {
    o.reset();
    o.toolCalls = null;
  }
};

const CC_HEADERS = {
  "content-type": "application/json",
  "anthropic-version": "2023-06-01",
  "anthropic-beta": "claude-code-20250219,context-management-2025-06-27,advanced-tool-use-2025-11-20",
  "anthropic-dangerous-direct-browser-access": "true",
  "x-app": "cli",
  "user-agent": "claude-cli/2.1.332 (external, cli)",
};

// Written by hand, not by JSON.stringify: odd spacing, key order and escapes must survive.
const ccBody = (model, stream) => `{"model": "${model}","max_tokens":32000, "stream":${stream},
 "system":[{"type":"text","text":"You are Claude Code, Anthropic\\u0027s CLI.","cache_control":{"type":"ephemeral","ttl":"1h"}}],
 "messages":[
  {"role":"user","content":[{"type":"text","text":"Fix the test \\u00e9","cache_control":{"type":"ephemeral"}}]},
  {"role":"system","content":"<system-reminder>Plan mode is active.</system-reminder>"},
  {"role":"assistant","content":[{"type":"thinking","thinking":"I need the tool.","signature":"EqQBCkYIBxgCKkB\\/+9z=="},{"type":"tool_use","id":"toolu_01","name":"ToolSearch","input":{"query":"read"}}]},
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":[{"type":"tool_reference","tool_name":"Read"},{"type":"text","text":"found 1 tool"}]},{"type":"future_block","payload":{"x":1}}]},
  {"role":"system","content":[{"type":"text","text":"Context: 40% used"}]}],
 "tools":[{"name":"ToolSearch","description":"Find tools","input_schema":{"type":"object"}},{"name":"Read","description":"Read a file","input_schema":{"type":"object","properties":{"file_path":{"type":"string"}}},"defer_loading":true}],
 "context_management":{"edits":[{"type":"clear_tool_uses_20250919"}]},"output_config":{"effort":"medium"},
 "thinking":{"type":"adaptive"},"metadata":{"user_id":"u_1"},"some_future_field":[1.50,2e3]}`;

const post = (path, body, headers = {}) => fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });

/** SSE events as a spec-conformant parser dispatches them: only on a blank line. */
function dispatched(text) {
  const events = [];
  let ev = null;
  let data = [];
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (line === "") {
      if (data.length) events.push({ event: ev ?? "message", data: data.join("\n") });
      ev = null;
      data = [];
    } else if (line.startsWith("event:")) ev = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return events; // an unterminated last event is never dispatched
}

describe("Claude Code 2.1.332 on every node type", () => {
  for (const stream of [false, true]) {
    test(`anthropic node: forwarded byte for byte with ?beta=true and every anthropic-* header (stream: ${stream})`, async () => {
      reset();
      const raw = ccBody("claude", stream);
      const r = await fetch(`${env.url}/v1/messages?beta=true`, { method: "POST", headers: { ...CC_HEADERS, "x-api-key": token }, body: raw });
      const text = await r.text();
      assert.equal(r.status, 200, text);
      assert.equal(r.headers.get("request-id"), "req_up", "the origin's request id");
      if (stream) {
        const names = dispatched(text).map((e) => e.event);
        assert.equal(names.at(-1), "message_stop");
        assert.ok(!text.includes("claude-sonnet-4-5"), "the real name never reaches the client");
      } else {
        assert.equal(JSON.parse(text).model, "claude");
      }
      const up = AN.inference().at(-1);
      assert.equal(up.path, "/v1/messages?beta=true");
      assert.equal(up.raw, raw.replace(`"model": "claude"`, `"model": "claude-sonnet-4-5"`), "only the model name changed");
      assert.equal(up.headers["anthropic-beta"], CC_HEADERS["anthropic-beta"]);
      assert.equal(up.headers["anthropic-version"], "2023-06-01");
      assert.equal(up.headers["anthropic-dangerous-direct-browser-access"], "true");
      assert.equal(up.headers["x-api-key"], "sk-ant-node");
      assert.ok(!JSON.stringify(up.headers).includes(token), "the client's token never reaches the origin");
    });
  }

  for (const [model, origin, path] of [["gpt", () => OA, "/v1/chat/completions"], ["fast", () => OL, "/api/chat"]]) {
    for (const stream of [false, true]) {
      test(`${model} node: translated, the system messages keep their places, Anthropic-only parts dropped (stream: ${stream})`, async () => {
        reset();
        const r = await fetch(`${env.url}/v1/messages?beta=true`, { method: "POST", headers: { ...CC_HEADERS, "x-api-key": token }, body: ccBody(model, stream) });
        const text = await r.text();
        assert.equal(r.status, 200, text);
        if (stream) {
          const evs = dispatched(text);
          assert.equal(evs.at(-1).event, "message_stop");
          const said = evs.filter((e) => e.event === "content_block_delta").map((e) => JSON.parse(e.data).delta.text ?? "").join("");
          assert.match(said, /^Hello from /);
        } else {
          assert.match(JSON.parse(text).content[0].text, /^Hello from /);
        }
        const up = origin().inference().at(-1);
        assert.equal(up.path, path, "no ?beta=true on another API");
        const roles = up.body.messages.map((m) => m.role);
        assert.deepEqual(roles, ["system", "user", "system", "assistant", "tool", "system"]);
        assert.equal(up.body.messages[2].content, "<system-reminder>Plan mode is active.</system-reminder>");
        assert.equal(up.body.messages[4].content, "found 1 tool");
        for (const leaked of ["cache_control", "defer_loading", "context_management", "output_config", "tool_reference", "future_block", "some_future_field", "signature"])
          assert.ok(!up.raw.includes(leaked), `${leaked} reached the ${model} origin`);
        assert.ok(!("anthropic-beta" in up.headers));
      });
    }
  }
});

test("count_tokens takes the same body (an estimate, no origin call)", async () => {
  reset();
  const r = await getJson(`${env.url}/v1/messages/count_tokens?beta=true`, { method: "POST", headers: { ...CC_HEADERS, "x-api-key": token }, body: ccBody("claude", false) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.input_tokens > 50);
  assert.equal(AN.inference().length, 0);
});

describe("same-dialect: the origin decides", () => {
  test("a policy edit (a system prompt) changes only its own field: the rest keeps the client's bytes", async () => {
    reset();
    const raw = ccBody("claude-team", false);
    const r = await fetch(`${env.url}/v1/messages?beta=true`, { method: "POST", headers: { ...CC_HEADERS, "x-api-key": token }, body: raw });
    assert.equal(r.status, 200, await r.text());
    const up = AN.inference().at(-1);
    // After the client's first block, as its own entry: the client's blocks keep their place.
    assert.deepEqual(up.body.system[0], { type: "text", text: "You are Claude Code, Anthropic's CLI.", cache_control: { type: "ephemeral", ttl: "1h" } });
    assert.deepEqual(up.body.system[1], { type: "text", text: "Team rules." });
    const untouched = raw.slice(raw.indexOf(`"messages":`));
    assert.ok(up.raw.endsWith(untouched), `messages, thinking signature, tools, betas byte for byte:\n${up.raw}`);
    assert.ok(up.raw.startsWith(`{"model": "claude-sonnet-4-5","max_tokens":32000, "stream":false,`));
  });

  test("the origin's error reaches the client word for word, with its status", async () => {
    reset();
    const body = `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"},"request_id":"req_011"}`;
    AN.anthropicError = { status: 400, body, headers: { "request-id": "req_011" } };
    const r = await post("/v1/messages", { model: "claude", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }, { "anthropic-version": "2023-06-01" });
    assert.equal(r.status, 400);
    assert.equal(await r.text(), body);
    assert.equal(r.headers.get("request-id"), "req_011");
    AN.anthropicError = { status: 400, body: `{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0: Invalid \`signature\` in \`thinking\` block"}}` };
    const r2 = await post("/v1/messages", { model: "claude", max_tokens: 10, stream: true, messages: [{ role: "user", content: "hi" }] });
    assert.equal(r2.status, 400);
    assert.equal(await r2.text(), AN.anthropicError.body);
  });

  test("what only the origin can judge is not refused by the gateway", async () => {
    reset();
    // No max_tokens, a role and a block the gateway does not know: the origin (here happy) decides.
    const r = await getJson(`${env.url}/v1/messages`, { method: "POST", headers: { "x-api-key": token, "content-type": "application/json" }, body: JSON.stringify({ model: "claude", messages: [{ role: "user", content: [{ type: "brand_new", x: 1 }] }, { role: "system", content: "s" }] }) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(AN.inference().at(-1).body.messages[1], { role: "system", content: "s" });
  });

  for (const ending of ["\n\n", "\n", ""]) {
    test(`a passthrough stream ends byte-identical to the origin's (ending ${JSON.stringify(ending)})`, async () => {
      reset();
      const start = `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":7,"output_tokens":1}}}\n\n`;
      const rest = `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\nevent: ping\ndata: {"type": "ping"}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \\u00e9"}}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}}\n\nevent: message_stop\ndata: {"type":"message_stop"}${ending}`;
      const whole = start + rest;
      // Pieces that cut lines, events and the final blank line in awkward places.
      AN.rawStream = [whole.slice(0, 10), whole.slice(10, start.length + 3), whole.slice(start.length + 3, whole.length - 2), whole.slice(whole.length - 2)];
      const r = await post("/v1/messages", { model: "claude", max_tokens: 10, stream: true, messages: [{ role: "user", content: "hi" }] });
      const text = await r.text();
      assert.equal(text, whole.replace(`"model":"claude-sonnet-4-5"`, `"model":"claude"`));
      if (ending === "\n\n") assert.equal(dispatched(text).at(-1).event, "message_stop", "the client's parser sees message_stop");
    });
  }
});

describe("OpenAI chat, Responses and Ollama clients on an anthropic node", () => {
  for (const stream of [false, true]) {
    test(`OpenAI chat: a tool round trip (stream: ${stream})`, async () => {
      reset();
      AN.toolCalls = WEATHER;
      const ask = { model: "claude", stream, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Weather in Paris?" }], tools: TOOLS_OA, tool_choice: "auto" };
      const r = await post("/v1/chat/completions", ask);
      assert.equal(r.status, 200);
      let call, finish, usage;
      if (stream) {
        const evs = sseEvents(await r.text());
        assert.equal(evs.at(-1), "[DONE]");
        const deltas = evs.filter((e) => e.choices?.[0]?.delta?.tool_calls).flatMap((e) => e.choices[0].delta.tool_calls);
        call = { id: deltas[0].id, name: deltas[0].function.name, arguments: deltas.map((d) => d.function.arguments ?? "").join("") };
        finish = evs.find((e) => e.choices?.[0]?.finish_reason)?.choices[0].finish_reason;
        assert.ok(evs.every((e) => e === "[DONE]" || e.model === "claude"));
      } else {
        const b = await r.json();
        const tc = b.choices[0].message.tool_calls[0];
        call = { id: tc.id, name: tc.function.name, arguments: tc.function.arguments };
        finish = b.choices[0].finish_reason;
        usage = b.usage;
        assert.equal(b.model, "claude");
      }
      assert.equal(call.name, "get_weather");
      assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
      assert.equal(finish, "tool_calls");
      assert.equal(r.headers.get("request-id"), null, "another dialect: the origin's ids stay behind the gateway");
      if (usage) assert.deepEqual([usage.prompt_tokens, usage.completion_tokens], [7, 3]);
      const first = AN.inference().at(-1);
      assert.equal(first.path, "/v1/messages");
      assert.equal(first.headers["x-api-key"], "sk-ant-node");
      assert.equal(first.headers["anthropic-version"], "2023-06-01");
      assert.equal(first.body.system, "Be brief.");
      assert.equal(first.body.max_tokens, 8192, "Anthropic needs max_tokens");
      assert.deepEqual(first.body.tools[0], { name: "get_weather", description: "Weather of a city", input_schema: TOOLS_OA[0].function.parameters });
      assert.deepEqual(first.body.tool_choice, { type: "auto" });

      // Turn 2: the result goes back as one tool_result for the call; the answer quotes it.
      const follow = { ...ask, messages: [...ask.messages, { role: "assistant", content: null, tool_calls: [{ id: call.id, type: "function", function: { name: "get_weather", arguments: call.arguments } }] }, { role: "tool", tool_call_id: call.id, content: "sunny, 21 C" }] };
      const r2 = await post("/v1/chat/completions", { ...follow, stream: false });
      const b2 = await r2.json();
      assert.equal(b2.choices[0].message.content, "Tool said: sunny, 21 C");
      const second = AN.inference().at(-1).body;
      assert.deepEqual(second.messages[1].content, [{ type: "tool_use", id: call.id, name: "get_weather", input: { city: "Paris" } }], "input is an object");
      assert.deepEqual(second.messages[2].content, [{ type: "tool_result", tool_use_id: call.id, content: "sunny, 21 C" }]);
    });

    test(`OpenAI Responses: a function call (stream: ${stream})`, async () => {
      reset();
      AN.toolCalls = WEATHER;
      const r = await post("/v1/responses", { model: "claude", stream, instructions: "Be brief.", input: "Weather in Paris?", tools: [{ type: "function", name: "get_weather", parameters: TOOLS_OA[0].function.parameters }] });
      assert.equal(r.status, 200);
      let item;
      if (stream) {
        const evs = sseEvents(await r.text());
        const done = evs.find((e) => e.type === "response.completed");
        assert.ok(done, "response.completed");
        item = done.response.output.find((o) => o.type === "function_call");
        assert.deepEqual([done.response.usage.input_tokens, done.response.usage.output_tokens], [7, 3]);
      } else {
        const b = await r.json();
        item = b.output.find((o) => o.type === "function_call");
        assert.deepEqual([b.usage.input_tokens, b.usage.output_tokens], [7, 3]);
      }
      assert.equal(item.name, "get_weather");
      assert.deepEqual(JSON.parse(item.arguments), { city: "Paris" });
      const up = AN.inference().at(-1).body;
      assert.equal(up.system, "Be brief.");
      assert.equal(up.tools[0].name, "get_weather");
      // Turn 2 with the output.
      const r2 = await post("/v1/responses", { model: "claude", input: [{ role: "user", content: "Weather in Paris?" }, { type: "function_call", call_id: item.call_id, name: "get_weather", arguments: item.arguments }, { type: "function_call_output", call_id: item.call_id, output: "sunny" }] });
      const b2 = await r2.json();
      assert.equal(b2.output.find((o) => o.type === "message").content[0].text, "Tool said: sunny");
    });

    test(`Ollama /api/chat: a tool round trip (stream: ${stream})`, async () => {
      reset();
      AN.toolCalls = WEATHER;
      const ask = { model: "claude", stream, messages: [{ role: "user", content: "Weather in Paris?" }], tools: TOOLS_OA };
      const r = await post("/api/chat", ask);
      assert.equal(r.status, 200);
      const lines = stream ? ndjson(await r.text()) : [await r.json()];
      const calls = lines.flatMap((l) => l.message?.tool_calls ?? []);
      assert.equal(calls[0].function.name, "get_weather");
      assert.deepEqual(calls[0].function.arguments, { city: "Paris" });
      assert.equal(lines.at(-1).done, true);
      assert.equal(lines.at(-1).eval_count, 3);
      const r2 = await post("/api/chat", { ...ask, stream: false, messages: [...ask.messages, { role: "assistant", content: "", tool_calls: calls }, { role: "tool", tool_name: "get_weather", content: "sunny" }] });
      assert.equal((await r2.json()).message.content, "Tool said: sunny");
      const up = AN.inference().at(-1).body;
      assert.equal(up.messages[2].content[0].type, "tool_result");
      assert.equal(up.messages[2].content[0].tool_use_id, up.messages[1].content[0].id);
    });
  }

  test("Ollama /api/generate, streamed and not", async () => {
    reset();
    const g = await getJson(`${env.url}/api/generate`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "claude", system: "Be brief.", prompt: "hi", stream: false }) });
    assert.equal(g.body.response, "Hello from anthropic");
    assert.equal(g.body.done, true);
    assert.deepEqual([g.body.prompt_eval_count, g.body.eval_count], [7, 3]);
    const up = AN.inference().at(-1).body;
    assert.equal(up.system, "Be brief.");
    assert.deepEqual(up.messages, [{ role: "user", content: [{ type: "text", text: "hi" }] }]);
    const r = await post("/api/generate", { model: "claude", prompt: "hi" });
    const lines = ndjson(await r.text());
    assert.equal(lines.map((l) => l.response ?? "").join(""), "Hello from anthropic");
    assert.equal(lines.at(-1).done, true);
  });

  test("listings offer anthropic-node models to every dialect", async () => {
    const oa = await getJson(`${env.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
    assert.ok(oa.body.data.some((m) => m.id === "claude"));
    const tags = await getJson(`${env.url}/api/tags`, { headers: { authorization: `Bearer ${token}` } });
    assert.ok(tags.body.models.some((m) => m.name === "claude"));
  });

  test("a translated leg's origin error comes in the client's own shape", async () => {
    reset();
    AN.anthropicError = { status: 400, body: `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}` };
    const r = await getJson(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "claude", messages: [{ role: "user", content: "hi" }] }) });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.message, "max_tokens: too large");
  });

  // Last: the cut streams cool the node down.
  test("a cut Anthropic stream ends with the client's own in-band error", async () => {
    reset();
    AN.mode = "cut";
    const r = await post("/v1/chat/completions", { model: "claude", stream: true, messages: [{ role: "user", content: "hi" }] });
    const text = await r.text();
    assert.match(text, /"error"/);
    assert.doesNotMatch(text, /\[DONE\]/);
    const o = await post("/api/chat", { model: "claude", messages: [{ role: "user", content: "hi" }] });
    const lines = ndjson(await o.text());
    assert.ok(lines.at(-1).error, "an Ollama error line");
    assert.ok(!lines.some((l) => l.done === true));
  });
});
