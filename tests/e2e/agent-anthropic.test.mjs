// The agent contract, Anthropic side (issue 18): what Claude Code and Cursor-with-Claude-models
// need from the gateway, on every node type where it applies. Each test asserts what the client
// saw AND what reached the origin:
// - signed thinking from an anthropic origin goes back to it byte-identical on the next turn;
//   thinking another origin produced reaches the client marked unsigned and never reaches an
//   anthropic origin (taken out, and thinking switched off for an open tool loop that lost it);
//   DeepSeek-style origins get their own reasoning back with the tool-call turn;
// - cache_control and the client's system blocks reach an anthropic origin unchanged, a scoped
//   system prompt goes after the first block, cache reads come back to the client;
// - translated streams send a ping while the origin is silent (interval from the setting);
// - other origins' context-overflow errors come in Anthropic's wording;
// - HEAD /api/hello and GET /v1/models?limit=1000 answer at once, Anthropic-shaped, no redirect;
// - OpenAI -> Anthropic tools: input objects, one tool_result per call, clamped budgets;
// - Cursor's Anthropic blocks inside chat messages, on every node type; a required tool
//   argument streamed as nothing ends with an error, not a call with {}.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, sseEvents } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, OL, OA, AN, token;
const KEEPALIVE_MS = 200;
const UNSIGNED = "maestro-edge:unsigned";
const WEATHER = [{ function: { name: "get_weather", arguments: { city: "Paris" } } }];
const TOOL_AN = { name: "get_weather", description: "Weather of a city", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };
const TOOL_OA = { type: "function", function: { name: "get_weather", description: "Weather of a city", parameters: TOOL_AN.input_schema } };

