// The client test bed: the built Worker in workerd (tests/e2e/helpers.mjs setup()) with one
// scripted origin per node type behind it, a user token, and a runner for client processes that
// gives each run its own HOME, no inherited environment, a closed proxy for anything that is not
// loopback (a client reaching for the internet fails at once instead of depending on it), and a
// bounded time.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";
import { startScriptedOrigin } from "./scripted-origin.mjs";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BIN = path.join(HERE, "node_modules/.bin");
export const VENV = path.join(os.homedir(), ".cache/maestro-edge/venv");
export const KINDS = ["anthropic", "openai", "ollama"];

/**
 * The models each node type serves: three chat models called by their real names (llm-ollama
 * must list all three), and one more that tests reach through a display name only (a mapping
 * hides its real name from the user).
 */
export const MODELS = {
  anthropic: { chat: ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"], mapped: "claude-sonnet-4-6", embed: [] },
  openai: { chat: ["gpt-4o-mini", "gpt-4.1", "o4-mini"], mapped: "gpt-4.1-mini", embed: ["text-embedding-3-small"] },
  ollama: { chat: ["qwen3:8b", "llama3.2:3b", "mistral:7b"], mapped: "qwen3:14b", embed: ["nomic-embed-text:latest"] },
};
/** The model a client asks for on each node type. */
export const MODEL = Object.fromEntries(KINDS.map((k) => [k, MODELS[k].chat[0]]));

/** Gateway + three origins (one per node type, each registered and discovered) + a user token. */
export async function bed(name) {
  const origins = {};
  for (const kind of KINDS) origins[kind] = await startScriptedOrigin({ name: `scripted-${kind}`, kind, models: [...MODELS[kind].chat, MODELS[kind].mapped], embedModels: MODELS[kind].embed });
  const { setup, adminClient } = await import("../e2e/helpers.mjs");
  const env = await setup({ name: `clients_${name}` });
  const admin = adminClient(env.url);
  for (const kind of KINDS) {
    const n = await admin.post("/nodes", { name: `node-${kind}`, node_type: kind, base_url: origins[kind].url, ...(kind === "ollama" ? {} : { api_key: `sk-${kind}-node-key` }) }, 201);
    await admin.post(`/nodes/${n.id}/discover`, {}, 200);
  }
  const token = (await admin.post("/users", { username: `u_${name}`, has_all_models: true }, 201)).token;
  return {
    url: env.url,
    token,
    admin,
    origins,
    async stop() {
      await env.stop();
      for (const o of Object.values(origins)) await o.stop();
    },
  };
}

/** A fresh nonce for a prompt, so a test finds its own requests at a shared origin. */
export const nonce = () => `n${crypto.randomBytes(5).toString("hex")}`;

// Every temp folder a test made (client homes hold sessions, caches and logs) goes at exit.
const made = [];
process.on("exit", () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
const tempDir = (name) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), name));
  made.push(d);
  return d;
};

/** A temp folder with a file holding a secret only a real tool run can read. */
export function workspace(prefix) {
  const dir = tempDir(`maestro-${prefix}-`);
  const secret = `secret-${crypto.randomBytes(6).toString("hex")}`;
  fs.writeFileSync(path.join(dir, "notes.txt"), `The password is ${secret}\n`);
  return { dir, secret, file: path.join(dir, "notes.txt") };
}

export function tempHome(prefix) {
  return tempDir(`maestro-${prefix}-home-`);
}

/** Nothing but loopback: proxies that refuse (port 9 is closed) for every other address. */
const OFFLINE = {
  HTTP_PROXY: "http://127.0.0.1:9",
  HTTPS_PROXY: "http://127.0.0.1:9",
  http_proxy: "http://127.0.0.1:9",
  https_proxy: "http://127.0.0.1:9",
  NO_PROXY: "127.0.0.1,localhost",
  no_proxy: "127.0.0.1,localhost",
};

/**
 * Run a client to completion: {code, stdout, stderr, ms}. The child starts in its own process
 * group and the whole group is killed at `timeoutMs` (then `timedOut` is true).
 */
export function run(cmd, args, { env = {}, cwd, home, timeoutMs = 90_000, input } = {}) {
  const h = home ?? tempHome(path.basename(cmd));
  const childEnv = {
    PATH: `${BIN}:${path.join(VENV, "bin")}:${process.env.PATH}`,
    HOME: h,
    XDG_CONFIG_HOME: path.join(h, ".config"),
    XDG_DATA_HOME: path.join(h, ".local/share"),
    XDG_CACHE_HOME: path.join(h, ".cache"),
    XDG_STATE_HOME: path.join(h, ".local/state"),
    TMPDIR: os.tmpdir(),
    LANG: "C.UTF-8",
    TERM: "dumb",
    NO_COLOR: "1",
    CI: "1",
    ...OFFLINE,
    ...env,
  };
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: cwd ?? h, env: childEnv, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, timeoutMs);
    child.on("error", (e) => {
      stderr += String(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      // Anything the client left running in its group goes too.
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
      resolve({ code, stdout, stderr, timedOut, ms: Date.now() - started });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** A failure message with everything needed to see what happened. */
export function explain(r, origin, needle) {
  const seen = origin ? origin.inference(needle).map((q) => `${q.method} ${q.url} ${q.raw.slice(0, 600)}`) : [];
  return `exit ${r.code}${r.timedOut ? " (timed out)" : ""} after ${r.ms} ms\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}\n--- origin got ${seen.length} request(s)\n${seen.join("\n").slice(-3000)}`;
}

/** Run a Python client scenario (tests/clients/*.py) in the test venv; resolves its last JSON line. */
export async function python(script, args, opts = {}) {
  const r = await run(path.join(VENV, "bin/python"), [path.join(HERE, script), ...args], opts);
  const last = r.stdout.trim().split("\n").at(-1);
  let out = null;
  try {
    out = JSON.parse(last);
  } catch {}
  return { ...r, out };
}
