// The Vercel AI SDK (`ai`) with its OpenAI (chat and Responses), Anthropic and Ollama
// (ollama-ai-provider-v2) providers, unchanged, against the built Worker, on every node type:
// generateText, streamText, a multi-turn conversation, tool loops (the tool really runs and its
// result must come back quoted) streamed and not, and embeddings where the node type has them.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { generateText, streamText, embed, embedMany, tool, stepCountIs, jsonSchema } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOllama } from "ollama-ai-provider-v2";
import { bed, nonce, workspace, KINDS, MODEL, MODELS } from "./harness.mjs";

let B;
before(async () => {
  B = await bed("aisdk");
});
after(async () => B?.stop());

/** What the SDK sent the gateway (request bodies), so a test can show the case it covers. */
const sent = [];
const recording = (url, init) => {
  sent.push(typeof init?.body === "string" ? init.body : "");
  return fetch(url, init);
};

const PROVIDERS = {
  "openai chat": () => createOpenAI({ baseURL: `${B.url}/v1`, apiKey: B.token }).chat,
  "openai responses": () => createOpenAI({ baseURL: `${B.url}/v1`, apiKey: B.token, fetch: recording }).responses,
  anthropic: () => createAnthropic({ baseURL: `${B.url}/v1`, apiKey: B.token }).messages,
  ollama: () => createOllama({ baseURL: `${B.url}/api`, headers: { authorization: `Bearer ${B.token}` } }).chat,
};

/** The tool the model is scripted to call; it reads the workspace file, as an agent would. */
function readTool(calls) {
  return tool({
    description: "Read a text file",
    inputSchema: jsonSchema({ type: "object", properties: { path: { type: "string" } }, required: ["path"] }),
    execute: async ({ path }) => {
      calls.push(path);
      return fs.readFileSync(path, "utf8");
    },
  });
}

const collect = async (r) => {
  let text = "";
  for await (const t of r.textStream) text += t;
  return text;
};

for (const [label, provider] of Object.entries(PROVIDERS)) {
  describe(`AI SDK ${label}`, { concurrency: 3 }, () => {
    for (const kind of KINDS) {
      const model = () => provider()(MODEL[kind]);

      test(`generateText on the ${kind} node`, async () => {
        const n = nonce();
        const r = await generateText({ model: model(), prompt: `[[say:hi ${n}]]`, maxRetries: 0 });
        assert.equal(r.text, `hi ${n}`);
        assert.equal(r.finishReason, "stop");
        assert.equal(r.usage.inputTokens, 11);
        assert.equal(r.usage.outputTokens, 5);
        assert.equal(B.origins[kind].inference(n).length, 1);
      });

      test(`streamText on the ${kind} node`, async () => {
        const n = nonce();
        const r = streamText({ model: model(), prompt: `[[say:streamed words ${n}]]`, maxRetries: 0 });
        assert.equal(await collect(r), `streamed words ${n}`);
        assert.equal(await r.finishReason, "stop");
        assert.equal((await r.usage).outputTokens, 5);
      });

      test(`multi-turn on the ${kind} node (turn 2 carries turn 1, as the SDK sends it)`, async () => {
        const n = nonce();
        const t1 = await generateText({ model: model(), prompt: `[[say:first ${n}]]`, maxRetries: 0 });
        assert.equal(t1.text, `first ${n}`);
        const messages = [{ role: "user", content: `[[say:first ${n}]]` }, ...t1.response.messages, { role: "user", content: `[[say:second ${n}]]` }];
        const t2 = await generateText({ model: model(), messages, maxRetries: 0 });
        assert.equal(t2.text, `second ${n}`);
        if (label === "openai responses") {
          // The SDK's default (store: true) sends turn 1's answer back as an item reference.
          const turn2 = sent.filter((b) => b.includes(`second ${n}`));
          assert.ok(turn2.length > 0 && turn2.every((b) => b.includes('"item_reference"')), turn2.join("\n"));
        }
        const s2 = streamText({ model: model(), messages, maxRetries: 0 });
        assert.equal(await collect(s2), `second ${n}`);
        assert.equal(await s2.finishReason, "stop");
      });

      for (const streamed of [false, true]) {
        test(`tool loop ${streamed ? "streamed" : "not streamed"} on the ${kind} node`, async () => {
          const n = nonce();
          const ws = workspace("aisdk");
          const calls = [];
          const args = { model: model(), prompt: `Read the notes. [[tool:read_notes ${JSON.stringify({ path: ws.file })}]] ${n}`, tools: { read_notes: readTool(calls) }, stopWhen: stepCountIs(4), maxRetries: 0 };
          let text, finishReason, steps;
          if (streamed) {
            const r = streamText(args);
            text = await collect(r);
            finishReason = await r.finishReason;
            steps = await r.steps;
          } else {
            const r = await generateText(args);
            ({ text, finishReason, steps } = r);
          }
          assert.deepEqual(calls, [ws.file], "the tool ran once, with the scripted argument");
          assert.equal(steps.length, 2);
          assert.equal(steps[0].finishReason, "tool-calls");
          assert.match(text, new RegExp(`Tool result: The password is ${ws.secret}`));
          assert.equal(finishReason, "stop");
          // The origin got the tool's output back on the second call.
          const reqs = B.origins[kind].inference(n);
          assert.equal(reqs.length, 2, reqs.map((q) => q.raw).join("\n"));
          assert.ok(reqs[1].raw.includes(ws.secret));
        });
      }
    }
  });
}

describe("AI SDK embeddings", () => {
  const cases = [
    ["openai provider", "openai", () => createOpenAI({ baseURL: `${B.url}/v1`, apiKey: B.token }).embedding(MODELS.openai.embed[0])],
    ["openai provider", "ollama", () => createOpenAI({ baseURL: `${B.url}/v1`, apiKey: B.token }).embedding(MODELS.ollama.embed[0])],
    ["ollama provider", "ollama", () => createOllama({ baseURL: `${B.url}/api`, headers: { authorization: `Bearer ${B.token}` } }).embedding(MODELS.ollama.embed[0])],
    // The issue-16 case: /api/embed translated from an OpenAI node must carry Ollama's durations.
    ["ollama provider", "openai", () => createOllama({ baseURL: `${B.url}/api`, headers: { authorization: `Bearer ${B.token}` } }).embedding(MODELS.openai.embed[0])],
  ];
  for (const [label, kind, model] of cases) {
    test(`${label}: embed and embedMany on the ${kind} node`, async () => {
      const n = nonce();
      const one = await embed({ model: model(), value: `one ${n}`, maxRetries: 0 });
      assert.equal(one.embedding.length, 3);
      assert.equal(one.embedding[0], `one ${n}`.length / 100);
      const many = await embedMany({ model: model(), values: [`a ${n}`, `bb ${n}`], maxRetries: 0 });
      assert.deepEqual(
        many.embeddings.map((e) => e[0]),
        [`a ${n}`.length / 100, `bb ${n}`.length / 100],
      );
      const reqs = B.origins[kind].inference(n);
      assert.equal(reqs.length, 2);
      assert.ok(reqs.every((r) => /embed/.test(r.path)));
    });
  }
});
