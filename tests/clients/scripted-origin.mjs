// A scripted fake origin for the real-client suite: one server speaks Anthropic (/v1/messages),
// OpenAI (/v1/chat/completions, /v1/responses, /v1/embeddings, /v1/models) and Ollama (/api/chat,
// /api/generate, /api/embed, /api/embeddings, /api/tags, /api/show, /api/version), streamed and
// not, and records every request so tests assert what reached the origin as well as what the
// client printed. No state decides an answer; the conversation does (so clients may run in
// parallel against one origin):
//   - the last non-system message is a tool result  -> "Tool result: <that result>" (text), so a
//     round trip cannot be faked: the client only sees the file's secret if it really ran the tool
//     and sent its output back;
//   - the last user text holds [[tool:NAME {json}|| NAME2 {json}]] -> a call of the first of those
//     tools the request offers (an answer naming the offered tools when none is);
//   - [[say:TEXT]] -> TEXT; anything else -> "Hello from <name>".
// The Anthropic side behaves like the API where agents depend on it:
//   - thinking on (`thinking.type` enabled/adaptive): the answer starts with a thinking block
//     signed by this origin (an HMAC of its text); a request replaying a thinking block whose
//     signature is not this origin's gets Anthropic's own 400 ("Invalid `signature` in
//     `thinking` block"), counted in `o.rejected`;
//   - prompt caching: a request whose system carries `cache_control` reports the tools+system
//     prefix as cache_creation_input_tokens the first time and cache_read_input_tokens after.
// Ollama with `think` on answers with `message.thinking` first, as a thinking model does.
import http from "node:http";
import crypto from "node:crypto";

