// LangChain (Python: langchain-openai, langchain-ollama, langchain-anthropic), unchanged, against
// the built Worker on every node type: invoke and stream, a bound tool that really runs (streamed
// and not) with its result sent back, and embeddings where the node type has them.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { bed, python, explain, nonce, workspace, KINDS, MODEL, MODELS } from "./harness.mjs";

let B;
before(async () => {
  B = await bed("langchain");
});
after(async () => B?.stop());

const ENV = { LANGCHAIN_TRACING_V2: "false", LANGSMITH_TRACING: "false", LANGCHAIN_CALLBACKS_BACKGROUND: "false" };
const lc = (provider, kind, scenario, arg, n) => python("langchain_client.py", [B.url, B.token, provider, MODEL[kind], scenario, arg, n], { env: ENV, timeoutMs: 60_000 });

for (const provider of ["openai", "ollama", "anthropic"]) {
  describe(`LangChain ${provider}`, { concurrency: 3 }, () => {
    for (const kind of KINDS) {
      test(`invoke and stream on the ${kind} node`, async () => {
        const n = nonce();
        const r = await lc(provider, kind, "text", "-", n);
        assert.equal(r.code, 0, explain(r, B.origins[kind], n));
        assert.equal(r.out.text, `langchain ${n}`);
        assert.equal(r.out.streamed, `streamed langchain ${n}`);
        assert.equal(r.out.usage?.output_tokens, 5);
      });

      test(`tool round trip, streamed and not, on the ${kind} node`, async () => {
        const n = nonce();
        const ws = workspace("langchain");
        const r = await lc(provider, kind, "tools", ws.file, n);
        assert.equal(r.code, 0, explain(r, B.origins[kind], n));
        for (const way of ["plain", "streamed"]) {
          assert.deepEqual(r.out[way].calls, [{ name: "read_notes", args: { path: ws.file } }], way);
          assert.match(r.out[way].final, new RegExp(`^Tool result: The password is ${ws.secret}`), way);
        }
        assert.equal(B.origins[kind].inference(n).filter((q) => q.raw.includes(ws.secret)).length, 2);
      });
    }
  });
}

describe("LangChain embeddings", { concurrency: 2 }, () => {
  for (const [provider, kind] of [["openai", "openai"], ["openai", "ollama"], ["ollama", "ollama"], ["ollama", "openai"]]) {
    test(`${provider} embeddings on the ${kind} node`, async () => {
      const n = nonce();
      const r = await python("langchain_client.py", [B.url, B.token, provider, "-", "embed", MODELS[kind].embed[0], n], { env: ENV, timeoutMs: 60_000 });
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      assert.equal(r.out.query[0], `q ${n}`.length / 100);
      assert.deepEqual(
        r.out.documents.map((v) => v[0]),
        [`a ${n}`.length / 100, `bb ${n}`.length / 100],
      );
    });
  }
});
