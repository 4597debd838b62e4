// Costs in currency (issue 22): prices per real model and node, every usage record costed at
// record time from its captured usage (cached tokens included), the same request streamed and
// not streamed costing exactly the same in every dialect, price imports from a file, and the
// cost views.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { setup, adminClient, waitForRows, ADMIN_TOKEN } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { ROOT } from "../../devtools/gateway.mjs";

let env, admin, OL, OA, AN, token;
const sent = []; // every request id, to wait for all their records before the views
// Prices per million tokens (currency units) as set below, in millionths for the arithmetic.
const M = 1_000_000;
const PRICES = {
  "gpt-x": { input: 2.5, output: 10, cache_read: 1.25 },
  "claude-x": { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
  "llama3:latest": { input: 0.1, output: 0.2 },
  "embed-x": { input: 0.02 },
};
/** What the gateway must charge: each kind of token at its price, rounded up to a millionth. */
function expected(model, { prompt, completion = 0, cached = 0, cacheWrite = 0 }) {
  const p = PRICES[model];
  const micro = (x) => Math.round((x ?? p.input) * M);
  const sum = (prompt - cached - cacheWrite) * micro(p.input) + cached * micro(p.cache_read) + cacheWrite * micro(p.cache_write) + completion * micro(p.output ?? 0);
  return Math.ceil(sum / M);
}

before(async () => {
  OL = await startOrigin({ name: "ollama-c", kind: "ollama", models: ["llama3:latest", "qwen-free:latest"] });
  OA = await startOrigin({ name: "openai-c", kind: "openai", models: ["gpt-x", "embed-x", "mystery-x"] });
  AN = await startOrigin({ name: "anthropic-c", kind: "anthropic", models: ["claude-x"] });
  OL.usage = { prompt: 500, completion: 50 };
  OL.embedTokens = 3000;
  OA.usage = { prompt: 1000, completion: 200, cached: 600 };
  OA.embedTokens = 4000;
  AN.usage = { prompt: 2000, completion: 300, cached: 1200, cacheWrite: 500 };
  env = await setup({ name: "costs" });
  admin = adminClient(env.url);
  for (const o of [OL, OA, AN]) {
    const n = await admin.post("/nodes", { name: o.name, node_type: o.kind, base_url: o.url }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  await admin.post("/prices", { model: "gpt-x", node: "openai-c", ...PRICES["gpt-x"] }, 201);
  await admin.post("/prices", { model: "claude-x", ...PRICES["claude-x"] }, 201);
  await admin.post("/prices", { model: "llama3:latest", node: "ollama-c", ...PRICES["llama3:latest"] }, 201);
  await admin.post("/prices", { model: "embed-x", input: "0.02" }, 201);
  token = (await admin.post("/users", { username: "spender", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  for (const o of [OL, OA, AN]) await o?.stop();
});

const post = async (p, body) => {
  const r = await fetch(`${env.url}${p}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${p} ${JSON.stringify(body)}: ${text}`);
  sent.push(r.headers.get("x-request-id"));
  return { id: r.headers.get("x-request-id"), text };
};

/** The usage records of these request ids, once all reached Postgres. */
async function records(ids) {
  const list = ids.map((i) => `'${i}'`).join(",");
  const rows = await waitForRows(
    env,
    `SELECT json_build_object('id', id, 'stream', stream, 'prompt', prompt_tokens, 'completion', completion_tokens, 'cached', cached_tokens, 'written', cache_write_tokens, 'cost', cost_micros, 'priced', priced, 'estimated', estimated, 'node', node_name) FROM usage_records WHERE id IN (${list})`,
    (r) => r.length === ids.length,
  );
  assert.equal(rows.length, ids.length, "every request has its usage record");
  return Object.fromEntries(rows.map((l) => JSON.parse(l)).map((r) => [r.id, r]));
}

const hi = [{ role: "user", content: "hi" }];
// Each case: [name, path, body, model priced, origin usage]. Sent once streamed and once not.
const CASES = [
  ["chat completions, OpenAI origin (cache reads)", "/v1/chat/completions", { model: "gpt-x", messages: hi }, "gpt-x", () => OA.usage],
  ["chat completions with include_usage", "/v1/chat/completions", { model: "gpt-x", messages: hi, stream_options: { include_usage: true } }, "gpt-x", () => OA.usage],
  ["chat completions, Anthropic origin (translated)", "/v1/chat/completions", { model: "claude-x", messages: hi }, "claude-x", () => AN.usage],
  ["responses, OpenAI origin", "/v1/responses", { model: "gpt-x", input: "hi" }, "gpt-x", () => OA.usage],
  ["responses, Anthropic origin", "/v1/responses", { model: "claude-x", input: "hi" }, "claude-x", () => AN.usage],
  ["messages, Anthropic origin (cache reads and writes)", "/v1/messages", { model: "claude-x", max_tokens: 50, messages: hi }, "claude-x", () => AN.usage],
  ["messages, OpenAI origin (translated)", "/v1/messages", { model: "gpt-x", max_tokens: 50, messages: hi }, "gpt-x", () => OA.usage],
  ["ollama chat, Ollama origin", "/api/chat", { model: "llama3:latest", messages: hi }, "llama3:latest", () => OL.usage],
  ["ollama chat, Anthropic origin", "/api/chat", { model: "claude-x", messages: hi }, "claude-x", () => AN.usage],
  ["ollama generate, Ollama origin", "/api/generate", { model: "llama3:latest", prompt: "hi" }, "llama3:latest", () => OL.usage],
  ["ollama generate, OpenAI origin", "/api/generate", { model: "gpt-x", prompt: "hi" }, "gpt-x", () => OA.usage],
];

describe("every dialect costs the same streamed and not streamed", () => {
  for (const [name, p, body, model, usage] of CASES) {
    test(name, async () => {
      const once = await post(p, { ...body, stream: false });
      const streamed = await post(p, { ...body, stream: true });
      const r = await records([once.id, streamed.id]);
      const [a, b] = [r[once.id], r[streamed.id]];
      const u = usage();
      const want = expected(model, u);
      assert.ok(want > 0);
      for (const rec of [a, b]) {
        assert.equal(rec.estimated, false, `${name}: the origin's counts, not an estimate`);
        assert.equal(rec.priced, true);
        assert.deepEqual([rec.prompt, rec.completion, rec.cached, rec.written], [u.prompt, u.completion, u.cached ?? 0, u.cacheWrite ?? 0], `${name} ${rec.stream ? "streamed" : "whole"}: captured usage`);
        assert.equal(rec.cost, want, `${name} ${rec.stream ? "streamed" : "whole"}: cost`);
      }
      assert.deepEqual([a.stream, b.stream], [false, true]);
    });
  }

  test("embeddings (OpenAI and Ollama dialects) are priced on their input tokens", async () => {
    const a = await post("/v1/embeddings", { model: "embed-x", input: "hi" });
    const b = await post("/api/embed", { model: "embed-x", input: "hi" });
    const c = await post("/api/embed", { model: "llama3:latest", input: "hi" });
    const r = await records([a.id, b.id, c.id]);
    assert.equal(r[a.id].cost, expected("embed-x", { prompt: 4000 }));
    assert.equal(r[b.id].cost, r[a.id].cost, "the Ollama dialect on the same origin costs the same");
    assert.equal(r[c.id].cost, expected("llama3:latest", { prompt: 3000 }));
  });

  test("the client sees the cached part of its prompt in its own dialect", async () => {
    const chat = JSON.parse((await post("/v1/chat/completions", { model: "claude-x", messages: hi })).text);
    assert.deepEqual(chat.usage.prompt_tokens_details, { cached_tokens: 1200 });
    assert.equal(chat.usage.prompt_tokens, 2000);
    const resp = JSON.parse((await post("/v1/responses", { model: "gpt-x", input: "hi" })).text);
    assert.deepEqual(resp.usage.input_tokens_details, { cached_tokens: 600 });
    const msg = JSON.parse((await post("/v1/messages", { model: "gpt-x", max_tokens: 50, messages: hi })).text);
    assert.deepEqual(msg.usage, { input_tokens: 400, cache_read_input_tokens: 600, output_tokens: 200 }, "Anthropic counts input without the cache");
  });
});

describe("which price applies", () => {
  test("local Ollama models are free, unknown models are unpriced, both cost 0", async () => {
    const free = await post("/api/chat", { model: "qwen-free:latest", messages: hi, stream: false });
    const unknown = await post("/v1/chat/completions", { model: "mystery-x", messages: hi });
    const r = await records([free.id, unknown.id]);
    assert.deepEqual([r[free.id].cost, r[free.id].priced], [0, true]);
    assert.deepEqual([r[unknown.id].cost, r[unknown.id].priced], [0, false]);
  });

  test("a price edit changes later requests only; history keeps what was charged", async () => {
    const before = await post("/v1/chat/completions", { model: "gpt-x", messages: hi });
    const rows = (await admin.get("/prices")).prices;
    const row = rows.find((p) => p.model === "gpt-x" && p.node === "openai-c");
    assert.deepEqual([row.input, row.output, row.cache_read, row.cache_write, row.input_micros], [2.5, 10, 1.25, 2.5, 2_500_000], "unset cache write = the input price");
    const patched = await admin.patch(`/prices/${row.id}`, { input: 5, cache_read: null });
    assert.deepEqual([patched.input, patched.cache_read], [5, 5]);
    const after = await post("/v1/chat/completions", { model: "gpt-x", messages: hi });
    const r = await records([before.id, after.id]);
    assert.equal(r[before.id].cost, expected("gpt-x", OA.usage));
    assert.equal(r[after.id].cost, Math.ceil((1000 * 5 * M + 200 * 10 * M) / M), "new prices for the new request");
    await admin.patch(`/prices/${row.id}`, { input: 2.5, cache_read: 1.25 });
  });

  test("bad prices are 400s naming the field", async () => {
    for (const [body, field] of [
      [{ model: "x", input: -1 }, "input"],
      [{ model: "x", input: "1.0000001" }, "input"],
      [{ model: "x" }, "input"],
      [{ input: 1 }, "model"],
      [{ model: "x", input: 1, node: "no-such-node" }, "node"],
      [{ model: "x", input: 1, colour: "red" }, "colour"],
    ]) {
      const r = await admin.call("POST", "/prices", body, 400);
      assert.equal(r.error.field, field, JSON.stringify(body));
    }
  });
});

describe("price lists from a file", () => {
  test("the sample file imports through the admin API and upserts on model and node", async () => {
    const file = JSON.parse(fs.readFileSync(path.join(ROOT, "prices/sample.json"), "utf8"));
    assert.ok(file.prices.length >= 10);
    const r = await admin.post("/prices/import", file, 200);
    assert.equal(r.imported, file.prices.length);
    const again = await admin.post("/prices/import", file, 200);
    assert.equal(again.imported, file.prices.length, "an import is repeatable");
    const listed = (await admin.get("/prices")).prices;
    const one = file.prices.find((p) => p.cache_read !== undefined);
    const row = listed.find((p) => p.model === one.model && p.node === null);
    assert.equal(row.input_micros, Math.round(one.input * M));
    assert.equal(row.source, file.source);
    const bad = await admin.call("POST", "/prices/import", { currency: "EUR", prices: file.prices }, 400);
    assert.equal(bad.error.field, "currency");
    const dup = await admin.call("POST", "/prices/import", { prices: [{ model: "a", input: 1 }, { model: "a", input: 2 }] }, 400);
    assert.equal(dup.error.field, "prices[1]");
  });

  test("make prices posts a file to a running gateway", async () => {
    // Asynchronously: the gateway's database proxy runs in this process's event loop.
    const { stdout } = await promisify(execFile)("node", [path.join(ROOT, "scripts/prices.mjs"), path.join(ROOT, "prices/sample.json")], {
      env: { ...process.env, ADMIN_URL: env.url, ADMIN_TOKEN },
      encoding: "utf8",
    });
    assert.match(stdout, /imported \d+ prices \(USD\)/);
  });
});

describe("cost views", () => {
  test("per user, model, node and key, per day and month, with the cached share", async () => {
    await records(sent);
    const byUser = await admin.get("/costs?by=user&bucket=month");
    const mine = byUser.rows.find((r) => r.key === "spender");
    assert.ok(mine.cost_micros > 0);
    assert.equal(mine.requests, sent.length);
    assert.equal(mine.cost, `${Math.floor(mine.cost_micros / M)}.${String(mine.cost_micros % M).padStart(6, "0")}`);
    assert.ok(mine.cached_share > 0 && mine.cached_share < 1);
    assert.equal(byUser.totals.cost_micros, byUser.rows.reduce((n, r) => n + r.cost_micros, 0));
    const sum = Number(env.psql("SELECT sum(cost_micros) FROM usage_records WHERE username = 'spender'"));
    assert.equal(mine.cost_micros, sum, "the view adds the stored costs");
    const byModel = await admin.get("/costs?by=real_model&bucket=total");
    const claude = byModel.rows.find((r) => r.key === "claude-x");
    assert.equal(claude.cached_share, Number((claude.cached_tokens / claude.prompt_tokens).toFixed(4)));
    const byNode = await admin.get("/costs?by=node&bucket=day");
    assert.ok(byNode.rows.some((r) => r.key === "anthropic-c" && /^\d{4}-\d{2}-\d{2}$/.test(r.bucket)));
    const byKey = await admin.get("/costs?by=key&bucket=total");
    assert.ok(byKey.rows.length >= 1);
    assert.equal((await admin.call("GET", "/costs?by=colour", undefined, 400)).error.field, "by");
  });
});