before(async () => {
  OL = await startOrigin({ name: "ollama", kind: "ollama", models: ["llama3:latest"] });
  OA = await startOrigin({ name: "openai", kind: "openai", models: ["gpt-4o-mini", "deepseek-reasoner"] });
  AN = await startOrigin({ name: "anthropic", kind: "anthropic", models: ["claude-sonnet-4-5"] });
  env = await setup({ name: "agent_anthropic" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "timeouts.stream_idle_ms": 5000, "routing.cooldown_ms": 1, "streams.keepalive_ms": KEEPALIVE_MS });
  for (const [o, extra] of [[OL, {}], [OA, { api_key: "sk-openai-node" }], [AN, { api_key: "sk-ant-node" }]]) {
    const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url, ...extra }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest", context_length: 8192 }, 201);
  await admin.post("/model-mappings", { display_name: "gpt", real_name: "gpt-4o-mini" }, 201);
  await admin.post("/model-mappings", { display_name: "ds", real_name: "deepseek-reasoner" }, 201);
  await admin.post("/model-mappings", { display_name: "claude", real_name: "claude-sonnet-4-5" }, 201);
  await admin.post("/model-mappings", { display_name: "claude-team", real_name: "claude-sonnet-4-5" }, 201);
  await admin.post("/system-prompts", { scope_type: "mapping", scope_value: "claude-team", prompt: "Team rules." }, 201);
  token = (await admin.post("/users", { username: "agent", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  for (const o of [OL, OA, AN]) await o?.stop();
});

const reset = () => {
  for (const o of [OL, OA, AN]) {
    o.reset();
    o.toolCalls = null;
    o.text = null;
  }
};

const AH = { "content-type": "application/json", "anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14" };
const messages = (body, headers = {}) => fetch(`${env.url}/v1/messages?beta=true`, { method: "POST", headers: { ...AH, "x-api-key": token, ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
const chat = (body, path = "/v1/chat/completions") => fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });

/** SSE events as a spec-conformant parser dispatches them. */
function events(text) {
  const out = [];
  let ev = null;
  let data = [];
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (line === "") {
      if (data.length) out.push({ event: ev ?? "message", data: JSON.parse(data.join("\n")) });
      ev = null;
      data = [];
    } else if (line.startsWith("event:")) ev = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return out;
}

/** The content blocks an Anthropic stream built, as a client accumulates them. */
function blocksOf(evs) {
  const blocks = [];
  for (const { data: d } of evs) {
    if (d.type === "content_block_start") blocks[d.index] = { ...d.content_block };
    if (d.type === "content_block_delta") {
      const b = blocks[d.index];
      if (d.delta.type === "text_delta") b.text += d.delta.text;
      if (d.delta.type === "thinking_delta") b.thinking += d.delta.thinking;
      if (d.delta.type === "signature_delta") b.signature = d.delta.signature;
      if (d.delta.type === "input_json_delta") b.partial = (b.partial ?? "") + d.delta.partial_json;
    }
  }
  return blocks.map((b) => (b.type === "tool_use" && b.partial !== undefined ? { ...b, input: JSON.parse(b.partial), partial: undefined } : b));
}

async function answer(r, stream) {
  const text = await r.text();
  assert.equal(r.status, 200, text);
  if (!stream) return { content: JSON.parse(text).content, body: JSON.parse(text), text };
  const evs = events(text);
  return { content: blocksOf(evs), evs, text };
}

describe("thinking across turns and origin families", () => {
  for (const stream of [false, true]) {
    test(`signed thinking from an anthropic origin goes back to it byte-identical (stream: ${stream})`, async () => {
      reset();
      AN.thinking = { thinking: "Weather needs the tool.", signature: "EqQBCkYIBxgCKkB/+9z==" };
      AN.toolCalls = WEATHER;
      const ask = { model: "claude-team", max_tokens: 4096, stream, thinking: { type: "enabled", budget_tokens: 2048 }, tools: [TOOL_AN], messages: [{ role: "user", content: "Weather in Paris?" }] };
      const a = await answer(await messages(ask), stream);
      assert.deepEqual(a.content[0], { type: "thinking", thinking: "Weather needs the tool.", signature: "EqQBCkYIBxgCKkB/+9z==" }, "the client got the origin's signature");
      const use = a.content.find((b) => b.type === "tool_use");
      assert.deepEqual(use.input, { city: "Paris" });
      // Turn 2 as a client writes it (its own escapes: \/ in the signature), with a scoped
      // system prompt that makes the gateway edit the body.
      const thinkingBlock = `{"type":"thinking","thinking":"Weather needs the tool.","signature":"EqQBCkYIBxgCKkB\\/+9z=="}`;
      const turn2 = `{"model":"claude-team","max_tokens":4096,"stream":${stream},"thinking":{"type":"enabled","budget_tokens":2048},"tools":${JSON.stringify([TOOL_AN])},"messages":[{"role":"user","content":"Weather in Paris?"},{"role":"assistant","content":[${thinkingBlock},{"type":"tool_use","id":"${use.id}","name":"get_weather","input":{"city":"Paris"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"${use.id}","content":"sunny"}]}]}`;
      const b = await answer(await messages(turn2), stream);
      assert.ok(JSON.stringify(b.content).includes("Tool said: sunny"));
      const up = AN.inference().at(-1);
      assert.ok(up.raw.includes(thinkingBlock), `the thinking block byte for byte:\n${up.raw}`);
      assert.ok(up.raw.includes(turn2.slice(turn2.indexOf(`"messages":`), -1)), "every message as the client wrote it");
      assert.deepEqual(up.body.thinking, { type: "enabled", budget_tokens: 2048 });
      assert.deepEqual(up.body.system, "Team rules.");
    });
  }

  for (const [model, origin] of [["fast", () => OL], ["gpt", () => OA]]) {
    for (const stream of [false, true]) {
      test(`${model}: thinking another origin produced reaches the client marked unsigned and never an anthropic origin (stream: ${stream})`, async () => {
        reset();
        origin().text = "<think>Plan A.</think>Done.";
        const a = await answer(await messages({ model, max_tokens: 1000, stream, messages: [{ role: "user", content: "Go" }] }), stream);
        assert.deepEqual(a.content.slice(0, 2), [{ type: "thinking", thinking: "Plan A.", signature: UNSIGNED }, { type: "text", text: "Done." }]);
        if (stream) assert.ok(a.evs.some((e) => e.data.delta?.type === "signature_delta"), "the signature streams last, as Anthropic's does");
        // The same conversation, now in an open tool loop, moves to the anthropic node.
        const replay = { model: "claude", max_tokens: 4096, stream, thinking: { type: "enabled", budget_tokens: 2048 }, tools: [TOOL_AN], messages: [
          { role: "user", content: "Go" },
          { role: "assistant", content: [a.content[0], { type: "tool_use", id: "toolu_x", name: "get_weather", input: { city: "Paris" } }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", content: "sunny" }] },
        ] };
        const raw = JSON.stringify(replay);
        await answer(await messages(raw), stream);
        const up = AN.inference().at(-1);
        assert.ok(!up.raw.includes(UNSIGNED) && !up.raw.includes("Plan A."), `foreign thinking reached the anthropic origin:\n${up.raw}`);
        assert.deepEqual(up.body.messages[1].content, [{ type: "tool_use", id: "toolu_x", name: "get_weather", input: { city: "Paris" } }]);
        assert.ok(!("thinking" in up.body), "the open loop lost its thinking block: the request goes without thinking");
        assert.ok(up.raw.includes(JSON.stringify(replay.messages[2])), "the other messages byte for byte");
        // To a DeepSeek-style origin, the reasoning goes back with the tool-call turn; to others, not.
        await answer(await messages({ ...replay, model: "ds" }), stream);
        const ds = OA.inference().at(-1).body.messages.find((m) => m.tool_calls);
        assert.equal(ds.reasoning_content, "Plan A.");
        await answer(await messages({ ...replay, model: "gpt" }), stream);
        assert.ok(!OA.inference().at(-1).raw.includes("Plan A."));
      });
    }
  }
});

describe("prompt caching on an anthropic node", () => {
  // Claude Code's shape: its attribution block first, then blocks with cache breakpoints.
  const body = (stream) => `{"model":"claude-team","max_tokens":32000,"stream":${stream},"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=cli;"},{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Long instructions \\u2014 stable.","cache_control":{"type":"ephemeral","ttl":"1h"}}],"messages":[{"role":"user","content":[{"type":"text","text":"Fix it","cache_control":{"type":"ephemeral"}}]},{"role":"system","content":[{"type":"text","text":"<reminder>","cache_control":{"type":"ephemeral"}}]}]}`;
  for (const stream of [false, true]) {
    test(`cache_control unchanged, the scoped prompt after the first system block, cache reads reported (stream: ${stream})`, async () => {
      reset();
      AN.usageExtra = { cache_read_input_tokens: 1800, cache_creation_input_tokens: 0 };
      const raw = body(stream);
      const a = await answer(await messages(raw), stream);
      const usage = stream ? a.evs.find((e) => e.event === "message_start").data.message.usage : a.body.usage;
      assert.equal(usage.cache_read_input_tokens, 1800, "the client sees its cache hits");
      const up = AN.inference().at(-1);
      const sys = JSON.parse(raw).system;
      assert.deepEqual(up.body.system, [sys[0], { type: "text", text: "Team rules." }, sys[1], sys[2]]);
      for (const block of [`{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=cli;"}`, `{"type":"text","text":"Long instructions \\u2014 stable.","cache_control":{"type":"ephemeral","ttl":"1h"}}`])
        assert.ok(up.raw.includes(block), `system block byte for byte: ${block}\n${up.raw}`);
      assert.ok(up.raw.endsWith(raw.slice(raw.indexOf(`"messages":`))), "messages and their cache_control byte for byte");
      // A second turn with the same prefix sends the same system bytes: the cache keeps hitting.
      await answer(await messages(raw), stream);
      const again = AN.inference().at(-1).raw;
      assert.equal(again.slice(0, again.indexOf(`"messages":`)), up.raw.slice(0, up.raw.indexOf(`"messages":`)));
    });
  }
});

describe("keep-alive pings", () => {
  for (const [model, origin] of [["fast", () => OL], ["gpt", () => OA]]) {
    test(`${model}: a translated stream pings while the origin is silent`, async () => {
      reset();
      origin().text = "Slow answer here.";
      origin().pauseMs = 5 * KEEPALIVE_MS;
      const r = await messages({ model, max_tokens: 100, stream: true, messages: [{ role: "user", content: "Go" }] });
      assert.equal(r.status, 200);
      // Read as it arrives: when each event came.
      const seen = [];
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          seen.push({ name: /^event: (\S+)/m.exec(ev)?.[1], at: Date.now() });
        }
      }
      const firstText = seen.findIndex((e) => e.name === "content_block_delta");
      const during = seen.slice(firstText + 1).filter((e, i, all) => e.name === "ping" && all.slice(i + 1).some((x) => x.name === "content_block_delta"));
      assert.ok(during.length >= 3, `pings during the ${origin().pauseMs} ms pause: ${JSON.stringify(seen.map((e) => e.name))}`);
      for (let i = 1; i < during.length; i++) assert.ok(during[i].at - during[i - 1].at < KEEPALIVE_MS * 3, "at the configured interval");
      assert.equal(seen.at(-1).name, "message_stop");
    });
  }

  test("an anthropic origin's own pings are forwarded, and it gets none of ours (passthrough)", async () => {
    reset();
    const whole = `event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\nevent: ping\ndata: {"type": "ping"}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n`;
    AN.rawStream = [whole];
    const r = await messages({ model: "claude", max_tokens: 10, stream: true, messages: [{ role: "user", content: "hi" }] });
    assert.equal(await r.text(), whole.replace(`"model":"claude-sonnet-4-5"`, `"model":"claude"`));
  });
});

describe("context overflow in Anthropic's wording", () => {
  const cases = [
    ["gpt", () => OA, { error: { message: "This model's maximum context length is 32768 tokens. However, your request has 40000 input tokens. Please reduce the length of the input messages.", type: "BadRequestError", param: null, code: 400 } }, "prompt is too long: 40000 tokens > 32768 maximum"],
    ["gpt", () => OA, { error: { message: "'max_tokens' or 'max_completion_tokens' is too large: 8000. This model's maximum context length is 4096 tokens and your request has 2778 input tokens (8000 > 4096 - 2778). None", type: "BadRequestError", code: 400 } }, "input length and `max_tokens` exceed context limit: 2778 + 8000 > 4096"],
    ["gpt", () => OA, { error: { code: 400, message: "request (4476 tokens) exceeds the available context size (4096 tokens), try increasing it", type: "exceed_context_size_error", n_prompt_tokens: 4476, n_ctx: 4096 } }, "prompt is too long: 4476 tokens > 4096 maximum"],
    ["fast", () => OL, { error: `{"error":{"code":400,"message":"request (8889 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":8889,"n_ctx":4096}}` }, "prompt is too long: 8889 tokens > 4096 maximum"],
    ["fast", () => OL, { error: "the input length exceeds the context length" }, "prompt is too long: 8193 tokens > 8192 maximum"],
  ];
  for (const [model, origin, body, wording] of cases) {
    for (const stream of [false, true]) {
      test(`${model}: ${wording.slice(0, 40)}... (stream: ${stream})`, async () => {
        reset();
        origin().fail = { status: 400, body };
        const r = await getJson(`${env.url}/v1/messages`, { method: "POST", headers: { ...AH, "x-api-key": token }, body: JSON.stringify({ model, max_tokens: 100, stream, messages: [{ role: "user", content: "long" }] }) });
        assert.equal(r.status, 400);
        assert.equal(r.body.type, "error");
        assert.equal(r.body.error.type, "invalid_request_error");
        assert.ok(r.body.error.message.startsWith(wording), r.body.error.message);
        // Claude Code's own pattern reads it.
        if (wording.startsWith("prompt")) assert.match(r.body.error.message, /prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)/);
        assert.ok(r.body.error.message.includes("(origin: "), "the origin's words are kept");
        assert.equal(origin().inference().length, 1, "it reached the origin once");
      });
    }
  }

  for (const [model, origin, body, message] of [
    ["gpt", () => OA, { error: { message: "tools.0.function.parameters: invalid schema", type: "invalid_request_error" } }, "tools.0.function.parameters: invalid schema"],
    ["fast", () => OL, { error: "model requires more system memory (12.3 GiB) than is available (8.0 GiB)" }, "model requires more system memory (12.3 GiB) than is available (8.0 GiB)"],
  ]) {
    test(`${model}: any other origin error keeps its wording inside Anthropic's envelope`, async () => {
      reset();
      origin().fail = { status: 400, body };
      const r = await getJson(`${env.url}/v1/messages`, { method: "POST", headers: { ...AH, "x-api-key": token }, body: JSON.stringify({ model, max_tokens: 100, messages: [{ role: "user", content: "x" }] }) });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { type: "error", error: { type: "invalid_request_error", message } });
    });
  }

  test("other dialects keep the origin's own words", async () => {
    reset();
    OA.fail = { status: 400, body: cases[0][2] };
    const r = await getJson(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "gpt", messages: [{ role: "user", content: "x" }] }) });
    assert.equal(r.status, 400);
    assert.ok(r.body.error.message.startsWith("This model's maximum context length"), JSON.stringify(r.body));
  });
});

