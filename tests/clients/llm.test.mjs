// Simon Willison's `llm` CLI with the llm-ollama plugin, unchanged, pointed at the gateway as
// its Ollama (OLLAMA_HOST, and OLLAMA_API_KEY which the ollama client sends as a bearer token),
// on every node type: model listing (three models per node), prompts streamed and not, a tool
// defined with --functions that really runs, and embeddings. LLM_USER_PATH is a temp folder.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { bed, run, explain, nonce, workspace, tempHome, VENV, KINDS, MODEL, MODELS } from "./harness.mjs";

let B;
before(async () => {
  B = await bed("llm");
  // OpenAI and Anthropic origins do not report capabilities, and llm-ollama refuses tools (and
  // embeddings) for a model whose /api/show lacks them: the admin declares them on a mapping.
  // (A mapping hides its real name: these map models the listing test does not look for.)
  for (const kind of ["anthropic", "openai"]) await B.admin.post("/model-mappings", { display_name: `tools-${kind}`, real_name: MODELS[kind].mapped, capabilities: ["completion", "tools"] }, 201);
  await B.admin.post("/model-mappings", { display_name: "embed-openai", real_name: MODELS.openai.embed[0], capabilities: ["embedding"] }, 201);
});
/** The name llm uses for a tool call on each node type (see the mappings above). */
const TOOL_MODEL = { anthropic: "tools-anthropic", openai: "tools-openai", ollama: MODEL.ollama };
const EMBED_MODEL = { openai: "embed-openai", ollama: MODELS.ollama.embed[0] };
after(async () => B?.stop());

function llm(args, timeoutMs = 60_000) {
  const home = tempHome("llm");
  return run(path.join(VENV, "bin/llm"), args, { home, env: { OLLAMA_HOST: B.url, OLLAMA_API_KEY: B.token, LLM_USER_PATH: path.join(home, "llm") }, timeoutMs });
}

test("llm models lists every chat model of every node type, three per node", async () => {
  const r = await llm(["models", "list"]);
  assert.equal(r.code, 0, explain(r));
  for (const kind of KINDS) for (const m of MODELS[kind].chat) assert.match(r.stdout, new RegExp(`^Ollama: ollama/${m.replace(/[.:]/g, "\\$&")}(\\s|$)`, "m"), `${m} listed as a model of its own (llm-ollama folds models with one digest into aliases):\n${r.stdout}`);
});

describe("llm + llm-ollama", { concurrency: 3 }, () => {
  for (const kind of KINDS) {
    for (const m of MODELS[kind].chat) {
      test(`llm -m ollama/${m} (${kind} node) answers`, async () => {
        const n = nonce();
        const r = await llm(["-m", `ollama/${m}`, "--no-log", `[[say:llm ${n}]]`]);
        assert.equal(r.code, 0, explain(r, B.origins[kind], n));
        assert.equal(r.stdout.trim(), `llm ${n}`);
      });
    }

    test(`streamed and not, with a system prompt, on the ${kind} node`, async () => {
      const n = nonce();
      const s = await llm(["-m", `ollama/${MODEL[kind]}`, "--no-log", "-s", "Be brief.", `[[say:streamed llm ${n}]]`]);
      assert.equal(s.code, 0, explain(s, B.origins[kind], n));
      assert.equal(s.stdout.trim(), `streamed llm ${n}`);
      const p = await llm(["-m", `ollama/${MODEL[kind]}`, "--no-log", "--no-stream", `[[say:plain llm ${n}]]`]);
      assert.equal(p.code, 0, explain(p, B.origins[kind], n));
      assert.equal(p.stdout.trim(), `plain llm ${n}`);
      const reqs = B.origins[kind].inference(n);
      assert.ok(reqs.some((q) => q.raw.includes("Be brief.")), "the system prompt reached the origin");
    });

    test(`a --functions tool round trip on the ${kind} node`, async () => {
      const n = nonce();
      const ws = workspace("llm");
      const fn = 'def read_notes(path: str) -> str:\n    "Read a text file."\n    return open(path).read()\n';
      const r = await llm(["-m", `ollama/${TOOL_MODEL[kind]}`, "--no-log", "--functions", fn, `Read it. [[tool:read_notes ${JSON.stringify({ path: ws.file })}]] ${n}`], 90_000);
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      assert.match(r.stdout, new RegExp(`Tool result: The password is ${ws.secret}`), explain(r, B.origins[kind], n));
      assert.ok(B.origins[kind].inference(n).some((q) => q.raw.includes(ws.secret)));
    });
  }

  for (const kind of ["openai", "ollama"]) {
    test(`llm embed on the ${kind} node`, async () => {
      const n = nonce();
      const r = await llm(["embed", "-m", `ollama/${EMBED_MODEL[kind]}`, "-c", `e ${n}`]);
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      assert.equal(JSON.parse(r.stdout)[0], `e ${n}`.length / 100);
    });
  }
});
