// A scriptable fake LLM origin (no real model runs here). It speaks Ollama native (/api/*)
// and OpenAI (/v1/*), records every request, and misbehaves on demand via `origin.mode`:
//   ok | status:<code>[:<retry-after>] | hang | delay:<ms> | cut0 (reset after the first chunk
//   is written, usually before it is read) | cut (reset after two chunks) | stall | malformed | nodone |
//   html | reset | firstbyte:<ms> (headers at once, first chunk after ms) | empty (200 with no
//   body) | ping (a stream: one SSE comment / blank NDJSON line, then the end, no event)
// `origin.modelModes[model]` overrides the mode for one (real) model name: one node serving a
// good and a failing model.
// Agent-contract knobs (every API): `origin.finish = "length"` ends answers as cut by the token
// limit (finish_reason length / stop_reason max_tokens / done_reason length); `origin.reasoning
// = {field, text}` adds reasoning before the answer (OpenAI paths under `field`, e.g. vLLM's
// `reasoning` or DeepSeek's `reasoning_content`; Ollama as `thinking`); `origin.fail = {status,
// body}` answers every inference call of any API with exactly that body.
// A chat whose last message is the assistant's (a prefill) is continued: the answer is what
// follows that text in the origin's answer. `origin.rejectPrefill` answers such a chat 400.
// Model management (Ollama): `POST /api/pull` streams progress and adds the model; `origin.pullMode`
// is ok | cut (reset after two lines) | error (an {"error"} line after one) | refuse (HTTP 500 at once).
// `DELETE /api/delete {model}` removes a model (404 when unknown).
// Anthropic (`POST /v1/messages`): `origin.anthropicError = {status, body, headers}` answers with
// exactly that body; `origin.rawStream = [piece, ...]` streams exactly those bytes (one write per
// piece); `origin.toolCalls` makes the first turn a tool_use (streamed as input_json_delta) and a
// turn that carries tool_result blocks answers "Tool said: <their text>"; `origin.thinking =
// {thinking, signature}` puts a signed thinking block first (streamed as thinking_delta then
// signature_delta); `origin.usageExtra` is merged into its usage (cache reads and writes).
// `origin.fail = {status, body}` answers every inference call of any API with exactly that body.
// `origin.pauseMs`: streams pause that long after their first chunk (a slow origin, keep-alives).
// Tool-call arguments given as a string are sent as that text (an empty string streams nothing).
// Every request is recorded with its path (query included), headers, parsed body and raw body text.
// Prompt caching: `origin.usage.cached` / `origin.usage.cacheWrite` (parts of `usage.prompt`) are
// reported the way each API does: OpenAI `prompt_tokens_details.cached_tokens`, Anthropic
// `cache_read_input_tokens` / `cache_creation_input_tokens` (its `input_tokens` then excludes
// them). Absent when 0, as the real APIs mostly do. `origin.embedTokens` is what an embedding costs.
import http from "node:http";