describe("startup traffic", () => {
  for (const base of ["", "/claude"]) {
    test(`HEAD and GET ${base}/api/hello answer at once, without credentials`, async () => {
      for (const method of ["HEAD", "GET"]) {
        const t0 = Date.now();
        const r = await fetch(`${env.url}${base}/api/hello`, { method, redirect: "manual" });
        assert.equal(r.status, 200);
        assert.ok(Date.now() - t0 < 1000);
        if (method === "GET") assert.deepEqual(await r.json(), { status: "ok" });
      }
    });

    test(`GET ${base}/v1/models?limit=1000 (Claude Code's discovery): Anthropic-shaped, fast, no redirect`, async () => {
      for (const headers of [{ "x-api-key": token, "anthropic-version": "2023-06-01" }, { authorization: `Bearer ${token}`, "x-api-key": token, "anthropic-version": "2023-06-01" }]) {
        const t0 = Date.now();
        const r = await fetch(`${env.url}${base}/v1/models?limit=1000`, { headers, redirect: "manual" });
        assert.equal(r.status, 200);
        assert.ok(Date.now() - t0 < 3000, "within Claude Code's 3 s");
        const b = await r.json();
        assert.equal(b.has_more, false);
        const c = b.data.find((m) => m.id === "claude");
        assert.equal(c.type, "model");
        assert.equal(typeof c.display_name, "string");
        assert.ok(b.data.every((m) => typeof m.id === "string" && m.type === "model"));
      }
    });
  }
});

