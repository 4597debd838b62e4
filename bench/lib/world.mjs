// The benchmark's world: a real Postgres (with statement logging, so "no query per warm
// request" is checked, not assumed), a fake origin, and the gateway host process, configured
// through the admin API the way an operator would: two nodes, a mapping, and a user with an
// explicit allow-list and request/token limits (so the Limiter Durable Object is on the path).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { startPostgres, freePort } from "../../devtools/postgres.mjs";
import { startChild, stopGroup, onCleanup, cpuOf } from "./procs.mjs";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ADMIN_TOKEN = "bench-admin-token-0123456789";
export const VARS = {
  JWT_SECRET: "bench-jwt-secret-0123456789abcdef0123456789",
  ADMIN_TOKEN,
  ADMIN_USERNAME: "admin",
  ADMIN_PASSWORD: "bench-admin-password",
  SECRETS_KEY: "bench-secrets-key-0123456789abcdef0123456789",
};
export const REAL_MODEL = "bench-llm:latest";
export const DISPLAY_MODEL = "bench-chat";

/**
 * Postgres for the run: the cluster `scripts/test.sh` started (MAESTRO_TEST_PG_PORT; smoke
 * mode inside `make test`) or a private one. Statement logging is switched on either way
 * (ALTER SYSTEM + reload), and statements are counted per database from the log file.
 */
