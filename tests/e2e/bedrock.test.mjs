// Amazon Bedrock nodes (issue 23): every client dialect reaches a `bedrock` node through the
// Converse API, streamed (binary event-stream framing) and not, signed with SigV4 (checked by
// the fake with Node's crypto) or a Bedrock API key; tools round trip; usage (cache reads and
// writes included) reaches Postgres; discovery reads foundation models and inference profiles;
// Bedrock's errors (bad signature, throttling, validation, in-stream exceptions) reach each
// client in its own error format; the admin fields are validated and secrets never shown.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, sleep, sseEvents, ndjson } from "./helpers.mjs";
import { startBedrock } from "./fake-bedrock.mjs";

let env, admin, B, KEYED, node, token;
const SESSION = "IQoJb3JpZ2luX2VjEFAKE//session+token==";
const HAIKU = "anthropic.claude-3-haiku-20240307-v1:0";
const SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0";
const WEATHER = { name: "get_weather", input: { city: "Paris" } };
const TOOLS = [{ type: "function", function: { name: "get_weather", description: "Weather by city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];

before(async () => {
  B = await startBedrock({ sessionToken: SESSION, profilePageSize: 1 });
  KEYED = await startBedrock({ accessKeyId: "AKIAUNUSEDUNUSED0000", apiKey: "ABSKQmVkcm9ja0FQSUtleS1fake" });
  env = await setup({ name: "bedrock" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "timeouts.stream_idle_ms": 2000 });
  node = await admin.post("/nodes", { name: "bedrock-us", node_type: "bedrock", base_url: B.url, aws_region: "us-east-1", aws_access_key_id: B.accessKeyId, aws_secret_access_key: B.secretAccessKey, aws_session_token: SESSION }, 201);
  await admin.post(`/nodes/${node.id}/discover`, {}, 200);
  await admin.post("/model-mappings", { display_name: "haiku", real_name: HAIKU }, 201);
  await admin.post("/model-mappings", { display_name: "sonnet", real_name: SONNET }, 201);
  token = (await admin.post("/users", { username: "br-dev", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  for (const b of [B, KEYED]) await b?.stop();
});

const call = (path, body, { tok = token, headers = {} } = {}) =>
  fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${tok}`, "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const text = async (r) => {
  const t = await r.text();
  assert.equal(r.status, 200, t);
  return t;
};
const hi = [{ role: "system", content: "Be brief." }, { role: "user", content: "hi" }];

describe("admin fields and discovery", () => {
  test("a bedrock node needs a region and credentials; secrets are write-only", async () => {
    let r = await admin.post("/nodes", { name: "x", node_type: "bedrock", aws_access_key_id: "AKIAIOSFODNN7EXAMPLE", aws_secret_access_key: "s" }, 400);
    assert.equal(r.error.field, "aws_region");
    r = await admin.post("/nodes", { name: "x", node_type: "bedrock", aws_region: "us-east-1" }, 400);
    assert.equal(r.error.field, "api_key");
    r = await admin.post("/nodes", { name: "x", node_type: "bedrock", aws_region: "us-east-1", aws_access_key_id: "AKIAIOSFODNN7EXAMPLE" }, 400);
    assert.equal(r.error.field, "aws_secret_access_key");
    r = await admin.post("/nodes", { name: "x", node_type: "bedrock", aws_region: "moon-1", api_key: "k" }, 400);
    assert.equal(r.error.field, "aws_region");
    const v = await admin.get(`/nodes/${node.id}`);
    assert.equal(v.node_type, "bedrock");
    assert.equal(v.aws_region, "us-east-1");
    assert.equal(v.aws_access_key_id, B.accessKeyId);
    assert.equal(v.aws_secret_access_key_set, true);
    assert.equal(v.aws_session_token_set, true);
    assert.equal(v.bedrock_auth, "sigv4");
    const everything = JSON.stringify(await admin.get("/nodes")) + env.psql("SELECT string_agg(details::text, ' ') FROM audit_log") + env.psql("SELECT row_to_json(n)::text FROM nodes n");
    assert.ok(!everything.includes(B.secretAccessKey) && !everything.includes(SESSION), "no secret in views, audit log or rows");
    // Clearing the secret of a SigV4 node without an API key would leave it unusable.
    r = await admin.patch(`/nodes/${node.id}`, { aws_secret_access_key: null }, 400);
    assert.equal(r.error.field, "aws_secret_access_key");
  });

  test("discovery lists on-demand models and every inference profile, signed", async () => {
    const v = await admin.get(`/nodes/${node.id}`);
    const names = v.models.filter((m) => m.is_present).map((m) => m.model_name).sort();
    assert.deepEqual(names, [HAIKU, "meta.llama3-1-70b-instruct-v1:0", SONNET, "us.meta.llama3-1-70b-instruct-v1:0"]);
    const sonnet = v.models.find((m) => m.model_name === SONNET);
    assert.deepEqual(sonnet.capabilities, ["completion", "tools", "vision", "thinking"]);
    assert.equal(sonnet.family, "Anthropic");
    const listings = B.requests.filter((r) => r.method === "GET");
    assert.ok(listings.some((r) => r.path.startsWith("/foundation-models")));
    assert.equal(listings.filter((r) => r.path.startsWith("/inference-profiles")).length, 2, "both pages of profiles were read");
    assert.ok(listings.every((r) => r.auth === "sigv4" && r.headers["x-amz-security-token"] === SESSION), JSON.stringify(listings.map((r) => r.auth)));
    const h = await admin.post(`/nodes/${node.id}/health-check`, {}, 200);
    assert.equal(h.ok, true, JSON.stringify(h));
  });
});

describe("every client dialect, streamed and not", () => {
  const lastConverse = () => B.converse().at(-1);

  test("OpenAI chat", async () => {
    B.reset();
    const b = JSON.parse(await text(await call("/v1/chat/completions", { model: "haiku", messages: hi, max_tokens: 100, temperature: 0.4 })));
    assert.equal(b.choices[0].message.content, "Hello from bedrock");
    assert.equal(b.model, "haiku");
    assert.deepEqual([b.usage.prompt_tokens, b.usage.completion_tokens], [13, 3], "input + cache reads + cache writes");
    const req = lastConverse();
    assert.equal(req.path, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse");
    assert.equal(req.auth, "sigv4");
    assert.deepEqual(req.body.system, [{ text: "Be brief." }]);
    assert.deepEqual(req.body.inferenceConfig, { maxTokens: 100, temperature: 0.4 });
    const s = await text(await call("/v1/chat/completions", { model: "haiku", messages: hi, stream: true, stream_options: { include_usage: true } }));
    const ev = sseEvents(s);
    assert.equal(ev.filter((e) => e.choices?.[0]?.delta?.content).map((e) => e.choices[0].delta.content).join(""), "Hello from bedrock");
    assert.equal(ev.at(-1), "[DONE]");
    assert.equal(ev.find((e) => e.usage)?.usage.prompt_tokens, 13);
    assert.equal(lastConverse().path, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream");
  });

  test("OpenAI Responses", async () => {
    B.reset();
    const b = JSON.parse(await text(await call("/v1/responses", { model: "haiku", instructions: "Be brief.", input: "hi" })));
    assert.equal(b.output.find((o) => o.type === "message").content[0].text, "Hello from bedrock");
    assert.equal(b.usage.input_tokens, 13);
    const s = sseEvents(await text(await call("/v1/responses", { model: "haiku", input: "hi", stream: true })));
    assert.equal(s.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join(""), "Hello from bedrock");
    assert.equal(s.at(-1).type, "response.completed");
  });

  test("Anthropic Messages, with thinking on a Claude inference profile", async () => {
    B.reset();
    const body = { model: "sonnet", max_tokens: 4000, system: "Be brief.", messages: [{ role: "user", content: "hi" }], thinking: { type: "enabled", budget_tokens: 2048 } };
    const b = JSON.parse(await text(await call("/v1/messages", body, { headers: { "anthropic-version": "2023-06-01" } })));
    assert.equal(b.type, "message");
    assert.deepEqual(b.content.map((c) => c.type), ["thinking", "text"]);
    assert.equal(b.content[1].text, "Hello from bedrock");
    assert.equal(b.usage.output_tokens, 3);
    const req = lastConverse();
    assert.equal(req.path, "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse");
    assert.deepEqual(req.body.additionalModelRequestFields, { thinking: { type: "enabled", budget_tokens: 2048 } });
    const s = sseEvents(await text(await call("/v1/messages", { ...body, stream: true })));
    assert.equal(s[0].type, "message_start");
    assert.ok(s.some((e) => e.delta?.type === "thinking_delta" && e.delta.thinking === "Let me think."));
    assert.equal(s.filter((e) => e.delta?.type === "text_delta").map((e) => e.delta.text).join(""), "Hello from bedrock");
    assert.equal(s.at(-1).type, "message_stop");
  });

  test("Ollama /api/chat and /api/generate", async () => {
    B.reset();
    const c = JSON.parse(await text(await call("/api/chat", { model: "haiku", messages: hi, stream: false })));
    assert.equal(c.message.content, "Hello from bedrock");
    assert.equal(c.done, true);
    assert.deepEqual([c.prompt_eval_count, c.eval_count], [13, 3]);
    const lines = ndjson(await text(await call("/api/chat", { model: "haiku", messages: hi })));
    assert.equal(lines.map((l) => l.message?.content ?? "").join(""), "Hello from bedrock");
    assert.equal(lines.at(-1).done, true);
    const g = JSON.parse(await text(await call("/api/generate", { model: "haiku", prompt: "hi", system: "Be brief.", stream: false })));
    assert.equal(g.response, "Hello from bedrock");
    assert.deepEqual(lastConverse().body.system, [{ text: "Be brief." }]);
    const gl = ndjson(await text(await call("/api/generate", { model: "haiku", prompt: "hi" })));
    assert.equal(gl.map((l) => l.response ?? "").join(""), "Hello from bedrock");
    assert.equal(gl.at(-1).done, true);
  });
});

describe("tools", () => {
  test("OpenAI chat: a streamed toolUse becomes tool_calls, and the result goes back as toolResult", async () => {
    B.reset();
    B.toolCalls = WEATHER;
    const messages = [{ role: "user", content: "Weather in Paris?" }];
    const s = sseEvents(await text(await call("/v1/chat/completions", { model: "haiku", messages, tools: TOOLS, stream: true })));
    const calls = s.flatMap((e) => e.choices?.[0]?.delta?.tool_calls ?? []);
    assert.equal(calls[0].function.name, "get_weather");
    assert.deepEqual(JSON.parse(calls.map((c) => c.function.arguments ?? "").join("")), { city: "Paris" });
    assert.equal(s.find((e) => e.choices?.[0]?.finish_reason)?.choices[0].finish_reason, "tool_calls");
    const sent = B.converse().at(-1).body;
    assert.equal(sent.toolConfig.tools[0].toolSpec.name, "get_weather");
    assert.equal(sent.toolConfig.tools[0].toolSpec.inputSchema.json.required[0], "city");
    const id = calls[0].id;
    const follow = [...messages, { role: "assistant", content: null, tool_calls: [{ id, type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] }, { role: "tool", tool_call_id: id, content: "18C and sunny" }];
    const b = JSON.parse(await text(await call("/v1/chat/completions", { model: "haiku", messages: follow, tools: TOOLS })));
    assert.equal(b.choices[0].message.content, "Tool said: 18C and sunny");
    const back = B.converse().at(-1).body.messages;
    assert.deepEqual(back[1].content[0].toolUse.input, { city: "Paris" });
    assert.equal(back[2].content[0].toolResult.toolUseId, back[1].content[0].toolUse.toolUseId);
  });

  test("Anthropic Messages: tool_use not streamed, tool_result round trip", async () => {
    B.reset();
    B.toolCalls = WEATHER;
    const tools = [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }];
    const b = JSON.parse(await text(await call("/v1/messages", { model: "haiku", max_tokens: 200, tools, messages: [{ role: "user", content: "Weather?" }] })));
    const use = b.content.find((c) => c.type === "tool_use");
    assert.deepEqual(use.input, { city: "Paris" });
    assert.equal(b.stop_reason, "tool_use");
    const r = JSON.parse(await text(await call("/v1/messages", { model: "haiku", max_tokens: 200, tools, messages: [
      { role: "user", content: "Weather?" }, { role: "assistant", content: b.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "rainy" }] },
    ] })));
    assert.equal(r.content[0].text, "Tool said: rainy");
  });
});

describe("usage", () => {
  test("streamed and whole answers record Bedrock's counts (cache reads and writes as prompt tokens)", async () => {
    const t = (await admin.post("/users", { username: "br-meter", has_all_models: true }, 201)).token;
    await text(await call("/v1/chat/completions", { model: "haiku", messages: hi }, { tok: t }));
    await text(await call("/v1/chat/completions", { model: "haiku", messages: hi, stream: true }, { tok: t }));
    await text(await call("/api/chat", { model: "haiku", messages: hi }, { tok: t }));
    let rows = [];
    for (let i = 0; i < 40 && rows.length < 3; i++) {
      await sleep(250);
      await env.gw.scheduled();
      rows = JSON.parse(env.psql("SELECT COALESCE(json_agg(json_build_object('stream', stream, 'p', prompt_tokens, 'c', completion_tokens, 'cached', cached_tokens, 'written', cache_write_tokens, 'est', estimated, 'status', status, 'node', node_name, 'real', real_model) ORDER BY created_at), '[]') FROM usage_records WHERE username = 'br-meter'"));
    }
    assert.equal(rows.length, 3, JSON.stringify(rows));
    for (const row of rows) assert.deepEqual({ ...row, stream: undefined }, { stream: undefined, p: 13, c: 3, cached: 4, written: 2, est: false, status: 200, node: "bedrock-us", real: HAIKU });
    assert.deepEqual(rows.map((r) => r.stream), [false, true, true]);
  });
});

describe("errors in the client's format", () => {
  test("throttling: 429 ThrottlingException, before or inside the stream", async () => {
    B.reset();
    B.mode = "throttle";
    let r = await call("/v1/chat/completions", { model: "haiku", messages: hi });
    let b = await r.json();
    assert.equal(r.status, 429, JSON.stringify(b));
    assert.match(b.error.message, /ThrottlingException: Too many requests/);
    r = await call("/v1/messages", { model: "haiku", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    b = await r.json();
    assert.equal(r.status, 429);
    assert.equal(b.type, "error");
    assert.match(b.error.message, /ThrottlingException/);
    r = await call("/api/chat", { model: "haiku", messages: hi, stream: false });
    b = await r.json();
    assert.equal(r.status, 429);
    assert.match(b.error, /ThrottlingException/);
    B.mode = "stream-exception";
    r = await call("/v1/chat/completions", { model: "haiku", messages: hi, stream: true });
    b = await r.json();
    assert.equal(r.status, 429, "an exception as the first event is still an HTTP error");
    assert.match(b.error.message, /throttlingException: Too many tokens/);
    B.mode = "ok";
  });

  test("validation: 400 ValidationException with Bedrock's message, not retried", async () => {
    B.reset();
    B.mode = "validation";
    const r = await call("/v1/responses", { model: "haiku", input: "hi" });
    const b = await r.json();
    assert.equal(r.status, 400, JSON.stringify(b));
    assert.match(b.error.message, /ValidationException: The model returned the following errors/);
    assert.equal(B.converse().length, 1);
    // What Bedrock cannot take at all is the gateway's own 400.
    B.mode = "ok";
    const u = await call("/v1/chat/completions", { model: "haiku", messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }] });
    assert.equal(u.status, 400);
    assert.match((await u.json()).error.message, /image URLs/);
  });

  test("a model error mid-stream ends the stream with the dialect's in-band error", async () => {
    B.reset();
    B.mode = "midstream";
    const s = sseEvents(await text(await call("/v1/messages", { model: "haiku", max_tokens: 50, stream: true, messages: [{ role: "user", content: "hi" }] })));
    assert.ok(s.some((e) => e.type === "content_block_delta"), "text went out first");
    assert.equal(s.at(-1).type, "error");
    assert.match(s.at(-1).error.message, /modelStreamErrorException: The model stopped unexpectedly/);
    assert.ok(!s.some((e) => e.type === "message_stop"), "never a made-up end");
  });

  test("a bad signature is the node's fault: 502 in the client's format, the fake saw InvalidSignatureException", async () => {
    // A node that worked (and so has a catalog) whose secret is then replaced by a wrong one.
    const bad = await admin.post("/nodes", { name: "bedrock-bad", node_type: "bedrock", code: "brbad", base_url: B.url, aws_region: "us-east-1", aws_access_key_id: B.accessKeyId, aws_secret_access_key: B.secretAccessKey, aws_session_token: SESSION }, 201);
    await admin.post(`/nodes/${bad.id}/discover`, {}, 200);
    await admin.patch(`/nodes/${bad.id}`, { aws_secret_access_key: "wrong/secret" }, 200);
    await sleep(100);
    B.reset();
    const r = await call("/v1/chat/completions", { model: `node:brbad:haiku`, messages: hi });
    const b = await r.json();
    assert.equal(r.status, 502, JSON.stringify(b));
    assert.match(b.error.message, /refused the node's credentials \(HTTP 403\): InvalidSignatureException: The request signature we calculated does not match/);
    assert.equal(B.requests.at(-1).auth, "refused: InvalidSignatureException");
    const o = await call("/api/generate", { model: `node:brbad:haiku`, prompt: "hi", stream: false });
    assert.equal(o.status, 502);
    assert.match((await o.json()).error, /InvalidSignatureException/);
    const h = await admin.post(`/nodes/${bad.id}/health-check`, {}, 200);
    assert.equal(h.ok, false);
    assert.match(h.error, /HTTP 403: The request signature we calculated does not match/);
    await admin.del(`/nodes/${bad.id}`, 204);
  });
});

describe("API key mode", () => {
  test("a node with a Bedrock API key sends it as Bearer and signs nothing", async () => {
    const n = await admin.post("/nodes", { name: "bedrock-key", node_type: "bedrock", code: "brkey", base_url: KEYED.url, aws_region: "us-west-2", api_key: KEYED.apiKey }, 201);
    assert.equal(n.bedrock_auth, "api_key");
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
    const r = JSON.parse(await text(await call("/v1/chat/completions", { model: `node:brkey:haiku`, messages: hi })));
    assert.equal(r.choices[0].message.content, "Hello from bedrock");
    const s = ndjson(await text(await call("/api/chat", { model: `node:brkey:haiku`, messages: hi })));
    assert.equal(s.at(-1).done, true);
    assert.ok(KEYED.requests.length >= 4);
    for (const req of KEYED.requests) {
      assert.equal(req.auth, "api_key");
      assert.equal(req.headers.authorization, `Bearer ${KEYED.apiKey}`);
      assert.equal(req.headers["x-amz-date"], undefined);
    }
    await admin.patch(`/nodes/${n.id}`, { api_key: "not-the-key" }, 200);
    await sleep(100);
    const refused = await call("/v1/chat/completions", { model: `node:brkey:haiku`, messages: hi });
    assert.equal(refused.status, 502);
    assert.match((await refused.json()).error.message, /UnrecognizedClientException/);
    await admin.del(`/nodes/${n.id}`, 204);
  });
});