describe("OpenAI clients on an anthropic node: tool translation", () => {
  test("input is always an object, one tool_result per call, thinking budgets the API accepts", async () => {
    reset();
    const msgs = [
      { role: "user", content: "Weather?" },
      { role: "assistant", content: null, tool_calls: [
        { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        { id: "call_2", type: "function", function: { name: "get_weather", arguments: "Rome, please" } },
      ] },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
      { role: "tool", tool_call_id: "call_1", content: "21 C" },
      { role: "tool", tool_call_id: "call_2", content: "rain" },
    ];
    const r = await chat({ model: "claude", messages: msgs, tools: [TOOL_OA] });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal((await r.json()).choices[0].message.content, "Tool said: sunny\n21 C | rain");
    const up = AN.inference().at(-1).body;
    assert.deepEqual(up.messages[1].content.map((b) => b.input), [{ city: "Paris" }, { _raw_arguments: "Rome, please" }]);
    assert.deepEqual(up.messages[2].content, [{ type: "tool_result", tool_use_id: "call_1", content: "sunny\n21 C" }, { type: "tool_result", tool_use_id: "call_2", content: "rain" }]);
    for (const [ask, want] of [
      [{ reasoning_effort: "high", max_tokens: 4000 }, { max_tokens: 4000, thinking: { type: "enabled", budget_tokens: 3999 } }],
      [{ reasoning_effort: "low" }, { max_tokens: 8192 + 2048, thinking: { type: "enabled", budget_tokens: 2048 } }],
      [{ reasoning_effort: "high", max_tokens: 1000 }, { max_tokens: 1000, thinking: undefined }],
    ]) {
      reset();
      const r2 = await chat({ model: "claude", messages: [{ role: "user", content: "think" }], ...ask });
      assert.equal(r2.status, 200);
      const b = AN.inference().at(-1).body;
      assert.deepEqual({ max_tokens: b.max_tokens, thinking: b.thinking }, want, JSON.stringify(ask));
    }
  });
});

describe("Cursor with Claude-named models: Anthropic blocks in chat messages", () => {
  const cursorMessages = [
    { role: "user", content: [{ type: "text", text: "Weather in Paris?" }] },
    { role: "assistant", content: [{ type: "thinking", thinking: "Use the tool.", signature: "" }, { type: "text", text: "Checking." }, { type: "tool_use", id: "toolu_c1", name: "get_weather", input: { city: "Paris" } }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_c1", content: [{ type: "text", text: "sunny" }] }, { type: "text", text: "And tomorrow?", cache_control: { type: "ephemeral" } }] },
  ];
  for (const [model, origin, path] of [["fast", () => OL, "/v1/chat/completions"], ["gpt", () => OA, "/v1/chat/completions"], ["ds", () => OA, "/v1/chat/completions"], ["claude", () => AN, "/v1/messages"]]) {
    for (const stream of [false, true]) {
      test(`${model} node: translated for the origin (stream: ${stream})`, async () => {
        reset();
        const r = await chat({ model, stream, messages: cursorMessages, tools: [TOOL_OA] }, stream ? "/cursor/chat/completions" : "/v1/chat/completions");
        const text = await r.text();
        assert.equal(r.status, 200, text);
        if (stream) assert.equal(sseEvents(text).at(-1), "[DONE]");
        else assert.ok(JSON.parse(text).choices[0].message);
        const up = origin().inference().at(-1);
        assert.equal(up.path, path);
        for (const leaked of ['"tool_use"', '"tool_result"', '"thinking"', "cache_control"]) assert.ok(path === "/v1/messages" || !up.raw.includes(leaked), `${leaked} reached the origin: ${up.raw}`);
        if (path === "/v1/messages") {
          assert.deepEqual(up.body.messages[1].content.at(-1), { type: "tool_use", id: "toolu_c1", name: "get_weather", input: { city: "Paris" } });
          assert.deepEqual(up.body.messages[2].content[0], { type: "tool_result", tool_use_id: "toolu_c1", content: "sunny" });
          assert.ok(!up.raw.includes("Use the tool."), "unsigned thinking never reaches an anthropic origin");
        } else {
          const m = up.body.messages;
          assert.deepEqual(m.map((x) => x.role), ["user", "assistant", "tool", "user"]);
          assert.equal(m[1].content, "Checking.");
          assert.deepEqual(JSON.parse(m[1].tool_calls[0].function.arguments), { city: "Paris" });
          assert.deepEqual(m[2], { role: "tool", tool_call_id: "toolu_c1", content: "sunny" });
          assert.equal(m[3].content, "And tomorrow?");
          assert.equal(m[1].reasoning_content, "Use the tool.", "the tool-call turn keeps its reasoning (DeepSeek needs it back)");
        }
      });
    }
  }

  for (const stream of [false, true]) {
    test(`Cursor on an OpenAI-compatible node (passthrough): a required argument sent as nothing ends with an error (stream: ${stream})`, async () => {
      reset();
      OA.toolCalls = [{ function: { name: "get_weather", arguments: "" } }];
      const r = await chat({ model: "gpt", stream, messages: [{ role: "user", content: "Weather?" }], tools: [TOOL_OA] });
      const text = await r.text();
      if (stream) {
        assert.equal(r.status, 200);
        const evs = sseEvents(text);
        assert.ok(evs.at(-1).error, text);
        assert.match(evs.at(-1).error.message, /get_weather.*without its required arguments/);
        assert.ok(!evs.includes("[DONE]"), "never a successful end");
      } else {
        assert.ok(r.status >= 500, text);
        assert.match(JSON.parse(text).error.message, /without its required arguments/);
      }
      reset();
      OA.toolCalls = WEATHER;
      const ok = await chat({ model: "gpt", stream, messages: [{ role: "user", content: "Weather?" }], tools: [TOOL_OA] });
      const okText = await ok.text();
      assert.equal(ok.status, 200);
      assert.ok(stream ? okText.endsWith("data: [DONE]\n\n") : JSON.parse(okText).choices[0].message.tool_calls.length === 1, okText);
    });

    test(`a required tool argument streamed as nothing ends with an error, never a call with {} (stream: ${stream})`, async () => {
      reset();
      OA.toolCalls = [{ function: { name: "get_weather", arguments: "" } }];
      const r = await messages({ model: "gpt", max_tokens: 100, stream, tools: [TOOL_AN], messages: [{ role: "user", content: "Weather?" }] });
      const text = await r.text();
      if (stream) {
        assert.equal(r.status, 200);
        const evs = events(text);
        assert.equal(evs.at(-1).event, "error", text);
        assert.match(evs.at(-1).data.error.message, /get_weather.*without its required arguments/);
        assert.ok(!evs.some((e) => e.event === "message_stop"));
      } else {
        assert.ok(r.status >= 500, text);
        assert.match(JSON.parse(text).error.message, /without its required arguments/);
      }
      assert.ok(OA.inference().length >= 1);
      // The same call with its arguments is passed on.
      reset();
      OA.toolCalls = WEATHER;
      const ok = await answer(await messages({ model: "gpt", max_tokens: 100, stream, tools: [TOOL_AN], messages: [{ role: "user", content: "Weather?" }] }), stream);
      assert.deepEqual(ok.content.find((b) => b.type === "tool_use").input, { city: "Paris" });
    });
  }
});
