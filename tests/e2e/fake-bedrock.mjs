// A fake Amazon Bedrock (no model runs here) that checks what the real one checks: every
// request must carry a valid SigV4 signature (recomputed here with Node's crypto, independent of
// the gateway's Rust signer: canonical request with the path double-encoded, signed headers,
// payload hash, scope, clock skew, session token) or the configured Bedrock API key
// (`Authorization: Bearer`). Refusals use Bedrock's error shape: the `x-amzn-errortype` header
// and a `{"message"}` body.
//
// Serves: GET /foundation-models, GET /inference-profiles (paged by maxResults/nextToken),
// POST /model/{modelId}/converse (JSON) and /converse-stream (binary AWS event-stream framing,
// prelude and message CRC32, each message written in two pieces so the gateway's decoder sees
// splits). `b.mode`: ok | throttle (429 ThrottlingException) | validation (400
// ValidationException) | stream-exception (200, then a throttlingException event first) |
// midstream (text, then a modelStreamErrorException event). `b.toolCalls` makes the first turn a
// toolUse; a turn carrying toolResult blocks answers "Tool said: <their text>". Requests are
// recorded with method, path, headers, parsed body and whether their signature checked out.
import http from "node:http";
import crypto from "node:crypto";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One event-stream message with string headers. */
export function eventMessage(headers, payload) {
  const hs = Buffer.concat(
    Object.entries(headers).map(([k, v]) => {
      const name = Buffer.from(k);
      const value = Buffer.from(v);
      const h = Buffer.alloc(1 + name.length + 1 + 2 + value.length);
      h[0] = name.length;
      name.copy(h, 1);
      h[1 + name.length] = 7;
      h.writeUInt16BE(value.length, 2 + name.length);
      value.copy(h, 4 + name.length);
      return h;
    }),
  );
  const body = Buffer.from(typeof payload === "string" ? payload : JSON.stringify(payload));
  const total = 16 + hs.length + body.length;
  const msg = Buffer.alloc(total);
  msg.writeUInt32BE(total, 0);
  msg.writeUInt32BE(hs.length, 4);
  msg.writeUInt32BE(crc32(msg.subarray(0, 8)), 8);
  hs.copy(msg, 12);
  body.copy(msg, 12 + hs.length);
  msg.writeUInt32BE(crc32(msg.subarray(0, total - 4)), total - 4);
  return msg;
}

const event = (type, payload) => eventMessage({ ":event-type": type, ":content-type": "application/json", ":message-type": "event" }, payload);
const exception = (type, message) => eventMessage({ ":exception-type": type, ":content-type": "application/json", ":message-type": "exception" }, { message });

const sha256 = (data) => crypto.createHash("sha256").update(data).digest("hex");
const hmac = (key, data) => crypto.createHmac("sha256", key).update(data).digest();
const enc = (s, keepSlash) => Array.from(Buffer.from(s, "utf8")).map((b) => {
  const c = String.fromCharCode(b);
  return /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/") ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
}).join("");