export async function startDatabase(log) {
  let cluster;
  const shared = process.env.MAESTRO_TEST_PG_PORT;
  if (shared) {
    const { execFileSync } = await import("node:child_process");
    const port = Number(shared);
    const url = (db = "postgres") => `postgres://postgres:postgres@127.0.0.1:${port}/${db}`;
    cluster = {
      port,
      url,
      logFile: null,
      psql: (sql, db = "postgres") => execFileSync("psql", [url(db), "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql], { encoding: "utf8" }).trim(),
      stop() {},
    };
  } else {
    cluster = await startPostgres();
    cluster.logFile = path.join(cluster.dir, "log");
    onCleanup(() => {
      cluster.stop();
      fs.rmSync(cluster.dir, { recursive: true, force: true });
    });
  }
  const db = `bench_${process.pid}_${Date.now().toString(36)}`;
  cluster.psql(`CREATE DATABASE "${db}"`);
  if (!shared) {
    // Our own cluster: log every statement with its database, so the count is exact.
    cluster.psql("ALTER SYSTEM SET log_statement = 'all'");
    cluster.psql("ALTER SYSTEM SET log_connections = 'on'");
    cluster.psql("ALTER SYSTEM SET log_line_prefix = '%m [%p] db=%d '");
    // Autovacuum's own transactions would show up in pg_stat_database as if someone had asked.
    cluster.psql("ALTER SYSTEM SET autovacuum = off");
    cluster.psql("SELECT pg_reload_conf()");
  } else {
    onCleanup(() => {
      try {
        cluster.psql(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
      } catch {}
    });
  }
  log?.(`postgres on 127.0.0.1:${cluster.port}, database ${db}${shared ? " (shared test cluster)" : ""}`);
  return { cluster, db, url: cluster.url(db) };
}

/** A reading of how much this database has been asked: logged statements and connections
 * (own cluster only) and committed/rolled-back transactions from pg_stat_database. */
export function dbActivity(database) {
  const { cluster, db } = database;
  const out = {};
  try {
    const r = cluster.psql(`SELECT pg_stat_clear_snapshot(); SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '${db}'`);
    out.xacts = Number(r.split("\n").pop());
  } catch {
    out.xacts = null;
  }
  if (cluster.logFile) {
    const text = fs.readFileSync(cluster.logFile, "utf8");
    const mine = text.split("\n").filter((l) => l.includes(` db=${db} `));
    out.statements = mine.filter((l) => /\b(statement|execute [^:]*):/.test(l)).length;
    out.connections = mine.filter((l) => l.includes("connection authorized") || l.includes("connection authenticated")).length;
    out.sample = mine.filter((l) => /\b(statement|execute [^:]*):/.test(l)).slice(-3);
  }
  return out;
}

export function diffActivity(a, b) {
  const d = (k) => (a[k] == null || b[k] == null ? null : b[k] - a[k]);
  return { statements: d("statements"), connections: d("connections"), xacts: d("xacts") };
}

/** The fake origin: `rust` (bench/origin), `node` or `python`. Returns { url, child, pid }. */
export async function startOrigin(kind, { log } = {}) {
  const bin = originCommand(kind);
  const { child, match } = await startChild(`origin-${kind}`, bin[0], [...bin.slice(1), "--port", "0"], { ready: /^listening (\d+)/, log });
  return { kind, url: `http://127.0.0.1:${match[1]}`, child, pid: child.pid, stop: () => stopGroup(child) };
}

export function originBinary() {
  const target = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, "bench/origin/target");
  return path.join(target, "release/bench-origin");
}

function originCommand(kind) {
  switch (kind) {
    case "rust":
      return [originBinary()];
    case "node":
      return [process.execPath, path.join(ROOT, "bench/origin-node.mjs")];
    case "python":
      return ["python3", path.join(ROOT, "bench/origin.py")];
    default:
      throw new Error(`unknown origin ${kind}`);
  }
}

/**
 * The gateway host process (bench/gateway-host.mjs): miniflare + workerd. Returns
 * { url, directUrl, workerd: [pids], hostPid, readyMs, spawnToReadyMs, stop }.
 */
export async function startGatewayHost({ databaseUrl, persistTo, build, direct = true, floor, inspectorPort, log }) {
  const t0 = performance.now();
  const cfg = { databaseUrl, vars: VARS, persistTo, direct, build, floor, inspectorPort };
  const { child, match } = await startChild("gateway", process.execPath, ["--require", path.join(ROOT, "devtools/wrangler-guard.cjs"), path.join(ROOT, "bench/gateway-host.mjs")], {
    ready: /^ready (.*)$/,
    env: { BENCH_GATEWAY: JSON.stringify(cfg), WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    cwd: ROOT,
    log,
  });
  const info = JSON.parse(match[1]);
  if (!info.workerd.length) throw new Error("no workerd process found under the gateway host");
  return { ...info, hostPid: child.pid, child, spawnToReadyMs: performance.now() - t0, stop: () => stopGroup(child) };
}

/** Admin API call with the static admin token; throws on an unexpected status. */
export async function admin(url, method, p, body, expect) {
  const r = await fetch(`${url}/admin${p}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (expect ? r.status !== expect : r.status >= 400) throw new Error(`${method} ${p} -> ${r.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * Configure the gateway like a real deployment: an Ollama node and an OpenAI-compatible node
 * (both the fake origin), discovered; a mapping display name -> real model; a user limited to
 * an explicit model list with daily request and token limits far above what the run uses.
 * Returns the user's token, and `open`: a second user with the same allow-list and no limits
 * (so the CPU phase can tell what the Limiter calls cost).
 */
export async function configure(gatewayUrl, originUrl) {
  const ready = await fetch(`${gatewayUrl}/health/ready`).then((r) => r.json());
  if (ready.status !== "ready") throw new Error(`gateway not ready: ${JSON.stringify(ready)}`);
  const ol = await admin(gatewayUrl, "POST", "/nodes", { name: "bench-ollama", node_type: "ollama", base_url: originUrl }, 201);
  await admin(gatewayUrl, "POST", `/nodes/${ol.id}/discover`, {}, 200);
  const oa = await admin(gatewayUrl, "POST", "/nodes", { name: "bench-openai", node_type: "openai", base_url: `${originUrl}/v1` }, 201);
  await admin(gatewayUrl, "POST", `/nodes/${oa.id}/discover`, {}, 200);
  await admin(gatewayUrl, "POST", "/model-mappings", { display_name: DISPLAY_MODEL, real_name: REAL_MODEL }, 201);
  const user = await admin(gatewayUrl, "POST", "/users", { username: "bench", models: [DISPLAY_MODEL], request_limit: 1_000_000_000, token_limit: 1_000_000_000_000 }, 201);
  const open = await admin(gatewayUrl, "POST", "/users", { username: "bench-open", models: [DISPLAY_MODEL] }, 201);
  return { token: user.token, open: open.token };
}

/**
 * Optional side-by-side: Portkey's open-source gateway (npm @portkey-ai/gateway, pinned in
 * bench/portkey/package-lock.json, installed with npm ci on first use), a plain Node proxy with
 * no auth, limits or database, pointed at the same origin per request (x-portkey-custom-host).
 */
export async function startPortkey({ log } = {}) {
  const dir = path.join(ROOT, "bench/portkey");
  const marker = path.join(dir, "node_modules/.package-lock.json");
  if (!fs.existsSync(marker) || fs.statSync(path.join(dir, "package-lock.json")).mtimeMs > fs.statSync(marker).mtimeMs) {
    log?.("installing @portkey-ai/gateway (npm ci in bench/portkey)");
    execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  }
  const port = await freePort();
  const { child } = await startChild("portkey", process.execPath, [path.join(dir, "node_modules/@portkey-ai/gateway/build/start-server.js"), `--port=${port}`, "--headless"], {
    ready: /Ready for connections/,
    env: { NODE_ENV: "production" },
    cwd: dir,
    log,
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, child, stop: () => stopGroup(child) };
}

export { cpuOf };