const USAGE = { input: 11, output: 5 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Text of a content value in any dialect: a string, or parts/blocks carrying `text`/`content`. */
function textOf(c) {
  if (c == null) return "";
  if (typeof c === "string") return c;
  if (Array.isArray(c)) return c.map(textOf).join("\n");
  if (typeof c === "object") {
    if (typeof c.text === "string") return c.text;
    if (c.type === "tool_result" || c.type === "function_call_output") return textOf(c.content ?? c.output);
    if (c.content !== undefined) return textOf(c.content);
    if (c.output !== undefined) return textOf(c.output);
  }
  return "";
}

/** The turn as the script sees it: offered tool names, the tool result or the user's text. */
export function readTurn(path, body) {
  const b = body ?? {};
  let items;
  let tools = [];
  if (path === "/v1/responses") {
    items = typeof b.input === "string" ? [{ role: "user", content: b.input }] : (b.input ?? []);
    tools = (b.tools ?? []).map((t) => t.name ?? t.function?.name).filter(Boolean);
  } else if (path === "/api/generate" || path === "/v1/completions") {
    items = [{ role: "user", content: b.prompt ?? "" }];
  } else {
    items = b.messages ?? [];
    tools = (b.tools ?? []).map((t) => t.name ?? t.function?.name).filter(Boolean);
  }
  const last = [...items].reverse().find((m) => !["system", "developer"].includes(m.role));
  if (!last) return { tools, toolResult: null, text: "" };
  const t = last.type;
  if (t === "function_call_output" || t === "custom_tool_call_output") return { tools, toolResult: textOf(last.output), text: "" };
  if (last.role === "tool") return { tools, toolResult: textOf(last.content), text: "" };
  if (Array.isArray(last.content)) {
    const results = last.content.filter((p) => p.type === "tool_result");
    if (results.length) return { tools, toolResult: results.map((r) => textOf(r.content)).join("\n"), text: "" };
  }
  return { tools, toolResult: null, text: textOf(last.content) };
}

/** Tool arguments as written in the prompt, also when a client quoted the prompt (`\"`). */
function parseArgs(s) {
  for (const candidate of [s, s.replace(/\\"/g, '"')]) {
    try {
      return JSON.parse(candidate);
    } catch {}
  }
  return undefined;
}

/** What to answer: {text} or {tool: {name, args}}. */
export function decide({ tools, toolResult, text }, name) {
  if (toolResult !== null) return { text: `Tool result: ${toolResult.slice(0, 4000)}` };
  const tool = /\[\[tool:([\s\S]*?)\]\]/.exec(text);
  if (tool) {
    for (const alt of tool[1].split("||")) {
      const m = /^\s*([\w.-]+)\s*([\s\S]*)$/.exec(alt);
      if (m && tools.includes(m[1])) {
        const args = parseArgs(m[2].trim() || "{}");
        if (args === undefined) return { text: `Script error: cannot parse the arguments of ${m[1]}: ${m[2]}` };
        return { tool: { name: m[1], args } };
      }
    }
    return { text: `No scripted tool is offered; tools offered: ${tools.join(", ") || "none"}` };
  }
  const say = /\[\[say:([\s\S]*?)\]\]/.exec(text);
  return { text: say ? say[1] : `Hello from ${name}` };
}

const id = (p) => `${p}${crypto.randomBytes(6).toString("hex")}`;
const halves = (s) => [s.slice(0, Math.floor(s.length / 2)), s.slice(Math.floor(s.length / 2))];
const words = (s) => s.split(/(?<= )/);
/** A vector that depends on the input, so a test can tell which text was embedded. */
const vector = (s) => [s.length / 100, (s.charCodeAt(0) || 0) / 1000, 0.5];

const SIGNING_KEY = crypto.randomBytes(16);
/** This origin's signature of a thinking text (a replayed block is checked against it). */
export const sign = (thinking) => crypto.createHmac("sha256", SIGNING_KEY).update(thinking).digest("base64");

export async function startScriptedOrigin({ name, kind, models, embedModels = [] }) {
  const o = { name, kind, models, embedModels, requests: [], stored: new Map(), url: "", sockets: new Set(), chunkDelay: 2, rejected: [], cached: new Set() };
  const all = () => [...o.models, ...o.embedModels];
  const json = (res, status, body) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const handlers = {
    "GET /api/version": (req, res) => json(res, 200, { version: "0.13.0" }),
    "GET /api/tags": (req, res) =>
      json(res, 200, {
        models: all().map((m) => ({ name: m, model: m, modified_at: "2026-11-01T00:00:00Z", size: 4_000_000, digest: crypto.createHash("sha256").update(m).digest("hex"), details: { format: "gguf", family: "qwen3", parameter_size: "8B", quantization_level: "Q4_K_M" } })),
      }),
    "POST /api/show": (req, res, b) => {
      const m = b?.model ?? b?.name;
      if (!all().includes(m)) return json(res, 404, { error: `model '${m}' not found` });
      const embed = o.embedModels.includes(m);
      json(res, 200, { modelfile: "", parameters: "", template: "{{ .Prompt }}", details: { format: "gguf", family: "qwen3", parameter_size: "8B" }, model_info: { "general.architecture": "qwen3", "qwen3.context_length": 32768 }, capabilities: embed ? ["embedding"] : ["completion", "tools"] });
    },
    "GET /api/ps": (req, res) => json(res, 200, { models: [] }),
    "GET /v1/models": (req, res) =>
      kind === "anthropic"
        ? json(res, 200, { data: all().map((m) => ({ type: "model", id: m, display_name: m, created_at: "2026-11-01T00:00:00Z" })), has_more: false, first_id: all()[0], last_id: all().at(-1) })
        : json(res, 200, { object: "list", data: all().map((m) => ({ id: m, object: "model", created: 1, owned_by: name, max_model_len: 32768 })) }),
    "POST /v1/messages": anthropicMessages,
    "POST /v1/messages/count_tokens": (req, res, b) => json(res, 200, { input_tokens: Math.ceil(JSON.stringify(b?.messages ?? "").length / 4) }),
    "POST /v1/chat/completions": openaiChat,
    "POST /v1/responses": responses,
    "POST /v1/embeddings": (req, res, b) => {
      const input = Array.isArray(b?.input) ? b.input : [b?.input ?? ""];
      json(res, 200, { object: "list", model: b?.model, data: input.map((s, i) => ({ object: "embedding", index: i, embedding: vector(String(s)) })), usage: { prompt_tokens: 4, total_tokens: 4 } });
    },
    "POST /api/embed": (req, res, b) => {
      const input = Array.isArray(b?.input) ? b.input : [b?.input ?? ""];
      json(res, 200, { model: b?.model, embeddings: input.map((s) => vector(String(s))), total_duration: 1200000, load_duration: 300000, prompt_eval_count: 4 });
    },
    "POST /api/embeddings": (req, res, b) => json(res, 200, { embedding: vector(String(b?.prompt ?? "")) }),
    "POST /api/chat": ollama,
    "POST /api/generate": ollama,
  };

  function unknownModel(res, path, model) {
    if (path.startsWith("/api/")) return json(res, 404, { error: `model '${model}' not found` });
    if (path === "/v1/messages") return json(res, 404, { type: "error", error: { type: "not_found_error", message: `model: ${model}` } });
    return json(res, 404, { error: { message: `The model '${model}' does not exist`, type: "invalid_request_error", param: "model", code: "model_not_found" } });
  }

  /** Anthropic's check of replayed thinking: the first bad block's error, or null. */
  function badThinking(b) {
    for (const [i, m] of (b.messages ?? []).entries()) {
      if (m.role !== "assistant" || !Array.isArray(m.content)) continue;
      for (const [j, c] of m.content.entries()) {
        if (c.type === "thinking" && c.signature !== sign(c.thinking ?? "")) return `messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`;
      }
    }
    return null;
  }

  /** Usage with prompt caching: the tools+system prefix is written once, then read. */
  function cacheUsage(b) {
    const sys = Array.isArray(b.system) ? b.system : [];
    if (!sys.some((s) => s.cache_control)) return {};
    const prefix = JSON.stringify([b.tools ?? [], sys.map((s) => s.text)]);
    const key = crypto.createHash("sha256").update(prefix).digest("hex");
    const tokens = Math.ceil(prefix.length / 4);
    if (o.cached.has(key)) return { cache_read_input_tokens: tokens, cache_creation_input_tokens: 0 };
    o.cached.add(key);
    return { cache_read_input_tokens: 0, cache_creation_input_tokens: tokens };
  }

  async function anthropicMessages(req, res, b) {
    const bad = badThinking(b);
    if (bad) {
      o.rejected.push({ message: bad, raw: JSON.stringify(b) });
      return json(res, 400, { type: "error", error: { type: "invalid_request_error", message: bad } });
    }
    const a = decide(readTurn("/v1/messages", b), name);
    const msg = id("msg_");
    const block = a.tool ? { type: "tool_use", id: id("toolu_"), name: a.tool.name, input: a.tool.args } : { type: "text", text: a.text };
    const stop = a.tool ? "tool_use" : "end_turn";
    const thinkingOn = b.thinking && b.thinking.type !== "disabled";
    const thought = `Planning the answer to: ${readTurn("/v1/messages", b).text.slice(0, 80) || "the tool's result"}`;
    const thinking = thinkingOn ? { type: "thinking", thinking: thought, signature: sign(thought) } : null;
    const usage = { input_tokens: USAGE.input, output_tokens: USAGE.output, ...cacheUsage(b) };
    if (!b.stream) return json(res, 200, { id: msg, type: "message", role: "assistant", model: b.model, content: [...(thinking ? [thinking] : []), block], stop_reason: stop, stop_sequence: null, usage });
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const ev = async (type, data) => {
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      await sleep(o.chunkDelay);
    };
    await ev("message_start", { message: { id: msg, type: "message", role: "assistant", model: b.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
    await ev("ping", {});
    const at = thinking ? 1 : 0;
    if (thinking) {
      await ev("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "", signature: "" } });
      for (const w of words(thinking.thinking)) await ev("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: w } });
      await ev("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: thinking.signature } });
      await ev("content_block_stop", { index: 0 });
    }
    if (a.tool) {
      await ev("content_block_start", { index: at, content_block: { ...block, input: {} } });
      for (const part of halves(JSON.stringify(a.tool.args))) await ev("content_block_delta", { index: at, delta: { type: "input_json_delta", partial_json: part } });
    } else {
      await ev("content_block_start", { index: at, content_block: { type: "text", text: "" } });
      for (const w of words(a.text)) await ev("content_block_delta", { index: at, delta: { type: "text_delta", text: w } });
    }
    await ev("content_block_stop", { index: at });
    await ev("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: USAGE.output } });
    await ev("message_stop", {});
    res.end();
  }

  async function openaiChat(req, res, b) {
    const a = decide(readTurn("/v1/chat/completions", b), name);
    const usage = { prompt_tokens: USAGE.input, completion_tokens: USAGE.output, total_tokens: USAGE.input + USAGE.output };
    const call = a.tool && { id: id("call_"), type: "function", function: { name: a.tool.name, arguments: JSON.stringify(a.tool.args) } };
    const finish = a.tool ? "tool_calls" : "stop";
    const cid = id("chatcmpl-");
    if (!b.stream) return json(res, 200, { id: cid, object: "chat.completion", created: 1, model: b.model, choices: [{ index: 0, message: { role: "assistant", content: a.tool ? null : a.text, ...(call ? { tool_calls: [call] } : {}) }, finish_reason: finish }], usage });
    res.writeHead(200, { "content-type": "text/event-stream" });
    const send = async (choices, extra = {}) => {
      res.write(`data: ${JSON.stringify({ id: cid, object: "chat.completion.chunk", created: 1, model: b.model, choices, ...extra })}\n\n`);
      await sleep(o.chunkDelay);
    };
    await send([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
    if (call) {
      const [x, y] = halves(call.function.arguments);
      await send([{ index: 0, delta: { tool_calls: [{ index: 0, id: call.id, type: "function", function: { name: call.function.name, arguments: x } }] }, finish_reason: null }]);
      await send([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: y } }] }, finish_reason: null }]);
    } else for (const w of words(a.text)) await send([{ index: 0, delta: { content: w }, finish_reason: null }]);
    await send([{ index: 0, delta: {}, finish_reason: finish }]);
    if (b.stream_options?.include_usage) await send([], { usage });
    res.write("data: [DONE]\n\n");
    res.end();
  }

  async function ollama(req, res, b, path) {
    const chat = path === "/api/chat";
    const a = decide(readTurn(path, b), name);
    const stats = { total_duration: 5_000_000, load_duration: 1_000_000, prompt_eval_count: USAGE.input, prompt_eval_duration: 1_000_000, eval_count: USAGE.output, eval_duration: 2_000_000 };
    const at = () => new Date().toISOString();
    const calls = a.tool ? [{ id: id("call_"), function: { index: 0, name: a.tool.name, arguments: a.tool.args } }] : undefined;
    const piece = (content, extra = {}) => (chat ? { message: { role: "assistant", content, ...extra } } : { response: content });
    const thought = chat && b.think && b.think !== "false" ? `Thinking it over: ${readTurn(path, b).text.slice(0, 60) || "the tool's result"}` : null;
    if (b.stream === false) return json(res, 200, { model: b.model, created_at: at(), ...piece(a.text ?? "", { ...(calls ? { tool_calls: calls } : {}), ...(thought ? { thinking: thought } : {}) }), done: true, done_reason: "stop", ...stats });
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    const send = async (obj) => {
      res.write(JSON.stringify({ model: b.model, created_at: at(), ...obj }) + "\n");
      await sleep(o.chunkDelay);
    };
    if (thought) await send({ ...piece("", { thinking: thought }), done: false });
    if (calls && chat) await send({ ...piece("", { tool_calls: calls }), done: false });
    else for (const w of words(a.text)) await send({ ...piece(w), done: false });
    await send({ ...piece(""), done: true, done_reason: "stop", ...stats });
    res.end();
  }

  // Responses with OpenAI's storage semantics: stored output items answer item_reference and
  // previous_response_id on a later turn; an unknown reference is a 400, as OpenAI answers.
  async function responses(req, res, b) {
    let input = typeof b.input === "string" ? [{ type: "message", role: "user", content: b.input }] : [...(b.input ?? [])];
    if (b.previous_response_id) {
      const prev = o.stored.get(b.previous_response_id);
      if (!prev) return json(res, 400, { error: { message: `Previous response with id '${b.previous_response_id}' not found.`, type: "invalid_request_error", param: "previous_response_id", code: "previous_response_not_found" } });
      input = [...prev, ...input];
    }
    for (let i = 0; i < input.length; i++) {
      if (input[i].type !== "item_reference") continue;
      const item = o.stored.get(input[i].id);
      if (!item) return json(res, 400, { error: { message: `Item with id '${input[i].id}' not found.`, type: "invalid_request_error", param: "input", code: null } });
      input[i] = item;
    }
    const a = decide(readTurn("/v1/responses", { ...b, input }), name);
    const rid = id("resp_");
    const item = a.tool
      ? { type: "function_call", id: id("fc_"), call_id: id("call_"), name: a.tool.name, arguments: JSON.stringify(a.tool.args), status: "completed" }
      : { type: "message", id: id("msg_"), role: "assistant", status: "completed", content: [{ type: "output_text", text: a.text, annotations: [] }] };
    const store = b.store !== false;
    if (store) {
      o.stored.set(item.id, item);
      o.stored.set(rid, [...input, item]);
    }
    const usage = { input_tokens: USAGE.input, input_tokens_details: { cached_tokens: 0 }, output_tokens: USAGE.output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: USAGE.input + USAGE.output };
    const resp = (status, output, u) => ({ id: rid, object: "response", created_at: 1, status, model: b.model, output, store, usage: u ?? null, error: null, incomplete_details: null });
    if (!b.stream) return json(res, 200, resp("completed", [item], usage));
    res.writeHead(200, { "content-type": "text/event-stream" });
    let seq = 0;
    const ev = async (type, data) => {
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`);
      await sleep(o.chunkDelay);
    };
    await ev("response.created", { response: resp("in_progress", []) });
    if (a.tool) {
      await ev("response.output_item.added", { output_index: 0, item: { ...item, arguments: "", status: "in_progress" } });
      for (const part of halves(item.arguments)) await ev("response.function_call_arguments.delta", { output_index: 0, item_id: item.id, delta: part });
      await ev("response.function_call_arguments.done", { output_index: 0, item_id: item.id, arguments: item.arguments });
    } else {
      await ev("response.output_item.added", { output_index: 0, item: { ...item, content: [], status: "in_progress" } });
      await ev("response.content_part.added", { output_index: 0, item_id: item.id, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
      for (const w of words(a.text)) await ev("response.output_text.delta", { output_index: 0, item_id: item.id, content_index: 0, delta: w });
      await ev("response.output_text.done", { output_index: 0, item_id: item.id, content_index: 0, text: a.text });
      await ev("response.content_part.done", { output_index: 0, item_id: item.id, content_index: 0, part: item.content[0] });
    }
    await ev("response.output_item.done", { output_index: 0, item });
    await ev("response.completed", { response: resp("completed", [item], usage) });
    res.end();
  }

  const server = http.createServer(async (req, res) => {
    let raw = "";
    for await (const c of req) raw += c;
    let body = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {}
    const path = req.url.split("?")[0];
    o.requests.push({ method: req.method, path, url: req.url, headers: req.headers, body, raw });
    const h = handlers[`${req.method} ${path}`];
    if (!h) return json(res, 404, { error: `no route ${req.method} ${path} on the scripted origin` });
    const model = body?.model;
    const inference = /chat|generate|messages$|responses|embed/.test(path);
    if (inference && model !== undefined && !all().includes(model)) return unknownModel(res, path, model);
    try {
      await h(req, res, body, path);
    } catch (e) {
      if (!res.headersSent) json(res, 500, { error: { message: `scripted origin: ${e.message}` } });
      else res.destroy();
    }
  });
  server.on("connection", (s) => {
    o.sockets.add(s);
    s.on("close", () => o.sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  o.url = `http://127.0.0.1:${server.address().port}`;
  /** Requests that carried a model call (not listings), optionally only those containing `needle`. */
  o.inference = (needle) => o.requests.filter((r) => /chat|generate|messages$|responses|embed/.test(r.path) && (!needle || r.raw.includes(needle)));
  o.stop = () =>
    new Promise((r) => {
      for (const s of o.sockets) s.destroy();
      server.close(() => r());
    });
  return o;
}
