// Mid-stream recovery (issue 19, `streams.recover`): a stream that breaks after bytes went out
// (cut, stall, malformed event) continues on the next candidate, which is sent the answer so far
// as an assistant prefill; the client sees one complete answer with one id and one model name,
// in each dialect. Where the next candidate rejects the prefill, or none is left, the stream ends
// with the in-band error it always had.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, adminClient, sleep, sseEvents, ndjson } from "./helpers.mjs";
import { startOrigin } from "./fake-origin.mjs";

const TEXT = "The quick brown fox jumps over the lazy dog";
let env, A, B, token;

before(async () => {
  A = await startOrigin({ name: "first", models: ["duo:latest", "solo:latest"] });
  B = await startOrigin({ name: "second", models: ["duo:latest"] });
  for (const o of [A, B]) o.text = TEXT;
  env = await setup({ name: "recovery" });
  const admin = adminClient(env.url);
  await admin.put("/settings", { "streams.recover": true, "timeouts.ttfb_ms": 1500, "timeouts.stream_idle_ms": 600, "routing.cooldown_ms": 50 });
  for (const [o, priority] of [[A, 10], [B, 20]]) {
    const n = await admin.post("/nodes", { name: o.name, base_url: o.url, priority }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  token = (await admin.post("/users", { username: "rec", has_all_models: true }, 201)).token;
});
after(async () => {
  await env?.stop();
  await A?.stop();
  await B?.stop();
});

const messages = [{ role: "user", content: "Say the sentence." }];

/** Each dialect: how to ask, and how to read what the client got. */
const DIALECTS = {
  openai: {
    path: "/v1/chat/completions",
    body: (model) => ({ model, stream: true, stream_options: { include_usage: true }, messages }),
    read(text) {
      const events = sseEvents(text);
      const done = events.at(-1) === "[DONE]";
      const objs = events.filter((e) => e !== "[DONE]");
      const error = objs.find((e) => e.error)?.error?.message;
      return {
        done,
        error,
        text: objs.map((e) => e.choices?.[0]?.delta?.content ?? "").join(""),
        ids: new Set(objs.filter((e) => !e.error).map((e) => e.id)),
        models: new Set(objs.filter((e) => !e.error).map((e) => e.model)),
        usage: objs.find((e) => e.usage)?.usage,
      };
    },
  },
  anthropic: {
    path: "/v1/messages",
    headers: { "anthropic-version": "2023-06-01" },
    body: (model) => ({ model, max_tokens: 200, stream: true, messages }),
    read(text) {
      const events = sseEvents(text);
      const start = events.find((e) => e.type === "message_start");
      return {
        done: events.at(-1)?.type === "message_stop",
        error: events.find((e) => e.type === "error")?.error?.message,
        text: events.filter((e) => e.type === "content_block_delta").map((e) => e.delta.text ?? "").join(""),
        ids: new Set([start?.message?.id]),
        models: new Set([start?.message?.model]),
        usage: events.filter((e) => e.type === "message_delta").at(-1)?.usage,
        starts: events.filter((e) => e.type === "message_start").length,
      };
    },
  },
  responses: {
    path: "/v1/responses",
    body: (model) => ({ model, stream: true, input: "Say the sentence." }),
    read(text) {
      const events = sseEvents(text);
      const completed = events.find((e) => e.type === "response.completed");
      const final = completed?.response?.output?.flatMap((o) => o.content ?? []).map((c) => c.text ?? "").join("");
      return {
        done: events.at(-1)?.type === "response.completed",
        error: events.find((e) => e.type === "error" || e.type === "response.failed") ? "failed" : undefined,
        text: events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join(""),
        final,
        ids: new Set(events.filter((e) => e.response?.id).map((e) => e.response.id)),
        models: new Set(events.filter((e) => e.response?.model).map((e) => e.response.model)),
      };
    },
  },
  ollama: {
    path: "/api/chat",
    body: (model) => ({ model, stream: true, messages }),
    read(text) {
      const lines = ndjson(text);
      return {
        done: lines.at(-1)?.done === true,
        error: lines.find((l) => l.error)?.error,
        text: lines.map((l) => l.message?.content ?? "").join(""),
        ids: new Set(["-"]),
        models: new Set(lines.filter((l) => !l.error).map((l) => l.model)),
        usage: lines.at(-1)?.eval_count,
      };
    },
  },
};

async function ask(dialect, model) {
  const d = DIALECTS[dialect];
  const r = await fetch(`${env.url}${d.path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(d.headers ?? {}) }, body: JSON.stringify(d.body(model)) });
  assert.equal(r.status, 200);
  const text = await r.text();
  return { raw: text, ...d.read(text) };
}

const reset = async () => {
  A.reset();
  B.reset();
  await sleep(80); // past the breakers' open time
};

describe("a broken stream continues on the next candidate", () => {
  for (const dialect of Object.keys(DIALECTS)) {
    for (const fault of ["cut", "stall", "malformed"]) {
      test(`${dialect}: ${fault}`, async () => {
        await reset();
        A.mode = fault;
        const got = await ask(dialect, "duo");
        assert.ok(got.done && !got.error, `one complete answer: ${got.raw}`);
        assert.equal(got.text, TEXT, got.raw);
        if (got.final !== undefined) assert.equal(got.final, TEXT, "the final response object holds the whole answer");
        assert.equal(got.ids.size, 1, `one id: ${[...got.ids]}`);
        assert.deepEqual([...got.models], ["duo"], "one model name, the one asked for");
        if (got.starts !== undefined) assert.equal(got.starts, 1, "one message_start");
        // What reached the second node: the conversation plus the answer so far as a prefill.
        const sent = B.inference().at(-1).body;
        const last = sent.messages.at(-1);
        assert.equal(last.role, "assistant");
        assert.ok(TEXT.startsWith(last.content) && last.content.length > 0, `prefill: ${JSON.stringify(last)}`);
        assert.equal(sent.messages.at(-2).content, "Say the sentence.");
        if (dialect === "openai") {
          assert.equal(sent.continue_final_message, true);
          // The second attempt reports 7 + 3; the first broke before its usage, so it is
          // counted as estimated (its prompt, a token per content frame it sent).
          assert.ok(got.usage.prompt_tokens > 7 && got.usage.completion_tokens > 3, `usage adds both attempts: ${JSON.stringify(got.usage)}`);
        }
        if (dialect === "anthropic") assert.ok(got.usage.output_tokens > 3, `usage adds both attempts: ${JSON.stringify(got.usage)}`);
      });
    }
  }

  test("the usage record notes the recovery", async () => {
    await reset();
    A.mode = "cut";
    const got = await ask("openai", "duo");
    assert.equal(got.text, TEXT);
    await sleep(300);
    await env.gw.scheduled();
    const rows = JSON.parse(env.psql("SELECT json_agg(json_build_object('status', status, 'error', error, 'p', prompt_tokens, 'c', completion_tokens, 'est', estimated) ORDER BY created_at DESC) FROM usage_records WHERE username = 'rec' AND endpoint = 'v1/chat/completions'"));
    const row = rows[0];
    assert.equal(row.status, 200);
    assert.match(row.error, /^recovered mid-stream: the origin stream failed.*continued on node 'second'/);
    assert.ok(row.p > 7 && row.c > 3 && row.est, `both attempts counted: ${JSON.stringify(row)}`);
  });
});

describe("no recovery", () => {
  for (const dialect of ["openai", "ollama", "anthropic"]) {
    test(`${dialect}: the next candidate rejects the prefill: today's in-band error`, async () => {
      await reset();
      A.mode = "cut";
      B.rejectPrefill = true;
      const got = await ask(dialect, "duo");
      B.rejectPrefill = false;
      assert.ok(!got.done && got.error, `an in-band error, never a made-up end: ${got.raw}`);
      assert.ok(TEXT.startsWith(got.text) && got.text.length < TEXT.length, got.raw);
      assert.equal(B.inference().length, 1, "the prefill was offered once");
    });
  }

  test("no candidate left: today's in-band error", async () => {
    await reset();
    A.mode = "cut";
    const got = await ask("openai", "solo");
    assert.ok(!got.done && got.error, got.raw);
    assert.equal(B.inference().length, 0);
  });
});
