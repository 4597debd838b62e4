// `make dev` itself (issue 2): the gateway on embedded PGlite, migrations applied, the default
// Ollama node registered once, data kept across restarts, nothing left running after a stop.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../../devtools/gateway.mjs";
import { freePort } from "../../devtools/postgres.mjs";
import { startOrigin } from "./fake-origin.mjs";
import { getJson } from "./helpers.mjs";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "maestro-dev-"));
let origin;
after(async () => {
  await origin?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function startDev(ports) {
  const child = spawn(process.execPath, ["--require", path.join(ROOT, "devtools/wrangler-guard.cjs"), path.join(ROOT, "devtools/dev.mjs")], {
    cwd: ROOT,
    env: { ...process.env, MAESTRO_DEV_DIR: dir, PORT: String(ports.api), UI_PORT: String(ports.ui), PGLITE_PORT: String(ports.pg), OLLAMA_BASE_URL: origin.url, DATABASE_URL: "" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const t0 = Date.now();
  while (!out.includes("Maestro Edge is running")) {
    if (child.exitCode !== null || Date.now() - t0 > 90_000) throw new Error(`make dev did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, output: () => out };
}

async function stopDev(dev) {
  const gone = new Promise((r) => dev.child.on("exit", r));
  dev.child.kill("SIGTERM");
  await gone;
  await new Promise((r) => setTimeout(r, 500));
  // Nothing it started may outlive it (PGlite holds the port and the data directory).
  const left = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(dir));
  assert.deepEqual(left, [], "processes left behind");
}

test("make dev: PGlite, migrations, default node, persistence, clean stop", async () => {
  origin = await startOrigin({ name: "local", models: ["llama3:latest"] });
  const ports = { api: await freePort(), ui: await freePort(), pg: await freePort() };
  const base = `http://127.0.0.1:${ports.api}`;
  const admin = { authorization: "Bearer dev-admin-token", "content-type": "application/json" };

  let dev = await startDev(ports);
  assert.match(dev.output(), /PGlite/);
  assert.match(dev.output(), new RegExp(`Gateway\\s+${base}`));
  const ready = await getJson(`${base}/health/ready`);
  assert.equal(ready.status, 200);
  assert.equal(ready.body.checks.database.up, true);
  const user = await getJson(`${base}/admin/users`, { method: "POST", headers: admin, body: JSON.stringify({ username: "me", has_all_models: true }) });
  assert.equal(user.status, 201, JSON.stringify(user.body));
  // The default node was registered and discovered by the cron run at start.
  const models = await getJson(`${base}/v1/models`, { headers: { authorization: `Bearer ${user.body.token}` } });
  assert.deepEqual(models.body.data.map((m) => m.id), ["llama3:latest"]);
  const chat = await getJson(`${base}/api/chat`, { method: "POST", headers: { authorization: `Bearer ${user.body.token}` }, body: JSON.stringify({ model: "llama3", stream: false, messages: [{ role: "user", content: "hi" }] }) });
  assert.equal(chat.body.message.content, "Hello from local");
  await stopDev(dev);

  dev = await startDev(ports);
  const users = await getJson(`${base}/admin/users`, { headers: admin });
  assert.deepEqual(users.body.users.map((u) => u.username), ["me"], "the data survived the restart");
  const nodes = await getJson(`${base}/admin/nodes`, { headers: admin });
  assert.equal(nodes.body.total, 1, "the default node is registered once");
  assert.equal((await getJson(`${base}/v1/models`, { headers: { authorization: `Bearer ${user.body.token}` } })).status, 200, "the token still works");
  await stopDev(dev);
});
