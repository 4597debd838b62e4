// Every client's own API (issue 8): Anthropic Messages and OpenAI Responses served from
// Ollama, OpenAI-compatible and Anthropic origins; Ollama-native requests served by an OpenAI
// origin; streamed tool calls; each dialect's errors in its own shape. Official SDKs included.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, ndjson, python, sseEvents } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, OL, OA, AN, token;
const WEATHER = [{ function: { name: "get_weather", arguments: { city: "Paris" } } }];

before(async () => {
  OL = await startOrigin({ name: "ollama", kind: "ollama", models: ["llama3:latest"] });
  OA = await startOrigin({ name: "openai", kind: "openai", models: ["gpt-4o-mini"] });
  AN = await startOrigin({ name: "anthropic", kind: "anthropic", models: ["claude-sonnet-4-5"] });
  env = await setup({ name: "dialects" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "timeouts.stream_idle_ms": 1000 });
  for (const [o, extra] of [[OL, {}], [OA, { api_key: "sk-openai-node" }], [AN, { api_key: "sk-ant-node" }]]) {
    const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url, ...extra }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  await admin.post("/model-mappings", { display_name: "gpt", real_name: "gpt-4o-mini" }, 201);
  await admin.post("/model-mappings", { display_name: "claude", real_name: "claude-sonnet-4-5" }, 201);
  token = (await admin.post("/users", { username: "dev", has_all_models: true }, 201)).token;
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

describe("Anthropic Messages", () => {
  for (const model of ["fast", "gpt", "claude"]) {
    test(`Anthropic SDK: create, stream, count_tokens and models on the '${model}' origin`, async () => {
      reset();
      const r = await python("dialects.py", [env.url, token, "anthropic_text", model]);
      assert.match(r.text, /^Hello from (ollama|openai|anthropic)$/);
      assert.equal(r.streamed, r.text);
      assert.deepEqual(r.usage, [7, 3]);
      assert.ok(r.count > 0);
      assert.ok(r.models.includes("claude") && r.models.includes("fast"));
    });
  }

  test("the Ollama origin gets a native /api/chat with the system prompt and context length", async () => {
    reset();
    await python("dialects.py", [env.url, token, "anthropic_text", "fast"]);
    const req = OL.inference().find((r) => r.path === "/api/chat");
    assert.equal(req.body.model, "llama3:latest");
    assert.equal(req.body.messages[0].role, "system");
    assert.equal(req.body.messages[0].content, "Be brief.");
    assert.ok(req.body.options.num_ctx > 0);
  });

  for (const [model, origin] of [["gpt", () => OA], ["fast", () => OL]]) {
    test(`Anthropic SDK: streamed tool calls become tool_use blocks ('${model}')`, async () => {
      reset();
      origin().toolCalls = WEATHER;
      const r = await python("dialects.py", [env.url, token, "anthropic_tools", model]);
      assert.deepEqual(r.input, { city: "Paris" });
      assert.deepEqual(r.streamed_input, { city: "Paris" });
      // The follow-up carried the tool result upstream in the origin's own shape.
      const last = origin().inference().at(-1).body;
      assert.ok(JSON.stringify(last.messages).includes("sunny"));
    });
  }

  test("an Anthropic node gets the request natively: its key, the client's version and betas, never the client's token", async () => {
    reset();
    const r = await getJson(`${env.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": token, "anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14", "content-type": "application/json" },
      body: JSON.stringify({ model: "claude", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.model, "claude");
    const up = AN.inference().at(-1);
    assert.equal(up.headers["x-api-key"], "sk-ant-node");
    assert.equal(up.headers["anthropic-beta"], "interleaved-thinking-2025-05-14");
    assert.equal(up.headers["anthropic-version"], "2023-06-01");
    assert.equal(up.body.model, "claude-sonnet-4-5");
    assert.ok(!JSON.stringify(up.headers).includes(token));
  });

  test("a translated stream cut midway ends with an Anthropic error event, never message_stop", async () => {
    reset();
    OA.mode = "cut";
    const r = await fetch(`${env.url}/v1/messages`, { method: "POST", headers: { "x-api-key": token, "content-type": "application/json" }, body: JSON.stringify({ model: "gpt", max_tokens: 50, stream: true, messages: [{ role: "user", content: "hi" }] }) });
    const text = await r.text();
    assert.match(text, /event: message_start/);
    assert.match(text, /event: error/);
    assert.doesNotMatch(text, /message_stop/);
  });

  test("errors come in Anthropic's shape", async () => {
    const bad = await getJson(`${env.url}/v1/messages`, { method: "POST", headers: { "x-api-key": "nope" }, body: "{}" });
    assert.equal(bad.status, 401);
    assert.deepEqual(Object.keys(bad.body).sort(), ["error", "type"]);
    assert.equal(bad.body.error.type, "authentication_error");
    const missing = await getJson(`${env.url}/v1/messages`, { method: "POST", headers: { "x-api-key": token }, body: JSON.stringify({ model: "nope", max_tokens: 5, messages: [{ role: "user", content: "x" }] }) });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.type, "not_found_error");
    const invalid = await getJson(`${env.url}/v1/messages`, { method: "POST", headers: { "x-api-key": token }, body: JSON.stringify({ model: "fast", messages: "x" }) });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.type, "invalid_request_error");
  });
});

describe("OpenAI Responses", () => {
  for (const model of ["fast", "gpt"]) {
    test(`OpenAI SDK: responses.create streamed and not ('${model}')`, async () => {
      reset();
      const r = await python("dialects.py", [env.url, token, "responses", model]);
      assert.match(r.text, /^Hello from/);
      assert.equal(r.streamed, r.text);
      assert.deepEqual(r.usage, [7, 3]);
      assert.ok(r.types.includes("response.output_text.delta"));
    });
  }

  test("function calls in Responses, streamed and not", async () => {
    reset();
    OA.toolCalls = WEATHER;
    const r = await python("dialects.py", [env.url, token, "responses_tools", "gpt"]);
    assert.equal(r.name, "get_weather");
  });
});

describe("Ollama-native requests on an OpenAI origin", () => {
  test("/api/chat streams, with tool calls arriving as Ollama tool_calls", async () => {
    reset();
    OA.toolCalls = WEATHER;
    const r = await fetch(`${env.url}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "gpt", messages: [{ role: "user", content: "weather?" }], tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }] }) });
    assert.equal(r.headers.get("content-type"), "application/x-ndjson");
    const lines = ndjson(await r.text());
    const calls = lines.flatMap((l) => l.message?.tool_calls ?? []);
    assert.equal(calls[0].function.name, "get_weather");
    assert.deepEqual(calls[0].function.arguments, { city: "Paris" }, "Ollama carries arguments as an object");
    assert.equal(lines.at(-1).done, true);
    assert.equal(lines.at(-1).eval_count, 3);
    assert.ok(lines.every((l) => l.model === "gpt"));
    assert.equal(OA.inference().at(-1).path, "/v1/chat/completions");
  });

  test("/api/generate and /api/embed are translated too", async () => {
    reset();
    const g = await getJson(`${env.url}/api/generate`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "gpt", prompt: "hi", stream: false }) });
    assert.equal(g.body.response, "Hello from openai");
    assert.equal(g.body.done, true);
    const e = await getJson(`${env.url}/api/embed`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "gpt", input: ["a"] }) });
    assert.deepEqual(e.body.embeddings, [[0.1, 0.2, 0.3]]);
    assert.equal(e.body.model, "gpt");
  });
});

