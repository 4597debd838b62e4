// A client that hangs up mid-stream (issue 10's pump): the origin request is aborted and the
// stream is settled (finish hook: lease released) right away, not when the origin would have
// finished, for SSE and NDJSON alike. (Here the origin keeps sending: a hang-up during a stall
// is only noticed at the idle deadline through miniflare's entry worker, with or without the pump.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, sleep } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

let env, admin, A, token, nodeId;

before(async () => {
  A = await startOrigin({ name: "a", models: ["llama3:latest"] });
  env = await setup({ name: "hangup" });
  admin = adminClient(env.url);
  await admin.put("/settings", { "timeouts.stream_idle_ms": 20000 });
  nodeId = (await admin.post("/nodes", { name: "a", base_url: A.url }, 201)).id;
  await admin.post(`/nodes/${nodeId}/discover`, {}, 200);
  await admin.post("/model-mappings", { display_name: "fast", real_name: "llama3:latest" }, 201);
  token = (await admin.post("/users", { username: "h", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  await A?.stop();
});

async function until(what, fn, ms = 3000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await fn()) return Date.now() - t0;
    await sleep(50);
  }
  assert.fail(`${what} within ${ms} ms`);
}

for (const [dialect, path] of [["openai", "/v1/chat/completions"], ["ollama", "/api/chat"]]) {
  test(`${dialect}: hanging up on a long stream aborts the origin and settles at once`, async () => {
    Object.assign(A, { mode: "ok", chunks: 400, chunkDelay: 50 }); // 20 s of answer
    const ctl = new AbortController();
    const r = await fetch(`${env.url}${path}`, { method: "POST", signal: ctl.signal, headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ model: "fast", stream: true, messages: [{ role: "user", content: "x" }] }) });
    assert.equal(r.status, 200);
    const first = await r.body.getReader().read();
    assert.ok(first.value?.length > 0);
    await until("the lease is counted", async () => ((await env.gw.streamCounts())[String(nodeId)] ?? 0) === 1);
    const open = A.sockets.size;
    ctl.abort();
    await until("the origin connection is closed", () => A.sockets.size < open);
    await until("the stream is settled", async () => ((await env.gw.streamCounts())[String(nodeId)] ?? 0) === 0);
    Object.assign(A, { chunks: 3, chunkDelay: 5 });
  });
}
