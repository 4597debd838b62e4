// Codex CLI (`codex exec`), the installed release, unchanged, with the gateway as a custom model
// provider (`wire_api = "responses"`, key from `env_key`) on every node type: text, a real
// shell tool round trip on a temp folder, and `apply_patch` (Codex's freeform tool) editing a
// file on disk. CODEX_HOME is a temp folder with a config.toml that
// switches off update checks, analytics and feedback; HOME is a fresh temp folder too.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { bed, run, explain, nonce, workspace, tempHome, BIN, KINDS, MODEL } from "./harness.mjs";

let B, CATALOG;
before(async () => {
  B = await bed("codex");
  const r = await fetch(`${B.url}/codex/models`, { headers: { authorization: `Bearer ${B.token}` } });
  assert.equal(r.status, 200);
  CATALOG = await r.text();
});

/** The catalog file a Codex home points at (written once per home). */
function catalogFile() {
  const f = path.join(tempHome("codex-catalog"), "models.json");
  fs.writeFileSync(f, CATALOG);
  return f;
}
after(async () => B?.stop());

function codexHome(kind, base = `${B.url}/v1`) {
  const home = tempHome("codex");
  const codex = path.join(home, ".codex");
  fs.mkdirSync(codex, { recursive: true });
  fs.writeFileSync(
    path.join(codex, "config.toml"),
    `model = "${MODEL[kind]}"
model_provider = "maestro"
check_for_update_on_startup = false
approval_policy = "never"
sandbox_mode = "danger-full-access"
# The gateway's own model list (GET /codex/models, Codex's ModelsResponse) as Codex's catalog:
# its metadata (context window, apply_patch_tool_type = freeform) instead of Codex's fallback.
model_catalog_json = ${JSON.stringify(catalogFile())}

[model_providers.maestro]
name = "Maestro Edge"
base_url = "${base}"
env_key = "MAESTRO_TOKEN"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
log_user_prompt = false
`,
  );
  return { home, codex };
}

async function codex(kind, prompt, cwd, base) {
  const { home, codex: CODEX_HOME } = codexHome(kind, base);
  const last = path.join(home, "last-message.txt");
  const r = await run(path.join(BIN, "codex"), ["exec", "--skip-git-repo-check", "--json", "--output-last-message", last, ...(cwd ? ["--cd", cwd] : []), prompt], {
    home,
    cwd,
    env: { CODEX_HOME, MAESTRO_TOKEN: B.token, RUST_LOG: "error" },
    timeoutMs: 120_000,
  });
  r.last = fs.existsSync(last) ? fs.readFileSync(last, "utf8").trim() : "";
  r.events = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
  return r;
}

describe("Codex CLI", { concurrency: 2 }, () => {
  for (const kind of KINDS) {
    test(`codex exec text on the ${kind} node`, async () => {
      const n = nonce();
      const r = await codex(kind, `[[say:Codex hello ${n}]]`);
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      assert.equal(r.last, `Codex hello ${n}`, explain(r, B.origins[kind], n));
      assert.ok(B.origins[kind].inference(n).length >= 1);
    });

    test(`codex exec shell tool round trip on the ${kind} node`, async () => {
      const n = nonce();
      const ws = workspace("codex");
      const cat = `cat ${ws.file}`;
      // Codex offers its shell under one of these names, depending on the release and model.
      const alts = [`exec_command ${JSON.stringify({ cmd: cat })}`, `shell_command ${JSON.stringify({ command: cat })}`, `shell ${JSON.stringify({ command: ["bash", "-lc", cat] })}`];
      const r = await codex(kind, `Show the notes. [[tool:${alts.join(" || ")}]] ${n}`, ws.dir);
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      assert.match(r.last, new RegExp(`Tool result: [\\s\\S]*The password is ${ws.secret}`), explain(r, B.origins[kind], n));
      const reqs = B.origins[kind].inference(n);
      assert.ok(reqs.length >= 2);
      assert.ok(reqs.at(-1).raw.includes(ws.secret), "the command's output reached the origin");
    });
  }

  for (const kind of KINDS) {
    test(`codex exec apply_patch end to end on the ${kind} node`, async () => {
      const n = nonce();
      const ws = workspace("codex-patch");
      const before = fs.readFileSync(ws.file, "utf8");
      const patch = `*** Begin Patch\n*** Update File: notes.txt\n@@\n-The password is ${ws.secret}\n+The password is patched-${n}\n*** End Patch\n`;
      const r = await codex(kind, `Change the password in notes.txt. [[tool:apply_patch ${JSON.stringify({ input: patch })}]] ${n}`, ws.dir);
      const o = B.origins[kind];
      assert.equal(r.code, 0, explain(r, o, n));
      // The file on disk changed: Codex applied the raw patch it got as a custom_tool_call.
      assert.equal(fs.readFileSync(ws.file, "utf8"), before.replace(ws.secret, `patched-${n}`), explain(r, o, n));
      const reqs = o.inference(n);
      assert.ok(reqs.length >= 2, explain(r, o, n));
      // Turn 1 offered apply_patch to the origin as a function taking the raw input...
      const offered = (reqs[0].body.tools ?? []).map((t) => t.function ?? t).find((t) => t.name === "apply_patch");
      assert.ok(offered, `apply_patch offered: ${JSON.stringify((reqs[0].body.tools ?? []).map((t) => t.function?.name ?? t.name))}`);
      assert.deepEqual((offered.parameters ?? offered.input_schema).required, ["input"]);
      // ...and the next turn carried the custom_tool_call_output: Codex's apply_patch report,
      // as the tool result of that call.
      const next = reqs.at(-1).body.messages;
      const call = kind === "anthropic" ? next.at(-2).content.find((b) => b.type === "tool_use") : next.at(-2).tool_calls?.[0];
      const result = kind === "anthropic" ? next.at(-1).content.find((b) => b.type === "tool_result") : next.at(-1);
      assert.equal(call?.name ?? call?.function?.name, "apply_patch", explain(r, o, n));
      const args = call.input ?? call.function.arguments;
      assert.equal((typeof args === "string" ? JSON.parse(args) : args).input, patch, "the call in the history carries the raw patch as {input}");
      assert.equal(kind === "anthropic" ? result.tool_use_id : result.tool_call_id, call.id, "the result answers that call");
      assert.match(result.content, /Success\. Updated the following files:\nM notes\.txt/, explain(r, o, n));
      assert.match(r.last, /Tool result: [\s\S]*Success\. Updated the following files/, explain(r, o, n));
    });
  }

  // Model Maestro's path, as teams configured it: base_url = "https://host/codex".
  test("codex exec shell tool round trip with base_url .../codex (openai node)", async () => {
    const n = nonce();
    const ws = workspace("codex-prefix");
    const cat = `cat ${ws.file}`;
    const alts = [`exec_command ${JSON.stringify({ cmd: cat })}`, `shell_command ${JSON.stringify({ command: cat })}`, `shell ${JSON.stringify({ command: ["bash", "-lc", cat] })}`];
    const r = await codex("openai", `Show the notes. [[tool:${alts.join(" || ")}]] ${n}`, ws.dir, `${B.url}/codex`);
    assert.equal(r.code, 0, explain(r, B.origins.openai, n));
    assert.match(r.last, new RegExp(`Tool result: [\\s\\S]*The password is ${ws.secret}`), explain(r, B.origins.openai, n));
    assert.ok(B.origins.openai.inference(n).at(-1).raw.includes(ws.secret), "the command's output reached the origin");
  });
});