const post = (path, body) => getJson(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

describe("Ollama answers carry every field Ollama's own do (issue 16)", () => {
  const METRICS = ["total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"];

  test("/api/embed and /api/embeddings from an OpenAI node", async () => {
    reset();
    const e = await post("/api/embed", { model: "gpt", input: "a" });
    assert.equal(e.status, 200);
    for (const k of ["total_duration", "load_duration", "prompt_eval_count"]) assert.equal(typeof e.body[k], "number", k);
    assert.equal(e.body.prompt_eval_count, 4);
    assert.ok(e.body.total_duration > 0);
    const legacy = await post("/api/embeddings", { model: "gpt", prompt: "a" });
    assert.equal(legacy.status, 200, JSON.stringify(legacy.body));
    assert.deepEqual(legacy.body, { embedding: [0.1, 0.2, 0.3] });
    assert.equal(OA.inference().at(-1).body.input, "a", "the legacy prompt travels as input");
  });

  for (const path of ["/api/chat", "/api/generate"]) {
    test(`${path} from an OpenAI node, final answers and final chunks`, async () => {
      reset();
      const body = path === "/api/chat" ? { model: "gpt", messages: [{ role: "user", content: "hi" }] } : { model: "gpt", prompt: "hi" };
      const whole = await post(path, { ...body, stream: false });
      for (const k of [...METRICS, "model", "created_at", "done", "done_reason"]) assert.ok(k in whole.body, `${k} in ${JSON.stringify(whole.body)}`);
      assert.ok(whole.body.eval_duration > 0 && whole.body.prompt_eval_duration > 0, "rates stay finite");
      assert.equal(whole.body.eval_count, 3);
      const r = await fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
      const lines = ndjson(await r.text());
      const last = lines.at(-1);
      assert.equal(last.done, true);
      for (const k of METRICS) assert.equal(typeof last[k], "number", `${k} in the final chunk`);
      assert.equal(last.prompt_eval_count, 7);
      for (const l of lines.slice(0, -1)) assert.deepEqual(Object.keys(l).sort(), path === "/api/chat" ? ["created_at", "done", "message", "model"] : ["created_at", "done", "model", "response"]);
    });
  }

  test("/api/tags: a unique, stable, Ollama-formatted digest per model, mappings included", async () => {
    // Two more names for models already listed: clients grouping by digest must still see four.
    await admin.post("/model-mappings", { display_name: "fast-alias", real_name: "llama3:latest" }, 201);
    await admin.post("/model-mappings", { display_name: "gpt-alias", real_name: "gpt-4o-mini" }, 201);
    const a = await getJson(`${env.url}/api/tags`, { headers: { authorization: `Bearer ${token}` } });
    const b = await getJson(`${env.url}/api/tags`, { headers: { authorization: `Bearer ${token}` } });
    const digests = a.body.models.map((m) => m.digest);
    assert.ok(a.body.models.length >= 4, JSON.stringify(a.body.models.map((m) => m.name)));
    assert.equal(new Set(digests).size, digests.length, JSON.stringify(a.body.models.map((m) => [m.name, m.digest])));
    for (const m of a.body.models) {
      assert.match(m.digest, /^[0-9a-f]{64}$/, m.name);
      for (const k of ["name", "model", "modified_at", "size", "digest", "details"]) assert.ok(k in m, k);
      for (const k of ["parent_model", "format", "family", "families", "parameter_size", "quantization_level"]) assert.ok(k in m.details, `${m.name} details.${k}`);
    }
    assert.deepEqual(b.body.models.map((m) => m.digest), digests, "stable");
    const show = await post("/api/show", { model: "gpt" });
    for (const k of ["modelfile", "parameters", "template", "details", "model_info", "capabilities", "modified_at"]) assert.ok(k in show.body, k);
    // An OpenAI node declares no capabilities: Ollama clients still see a chat model with tools
    // (llm-ollama and Copilot refuse tools otherwise; FINDINGS 2026-12-04 19:15).
    assert.deepEqual(show.body.capabilities, ["completion", "tools"]);
    const v = await getJson(`${env.url}/api/version`, { headers: { authorization: `Bearer ${token}` } });
    assert.match(v.body.version, /^\d+\.\d+\.\d+/);
  });
});

describe("open lists on same-dialect legs (issue 16)", () => {
  test("OpenAI chat to an OpenAI node: unknown fields, roles and parts reach the origin untouched", async () => {
    reset();
    const body = {
      model: "gpt",
      messages: [{ role: "system", content: "s" }, { role: "user", content: [{ type: "text", text: "hi" }, { type: "future_part", data: { x: 1 } }] }, { role: "critic", content: "new role" }],
      vendor_extension: { nested: [1, 2, { deep: true }] },
      reasoning_effort: "medium",
      stream: false,
    };
    const r = await post("/v1/chat/completions", body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const up = OA.inference().at(-1).body;
    assert.deepEqual(up.messages, body.messages);
    assert.deepEqual(up.vendor_extension, body.vendor_extension);
    assert.equal(up.reasoning_effort, "medium");
    assert.equal(up.model, "gpt-4o-mini");
    // And the answer's unknown fields come back untouched, streamed and not.
    OA.extra = { system_fingerprint: "fp_x", provider_fields: { cached: true } };
    const again = await post("/v1/chat/completions", body);
    assert.deepEqual(again.body.provider_fields, { cached: true });
    assert.equal(again.body.model, "gpt");
    const s = await fetch(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ ...body, stream: true }) });
    const chunks = sseEvents(await s.text()).filter((c) => c !== "[DONE]");
    assert.ok(chunks.length > 1 && chunks.every((c) => c.provider_fields?.cached === true && c.model === "gpt"));
  });

  test("Ollama chat to an Ollama node: unknown fields pass untouched; the origin's error body decides", async () => {
    reset();
    const body = { model: "fast", messages: [{ role: "user", content: "hi", future: 1 }, { role: "observer", content: "x" }], future_option: "v", options: { num_gpu: 2, mirostat: 1 }, stream: false };
    const r = await post("/api/chat", body);
    assert.equal(r.status, 200);
    const up = OL.inference().at(-1).body;
    assert.deepEqual(up.messages, body.messages);
    assert.equal(up.future_option, "v");
    assert.equal(up.options.mirostat, 1);
    OL.extra = { future_metric: 42 };
    const whole = await post("/api/chat", body);
    assert.equal(whole.body.future_metric, 42);
    const s = await fetch(`${env.url}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ ...body, stream: true }) });
    const lines = ndjson(await s.text());
    assert.ok(lines.every((l) => l.future_metric === 42 && l.model === "fast"));
    OL.mode = "status:400";
    const e = await post("/api/chat", body);
    assert.equal(e.status, 400);
    assert.match(e.body.error, /ollama says 400/);
  });

  test("Responses to a chat origin: unknown content part types travel as their text, never a 400", async () => {
    reset();
    const r = await post("/v1/responses", { model: "gpt", store: false, input: [{ role: "user", content: [{ type: "input_text", text: "a" }, { type: "future_text", text: "b" }, { type: "future_blob", data: 1 }] }] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const user = OA.inference().at(-1).body.messages.at(-1);
    const text = typeof user.content === "string" ? user.content : user.content.map((p) => p.text).join("\n");
    assert.equal(text, "a\nb", JSON.stringify(user));
    assert.ok(!JSON.stringify(user).includes("future_blob"));
  });
});
