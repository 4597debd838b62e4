// The agent contract (issue 18), Codex / Cursor / Copilot / Continue side: what each client
// needs from the gateway, asserted on what the client sees AND what reached the origin, on every
// node type where it applies (ollama, openai, anthropic).
// - Responses: custom tools (Codex's apply_patch) and namespace (MCP) tools as functions under
//   origin-safe names, mapped back; reasoning only to the origin that produced it; usage on
//   every response.completed; a length stop as response.incomplete; overflow and 429 as
//   response.failed with Codex's codes.
// - OpenAI chat: no choice-less chunk unless asked for; the same usage streamed and not;
//   Responses-shaped (Cursor Agent) bodies on /v1/chat/completions; max_completion_tokens and
//   both reasoning field names per origin.
// - Ollama: Copilot's handshake, Continue's FIM, think/thinking, Ollama's fields, digests.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, ndjson, sseEvents } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, OL, OA, AN, token;
const NODES = {};

before(async () => {
  OL = await startOrigin({ name: "ollama", kind: "ollama", models: ["qwen3:8b", "llama3:latest"] });
  OA = await startOrigin({ name: "openai", kind: "openai", models: ["gpt-4o-mini"] });
  AN = await startOrigin({ name: "anthropic", kind: "anthropic", models: ["claude-sonnet-4-5"] });
  env = await setup({ name: "agents" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "timeouts.stream_idle_ms": 3000, "routing.cooldown_ms": 1 });
  for (const [o, extra] of [[OL, {}], [OA, { api_key: "sk-openai-node" }], [AN, { api_key: "sk-ant-node" }]]) {
    const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url, ...extra }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
    NODES[o.kind] = n.id;
  }
  await admin.post("/model-mappings", { display_name: "coder-ollama", real_name: "qwen3:8b", context_length: "64K", capabilities: ["completion", "tools", "thinking"] }, 201);
  await admin.post("/model-mappings", { display_name: "coder-openai", real_name: "gpt-4o-mini", context_length: "128K" }, 201);
  await admin.post("/model-mappings", { display_name: "coder-anthropic", real_name: "claude-sonnet-4-5", context_length: "200K" }, 201);
  token = (await admin.post("/users", { username: "agent", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  for (const o of [OL, OA, AN]) await o?.stop();
});

const ORIGIN = () => ({ ollama: OL, openai: OA, anthropic: AN });
const MODEL = { ollama: "coder-ollama", openai: "coder-openai", anthropic: "coder-anthropic" };
const KINDS = ["ollama", "openai", "anthropic"];
const reset = () => {
  for (const o of [OL, OA, AN]) {
    o.reset();
    o.toolCalls = null;
    o.noUsage = false;
  }
};
const post = (path, body, headers = {}) => fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const last = (o) => o.inference().at(-1);

/** The tools of an origin request, as {name, params} whatever its dialect. */
const originTools = (kind, body) => (body.tools ?? []).map((t) => (kind === "anthropic" ? { name: t.name, params: t.input_schema } : { name: t.function.name, params: t.function.parameters }));

// Codex 0.171's tool list, cut down: its shell function, apply_patch as a freeform tool with a
// Lark grammar, an MCP server as a namespace (one name too long for chat origins), web_search.
const PATCH = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-The answer is 41\n+The answer is 42\n*** End Patch\n";
const LONG = "search_the_corporate_wiki_pages_by_title_and_full_text_body_content";
const CODEX_TOOLS = [
  { type: "function", name: "exec_command", description: "Runs a command", strict: false, parameters: { type: "object", properties: { cmd: { type: "string" } }, required: ["cmd"] } },
  { type: "custom", name: "apply_patch", description: "Use the `apply_patch` tool to edit files.", format: { type: "grammar", syntax: "lark", definition: 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF' } },
  { type: "namespace", name: "mcp__wiki__", description: "The team wiki", tools: [{ type: "function", name: LONG, description: "Search", parameters: { type: "object", properties: { q: { type: "string" } } } }] },
  { type: "web_search", external_web_access: false },
];
const codexBody = (kind, stream, input, extra = {}) => ({ model: MODEL[kind], stream, store: false, include: ["reasoning.encrypted_content"], prompt_cache_key: "k1", instructions: "You are Codex.", input, tools: CODEX_TOOLS, tool_choice: "auto", parallel_tool_calls: false, ...extra });

/** A Responses answer: the final response object and the events (streamed) or just the object. */
async function responses(body) {
  const r = await post("/v1/responses", body);
  assert.equal(r.status, 200, await r.clone().text());
  if (!body.stream) return { response: await r.json(), events: [] };
  const events = sseEvents(await r.text());
  const end = events.find((e) => ["response.completed", "response.incomplete", "response.failed"].includes(e?.type));
  assert.ok(end, `a terminal event: ${JSON.stringify(events.map((e) => e.type))}`);
  return { response: end.response, events, end: end.type };
}

describe("Responses (Codex)", () => {
  for (const kind of KINDS) {
    for (const stream of [false, true]) {
      test(`apply_patch round trip on the ${kind} node: custom_tool_call with the raw input, custom_tool_call_output next turn (stream: ${stream})`, async () => {
        reset();
        const o = ORIGIN()[kind];
        o.toolCalls = [{ function: { name: "apply_patch", arguments: { input: PATCH } } }];
        const user = { type: "message", role: "user", content: [{ type: "input_text", text: "Fix the answer in notes.txt" }] };
        const { response, events } = await responses(codexBody(kind, stream, [user]));
        const call = response.output.find((i) => i.type === "custom_tool_call");
        assert.ok(call, JSON.stringify(response.output));
        assert.equal(call.name, "apply_patch");
        assert.equal(call.input, PATCH, "the raw patch, not JSON");
        assert.ok(!response.output.some((i) => i.type === "function_call"), "not a function_call {input}");
        if (stream) {
          const added = events.find((e) => e.type === "response.output_item.added" && e.item?.type === "custom_tool_call");
          assert.equal(added.item.call_id, call.call_id);
          assert.equal(events.filter((e) => e.type === "response.custom_tool_call_input.delta").map((e) => e.delta).join(""), PATCH);
          assert.equal(events.find((e) => e.type === "response.custom_tool_call_input.done").input, PATCH);
          const done = events.find((e) => e.type === "response.output_item.done" && e.item?.type === "custom_tool_call");
          assert.deepEqual(done.item, call);
        }
        // What the origin was offered: functions under names within its limits.
        const offered = originTools(kind, last(o).body);
        assert.deepEqual(offered.map((t) => t.name).slice(0, 2), ["exec_command", "apply_patch"]);
        assert.deepEqual(offered[1].params.required, ["input"]);
        assert.equal(offered[1].params.properties.input.type, "string");
        assert.match(offered[1].params.properties.input.description, /begin_patch hunk\+ end_patch/, "the grammar travels in the description");
        assert.ok(offered.every((t) => /^[a-zA-Z0-9_-]{1,64}$/.test(t.name)), JSON.stringify(offered.map((t) => t.name)));
        assert.equal(offered.length, 3, "web_search is hosted: not offered to a chat origin");

        // Turn 2: Codex sends the call and its output back (store: false, the whole history).
        o.toolCalls = null;
        const history = [user, { type: "custom_tool_call", id: call.id, call_id: call.call_id, name: "apply_patch", input: call.input }, { type: "custom_tool_call_output", call_id: call.call_id, output: "Success. Updated the following files:\nM notes.txt\n" }];
        const turn2 = await responses(codexBody(kind, stream, history));
        const text = turn2.response.output.find((i) => i.type === "message").content[0].text;
        if (kind === "anthropic") assert.equal(text, "Tool said: Success. Updated the following files:\nM notes.txt\n");
        const up = last(o).body;
        if (kind === "anthropic") {
          assert.deepEqual(up.messages[1].content, [{ type: "tool_use", id: call.call_id, name: "apply_patch", input: { input: PATCH } }]);
          assert.deepEqual(up.messages[2].content, [{ type: "tool_result", tool_use_id: call.call_id, content: "Success. Updated the following files:\nM notes.txt\n" }]);
        } else {
          const a = up.messages.find((m) => m.role === "assistant");
          const args = a.tool_calls[0].function.arguments;
          assert.deepEqual(typeof args === "string" ? JSON.parse(args) : args, { input: PATCH });
          assert.equal(a.tool_calls[0].function.name, "apply_patch");
          const t = up.messages.find((m) => m.role === "tool");
          assert.equal(t.content, "Success. Updated the following files:\nM notes.txt\n");
          if (kind === "openai") assert.equal(t.tool_call_id, call.call_id);
          else assert.equal(t.tool_name, "apply_patch");
        }
      });
    }

    test(`namespace (MCP) tools on the ${kind} node: flat names within limits, calls come back with name and namespace`, async () => {
      reset();
      const o = ORIGIN()[kind];
      // What the origin was offered first, then a call of the flattened long name.
      await responses(codexBody(kind, false, "hi"));
      const flat = originTools(kind, last(o).body)[2].name;
      assert.ok(flat.length <= 64 && /^[a-zA-Z0-9_-]+$/.test(flat), flat);
      assert.ok(flat.startsWith("mcp__wiki__search_the_corporate"), flat);
      o.toolCalls = [{ function: { name: flat, arguments: { q: "onboarding" } } }];
      for (const stream of [false, true]) {
        const { response } = await responses(codexBody(kind, stream, "Search the wiki"));
        const call = response.output.find((i) => i.type === "function_call");
        assert.equal(call.name, LONG);
        assert.equal(call.namespace, "mcp__wiki__");
        assert.deepEqual(JSON.parse(call.arguments), { q: "onboarding" });
      }
      // The call in the history reaches the origin under the same flat name.
      o.toolCalls = null;
      await responses(codexBody(kind, false, [{ role: "user", content: "Search" }, { type: "function_call", call_id: "call_W", name: LONG, namespace: "mcp__wiki__", arguments: '{"q":"x"}' }, { type: "function_call_output", call_id: "call_W", output: "3 pages" }]));
      const up = last(o).body;
      const name = kind === "anthropic" ? up.messages[1].content[0].name : up.messages.find((m) => m.role === "assistant").tool_calls[0].function.name;
      assert.equal(name, flat);
    });

    test(`response.completed carries the id and full usage on the ${kind} node, also when the origin reports none`, async () => {
      reset();
      for (const noUsage of [false, true]) {
        ORIGIN()[kind].noUsage = noUsage;
        for (const stream of [false, true]) {
          const { response, end } = await responses(codexBody(kind, stream, "hello"));
          if (stream) assert.equal(end, "response.completed");
          assert.match(response.id, /^resp_/);
          const u = response.usage;
          assert.ok(Number.isInteger(u.input_tokens) && Number.isInteger(u.output_tokens) && Number.isInteger(u.total_tokens), JSON.stringify(u));
          assert.equal(u.total_tokens, u.input_tokens + u.output_tokens);
          if (!noUsage || kind === "anthropic") assert.deepEqual([u.input_tokens, u.output_tokens], [7, 3]);
          else assert.ok(u.input_tokens > 0 && u.output_tokens > 0, "estimated, never missing");
        }
      }
    });

    if (kind === "openai")
      test("cached and reasoning tokens the origin reports reach response.completed, streamed and not", async () => {
        reset();
        const o = ORIGIN()[kind];
        Object.assign(o.usage, { cached: 4, reasoning: 2 });
        try {
          for (const stream of [false, true]) {
            const { response, end } = await responses(codexBody(kind, stream, "think"));
            if (stream) assert.equal(end, "response.completed");
            assert.deepEqual(response.usage, { input_tokens: 7, output_tokens: 3, total_tokens: 10, input_tokens_details: { cached_tokens: 4 }, output_tokens_details: { reasoning_tokens: 2 } }, `stream=${stream}`);
          }
        } finally {
          Object.assign(o.usage, { cached: 0, reasoning: 0 });
        }
      });

    test(`a length stop on the ${kind} node ends as response.incomplete (max_output_tokens)`, async () => {
      reset();
      ORIGIN()[kind].finish = "length";
      for (const stream of [false, true]) {
        const { response, end } = await responses(codexBody(kind, stream, "write a novel", { max_output_tokens: 3 }));
        if (stream) assert.equal(end, "response.incomplete");
        assert.equal(response.status, "incomplete");
        assert.deepEqual(response.incomplete_details, { reason: "max_output_tokens" });
        assert.ok(response.usage.output_tokens > 0);
      }
      const up = last(ORIGIN()[kind]).body;
      if (kind === "ollama") assert.equal(up.options.num_predict, 3);
      else if (kind === "openai") assert.equal(up.max_tokens ?? up.max_completion_tokens, 3);
      else assert.equal(up.max_tokens, 3);
    });

    /** An error in the node type's own shape. */
    const errorBody = (kind, status, message) => (kind === "anthropic" ? { type: "error", error: { type: status === 429 ? "rate_limit_error" : "invalid_request_error", message } } : kind === "ollama" ? { error: message } : { error: { message, type: "invalid_request_error", code: null } });
    const OVERFLOW = { ollama: "the input length exceeds the context length", openai: "This model's maximum context length is 8192 tokens. However, you requested 9001 tokens (9001 in the messages, 0 in the completion).", anthropic: "prompt is too long: 210000 tokens > 200000 maximum" };
    test(`overflow and 429 on the ${kind} node arrive as response.failed with Codex's codes (streamed), OpenAI codes as HTTP (not streamed)`, async () => {
      reset();
      const o = ORIGIN()[kind];
      o.fail = { status: 400, body: errorBody(kind, 400, OVERFLOW[kind]) };
      const r = await post("/v1/responses", codexBody(kind, true, "huge"));
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type"), /text\/event-stream/);
      const evs = sseEvents(await r.text());
      assert.deepEqual(evs.map((e) => e.type), ["response.created", "response.in_progress", "response.failed"]);
      assert.equal(evs[2].response.error.code, "context_length_exceeded");
      assert.match(evs[2].response.error.message, new RegExp(OVERFLOW[kind].slice(0, 20).replace(/[.*+?^${}()|[\]\\']/g, "\\$&")));
      assert.match(evs[2].response.id, /^resp_/);
      const plain = await post("/v1/responses", codexBody(kind, false, "huge"));
      assert.equal(plain.status, 400);
      assert.equal((await plain.json()).error.code, "context_length_exceeded");
      assert.ok(o.inference().length >= 2, "the origin was asked");

      o.fail = { status: 429, body: errorBody(kind, 429, "slow down") };
      const r429 = await post("/v1/responses", codexBody(kind, true, "again"));
      assert.equal(r429.status, 200);
      const e429 = sseEvents(await r429.text()).at(-1);
      assert.equal(e429.type, "response.failed");
      assert.equal(e429.response.error.code, "rate_limit_exceeded");
      const p429 = await post("/v1/responses", codexBody(kind, false, "again"));
      assert.equal(p429.status, 429);
      assert.equal((await p429.json()).error.code, "rate_limit_exceeded");
    });
  }

  test("the gateway's own limit is response.failed rate_limit_exceeded with Codex's 'try again in Ns'", async () => {
    reset();
    const u = await admin.post("/users", { username: "limited-agent", has_all_models: true, request_limit: 1 }, 201);
    const call = (stream) => fetch(`${env.url}/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${u.token}`, "content-type": "application/json" }, body: JSON.stringify(codexBody("openai", stream, "hi")) });
    assert.equal((await call(true)).status, 200);
    const r = await call(true);
    assert.equal(r.status, 200);
    const e = sseEvents(await r.text()).at(-1);
    assert.equal(e.type, "response.failed");
    assert.equal(e.response.error.code, "rate_limit_exceeded");
    assert.match(e.response.error.message, /try again in\s*\d+\s*s/i);
    const plain = await call(false);
    assert.equal(plain.status, 429);
    assert.ok(plain.headers.get("retry-after"));
  });

  test("reasoning goes back only to the origin that produced it", async () => {
    reset();
    OL.reasoning = { field: "thinking", text: "The patch needs one hunk." };
    const { response } = await responses(codexBody("ollama", true, "fix it", { reasoning: { effort: "medium", summary: "auto" } }));
    const rs = response.output.find((i) => i.type === "reasoning");
    assert.equal(rs.summary[0].text, "The patch needs one hunk.");
    assert.match(rs.encrypted_content, /^maestro\.v1\./, "the gateway names the producing origin");
    OL.reasoning = null;
    const msg = response.output.find((i) => i.type === "message");
    const history = (model) => codexBody(model, false, [{ role: "user", content: "fix it" }, rs, msg, { role: "user", content: "and now?" }]);
    // Same node, same model: the reasoning is replayed as Ollama's `thinking`.
    await responses(history("ollama"));
    const same = last(OL).body.messages.find((m) => m.role === "assistant");
    assert.equal(same.thinking, "The patch needs one hunk.");
    // The same node with another model, another node type: never.
    await responses({ ...history("ollama"), model: "llama3:latest" });
    assert.ok(!last(OL).raw.includes("The patch needs one hunk."), "another model on the same node");
    for (const kind of ["openai", "anthropic"]) {
      await responses(history(kind));
      assert.ok(!last(ORIGIN()[kind]).raw.includes("The patch needs one hunk."), kind);
    }
    // OpenAI's own encrypted reasoning (a session that started at api.openai.com): dropped.
    await responses(codexBody("ollama", false, [{ role: "user", content: "q" }, { type: "reasoning", id: "rs_x", summary: [{ type: "summary_text", text: "openai thoughts" }], encrypted_content: "gAAAAABo_opaque" }, { role: "user", content: "go on" }]));
    assert.ok(!last(OL).raw.includes("openai thoughts"));
  });
});

describe("OpenAI chat (opencode, Cline, Cursor)", () => {
  const chat = (kind, extra = {}) => ({ model: MODEL[kind], messages: [{ role: "user", content: "hi" }], ...extra });
  for (const kind of KINDS) {
    test(`no choice-less chunk unless usage was asked for; the same usage streamed and not (${kind} node)`, async () => {
      reset();
      const o = ORIGIN()[kind];
      const whole = await (await post("/v1/chat/completions", chat(kind))).json();
      assert.deepEqual([whole.usage.prompt_tokens, whole.usage.completion_tokens], [7, 3]);
      for (const opts of [undefined, { include_usage: false }]) {
        const r = await post("/v1/chat/completions", chat(kind, { stream: true, ...(opts ? { stream_options: opts } : {}) }));
        const evs = sseEvents(await r.text());
        assert.equal(evs.at(-1), "[DONE]");
        const chunks = evs.slice(0, -1);
        assert.ok(chunks.every((c) => Array.isArray(c.choices) && c.choices.length > 0), `every chunk has a choice: ${JSON.stringify(chunks.filter((c) => !c.choices?.length))}`);
        assert.ok(chunks.every((c) => c.usage == null), "no usage the client did not ask for");
        // The gateway still counts: it asked the origin for usage (chat origins) itself.
        if (kind !== "anthropic") assert.equal(last(o).body.stream_options?.include_usage, true);
      }
      const r = await post("/v1/chat/completions", chat(kind, { stream: true, stream_options: { include_usage: true } }));
      const evs = sseEvents(await r.text()).slice(0, -1);
      const withUsage = evs.filter((c) => c.usage);
      assert.equal(withUsage.length, 1);
      assert.deepEqual(withUsage[0].choices, [], "the usage chunk OpenAI sends when asked");
      assert.deepEqual(withUsage[0].usage, whole.usage, "streamed and not: the same usage");
    });

    test(`max_completion_tokens reaches the ${kind} node in the field it reads`, async () => {
      reset();
      const o = ORIGIN()[kind];
      for (const stream of [false, true]) {
        const r = await post("/v1/chat/completions", chat(kind, { stream, max_completion_tokens: 77 }));
        assert.equal(r.status, 200);
        await r.text();
        const up = last(o).body;
        if (kind === "openai") assert.equal(up.max_completion_tokens, 77);
        // Ollama's /v1 reads only max_tokens (max_completion_tokens is ignored there).
        else if (kind === "ollama") assert.deepEqual([up.max_tokens, up.max_completion_tokens], [77, undefined]);
        else assert.equal(up.max_tokens, 77);
      }
    });

    test(`Cursor Agent mode's Responses-shaped body on /v1/chat/completions is answered as chat (${kind} node)`, async () => {
      reset();
      const o = ORIGIN()[kind];
      o.toolCalls = [{ function: { name: "ApplyPatch", arguments: { input: PATCH } } }];
      const body = {
        model: MODEL[kind],
        stream: true,
        instructions: "You are a coding agent.",
        input: [{ role: "user", content: [{ type: "input_text", text: "Fix notes.txt" }] }],
        tools: [
          { type: "function", name: "read_file", description: "Read a file", parameters: { type: "object", properties: { path: { type: "string" } } } },
          { type: "custom", name: "ApplyPatch", description: "Apply a patch", format: { type: "grammar", syntax: "lark", definition: "start: /.+/s" } },
        ],
        reasoning: { effort: "medium" },
      };
      const r = await post("/v1/chat/completions", body);
      assert.equal(r.status, 200);
      const evs = sseEvents(await r.text());
      assert.equal(evs.at(-1), "[DONE]");
      assert.ok(evs.slice(0, -1).every((e) => e.object === "chat.completion.chunk"), "chat chunks, not Responses events");
      const deltas = evs.filter((e) => e.choices?.[0]?.delta?.tool_calls).flatMap((e) => e.choices[0].delta.tool_calls);
      assert.equal(deltas[0].function.name, "ApplyPatch");
      assert.deepEqual(JSON.parse(deltas.map((d) => d.function.arguments ?? "").join("")), { input: PATCH });
      assert.equal(evs.find((e) => e.choices?.[0]?.finish_reason)?.choices[0].finish_reason, "tool_calls");
      const up = last(o).body;
      const names = originTools(kind, up).map((t) => t.name);
      assert.deepEqual(names, ["read_file", "ApplyPatch"]);
      assert.ok(!("input" in up), "the origin got a chat (or Messages) body");
      if (kind === "anthropic") assert.equal(up.system, "You are a coding agent.");
      else assert.deepEqual(up.messages[0], { role: "system", content: "You are a coding agent." });
    });
  }

  for (const field of ["reasoning_content", "reasoning"]) {
    test(`an OpenAI-compatible origin's reasoning under '${field}' reaches every other dialect`, async () => {
      reset();
      OA.reasoning = { field, text: "Think first." };
      for (const stream of [false, true]) {
        const ol = await post("/api/chat", { model: "coder-openai", stream, messages: [{ role: "user", content: "q" }] });
        const lines = stream ? ndjson(await ol.text()) : [await ol.json()];
        assert.equal(lines.map((l) => l.message?.thinking ?? "").join(""), "Think first.", "Ollama: message.thinking");
        const { response } = await responses({ model: "coder-openai", stream, input: "q" });
        assert.equal(response.output.find((i) => i.type === "reasoning").summary[0].text, "Think first.", "Responses: a reasoning item");
        const an = await post("/v1/messages", { model: "coder-openai", stream: false, max_tokens: 100, messages: [{ role: "user", content: "q" }] });
        const ab = await an.json();
        assert.equal(ab.content.find((b) => b.type === "thinking")?.thinking, "Think first.", "Anthropic: a thinking block");
      }
    });
  }
});

describe("Ollama clients (Copilot, Continue, Open WebUI)", () => {
  const CONTEXT = { "coder-ollama": 65536, "coder-openai": 131072, "coder-anthropic": 204800 };
  test("Copilot's handshake: numeric /api/version, /api/tags, /api/show with tools and context length for mapped names, then /v1/chat/completions", async () => {
    reset();
    const auth = { headers: { authorization: `Bearer ${token}` } };
    const v = await getJson(`${env.url}/api/version`, auth);
    assert.match(v.body.version, /^\d+\.\d+\.\d+$/);
    const tags = await getJson(`${env.url}/api/tags`, auth);
    const names = tags.body.models.map((m) => m.name);
    for (const kind of KINDS) {
      const name = MODEL[kind];
      assert.ok(names.includes(name), name);
      const r = await post("/api/show", { model: name });
      assert.equal(r.status, 200);
      const show = await r.json();
      assert.ok(show.capabilities.includes("tools"), `${name}: ${show.capabilities}`);
      const arch = show.model_info["general.architecture"];
      assert.ok(arch, JSON.stringify(show.model_info));
      assert.equal(show.model_info[`${arch}.context_length`], CONTEXT[name], name);
      const c = await post("/v1/chat/completions", { model: name, messages: [{ role: "user", content: "hi" }] });
      assert.equal(c.status, 200);
      assert.equal((await c.json()).model, name);
      assert.ok(ORIGIN()[kind].inference().length >= 1, `${kind} origin reached`);
    }
    // Digests are unique per listed name (Copilot and Open WebUI key models by digest).
    const digests = tags.body.models.map((m) => m.digest);
    assert.equal(new Set(digests).size, digests.length, JSON.stringify(tags.body.models.map((m) => [m.name, m.digest])));
  });

  test("Continue's FIM on an Ollama node: suffix, raw, template and options reach it untouched", async () => {
    reset();
    const body = { model: "coder-ollama", prompt: "def add(a, b):\n    ", suffix: "\n\nprint(add(1, 2))", raw: true, template: "<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>", options: { temperature: 0.1, num_predict: 64, stop: ["<|endoftext|>"] }, keep_alive: "30m" };
    for (const stream of [false, true]) {
      const r = await post("/api/generate", { ...body, stream });
      assert.equal(r.status, 200);
      const lines = stream ? ndjson(await r.text()) : [await r.json()];
      assert.equal(lines.at(-1).done, true);
      const up = last(OL);
      assert.equal(up.path, "/api/generate");
      for (const k of ["prompt", "suffix", "raw", "template", "keep_alive"]) assert.deepEqual(up.body[k], body[k], k);
      // The client's options as sent; the mapping's context length joins them as num_ctx.
      assert.deepEqual(up.body.options, { ...body.options, num_ctx: 65536 });
      assert.equal(up.body.model, "qwen3:8b");
    }
  });

  test("Continue's FIM on an OpenAI-compatible node: /v1/completions carries suffix (passthrough and from /api/generate)", async () => {
    reset();
    const r = await post("/v1/completions", { model: "coder-openai", prompt: "def add(a, b):", suffix: "print(add(1, 2))", max_tokens: 32 });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).choices[0].text, "Hello from openai");
    let up = last(OA);
    assert.equal(up.path, "/v1/completions");
    assert.deepEqual([up.body.prompt, up.body.suffix, up.body.max_tokens], ["def add(a, b):", "print(add(1, 2))", 32]);
    for (const stream of [false, true]) {
      const g = await post("/api/generate", { model: "coder-openai", stream, prompt: "def add(a, b):", suffix: "print(add(1, 2))", options: { num_predict: 16, temperature: 0 } });
      assert.equal(g.status, 200, await g.clone().text());
      const lines = stream ? ndjson(await g.text()) : [await g.json()];
      assert.equal(lines.map((l) => l.response ?? "").join(""), "Hello from openai");
      assert.equal(lines.at(-1).done, true);
      up = last(OA);
      assert.equal(up.path, "/v1/completions");
      assert.deepEqual([up.body.model, up.body.prompt, up.body.suffix, up.body.max_tokens, up.body.temperature], ["gpt-4o-mini", "def add(a, b):", "print(add(1, 2))", 16, 0]);
    }
  });

  test("FIM an origin cannot do is a 400 in Ollama's shape naming the field (anthropic node: no suffix; openai node: no Ollama template)", async () => {
    reset();
    const r = await post("/api/generate", { model: "coder-anthropic", stream: false, prompt: "def f(", suffix: ")" });
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /suffix/);
    const t = await post("/api/generate", { model: "coder-openai", stream: false, prompt: "def f(", suffix: ")", template: "{{ .Prompt }}" });
    assert.equal(t.status, 400);
    assert.match((await t.json()).error, /template/);
    assert.equal(AN.inference().length + OA.inference().length, 0, "nothing reached an origin");
  });

  test("think is forwarded to Ollama nodes and message.thinking kept, from every node type", async () => {
    reset();
    OL.reasoning = { field: "thinking", text: "Let me think." };
    OA.reasoning = { field: "reasoning_content", text: "Let me think." };
    for (const stream of [false, true]) {
      for (const think of [true, "high"]) {
        const r = await post("/api/chat", { model: "coder-ollama", stream, think, messages: [{ role: "user", content: "q" }] });
        const lines = stream ? ndjson(await r.text()) : [await r.json()];
        assert.equal(lines.map((l) => l.message?.thinking ?? "").join(""), "Let me think.");
        assert.deepEqual(last(OL).body.think, think);
      }
      const r = await post("/api/chat", { model: "coder-openai", stream, think: true, messages: [{ role: "user", content: "q" }] });
      const lines = stream ? ndjson(await r.text()) : [await r.json()];
      assert.equal(lines.map((l) => l.message?.thinking ?? "").join(""), "Let me think.");
    }
  });

  test("translated Ollama answers carry every field Ollama's own do (openai and anthropic nodes)", async () => {
    reset();
    const FINAL = ["model", "created_at", "done", "done_reason", "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"];
    for (const model of ["coder-openai", "coder-anthropic"]) {
      for (const path of ["/api/chat", "/api/generate"]) {
        for (const stream of [false, true]) {
          const body = path === "/api/chat" ? { model, stream, messages: [{ role: "user", content: "q" }] } : { model, stream, prompt: "q" };
          const r = await post(path, body);
          assert.equal(r.status, 200);
          const lines = stream ? ndjson(await r.text()) : [await r.json()];
          const end = lines.at(-1);
          for (const k of FINAL) assert.ok(k in end, `${model} ${path} stream=${stream}: ${k}`);
          assert.equal(end.model, model);
          assert.ok(end.total_duration > 0 && end.eval_duration > 0);
          assert.deepEqual([end.prompt_eval_count, end.eval_count], [7, 3]);
          if (path === "/api/chat") assert.equal(lines.map((l) => l.message.content).join(""), `Hello from ${model === "coder-openai" ? "openai" : "anthropic"}`);
          else assert.ok(lines.every((l) => typeof l.response === "string"));
        }
      }
    }
  });
});
