// Claude Code (`claude -p`), the installed release, unchanged, against the built Worker on every
// node type: plain text, --output-format stream-json, and real tool round trips (Read, Bash) on a
// temp folder, authenticating with x-api-key (ANTHROPIC_API_KEY) and with a bearer token
// (ANTHROPIC_AUTH_TOKEN). Telemetry, error reporting, update checks and other non-essential
// traffic are switched off by Claude Code's own settings; HOME is a fresh temp folder.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { bed, run, explain, nonce, workspace, BIN, KINDS, MODEL, MODELS } from "./harness.mjs";

let B;
before(async () => {
  B = await bed("claude");
  // Display names, as teams use them: Claude Code does not know these ids, and then puts its
  // environment block in a system-role message after the first user turn.
  for (const kind of KINDS) await B.admin.post("/model-mappings", { display_name: `team-${kind}`, real_name: MODELS[kind].mapped }, 201);
});
after(async () => B?.stop());

function claude(kind, flags, prompt, { auth = "x-api-key", cwd, model = MODEL[kind], base = B.url } = {}) {
  const env = {
    ANTHROPIC_BASE_URL: base,
    ...(auth === "x-api-key" ? { ANTHROPIC_API_KEY: B.token } : { ANTHROPIC_AUTH_TOKEN: B.token }),
    ANTHROPIC_MODEL: model,
    ANTHROPIC_DEFAULT_HAIKU_MODEL: model,
    ANTHROPIC_DEFAULT_SONNET_MODEL: model,
    ANTHROPIC_DEFAULT_OPUS_MODEL: model,
    ANTHROPIC_SMALL_FAST_MODEL: model,
    CLAUDE_CODE_SUBAGENT_MODEL: model,
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_BUG_COMMAND: "1",
    DISABLE_NON_ESSENTIAL_MODEL_CALLS: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY: "1",
    CLAUDE_CODE_DISABLE_TERMINAL_TITLE: "1",
    CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL: "1",
    API_TIMEOUT_MS: "30000",
  };
  return run(path.join(BIN, "claude"), ["-p", "--model", model, ...flags, "--", prompt], { env, cwd, timeoutMs: 120_000 });
}

const streamJson = (stdout) =>
  stdout
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .map((l) => JSON.parse(l));

