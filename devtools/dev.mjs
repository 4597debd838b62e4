// `make dev`: the gateway at http://127.0.0.1:8787 with embedded defaults, and the admin
// dashboard (admin-ui/dist, rebuilt when missing or stale) at http://127.0.0.1:8788.
// Postgres = DATABASE_URL if set, else an embedded PGlite server persisted in .dev/pglite.
// KV and Durable Object state persist in .dev/state. The cron runs at start and every minute.
// Redis (for backend.cache / backend.limits = redis): UPSTASH_REDIS_REST_URL and
// UPSTASH_REDIS_REST_TOKEN from the environment or .dev.vars.local (a real Upstash database), or
// MAESTRO_REDIS=1 for a local redis-server behind the Upstash REST bridge (not persisted).
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { startGateway, ROOT } from "./gateway.mjs";
import { buildUi, startUiServer } from "./ui-server.mjs";
import { startRedis, killRedis } from "./redis.mjs";

const PORT = Number(process.env.PORT ?? 8787);
const UI_PORT = Number(process.env.UI_PORT ?? 8788);
const HOST = process.env.HOST ?? "127.0.0.1";
const OLLAMA = process.env.OLLAMA_BASE_URL ?? "http://127.0.0.1:11434";
// MAESTRO_DEV_DIR moves the persisted state (the tests run `make dev` in a temp folder).
const DEV = process.env.MAESTRO_DEV_DIR ?? path.join(ROOT, ".dev");

function readVars(file) {
  if (!fs.existsSync(file)) return {};
  const out = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = line.match(/^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/);
    if (m) out[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return out;
}

async function waitPort(port, ms = 30000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, "127.0.0.1", () => (s.end(), r(true)));
      s.on("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`port ${port} did not open`);
}

const children = [];
let databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  const pgPort = Number(process.env.PGLITE_PORT ?? 55433);
  fs.mkdirSync(path.join(DEV, "pglite"), { recursive: true });
  const pglite = spawn(process.execPath, [path.join(ROOT, "node_modules/@electric-sql/pglite-socket/dist/scripts/server.js"), `--db=${path.join(DEV, "pglite")}`, `--port=${pgPort}`, "--max-connections=8"], { stdio: ["ignore", "ignore", "inherit"] });
  children.push(pglite);
  await waitPort(pgPort);
  // miniflare needs a password in the string even though PGlite does not check it.
  databaseUrl = `postgres://postgres:postgres@127.0.0.1:${pgPort}/postgres`;
}

const vars = { ...readVars(path.join(ROOT, ".dev.vars")), ...readVars(path.join(ROOT, ".dev.vars.local")), DEFAULT_OLLAMA_URL: OLLAMA };
for (const k of ["JWT_SECRET", "ADMIN_TOKEN", "ADMIN_USERNAME", "ADMIN_PASSWORD", "SECRETS_KEY", "ADMIN_UI_ORIGINS", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "UPSTASH_REDIS_PREFIX", "CLIENT_IP_HEADER"])
  if (process.env[k]) vars[k] = process.env[k];
// Local miniflare passes a client's own CF-Connecting-IP through (it sets one only when absent),
// so make dev trusts no address header unless told otherwise (README, "Login limits").
vars.CLIENT_IP_HEADER ??= "none";
let localRedis;
if (process.env.MAESTRO_REDIS === "1" && !vars.UPSTASH_REDIS_REST_URL) {
  const dir = path.join(DEV, "redis");
  fs.mkdirSync(dir, { recursive: true });
  localRedis = await startRedis({ dir, token: "dev-redis-token" });
  process.on("exit", () => killRedis(dir)); // at once: even if the gateway fails to start
  vars.UPSTASH_REDIS_REST_URL = localRedis.url;
  vars.UPSTASH_REDIS_REST_TOKEN = localRedis.token;
}
// The dashboard is another origin than the API: whatever ADMIN_UI_ORIGINS says, let it in.
const uiOrigin = `http://${HOST}:${UI_PORT}`;
const origins = (vars.ADMIN_UI_ORIGINS ?? "").split(",").map((o) => o.trim()).filter(Boolean);
if (!origins.includes(uiOrigin)) vars.ADMIN_UI_ORIGINS = [...origins, uiOrigin].join(",");

// Build the dashboard first: a broken UI build should stop `make dev` before anything starts.
try {
  if (buildUi({ quiet: true })) console.log("-- built the admin dashboard (admin-ui/dist)");
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
const gw = await startGateway({ databaseUrl, vars, persistTo: path.join(DEV, "state"), port: PORT, host: HOST });

const ui = await startUiServer({ port: UI_PORT, host: HOST, apiBase: gw.url });

let cron;
// Children first and synchronously: whatever happens to the runtime's shutdown, PGlite must
// not outlive us (it would hold the port and the data directory).
const killChildren = () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  if (localRedis) killRedis(localRedis.dir);
};
process.on("exit", killChildren);
const shutdown = async () => {
  clearInterval(cron);
  killChildren();
  await ui.close().catch(() => {});
  await Promise.race([gw.stop().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
process.on("SIGHUP", shutdown);

// Warm up: readiness applies migrations (and registers the default node); then one cron run.
const ready = await fetch(`${gw.url}/health/ready`).then((r) => r.json()).catch((e) => ({ status: String(e) }));
const runCron = () => gw.scheduled().catch((e) => console.error("cron failed:", e.message));
await runCron();
cron = setInterval(runCron, 60_000);

console.log(`
  Maestro Edge is running (database: ${process.env.DATABASE_URL ? "DATABASE_URL" : "PGlite in .dev/pglite"}, status: ${ready.status})

  Dashboard    ${ui.url}            (sign in as ${vars.ADMIN_USERNAME} / ${vars.ADMIN_PASSWORD}; API base ${gw.url})
  Gateway      ${gw.url}            (OpenAI: ${gw.url}/v1, Ollama: ${gw.url})
  Admin API    ${gw.url}/admin      (Authorization: Bearer ${vars.ADMIN_TOKEN})
  Readiness    ${gw.url}/health/ready
  Default node ${OLLAMA} (OLLAMA_BASE_URL)
  Redis        ${vars.UPSTASH_REDIS_REST_URL ? `${vars.UPSTASH_REDIS_REST_URL}${localRedis ? " (local redis-server behind the Upstash REST bridge)" : ""}; select it with PUT /admin/settings {"backend.limits":"redis","backend.cache":"redis"}` : "not configured (MAESTRO_REDIS=1 make dev starts a local one)"}

  Create a user:  curl -s -X POST ${gw.url}/admin/users -H 'Authorization: Bearer ${vars.ADMIN_TOKEN}' -H 'Content-Type: application/json' -d '{"username":"me","has_all_models":true}'
  Ctrl-C stops it; data stays in .dev/ for the next run.
`);
