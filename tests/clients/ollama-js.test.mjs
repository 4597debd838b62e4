// The Ollama JS client (`ollama`), unchanged, against the built Worker on every node type:
// list, show, chat and generate streamed and not, a tool round trip, and embeddings where the
// node type has them.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { Ollama } from "ollama";
import { bed, nonce, workspace, KINDS, MODEL, MODELS } from "./harness.mjs";

let B, client;
before(async () => {
  B = await bed("ollamajs");
  client = new Ollama({ host: B.url, headers: { Authorization: `Bearer ${B.token}` } });
});
after(async () => B?.stop());

const TOOLS = [{ type: "function", function: { name: "read_notes", description: "Read a text file", parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] } } }];

test("list shows every model of every node type, each with its own digest", async () => {
  const { models } = await client.list();
  const names = models.map((m) => m.name);
  for (const kind of KINDS) for (const m of [...MODELS[kind].chat, ...MODELS[kind].embed]) assert.ok(names.some((x) => x === m || x === `${m}:latest`), `${m} listed: ${names}`);
  const digests = models.map((m) => m.digest);
  assert.equal(new Set(digests).size, digests.length, `digests are unique: ${digests}`);
  assert.ok(digests.every((d) => d && d.length > 0));
});

describe("Ollama JS", { concurrency: 3 }, () => {
  for (const kind of KINDS) {
    test(`show on the ${kind} node`, async () => {
      const s = await client.show({ model: MODEL[kind] });
      assert.ok(s.capabilities?.includes("completion"), JSON.stringify(s));
    });

    test(`chat and generate, streamed and not, on the ${kind} node`, async () => {
      const n = nonce();
      const c = await client.chat({ model: MODEL[kind], messages: [{ role: "user", content: `[[say:chat ${n}]]` }], stream: false });
      assert.equal(c.message.content, `chat ${n}`);
      assert.equal(c.done, true);
      assert.equal(c.eval_count, 5);
      let streamed = "";
      let last;
      for await (const part of await client.chat({ model: MODEL[kind], messages: [{ role: "user", content: `[[say:streamed chat ${n}]]` }], stream: true })) {
        streamed += part.message.content;
        last = part;
      }
      assert.equal(streamed, `streamed chat ${n}`);
      assert.equal(last.done, true);
      const g = await client.generate({ model: MODEL[kind], prompt: `[[say:generated ${n}]]`, stream: false });
      assert.equal(g.response, `generated ${n}`);
      let gs = "";
      for await (const part of await client.generate({ model: MODEL[kind], prompt: `[[say:streamed generate ${n}]]`, stream: true })) gs += part.response;
      assert.equal(gs, `streamed generate ${n}`);
    });

    for (const stream of [false, true]) {
      test(`tool round trip ${stream ? "streamed" : "not streamed"} on the ${kind} node`, async () => {
        const n = nonce();
        const ws = workspace("ollamajs");
        const messages = [{ role: "user", content: `Read it. [[tool:read_notes ${JSON.stringify({ path: ws.file })}]] ${n}` }];
        const ask = async () => {
          if (!stream) return (await client.chat({ model: MODEL[kind], messages, tools: TOOLS, stream: false })).message;
          const msg = { role: "assistant", content: "", tool_calls: [] };
          for await (const part of await client.chat({ model: MODEL[kind], messages, tools: TOOLS, stream: true })) {
            msg.content += part.message.content ?? "";
            msg.tool_calls.push(...(part.message.tool_calls ?? []));
          }
          return msg;
        };
        const first = await ask();
        assert.equal(first.tool_calls?.length, 1, JSON.stringify(first));
        const call = first.tool_calls[0];
        assert.equal(call.function.name, "read_notes");
        assert.deepEqual(call.function.arguments, { path: ws.file });
        messages.push(first, { role: "tool", tool_name: "read_notes", content: fs.readFileSync(call.function.arguments.path, "utf8") });
        const second = await ask();
        assert.equal(second.content, `Tool result: The password is ${ws.secret}\n`);
        assert.ok(B.origins[kind].inference(n).at(-1).raw.includes(ws.secret));
      });
    }
  }

  for (const kind of ["openai", "ollama"]) {
    test(`embed on the ${kind} node`, async () => {
      const n = nonce();
      const e = await client.embed({ model: MODELS[kind].embed[0], input: [`x ${n}`, `yy ${n}`] });
      assert.deepEqual(
        e.embeddings.map((v) => v[0]),
        [`x ${n}`.length / 100, `yy ${n}`.length / 100],
      );
      assert.equal(typeof e.total_duration, "number");
      const old = await client.embeddings({ model: MODELS[kind].embed[0], prompt: `z ${n}` });
      assert.equal(old.embedding[0], `z ${n}`.length / 100);
    });
  }
});