describe("Claude Code", { concurrency: 2 }, () => {
  for (const kind of KINDS) {
    test(`text with x-api-key on the ${kind} node`, async () => {
      const n = nonce();
      const r = await claude(kind, [], `[[say:Hello ${n}]]`);
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      assert.equal(r.stdout.trim(), `Hello ${n}`, explain(r, B.origins[kind], n));
      const reqs = B.origins[kind].inference(n);
      assert.ok(reqs.length >= 1);
      if (kind === "anthropic") {
        const up = reqs.at(-1);
        assert.equal(up.path, "/v1/messages");
        assert.equal(up.headers["x-api-key"], "sk-anthropic-node-key", "the node's key, never the user's token");
        assert.ok(!up.raw.includes(B.token) && !JSON.stringify(up.headers).includes(B.token));
        assert.ok(up.headers["anthropic-beta"], "Claude Code's betas reach an anthropic node");
      }
    });

    test(`a display name (system-role message mid-conversation) and a Read round trip on the ${kind} node`, async () => {
      const n = nonce();
      const ws = workspace("claude-display");
      const prompt = `Read notes.txt. [[tool:Read ${JSON.stringify({ file_path: ws.file })}]] ${n}`;
      const r = await claude(kind, ["--allowedTools", "Read"], prompt, { cwd: ws.dir, model: `team-${kind}` });
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      assert.match(r.stdout, new RegExp(`Tool result: .*The password is ${ws.secret}`, "s"), explain(r, B.origins[kind], n));
      // The system message reached the origin after the user's turn, where Claude Code put it.
      const reqs = B.origins[kind].inference(n);
      const roles = (reqs.at(-1).body.messages ?? []).map((m) => m.role);
      assert.ok(roles.indexOf("system", roles.indexOf("user")) > 0, `roles at the origin: ${roles}`);
    });

    test(`stream-json with a bearer token on the ${kind} node`, async () => {
      const n = nonce();
      const r = await claude(kind, ["--output-format", "stream-json", "--verbose"], `[[say:Streamed hello ${n}]]`, { auth: "bearer" });
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      const events = streamJson(r.stdout);
      const result = events.find((e) => e.type === "result");
      assert.ok(result, explain(r, B.origins[kind], n));
      assert.equal(result.is_error, false, explain(r, B.origins[kind], n));
      assert.equal(result.result, `Streamed hello ${n}`);
      assert.ok(events.some((e) => e.type === "assistant" && JSON.stringify(e.message.content).includes(`Streamed hello ${n}`)));
      assert.ok(B.origins[kind].inference(n).some((q) => q.body?.stream === true || q.path === "/api/chat"), "Claude Code streams");
    });

    test(`Read tool round trip (stream-json, x-api-key) on the ${kind} node`, async () => {
      const n = nonce();
      const ws = workspace("claude-read");
      const prompt = `Read notes.txt. [[tool:Read ${JSON.stringify({ file_path: ws.file })}]] ${n}`;
      const r = await claude(kind, ["--output-format", "stream-json", "--verbose", "--allowedTools", "Read"], prompt, { cwd: ws.dir });
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      const events = streamJson(r.stdout);
      const use = events.flatMap((e) => (e.type === "assistant" ? e.message.content : [])).find((b) => b.type === "tool_use");
      assert.equal(use?.name, "Read", explain(r, B.origins[kind], n));
      assert.equal(use.input.file_path, ws.file);
      const toolResult = events.flatMap((e) => (e.type === "user" && Array.isArray(e.message.content) ? e.message.content : [])).find((b) => b.type === "tool_result");
      assert.ok(JSON.stringify(toolResult).includes(ws.secret), "Claude Code ran Read on the file");
      const result = events.find((e) => e.type === "result");
      assert.equal(result?.is_error, false, explain(r, B.origins[kind], n));
      assert.match(result.result, new RegExp(`Tool result: .*The password is ${ws.secret}`, "s"));
      // The origin got the file's content back as the tool's result.
      assert.ok(B.origins[kind].inference(n).some((q) => q.raw.includes(ws.secret)));
    });

    test(`Bash tool round trip (text, bearer) on the ${kind} node`, async () => {
      const n = nonce();
      const ws = workspace("claude-bash");
      const prompt = `Show the notes. [[tool:Bash ${JSON.stringify({ command: `cat ${ws.file}`, description: "Show the notes" })}]] ${n}`;
      const r = await claude(kind, ["--allowedTools", "Bash(cat:*)"], prompt, { cwd: ws.dir, auth: "bearer" });
      assert.equal(r.code, 0, explain(r, B.origins[kind], n));
      assert.match(r.stdout, new RegExp(`Tool result: .*The password is ${ws.secret}`, "s"), explain(r, B.origins[kind], n));
      assert.ok(B.origins[kind].inference(n).some((q) => q.raw.includes(ws.secret)));
    });
  }

  // Model Maestro's path, as teams configured it: ANTHROPIC_BASE_URL=https://host/claude.
  test("stream-json and a Read round trip with ANTHROPIC_BASE_URL=.../claude (ollama node)", async () => {
    const n = nonce();
    const ws = workspace("claude-prefix");
    const prompt = `Read notes.txt. [[tool:Read ${JSON.stringify({ file_path: ws.file })}]] ${n}`;
    const r = await claude("ollama", ["--output-format", "stream-json", "--verbose", "--allowedTools", "Read"], prompt, { cwd: ws.dir, base: `${B.url}/claude` });
    assert.equal(r.code, 0, explain(r, B.origins.ollama, n));
    const result = streamJson(r.stdout).find((e) => e.type === "result");
    assert.equal(result?.is_error, false, explain(r, B.origins.ollama, n));
    assert.match(result.result, new RegExp(`Tool result: .*The password is ${ws.secret}`, "s"));
    assert.ok(B.origins.ollama.inference(n).some((q) => q.raw.includes(ws.secret)), "the tool's result reached the origin");
  });
});
