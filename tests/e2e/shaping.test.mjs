// Request shaping and model-output repair (issue 7): DeepSeek/Kimi raw tool calls become
// tool_calls the OpenAI SDK parses (golden transcripts), think splitting, native tool calls,
// tool filtering with a live tool-set link, parameter stripping, maintenance, images, system
// prompts recomputed on failover, context and keep-alive; and Ollama model management.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, getJson, ndjson, sseEvents, python, sleep } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, A, B, O, token;
const nodes = {};

const DEEPSEEK =
  'Sure, checking.<｜DSML｜function_calls><｜DSML｜invoke name="get_weather"><｜DSML｜parameter name="city" string="true">Paris</｜DSML｜parameter></｜DSML｜invoke></｜DSML｜function_calls>';
const KIMI = 'Checking. <|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|><|tool_calls_section_end|>';

before(async () => {
  A = await startOrigin({ name: "a", models: ["deepseek-v3:latest", "kimi-k2:latest", "qwen3:8b", "llama3:latest"] });
  B = await startOrigin({ name: "b", models: ["llama3:latest"] });
  O = await startOrigin({ name: "o", kind: "openai", models: ["gpt-4o-mini"] });
  for (const o of [A, B, O]) o.chunkDelay = 1;
  env = await setup({ name: "shaping" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "timeouts.stream_idle_ms": 1000, "routing.cooldown_ms": 300, "ollama.keep_alive": "10m" });
  for (const [o, p] of [[A, 10], [B, 20], [O, 10]]) {
    const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url, priority: p }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
    nodes[o.name] = n.id;
  }
  await admin.post("/model-mappings", { display_name: "ds", real_name: "deepseek-v3:latest" }, 201);
  await admin.post("/model-mappings", { display_name: "kimi", real_name: "kimi-k2:latest" }, 201);
  await admin.post("/model-mappings", { display_name: "thinker", real_name: "qwen3:8b", capabilities: ["completion", "thinking"] }, 201);
  await admin.post("/model-mappings", { display_name: "plain", real_name: "llama3:latest", context_length: 4096, capabilities: ["completion", "tools"] }, 201);
  token = (await admin.post("/users", { username: "shaper", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  for (const o of [A, B, O]) await o?.stop();
});

const reset = async () => {
  for (const o of [A, B, O]) {
    o.reset();
    o.text = null;
    o.toolCalls = null;
  }
  await sleep(320);
};
const call = (path, body) => fetch(`${env.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
const chat = (model, extra = {}) => ({ model, messages: [{ role: "user", content: "weather?" }], ...extra });

describe("raw tool-call repair", () => {
  test("golden DeepSeek DSML transcript becomes tool_calls the OpenAI SDK parses (streamed and not)", async () => {
    await reset();
    A.text = DEEPSEEK;
    const r = await python("dialects.py", [env.url, token, "openai_tools", "ds"]);
    assert.equal(r.name, "get_weather");
    assert.deepEqual(r.args, { city: "Paris" });
    assert.equal(r.content, "Sure, checking.");
    assert.deepEqual(r.streamed_args, { 0: { city: "Paris" } });
  });

  test("golden Kimi K2 transcript becomes tool_calls the OpenAI SDK parses (streamed and not)", async () => {
    await reset();
    A.text = KIMI;
    const r = await python("dialects.py", [env.url, token, "openai_tools", "kimi"]);
    assert.equal(r.name, "get_weather");
    assert.deepEqual(r.args, { city: "Paris" });
    assert.deepEqual(r.streamed_names, { 0: "get_weather" });
  });

  test("on the native route the repaired call arrives as Ollama message.tool_calls; text around it is kept", async () => {
    await reset();
    A.text = `${DEEPSEEK} Done.`;
    const lines = ndjson(await (await call("/api/chat", chat("ds"))).text());
    const calls = lines.flatMap((l) => l.message?.tool_calls ?? []);
    assert.equal(calls[0].function.name, "get_weather");
    assert.deepEqual(calls[0].function.arguments, { city: "Paris" });
    const text = lines.map((l) => l.message?.content ?? "").join("");
    assert.match(text, /^Sure, checking\./);
    assert.match(text, /Done\.$/);
    assert.doesNotMatch(text, /DSML|invoke/);
    assert.equal(lines.at(-1).done, true);
  });
});

describe("think splitting", () => {
  test("<think> becomes reasoning_content (OpenAI) and message.thinking (Ollama), split across chunks", async () => {
    await reset();
    A.text = "<think>plan it </think>The answer";
    const r = await getJson(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(chat("thinker")) });
    assert.equal(r.body.choices[0].message.reasoning_content, "plan it");
    assert.equal(r.body.choices[0].message.content, "The answer");
    const s = sseEvents(await (await call("/v1/chat/completions", chat("thinker", { stream: true }))).text());
    assert.equal(s.map((e) => e.choices?.[0]?.delta?.reasoning_content ?? "").join(""), "plan it");
    assert.equal(s.map((e) => e.choices?.[0]?.delta?.content ?? "").join(""), "The answer");
    assert.equal(s.at(-1), "[DONE]");
    const o = ndjson(await (await call("/api/chat", chat("thinker"))).text());
    assert.equal(o.map((l) => l.message?.thinking ?? "").join(""), "plan it");
    assert.equal(o.map((l) => l.message?.content ?? "").join(""), "The answer");
  });

  test("a model without the thinking capability is passed through untouched", async () => {
    await reset();
    A.text = "<think>x</think>y";
    const r = await getJson(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(chat("plain")) });
    assert.equal(r.body.choices[0].message.content, "<think>x</think>y");
  });
});

describe("native tool calls", () => {
  test("Ollama tools and message.tool_calls pass through intact, streamed and not", async () => {
    await reset();
    A.toolCalls = [{ function: { name: "get_weather", arguments: { city: "Paris" } } }];
    const tools = [{ type: "function", function: { name: "get_weather", description: "w", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const s = ndjson(await (await call("/api/chat", chat("plain", { tools }))).text());
    assert.deepEqual(A.inference().at(-1).body.tools, tools);
    assert.deepEqual(s.flatMap((l) => l.message?.tool_calls ?? []), A.toolCalls);
    const j = await (await call("/api/chat", chat("plain", { tools, stream: false }))).json();
    assert.deepEqual(j.message.tool_calls, A.toolCalls);
  });
});

describe("request shaping", () => {
  test("allowed tools via a linked tool set (a live link), tool_choice falls back to auto, params stripped", async () => {
    await reset();
    env.psql("INSERT INTO tool_sets (name, tools) VALUES ('readonly', ARRAY['Read'])");
    env.psql("INSERT INTO model_configs (model_prefix, tool_set_id, unsupported_params) SELECT 'plain', id, ARRAY['top_p'] FROM tool_sets WHERE name = 'readonly'");
    await admin.post("/snapshot/publish", {}, 200);
    const tools = ["Read", "Shell"].map((n) => ({ type: "function", function: { name: n, parameters: {} } }));
    await call("/api/chat", chat("plain", { stream: false, tools, top_p: 0.5, logit_bias: { 1: 2 }, tool_choice: { type: "function", function: { name: "Shell" } } }));
    let got = A.inference().at(-1).body;
    assert.deepEqual(got.tools.map((t) => t.function.name), ["Read"]);
    assert.equal(got.tool_choice, "auto");
    assert.equal(got.top_p, undefined, "model config's unsupported params");
    assert.equal(got.logit_bias, undefined, "system-wide list for Ollama origins");
    // Editing the set changes every config linked to it.
    env.psql("UPDATE tool_sets SET tools = ARRAY['Read','Shell'] WHERE name = 'readonly'");
    await admin.post("/snapshot/publish", {}, 200);
    await call("/api/chat", chat("plain", { stream: false, tools }));
    got = A.inference().at(-1).body;
    assert.deepEqual(got.tools.map((t) => t.function.name), ["Read", "Shell"]);
    env.psql("DELETE FROM model_configs; DELETE FROM tool_sets");
    await admin.post("/snapshot/publish", {}, 200);
  });

  test("maintenance mode answers 503 with a clear message", async () => {
    env.psql("INSERT INTO model_configs (model_prefix, maintenance_mode) VALUES ('kimi', true)");
    await admin.post("/snapshot/publish", {}, 200);
    const r = await getJson(`${env.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(chat("kimi")) });
    assert.equal(r.status, 503);
    assert.match(r.body.error.message, /maintenance/);
    env.psql("DELETE FROM model_configs");
    await admin.post("/snapshot/publish", {}, 200);
  });

  test("context length and keep-alive go to Ollama origins only", async () => {
    await reset();
    await call("/api/chat", chat("plain", { stream: false }));
    const got = A.inference().at(-1).body;
    assert.equal(got.options.num_ctx, 4096);
    assert.equal(got.keep_alive, "10m");
    await call("/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }], options: { num_ctx: 9 }, keep_alive: "1m" });
    const oa = O.inference().at(-1).body;
    assert.equal(oa.options, undefined);
    assert.equal(oa.keep_alive, undefined);
  });

  test("images are replaced by a visible placeholder for models without vision", async () => {
    await reset();
    await call("/v1/chat/completions", { model: "plain", messages: [{ role: "user", content: [{ type: "text", text: "what is this" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }] });
    const content = A.inference().at(-1).body.messages.at(-1).content;
    assert.ok(!JSON.stringify(content).includes("image_url"));
    assert.match(JSON.stringify(content), /image removed/);
  });

  test("system prompts by scope, recomputed when failover moves to another node", async () => {
    await reset();
    const add = (scope_type, scope_value, prompt, priority = 0) => env.psql(`INSERT INTO system_prompts (scope_type, scope_value, prompt, priority) VALUES ('${scope_type}', '${scope_value}', '${prompt}', ${priority})`);
    add("node", "a", "You run on node a.");
    add("node", "b", "You run on node b.");
    add("user", "shaper", "The user is shaper.", 5);
    add("mapping", "plain", "Be plain.");
    await admin.post("/snapshot/publish", {}, 200);
    A.mode = "status:500";
    const r = await call("/v1/chat/completions", { model: "plain", messages: [{ role: "system", content: "Client system." }, { role: "user", content: "x" }] });
    assert.equal(r.status, 200);
    const onA = A.inference().at(-1).body.messages[0].content;
    const onB = B.inference().at(-1).body.messages[0].content;
    assert.equal(onA, "The user is shaper.\n\nYou run on node a.\n\nBe plain.\n\nClient system.");
    assert.equal(onB, "The user is shaper.\n\nYou run on node b.\n\nBe plain.\n\nClient system.");
    A.mode = "ok";
    env.psql("DELETE FROM system_prompts");
    await admin.post("/snapshot/publish", {}, 200);
  });
});

describe("Ollama model management", () => {
  test("denied by default; granted users pull with streamed progress, delete and copy", async () => {
    await reset();
    const denied = await getJson(`${env.url}/api/pull`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "phi4" }) });
    assert.equal(denied.status, 403);
    await admin.patch("/users/shaper", { can_manage_models: true }, 200);
    const pull = await call("/api/pull", { model: "phi4", node: "b" });
    assert.equal(pull.headers.get("content-type"), "application/x-ndjson");
    const lines = ndjson(await pull.text());
    assert.equal(lines.at(-1).status, "success");
    assert.ok(lines.some((l) => l.completed === 1000 && l.total === 2000), "progress lines pass through");
    assert.equal(B.requests.at(-1).path, "/api/pull");
    B.mode = "cut";
    const cut = ndjson(await (await call("/api/pull", { model: "phi5", node: "b" })).text());
    assert.ok(cut.at(-1).error, "a cut pull ends with an error line, never success");
    B.mode = "ok";
    const del = await fetch(`${env.url}/api/delete`, { method: "DELETE", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "llama3:latest" }) });
    assert.equal(del.status, 200);
    assert.ok(!A.models.includes("llama3:latest") && !B.models.includes("llama3:latest"), "deleted on every node that had it");
    const copy = await call("/api/copy", { source: "qwen3:8b", destination: "qwen3-copy" });
    assert.equal(copy.status, 200);
    A.models.push("llama3:latest");
    B.models.push("llama3:latest");
    await admin.patch("/users/shaper", { can_manage_models: false }, 200);
  });
});