/** Why the request's SigV4 signature is wrong, or null when it checks out. */
export function checkSignature(req, rawBody, { accessKeyId, secretAccessKey, sessionToken, region, service = "bedrock", now = Date.now() }) {
  const auth = req.headers.authorization ?? "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return ["IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."];
  const [, key, date, reg, svc, signedHeaders, signature] = m;
  if (key !== accessKeyId) return ["UnrecognizedClientException", "The security token included in the request is invalid."];
  const amzDate = req.headers["x-amz-date"] ?? "";
  if (!amzDate.startsWith(date) || reg !== region || svc !== service) return ["InvalidSignatureException", `Credential should be scoped to a valid region, service and date (${date}/${reg}/${svc}).`];
  const t = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (!(Math.abs(now - t) < 5 * 60_000)) return ["InvalidSignatureException", "Signature expired: the request time is more than 5 minutes from the server time."];
  const names = signedHeaders.split(";");
  for (const need of ["host", "x-amz-date", ...(sessionToken ? ["x-amz-security-token"] : [])]) {
    if (!names.includes(need)) return ["InvalidSignatureException", `'${need}' must be a signed header.`];
  }
  if (sessionToken && req.headers["x-amz-security-token"] !== sessionToken) return ["UnrecognizedClientException", "The security token included in the request is invalid."];
  const [path, query = ""] = req.url.split("?");
  const canonicalQuery = query
    .split("&")
    .filter(Boolean)
    .map((p) => p.split("=").map((x) => enc(decodeURIComponent(x ?? ""), false)))
    .map(([k, v = ""]) => `${k}=${v}`)
    .sort()
    .join("&");
  const headers = names.map((n) => `${n}:${String(req.headers[n] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const creq = [req.method, enc(path, true), canonicalQuery, headers, signedHeaders, sha256(rawBody)].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const sts = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(creq)].join("\n");
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date), region), service), "aws4_request");
  const expected = hmac(kSigning, sts).toString("hex");
  if (expected !== signature) return ["InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."];
  return null;
}

export const FOUNDATION_MODELS = [
  { modelId: "anthropic.claude-3-haiku-20240307-v1:0", modelName: "Claude 3 Haiku", providerName: "Anthropic", inputModalities: ["TEXT", "IMAGE"], outputModalities: ["TEXT"], responseStreamingSupported: true, inferenceTypesSupported: ["ON_DEMAND"], modelLifecycle: { status: "ACTIVE" } },
  { modelId: "anthropic.claude-sonnet-4-20250514-v1:0", modelName: "Claude Sonnet 4", providerName: "Anthropic", inputModalities: ["TEXT", "IMAGE"], outputModalities: ["TEXT"], responseStreamingSupported: true, inferenceTypesSupported: ["INFERENCE_PROFILE"], modelLifecycle: { status: "ACTIVE" } },
  { modelId: "meta.llama3-1-70b-instruct-v1:0", modelName: "Llama 3.1 70B Instruct", providerName: "Meta", inputModalities: ["TEXT"], outputModalities: ["TEXT"], responseStreamingSupported: true, inferenceTypesSupported: ["ON_DEMAND"], modelLifecycle: { status: "ACTIVE" } },
  { modelId: "anthropic.claude-v2:0:18k", modelName: "Claude", providerName: "Anthropic", inputModalities: ["TEXT"], outputModalities: ["TEXT"], inferenceTypesSupported: ["PROVISIONED"], modelLifecycle: { status: "ACTIVE" } },
  { modelId: "amazon.titan-embed-text-v2:0", modelName: "Titan Text Embeddings V2", providerName: "Amazon", inputModalities: ["TEXT"], outputModalities: ["EMBEDDING"], inferenceTypesSupported: ["ON_DEMAND"], modelLifecycle: { status: "ACTIVE" } },
].map((m) => ({ modelArn: `arn:aws:bedrock:us-east-1::foundation-model/${m.modelId}`, ...m }));

export const PROFILES = [
  { inferenceProfileId: "us.anthropic.claude-sonnet-4-20250514-v1:0", inferenceProfileName: "US Claude Sonnet 4", status: "ACTIVE", type: "SYSTEM_DEFINED",
    models: ["us-east-1", "us-west-2"].map((r) => ({ modelArn: `arn:aws:bedrock:${r}::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0` })) },
  { inferenceProfileId: "us.meta.llama3-1-70b-instruct-v1:0", inferenceProfileName: "US Llama 3.1 70B", status: "ACTIVE", type: "SYSTEM_DEFINED",
    models: [{ modelArn: "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-70b-instruct-v1:0" }] },
];

const CONVERSE_KEYS = new Set(["messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig", "additionalModelRequestFields", "additionalModelResponseFieldPaths", "promptVariables", "requestMetadata", "performanceConfig"]);

export async function startBedrock({ region = "us-east-1", accessKeyId = "AKIAFAKEBEDROCK00001", secretAccessKey = "fake/secret+key/0123456789abcdefghijklmn", sessionToken = null, apiKey = "bedrock-api-key-fake-0001", profilePageSize = 1000 } = {}) {
  const b = { region, accessKeyId, secretAccessKey, sessionToken, apiKey, profilePageSize, mode: "ok", toolCalls: null, text: "Hello from bedrock", usage: { inputTokens: 7, outputTokens: 3, cacheReadInputTokens: 4, cacheWriteInputTokens: 2 }, requests: [], url: "", server: null };
  const refuse = (res, status, type, message) => {
    res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, "x-amzn-requestid": crypto.randomUUID() });
    res.end(JSON.stringify({ message }));
  };
  const answer = (body) => {
    const last = body.messages.at(-1);
    const results = (last?.content ?? []).filter((c) => c.toolResult).map((c) => c.toolResult.content.map((x) => x.text).join(""));
    if (results.length) return { text: `Tool said: ${results.join(" ")}` };
    if (b.toolCalls && body.toolConfig) return { tool: b.toolCalls };
    return { text: b.text, reasoning: body.additionalModelRequestFields?.thinking ? "Let me think." : null };
  };
  const usage = () => ({ ...b.usage, totalTokens: b.usage.inputTokens + b.usage.outputTokens + (b.usage.cacheReadInputTokens ?? 0) + (b.usage.cacheWriteInputTokens ?? 0) });

  b.server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks);
    let body = null;
    try {
      body = raw.length ? JSON.parse(raw.toString("utf8")) : null;
    } catch {}
    const rec = { method: req.method, path: req.url, headers: req.headers, body, auth: null };
    b.requests.push(rec);
    const authz = req.headers.authorization ?? "";
    if (authz.startsWith("Bearer ")) {
      rec.auth = "api_key";
      if (authz.slice(7) !== b.apiKey) return refuse(res, 403, "UnrecognizedClientException", "Invalid API Key format: Must start with pre-defined prefix");
    } else {
      const bad = checkSignature(req, raw, b);
      rec.auth = bad ? `refused: ${bad[0]}` : "sigv4";
      if (bad) return refuse(res, 403, bad[0], bad[1]);
    }
    const [path, query = ""] = req.url.split("?");
    const q = new URLSearchParams(query);
    if (req.method === "GET" && path === "/foundation-models") {
      const out = q.get("byOutputModality");
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ modelSummaries: FOUNDATION_MODELS.filter((m) => !out || m.outputModalities.includes(out)) }));
    }
    if (req.method === "GET" && path === "/inference-profiles") {
      const size = Math.min(Number(q.get("maxResults") ?? 1000), b.profilePageSize);
      const start = Number(q.get("nextToken") ?? 0);
      const page = PROFILES.slice(start, start + size);
      const next = start + size < PROFILES.length ? String(start + size) : undefined;
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ inferenceProfileSummaries: page, ...(next ? { nextToken: next } : {}) }));
    }
    const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(path);
    if (req.method !== "POST" || !m) return refuse(res, 404, "UnknownOperationException", `no operation ${req.method} ${path}`);
    const modelId = decodeURIComponent(m[1]);
    rec.modelId = modelId;
    const known = FOUNDATION_MODELS.some((f) => f.modelId === modelId && f.inferenceTypesSupported.includes("ON_DEMAND")) || PROFILES.some((p) => p.inferenceProfileId === modelId);
    if (!known) return refuse(res, 400, "ValidationException", "The provided model identifier is invalid.");
    if (!body || !Array.isArray(body.messages)) return refuse(res, 400, "ValidationException", "Malformed input request: required key [messages] not found");
    const extra = Object.keys(body).filter((k) => !CONVERSE_KEYS.has(k));
    if (extra.length) return refuse(res, 400, "ValidationException", `Malformed input request: extraneous key [${extra[0]}] is not permitted`);
    if (b.mode === "throttle") return refuse(res, 429, "ThrottlingException", "Too many requests, please wait before trying again.");
    if (b.mode === "validation") return refuse(res, 400, "ValidationException", "The model returned the following errors: messages: roles must alternate between \"user\" and \"assistant\"");
    const a = answer(body);
    const stopReason = a.tool ? "tool_use" : "end_turn";
    if (m[2] === "converse") {
      const content = [];
      if (a.reasoning) content.push({ reasoningContent: { reasoningText: { text: a.reasoning, signature: "sig-fake" } } });
      if (a.text) content.push({ text: a.text });
      if (a.tool) content.push({ toolUse: { toolUseId: "tooluse_fake_1", name: a.tool.name, input: a.tool.input } });
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ output: { message: { role: "assistant", content } }, stopReason, usage: usage(), metrics: { latencyMs: 12 } }));
    }
    res.writeHead(200, { "content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": crypto.randomUUID() });
    const send = async (msg) => {
      // Two writes per message: the gateway must reassemble messages split anywhere.
      const cut = 1 + Math.floor(msg.length / 3);
      res.write(msg.subarray(0, cut));
      await new Promise((r) => setTimeout(r, 2));
      res.write(msg.subarray(cut));
    };
    if (b.mode === "stream-exception") {
      await send(exception("throttlingException", "Too many tokens, please wait before trying again."));
      return res.end();
    }
    await send(event("messageStart", { role: "assistant", p: "abcd" }));
    let block = 0;
    if (a.reasoning) {
      await send(event("contentBlockDelta", { contentBlockIndex: block, delta: { reasoningContent: { text: a.reasoning } } }));
      await send(event("contentBlockDelta", { contentBlockIndex: block, delta: { reasoningContent: { signature: "sig-fake" } } }));
      await send(event("contentBlockStop", { contentBlockIndex: block++ }));
    }
    if (a.text) {
      for (const piece of a.text.split(/(?<= )/)) await send(event("contentBlockDelta", { contentBlockIndex: block, delta: { text: piece }, p: "ab" }));
      if (b.mode === "midstream") {
        await send(exception("modelStreamErrorException", "The model stopped unexpectedly."));
        return res.end();
      }
      await send(event("contentBlockStop", { contentBlockIndex: block++ }));
    }
    if (a.tool) {
      await send(event("contentBlockStart", { contentBlockIndex: block, start: { toolUse: { toolUseId: "tooluse_fake_1", name: a.tool.name } } }));
      const args = JSON.stringify(a.tool.input);
      const half = Math.floor(args.length / 2);
      await send(event("contentBlockDelta", { contentBlockIndex: block, delta: { toolUse: { input: args.slice(0, half) } } }));
      await send(event("contentBlockDelta", { contentBlockIndex: block, delta: { toolUse: { input: args.slice(half) } } }));
      await send(event("contentBlockStop", { contentBlockIndex: block++ }));
    }
    await send(event("messageStop", { stopReason }));
    await send(event("metadata", { usage: usage(), metrics: { latencyMs: 12 } }));
    res.end();
  });
  await new Promise((r) => b.server.listen(0, "127.0.0.1", r));
  b.url = `http://127.0.0.1:${b.server.address().port}`;
  b.reset = () => {
    b.requests = [];
    b.mode = "ok";
    b.toolCalls = null;
  };
  b.converse = () => b.requests.filter((r) => r.modelId);
  b.stop = () => new Promise((r) => b.server.close(r));
  return b;
}
