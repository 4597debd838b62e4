// Node `http` flavour of the benchmark's fake origin: the same protocol as bench/origin
// (Rust), so `--origin node` can be compared with it. See bench/origin/src/main.rs for the
// routes and the per-request timing fields (bench_ttft_us, bench_chunks, bench_chunk_delay_us).
// usage: node bench/origin-node.mjs [--port 0] [--ttft-us 0] [--chunks 200] [--chunk-delay-us 1000]
import http from "node:http";

const MODEL = "bench-llm:latest";
const arg = (name, d) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const defaults = { ttft: arg("--ttft-us", 0), chunks: arg("--chunks", 200), delay: arg("--chunk-delay-us", 1000) };
// Timers have millisecond granularity; below 1 ms we only yield to the event loop.
const sleepUs = (us) => new Promise((r) => (us >= 1000 ? setTimeout(r, us / 1000) : us > 0 ? setImmediate(r) : r()));
const ts = "2026-01-01T00:00:00.000000000Z";
const text = "Hello from the bench origin. ".repeat(4);

const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, async (req, res) => {
  const parts = [];
  for await (const c of req) parts.push(c);
  const raw = Buffer.concat(parts).toString();
  const path = req.url.split("?")[0];
  const json = (code, body) => {
    const b = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(b) });
    res.end(b);
  };
  if (req.method === "GET" && path === "/api/version") return json(200, { version: "0.13.0" });
  if (req.method === "GET" && path === "/api/tags") return json(200, { models: [{ name: MODEL, model: MODEL, modified_at: "2026-01-01T00:00:00Z", size: 1000, digest: "sha256:bench", details: { family: "llama", format: "gguf", parameter_size: "8B", quantization_level: "Q4_0" } }] });
  if (req.method === "GET" && path === "/api/ps") return json(200, { models: [] });
  if (req.method === "POST" && path === "/api/show") return json(200, { modelfile: "", parameters: "", template: "{{ .Prompt }}", details: { family: "llama" }, model_info: { "general.architecture": "llama", "llama.context_length": 8192 }, capabilities: ["completion", "tools"] });
  if (req.method === "GET" && path === "/v1/models") return json(200, { object: "list", data: [{ id: MODEL, object: "model", owned_by: "bench", max_model_len: 8192 }] });
  if (req.method !== "POST" || !["/api/chat", "/api/generate", "/v1/chat/completions", "/v1/completions"].includes(path)) return json(404, { error: "not found" });

  const body = raw ? JSON.parse(raw) : {};
  const native = path.startsWith("/api/");
  const chat = path.endsWith("chat") || path.endsWith("chat/completions");
  const model = body.model ?? MODEL;
  const stream = body.stream ?? native;
  const t = { ttft: body.bench_ttft_us ?? defaults.ttft, chunks: body.bench_chunks ?? defaults.chunks, delay: body.bench_chunk_delay_us ?? defaults.delay };
  if (!stream) {
    await sleepUs(t.ttft);
    const usage = { prompt_tokens: 12, completion_tokens: 24, total_tokens: 36 };
    if (native) return json(200, { model, created_at: ts, ...(chat ? { message: { role: "assistant", content: text } } : { response: text }), done: true, done_reason: "stop", prompt_eval_count: 12, eval_count: 24 });
    return json(200, chat
      ? { id: "chatcmpl-bench", object: "chat.completion", created: 1767225600, model, choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }], usage }
      : { id: "cmpl-bench", object: "text_completion", created: 1767225600, model, choices: [{ index: 0, text, finish_reason: "stop" }], usage });
  }
  res.writeHead(200, { "content-type": native ? "application/x-ndjson" : "text/event-stream" });
  res.flushHeaders();
  await sleepUs(t.ttft);
  const obj = chat ? "chat.completion.chunk" : "text_completion";
  for (let i = 0; i < t.chunks; i++) {
    if (i > 0) await sleepUs(t.delay);
    const piece = `tok${i} `;
    if (native) res.write(JSON.stringify({ model, created_at: ts, ...(chat ? { message: { role: "assistant", content: piece } } : { response: piece }), done: false }) + "\n");
    else res.write(`data: ${JSON.stringify({ id: "chatcmpl-bench", object: obj, created: 1767225600, model, choices: [chat ? { index: 0, delta: { content: piece }, finish_reason: null } : { index: 0, text: piece, finish_reason: null }] })}\n\n`);
  }
  await sleepUs(t.delay);
  const n = t.chunks;
  if (native) {
    res.end(JSON.stringify({ model, created_at: ts, ...(chat ? { message: { role: "assistant", content: "" } } : { response: "" }), done: true, done_reason: "stop", prompt_eval_count: 12, eval_count: n }) + "\n");
  } else {
    let tail = `data: ${JSON.stringify({ id: "chatcmpl-bench", object: obj, created: 1767225600, model, choices: [chat ? { index: 0, delta: {}, finish_reason: "stop" } : { index: 0, text: "", finish_reason: "stop" }] })}\n\n`;
    if (body.stream_options?.include_usage) tail += `data: ${JSON.stringify({ id: "chatcmpl-bench", object: obj, created: 1767225600, model, choices: [], usage: { prompt_tokens: 12, completion_tokens: n, total_tokens: n + 12 } })}\n\n`;
    res.end(tail + "data: [DONE]\n\n");
  }
});
server.listen(arg("--port", 0), "127.0.0.1", () => console.log(`listening ${server.address().port}`));
