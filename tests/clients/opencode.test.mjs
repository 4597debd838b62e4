// opencode (`opencode run`), the installed release, unchanged, with the gateway as an
// OpenAI-compatible provider (its bundled @ai-sdk/openai-compatible) on every node type: text,
// and a real tool round trip (its `read` tool, and `bash`) on a temp folder. Configuration comes
// from OPENCODE_CONFIG_CONTENT; the models.dev fetch, auto-update, default plugins, LSP
// downloads and sharing are switched off by opencode's own settings; HOME is a fresh temp folder.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { bed, run, explain, nonce, workspace, BIN, KINDS, MODEL } from "./harness.mjs";

let B;
before(async () => {
  B = await bed("opencode");
});
after(async () => B?.stop());

function opencode(kind, prompt, cwd) {
  const config = {
    $schema: "https://opencode.ai/config.json",
    autoupdate: false,
    share: "disabled",
    snapshot: false,
    lsp: false,
    formatter: false,
    permission: { read: "allow", bash: "allow", edit: "deny", webfetch: "deny", external_directory: "allow" },
    provider: {
      maestro: {
        npm: "@ai-sdk/openai-compatible",
        name: "Maestro Edge",
        options: { baseURL: `${B.url}/v1`, apiKey: B.token },
        models: { [MODEL[kind]]: { name: MODEL[kind], tool_call: true, limit: { context: 32768, output: 4096 } } },
      },
    },
    model: `maestro/${MODEL[kind]}`,
    small_model: `maestro/${MODEL[kind]}`,
  };
  return run(path.join(BIN, "opencode"), ["run", "--format", "json", "--model", `maestro/${MODEL[kind]}`, prompt], {
    cwd,
    env: {
      OPENCODE_CONFIG_CONTENT: JSON.stringify(config),
      OPENCODE_DISABLE_AUTOUPDATE: "1",
      OPENCODE_DISABLE_MODELS_FETCH: "1",
      OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
      OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
      OPENCODE_DISABLE_SHARE: "1",
      OPENCODE_DISABLE_CLAUDE_CODE: "1",
      OPENCODE_DISABLE_EXTERNAL_SKILLS: "1",
      OPENCODE_DISABLE_TERMINAL_TITLE: "1",
      OPENCODE_EXPERIMENTAL_DISABLE_FILEWATCHER: "1",
    },
    // A run takes 15-20 s on a loaded 2-core machine; opencode retries a 5xx for about 90 s.
    timeoutMs: 75_000,
  });
}

const events = (stdout) =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
const texts = (evs) =>
  evs
    .filter((e) => e.type === "text")
    .map((e) => e.part?.text ?? "")
    .join("");

describe("opencode", { concurrency: 2 }, () => {
  for (const kind of KINDS) {
    test(`opencode run text on the ${kind} node`, async () => {
      const n = nonce();
      const r = await opencode(kind, `[[say:opencode hello ${n}]]`);
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      assert.equal(texts(events(r.stdout)).trim(), `opencode hello ${n}`, explain(r, B.origins[kind], n));
    });

    for (const [toolName, args] of [
      ["read", (ws) => ({ filePath: ws.file })],
      ["bash", (ws) => ({ command: `cat ${ws.file}`, description: "Show the notes" })],
    ]) {
      test(`opencode run ${toolName} tool round trip on the ${kind} node`, async () => {
        const n = nonce();
        const ws = workspace(`opencode-${toolName}`);
        const r = await opencode(kind, `Show the notes. [[tool:${toolName} ${JSON.stringify(args(ws))}]] ${n}`, ws.dir);
        assert.equal(r.code, 0, explain(r, B.origins[kind], n));
        const evs = events(r.stdout);
        const use = evs.find((e) => e.type === "tool_use");
        assert.equal(use?.part?.tool, toolName, explain(r, B.origins[kind], n));
        assert.match(texts(evs), new RegExp(`Tool result: [\\s\\S]*The password is ${ws.secret}`), explain(r, B.origins[kind], n));
        assert.ok(B.origins[kind].inference(n).some((q) => q.raw.includes(ws.secret)), "the tool's output reached the origin");
      });
    }
  }
});