export async function startOrigin({ name = "origin", kind = "ollama", models = ["llama3:latest"], ps = [] } = {}) {
  const o = {
    name,
    kind,
    models,
    ps,
    mode: "ok",
    modelModes: {},
    rejectPrefill: false,
    pullMode: "ok",
    chunks: 3,
    chunkDelay: 5,
    usage: { prompt: 7, completion: 3, cached: 0, cacheWrite: 0 },
    embedTokens: 4,
    noUsage: false, // true: report no token counts at all (the gateway must estimate)
    extra: null, // an object merged into every inference answer and stream chunk (open-list tests)
    text: null,
    toolCalls: null,
    finish: null,
    fail: null,
    reasoning: null,
    catalog: null, // set: /api/tags and /v1/models answer this raw (a string or an object) instead of `models`
    requests: [],
    server: null,
    url: "",
    sockets: new Set(),
  };
  const reply = (res, status, body, headers = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };
  // The answer, or its rest after an assistant prefill the answer starts with.
  const words = (prefill = "") => {
    const full = o.text ?? `Hello from ${o.name}`;
    return (prefill && full.startsWith(prefill) ? full.slice(prefill.length) : full).split(/(?<= )/);
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const argText = (a) => (typeof a === "string" ? a : JSON.stringify(a));
  const openaiUsage = () => {
    const u = { prompt_tokens: o.usage.prompt, completion_tokens: o.usage.completion, total_tokens: o.usage.prompt + o.usage.completion };
    if (o.usage.cached) u.prompt_tokens_details = { cached_tokens: o.usage.cached };
    // `origin.usage.reasoning`: the part of the completion spent reasoning (OpenAI's details).
    if (o.usage.reasoning) u.completion_tokens_details = { reasoning_tokens: o.usage.reasoning };
    return u;
  };
  const anthropicInput = () => {
    const { prompt, cached = 0, cacheWrite = 0 } = o.usage;
    return { input_tokens: prompt - cached - cacheWrite, ...(cached ? { cache_read_input_tokens: cached } : {}), ...(cacheWrite ? { cache_creation_input_tokens: cacheWrite } : {}) };
  };

  o.server = http.createServer(async (req, res) => {
    let raw = "";
    for await (const c of req) raw += c;
    let body = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {}
    const rec = { method: req.method, path: req.url, headers: req.headers, body, raw };
    o.requests.push(rec);
    const path = req.url.split("?")[0];
    const last = Array.isArray(body?.messages) ? body.messages.at(-1) : null;
    const prefill = last?.role === "assistant" && typeof last.content === "string" ? last.content : "";
    if (prefill && o.rejectPrefill) return reply(res, 400, { error: { message: `${o.name} does not continue an assistant message`, type: "invalid_request_error" } });
    const mode = (typeof body?.model === "string" && o.modelModes[body.model]) || o.mode;

    // Probes and catalog always answer unless the node is "down".
    if (mode === "down" || mode === "reset") return req.socket.destroy();
    if (path === "/api/version" && req.method === "GET") return reply(res, 200, { version: "0.13.0" });
    if ((path === "/api/tags" || path === "/v1/models") && req.method === "GET" && o.catalog !== null) return reply(res, 200, o.catalog);
    if (path === "/api/tags") return reply(res, 200, { models: o.models.map((m) => ({ name: m, model: m, modified_at: "2026-01-01T00:00:00Z", size: 1000, digest: `sha256:${m}`, details: { family: "llama", format: "gguf", parameter_size: "8B", quantization_level: "Q4_0" } })) });
    if (path === "/api/ps") return reply(res, 200, { models: o.ps.map((m) => ({ name: m, model: m, size: 1000, size_vram: 1000, expires_at: "2026-12-01T00:00:00Z" })) });
    if (path === "/api/show") {
      const m = body?.model ?? body?.name;
      if (!o.models.includes(m)) return reply(res, 404, { error: `model '${m}' not found` });
      return reply(res, 200, { modelfile: "", parameters: "", template: "{{ .Prompt }}", details: { family: "llama" }, model_info: { "general.architecture": "llama", "llama.context_length": 8192 }, capabilities: ["completion", "tools"] });
    }
    if (path === "/v1/models" && req.method === "GET") return reply(res, 200, { object: "list", data: o.models.map((m) => ({ id: m, object: "model", owned_by: o.name, max_model_len: 16384 })) });

    if (path === "/api/pull" && req.method === "POST") {
      const m = body?.model ?? body?.name;
      if (o.pullMode === "refuse") return reply(res, 500, { error: "pull refused: disk full" });
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      const lines = [
        { status: "pulling manifest" },
        { status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", total: 2000, completed: 1000 },
        { status: "pulling 6a0746a1ec1a", digest: "sha256:6a0746a1ec1a", total: 2000, completed: 2000 },
        { status: "verifying sha256 digest" },
        { status: "writing manifest" },
        { status: "success" },
      ];
      for (let i = 0; i < lines.length; i++) {
        if (i === 1 && o.pullMode === "error") {
          res.write(JSON.stringify({ error: `pull model manifest: file does not exist for ${m}` }) + "\n");
          return res.end();
        }
        if (i === 2 && (o.pullMode === "cut" || mode === "cut")) return req.socket.destroy();
        res.write(JSON.stringify(lines[i]) + "\n");
        await sleep(o.chunkDelay);
      }
      if (!o.models.includes(m)) o.models.push(m);
      return res.end();
    }
    if (path === "/api/delete" && req.method === "DELETE") {
      const m = body?.model ?? body?.name;
      if (!o.models.includes(m)) return reply(res, 404, { error: `model '${m}' not found` });
      o.models = o.models.filter((x) => x !== m);
      res.writeHead(200);
      return res.end();
    }
    if (path === "/api/create" || path === "/api/push") {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      for (const line of [{ status: "working" }, { status: "success" }]) res.write(JSON.stringify(line) + "\n");
      return res.end();
    }
    if (path === "/api/copy") return reply(res, 200, {});
    const inferencePath = /\/(chat|generate|completions|messages)$/.test(path);
    if (o.fail && inferencePath && req.method === "POST") {
      res.writeHead(o.fail.status, { "content-type": "application/json" });
      return res.end(typeof o.fail.body === "string" ? o.fail.body : JSON.stringify(o.fail.body));
    }
    if (path === "/v1/messages") {
      if (o.anthropicError) {
        const e = o.anthropicError;
        res.writeHead(e.status, { "content-type": "application/json", ...(e.headers ?? {}) });
        return res.end(e.body);
      }
      if (o.rawStream && body?.stream) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (const piece of o.rawStream) {
          res.write(piece);
          await sleep(o.chunkDelay);
        }
        return res.end();
      }
      const model = body?.model;
      const last = body?.messages?.at(-1);
      const results = Array.isArray(last?.content) ? last.content.filter((b) => b.type === "tool_result") : [];
      const resultText = (r) => (typeof r.content === "string" ? r.content : (r.content ?? []).map((c) => c.text ?? "").join(""));
      const text = results.length ? `Tool said: ${results.map(resultText).join(" | ")}` : o.text ?? `Hello from ${o.name}`;
      const calls = o.toolCalls && !results.length ? o.toolCalls.map((t, i) => ({ type: "tool_use", id: `toolu_${i}`, name: t.function.name, input: t.function.arguments })) : [];
      const stop = calls.length ? "tool_use" : o.finish === "length" ? "max_tokens" : "end_turn";
      const think = o.thinking ? [{ type: "thinking", thinking: o.thinking.thinking, signature: o.thinking.signature }] : [];
      const usage = { ...anthropicInput(), output_tokens: o.usage.completion, ...(o.usageExtra ?? {}) };
      if (!body?.stream)
        return reply(res, 200, { id: "msg_up", type: "message", role: "assistant", model, content: [...think, { type: "text", text }, ...calls], stop_reason: stop, stop_sequence: null, usage }, { "request-id": "req_up" });
      res.writeHead(200, { "content-type": "text/event-stream", "request-id": "req_up" });
      const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      ev("message_start", { message: { id: "msg_up", type: "message", role: "assistant", model, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } });
      const t0 = think.length;
      if (t0) {
        ev("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "", signature: "" } });
        ev("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: o.thinking.thinking } });
        ev("content_block_delta", { index: 0, delta: { type: "signature_delta", signature: o.thinking.signature } });
        ev("content_block_stop", { index: 0 });
      }
      ev("content_block_start", { index: t0, content_block: { type: "text", text: "" } });
      let first = true;
      for (const w of text.split(/(?<= )/)) {
        ev("content_block_delta", { index: t0, delta: { type: "text_delta", text: w } });
        if (first && o.pauseMs) await sleep(o.pauseMs);
        first = false;
      }
      if (mode === "cut") return req.socket.destroy();
      ev("content_block_stop", { index: t0 });
      calls.forEach((c, i) => {
        const args = JSON.stringify(c.input);
        const half = Math.floor(args.length / 2);
        ev("content_block_start", { index: t0 + i + 1, content_block: { ...c, input: {} } });
        ev("content_block_delta", { index: t0 + i + 1, delta: { type: "input_json_delta", partial_json: args.slice(0, half) } });
        ev("content_block_delta", { index: t0 + i + 1, delta: { type: "input_json_delta", partial_json: args.slice(half) } });
        ev("content_block_stop", { index: t0 + i + 1 });
      });
      ev("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: o.usage.completion } });
      ev("message_stop", {});
      return res.end();
    }

    // Inference misbehaviours.
    if (mode === "hang") return; // never answer
    if (mode.startsWith("delay:")) await sleep(Number(mode.split(":")[1]));
    if (mode.startsWith("status:")) {
      const [, code, retry] = mode.split(":");
      return reply(res, Number(code), { error: { message: `${o.name} says ${code}` } }, retry ? { "retry-after": retry } : {});
    }
    if (mode === "empty") {
      res.writeHead(200, { "content-type": "application/json", "content-length": "0" });
      return res.end();
    }
    if (mode === "html") {
      res.writeHead(200, { "content-type": "text/html" });
      return res.end("<html><body>502 Bad Gateway</body></html>");
    }
    const model = body?.model;
    if (model && !o.models.includes(model) && !path.includes("embed")) {
      return reply(res, 404, kind === "openai" || path.startsWith("/v1/") ? { error: { message: `model '${model}' not found`, type: "invalid_request_error" } } : { error: `model '${model}' not found` });
    }
    if (path === "/api/embed") return reply(res, 200, { model, embeddings: [[0.1, 0.2, 0.3]], prompt_eval_count: o.embedTokens });
    if (path === "/api/embeddings") return reply(res, 200, { embedding: [0.1, 0.2, 0.3] });
    if (path === "/v1/embeddings") return reply(res, 200, { object: "list", model, data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2, 0.3] }], usage: { prompt_tokens: o.embedTokens, total_tokens: o.embedTokens } });

    // Like Ollama: an empty prompt only loads the model (it then shows in /api/ps).
    if (path === "/api/generate" && body?.prompt === "" && !o.ps.includes(model)) o.ps.push(model);
    const stream = body?.stream ?? (path.startsWith("/api/") ? true : false);
    const isChat = path === "/api/chat" || path === "/v1/chat/completions";
    const native = path.startsWith("/api/");
    if (!stream) {
      const text = words(prefill).join("");
      if (native) {
        const out = { model, created_at: new Date().toISOString(), done: true, done_reason: o.finish ?? "stop", ...(o.noUsage ? {} : { prompt_eval_count: o.usage.prompt, eval_count: o.usage.completion }) };
        if (isChat) out.message = { role: "assistant", content: text, ...(o.reasoning ? { thinking: o.reasoning.text } : {}), ...(o.toolCalls ? { tool_calls: o.toolCalls } : {}) };
        else if (o.reasoning) out.thinking = o.reasoning.text;
        else out.response = text;
        return reply(res, 200, { ...out, ...(o.extra ?? {}) });
      }
      const tc = o.toolCalls?.map((t, i) => ({ id: `call_${i}`, type: "function", function: { name: t.function.name, arguments: argText(t.function.arguments) } }));
      const choice = isChat ? { index: 0, message: { role: "assistant", content: text, ...(o.reasoning ? { [o.reasoning.field]: o.reasoning.text } : {}), ...(tc ? { tool_calls: tc } : {}) }, finish_reason: tc ? "tool_calls" : (o.finish ?? "stop") } : { index: 0, text, finish_reason: o.finish ?? "stop" };
      return reply(res, 200, { id: "cmpl-1", object: isChat ? "chat.completion" : "text_completion", created: 1, model, choices: [choice], ...(o.noUsage ? {} : { usage: openaiUsage() }), ...(o.extra ?? {}) });
    }
    // Streaming.
    res.writeHead(200, { "content-type": native ? "application/x-ndjson" : "text/event-stream" });
    if (mode === "ping") return res.end(native ? "\n" : ": keep-alive\n\n");
    if (mode.startsWith("firstbyte:")) await sleep(Number(mode.split(":")[1]));
    const parts = words(prefill);
    const n = Math.max(parts.length, o.chunks);
    const send = (obj) => ((obj = { ...obj, ...(o.extra ?? {}) }), res.write(native ? JSON.stringify(obj) + "\n" : `data: ${JSON.stringify(obj)}\n\n`));
    if (o.reasoning && isChat) {
      if (native) send({ model, created_at: new Date().toISOString(), message: { role: "assistant", content: "", thinking: o.reasoning.text }, done: false });
      else send({ id: "c1", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: { [o.reasoning.field]: o.reasoning.text }, finish_reason: null }] });
    }
    for (let i = 0; i < n; i++) {
      const piece = parts[i] ?? "";
      if (native) send({ model, created_at: new Date().toISOString(), ...(isChat ? { message: { role: "assistant", content: piece } } : { response: piece }), done: false });
      else send({ id: "c1", object: "chat.completion.chunk", created: 1, model, choices: [isChat ? { index: 0, delta: { content: piece }, finish_reason: null } : { index: 0, text: piece, finish_reason: null }] });
      if (i === 0 && mode === "malformed") res.write(native ? "{not json\n" : "data: {not json\n\n");
      if (i === 0 && mode === "cut0") return req.socket.destroy();
      if (i === 1 && mode === "cut") return req.socket.destroy();
      if (i === 0 && mode === "stall") return; // keeps the connection open, sends nothing more
      await sleep(i === 0 && o.pauseMs ? o.pauseMs : o.chunkDelay);
    }
    if (o.toolCalls && isChat) {
      if (native) send({ model, created_at: new Date().toISOString(), message: { role: "assistant", content: "", tool_calls: o.toolCalls }, done: false });
      else
        o.toolCalls.forEach((t, i) => {
          const args = argText(t.function.arguments);
          const half = Math.floor(args.length / 2);
          send({ id: "c1", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: { tool_calls: [{ index: i, id: `call_${i}`, type: "function", function: { name: t.function.name, arguments: args.slice(0, half) } }] }, finish_reason: null }] });
          send({ id: "c1", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: { tool_calls: [{ index: i, function: { arguments: args.slice(half) } }] }, finish_reason: null }] });
        });
    }
    if (mode === "nodone") return res.end();
    if (native) send({ model, created_at: new Date().toISOString(), ...(isChat ? { message: { role: "assistant", content: "" } } : { response: "" }), done: true, done_reason: o.finish ?? "stop", ...(o.noUsage ? {} : { prompt_eval_count: o.usage.prompt, eval_count: o.usage.completion }) });
    else {
      send({ id: "c1", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: {}, finish_reason: o.toolCalls && isChat ? "tool_calls" : (o.finish ?? "stop") }] });
      if (body?.stream_options?.include_usage && !o.noUsage) send({ id: "c1", object: "chat.completion.chunk", created: 1, model, choices: [], usage: openaiUsage() });
      res.write("data: [DONE]\n\n");
    }
    res.end();
  });
  o.server.on("connection", (s) => {
    o.sockets.add(s);
    s.on("close", () => o.sockets.delete(s));
  });
  await new Promise((r) => o.server.listen(0, "127.0.0.1", r));
  o.url = `http://127.0.0.1:${o.server.address().port}`;
  o.inference = () => o.requests.filter((r) => /\/(chat|generate|completions|embed|messages)/.test(r.path));
  o.reset = () => {
    o.requests = [];
    o.extra = null;
    o.mode = "ok";
    o.modelModes = {};
    o.pullMode = "ok";
    o.anthropicError = null;
    o.rawStream = null;
    o.fail = null;
    o.thinking = null;
    o.usageExtra = null;
    o.pauseMs = 0;
    o.finish = null;
    o.reasoning = null;
  };
  o.stop = () =>
    new Promise((r) => {
      for (const s of o.sockets) s.destroy();
      o.server.close(() => r());
    });
  return o;
}
