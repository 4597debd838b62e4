// Claude Code (`claude -p`), the installed release, unchanged, against the built Worker on every
// node type: plain text, --output-format stream-json, and real tool round trips (Read, Bash) on a
// temp folder, authenticating with x-api-key (ANTHROPIC_API_KEY) and with a bearer token
// (ANTHROPIC_AUTH_TOKEN). Telemetry, error reporting, update checks and other non-essential
// traffic are switched off by Claude Code's own settings; HOME is a fresh temp folder.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { bed, run, explain, nonce, workspace, BIN, KINDS, MODEL, MODELS } from "./harness.mjs";
import { sign } from "./scripted-origin.mjs";

let B;
before(async () => {
  B = await bed("claude");
  // Display names, as teams use them: Claude Code does not know these ids, and then puts its
  // environment block in a system-role message after the first user turn.
  for (const kind of KINDS) await B.admin.post("/model-mappings", { display_name: `team-${kind}`, real_name: MODELS[kind].mapped }, 201);
});
after(async () => B?.stop());

function claude(kind, flags, prompt, { auth = "x-api-key", cwd, model = MODEL[kind], base = B.url, extraEnv = {} } = {}) {
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
    ...extraEnv,
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

  // Thinking on (MAX_THINKING_TOKENS): the scripted anthropic origin signs its thinking and
  // refuses a replayed block whose signature is not its own, as the API does; and it reports
  // cache writes and reads for the tools+system prefix Claude Code marks with cache_control.
  test("thinking with a signature goes back byte-identical, and the second turn reads the prompt cache (anthropic node)", async () => {
    const n = nonce();
    const ws = workspace("claude-think");
    const prompt = `Read notes.txt. [[tool:Read ${JSON.stringify({ file_path: ws.file })}]] ${n}`;
    const origin = B.origins.anthropic;
    const rejectedBefore = origin.rejected.length;
    const r = await claude("anthropic", ["--output-format", "stream-json", "--verbose", "--allowedTools", "Read"], prompt, { cwd: ws.dir, extraEnv: { MAX_THINKING_TOKENS: "2048" } });
    assert.equal(r.code, 0, explain(r, origin, n));
    const events = streamJson(r.stdout);
    const result = events.find((e) => e.type === "result");
    assert.equal(result?.is_error, false, explain(r, origin, n));
    assert.match(result.result, new RegExp(`Tool result: .*The password is ${ws.secret}`, "s"));
    // What the client saw: the origin's thinking, with the origin's signature.
    const thought = events.flatMap((e) => (e.type === "assistant" ? e.message.content : [])).find((b) => b.type === "thinking");
    assert.ok(thought, `Claude Code showed the thinking block: ${r.stdout.slice(0, 2000)}`);
    assert.equal(thought.signature, sign(thought.thinking));
    // What reached the origin: thinking requested, and on the tool-result turn the assistant
    // turn starts with that block, signature intact (the origin checked it: nothing refused).
    const reqs = origin.inference(n).filter((q) => q.path === "/v1/messages");
    assert.ok(reqs.length >= 2, explain(r, origin, n));
    assert.equal(reqs[0].body.thinking?.type, "enabled", "Claude Code asked for thinking");
    const second = reqs.find((q) => q.raw.includes(ws.secret));
    const replayed = second.body.messages.findLast((m) => m.role === "assistant").content[0];
    assert.deepEqual(replayed, { type: "thinking", thinking: thought.thinking, signature: thought.signature });
    assert.ok(second.raw.includes(`"signature":${JSON.stringify(thought.signature)}`), "the signature's bytes");
    assert.equal(origin.rejected.slice(rejectedBefore).filter((x) => x.raw.includes(n)).length, 0, "the origin refused no replayed thinking");
    // Prompt caching: cache_control reached the origin on both turns with the same prefix, and
    // the cache reads it reported came back to Claude Code.
    for (const q of [reqs[0], second]) assert.ok(q.body.system.some((s) => s.cache_control), "cache_control on the system blocks");
    assert.deepEqual(second.body.system, reqs[0].body.system, "a stable prefix");
    const reads = [result.usage?.cache_read_input_tokens ?? 0, ...events.filter((e) => e.type === "assistant").map((e) => e.message.usage?.cache_read_input_tokens ?? 0)];
    assert.ok(Math.max(...reads) > 0, `cache reads reported to Claude Code: ${JSON.stringify(result.usage)}`);
  });

  // Thinking from a non-Anthropic origin (Ollama `thinking`): Claude Code gets it as a thinking
  // block with the gateway's marker signature, accepts it, and replays it on the tool-result
  // turn, which reaches the Ollama origin as its own `thinking` again.
  test("thinking from an ollama node reaches Claude Code as a thinking block it replays (ollama node)", async () => {
    const n = nonce();
    const ws = workspace("claude-think-ollama");
    const prompt = `Read notes.txt. [[tool:Read ${JSON.stringify({ file_path: ws.file })}]] ${n}`;
    const origin = B.origins.ollama;
    const r = await claude("ollama", ["--output-format", "stream-json", "--verbose", "--allowedTools", "Read"], prompt, { cwd: ws.dir, extraEnv: { MAX_THINKING_TOKENS: "2048" } });
    assert.equal(r.code, 0, explain(r, origin, n));
    const events = streamJson(r.stdout);
    const result = events.find((e) => e.type === "result");
    assert.equal(result?.is_error, false, explain(r, origin, n));
    assert.match(result.result, new RegExp(`Tool result: .*The password is ${ws.secret}`, "s"));
    const thought = events.flatMap((e) => (e.type === "assistant" ? e.message.content : [])).find((b) => b.type === "thinking");
    assert.ok(thought, `Claude Code showed the thinking block: ${r.stdout.slice(0, 2000)}`);
    assert.equal(thought.signature, "maestro-edge:unsigned", "marked as not Anthropic's");
    const reqs = origin.inference(n).filter((q) => q.path === "/api/chat");
    assert.ok(reqs[0].body.think, "Claude Code's thinking request reached Ollama as think");
    const second = reqs.find((q) => q.raw.includes(ws.secret));
    const replayed = second.body.messages.findLast((m) => m.role === "assistant");
    assert.equal(replayed.thinking, thought.thinking, "the origin's own reasoning went back to it");
  });

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
