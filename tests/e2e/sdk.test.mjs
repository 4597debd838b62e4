// Real clients, unchanged: the official OpenAI and Ollama Python SDKs against the Worker.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { setup, adminClient } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { ROOT } from "../../devtools/gateway.mjs";

const PY = path.join(os.homedir(), ".cache/maestro-edge/venv/bin/python");
let env, O, token;

function client(scenario) {
  return new Promise((resolve, reject) => {
    execFile(PY, [path.join(ROOT, "tests/sdk/clients.py"), env.url, token, scenario], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${scenario} failed:\n${stderr}\n${stdout}`));
      resolve(JSON.parse(stdout.trim().split("\n").at(-1)));
    });
  });
}

before(async () => {
  O = await startOrigin({ name: "node-a", models: ["llama3:latest", "broken:latest"] });
  env = await setup({ name: "sdk" });
  await adminClient(env.url).put("/settings", { "timeouts.stream_idle_ms": 1000 });
  const admin = adminClient(env.url);
  const n = await admin.post("/nodes", { name: "node-a", base_url: O.url }, 201);
  await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest", context_length: "128K" }, 201);
  await admin.post("/model-mappings", { display_name: "cutter", real_name: "broken:latest" }, 201);
  await admin.post("/model-groups", { name: "team", members: [{ model_name: "fast" }] }, 201);
  token = (await admin.post("/users", { username: "sdk", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  await O?.stop();
});

test("OpenAI SDK: chat, streamed and not", async () => {
  const r = await client("openai_chat");
  assert.equal(r.streamed, "Hello from node-a");
});

test("OpenAI SDK: embeddings and the model list", async () => {
  const r = await client("openai_embeddings_models");
  assert.ok(r.models.includes("fast"));
});

test("OpenAI SDK: typed errors (401, 404)", async () => {
  const r = await client("openai_errors");
  assert.deepEqual(r, { auth_status: 401, missing_status: 404 });
});

test("OpenAI SDK: a stream cut by the origin raises instead of ending quietly", async () => {
  O.mode = "cut";
  try {
    const r = await client("openai_stream_error");
    assert.match(r.error, /closed|failed|interrupted|origin/i);
  } finally {
    O.mode = "ok";
  }
});

test("Ollama client: chat (streamed and not), generate, embed, list, show", async () => {
  const r = await client("ollama_client");
  assert.equal(r.chat, "Hello from node-a");
  assert.ok(r.models.includes("fast"));
});

test("Ollama client: errors, including a cut stream", async () => {
  O.mode = "cut";
  try {
    const r = await client("ollama_errors");
    assert.equal(r.missing_status, 404);
    assert.match(r.cut_error, /closed|failed|origin/i);
  } finally {
    O.mode = "ok";
  }
});
