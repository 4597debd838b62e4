// Codex CLI (`codex exec`), the installed release, unchanged, with the gateway as a custom model
// provider (`wire_api = "responses"`, key from `env_key`) on every node type: text, and a real
// shell tool round trip on a temp folder. CODEX_HOME is a temp folder with a config.toml that
// switches off update checks, analytics and feedback; HOME is a fresh temp folder too.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { bed, run, explain, nonce, workspace, tempHome, BIN, KINDS, MODEL } from "./harness.mjs";

let B;
before(async () => {
  B = await bed("codex");
});
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
