// Shared e2e fixtures: a database per test file in the cluster scripts/test.sh started, the
// built Worker in workerd, and helpers to sign user tokens the way the gateway does.
import crypto from "node:crypto";
import { startGateway } from "../../devtools/gateway.mjs";
import { attachPostgres, startPostgres } from "../../devtools/postgres.mjs";
import { startRedis, killRedis } from "../../devtools/redis.mjs";

process.env.PGOPTIONS = "-c client_min_messages=warning";

export const JWT_SECRET = "e2e-jwt-secret-0123456789abcdef0123456789";
export const ADMIN_TOKEN = "e2e-admin-token-0123456789";
export const ADMIN_USERNAME = "admin";
export const ADMIN_PASSWORD = "e2e-admin-password";
export const SECRETS_KEY = "e2e-secrets-key-0123456789abcdef0123456789";

let cluster;
/** The Postgres cluster of this test run (scripts/test.sh exports its port), or a private one. */
export async function pg() {
  if (cluster) return cluster;
  if (process.env.MAESTRO_TEST_PG_PORT) {
    cluster = { ...attachPostgres(Number(process.env.MAESTRO_TEST_PG_PORT)), stop() {} };
  } else {
    cluster = await startPostgres();
    process.on("exit", () => cluster.stop());
  }
  return cluster;
}

let redisServer;
/**
 * The Redis (behind the Upstash REST bridge) of this test run: scripts/test.sh exports its URL and
 * token; a file run on its own starts a private one. Tests share it, so every gateway gets its
 * own key prefix (see redisVars).
 */
export async function redis() {
  if (redisServer) return redisServer;
  if (process.env.MAESTRO_TEST_REDIS_URL) {
    redisServer = { url: process.env.MAESTRO_TEST_REDIS_URL, token: process.env.MAESTRO_TEST_REDIS_TOKEN, stop() {} };
  } else {
    redisServer = await startRedis({ token: "e2e-redis-token" });
    process.on("exit", () => killRedis(redisServer.dir));
  }
  return redisServer;
}

/** Worker vars that point a gateway at a Redis, with a key prefix of its own unless given. */
export function redisVars(r, prefix = `${uniqueName("t")}:`) {
  return { UPSTASH_REDIS_REST_URL: r.url, UPSTASH_REDIS_REST_TOKEN: r.token, UPSTASH_REDIS_PREFIX: prefix };
}

export function uniqueName(prefix) {
  return `${prefix}_${process.pid}_${crypto.randomBytes(4).toString("hex")}`;
}

export const defaultVars = { JWT_SECRET, ADMIN_TOKEN, ADMIN_USERNAME, ADMIN_PASSWORD, SECRETS_KEY };

/** A fresh database and a gateway on it (KV and Durable Objects in `persistTo` when given). */
export async function setup({ vars = {}, name = "e2e", persistTo, onLog } = {}) {
  const cl = await pg();
  const db = uniqueName(name);
  const databaseUrl = cl.createDatabase(db);
  const gw = await startGateway({ databaseUrl, vars: { ...defaultVars, ...vars }, persistTo, onLog });
  const psql = (sql) => cl.psql(sql, db);
  return { gw, url: gw.url, databaseUrl, psql, cluster: cl, db, stop: () => gw.stop() };
}

const b64 = (buf) => Buffer.from(buf).toString("base64url");

/** Sign a token exactly as src/auth/token.rs does (domain-separated HS256 key). */
export function signToken({ sub, jti, typ = "user", exp, nbf, secret = JWT_SECRET, alg = "HS256" }) {
  const key = crypto.createHash("sha256").update(`maestro-edge/${typ}/`).update(secret).digest();
  const header = b64(JSON.stringify({ alg }));
  const claims = { sub, jti, typ, iat: Math.floor(Date.now() / 1000) };
  if (exp) claims.exp = exp;
  if (nbf) claims.nbf = nbf;
  const payload = b64(JSON.stringify(claims));
  const sig = crypto.createHmac("sha256", key).update(`${header}.${payload}`).digest();
  return `${header}.${payload}.${b64(sig)}`;
}

export function sha256hex(s) {
  return crypto.createHash("sha256").update(s).digest("hex");
}

export async function getJson(url, opts = {}) {
  const r = await fetch(url, opts);
  const text = await r.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: r.status, headers: r.headers, body };
}

/** Admin API client with the static admin token. Throws on unexpected statuses. */
export function adminClient(url, token = ADMIN_TOKEN) {
  const call = async (method, path, body, expect) => {
    const r = await fetch(`${url}/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    if (expect !== undefined && r.status !== expect) throw new Error(`${method} ${path} -> ${r.status} (wanted ${expect}): ${text}`);
    if (expect === undefined && r.status >= 400) throw new Error(`${method} ${path} -> ${r.status}: ${text}`);
    return json;
  };
  return {
    call,
    get: (p, e) => call("GET", p, undefined, e),
    post: (p, b = {}, e) => call("POST", p, b, e),
    put: (p, b = {}, e) => call("PUT", p, b, e),
    patch: (p, b = {}, e) => call("PATCH", p, b, e),
    del: (p, e) => call("DELETE", p, undefined, e),
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Read an SSE body into its data payloads (parsed JSON, or the raw string for [DONE]). */
export function sseEvents(text) {
  return text
    .split("\n")
    .filter((l) => l.startsWith("data:"))
    .map((l) => l.slice(5).trim())
    .map((d) => {
      try {
        return JSON.parse(d);
      } catch {
        return d;
      }
    });
}

export function ndjson(text) {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** Run a Python SDK scenario (tests/sdk/*.py) in the project's venv; resolves its JSON line. */
export async function python(script, args) {
  const { execFile } = await import("node:child_process");
  const os = await import("node:os");
  const path = await import("node:path");
  const { ROOT } = await import("../../devtools/gateway.mjs");
  const py = path.join(os.homedir(), ".cache/maestro-edge/venv/bin/python");
  return new Promise((resolve, reject) => {
    execFile(py, [path.join(ROOT, "tests/sdk", script), ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${script} ${args.slice(2).join(" ")} failed:\n${stderr}\n${stdout}`));
      resolve(JSON.parse(stdout.trim().split("\n").at(-1)));
    });
  });
}

/**
 * Poll `sql` (psql -At output, one line per row) until `done(rows)` holds, kicking the cron
 * between polls, and return the rows (the last ones read when it never held: the caller's
 * assertion then shows what was there). Usage records reach Postgres when their shard flushes
 * (its alarm, or a cron kick that rotates over the 32 shards), so one `scheduled()` is no
 * guarantee; this waits bounded (`tries` × `step` ms) instead.
 */
export async function waitForRows(env, sql, done, { tries = 60, step = 250 } = {}) {
  let rows = [];
  for (let i = 0; i < tries; i++) {
    rows = env.psql(sql).split("\n").filter(Boolean);
    if (done(rows)) return rows;
    await sleep(step);
    await env.gw.scheduled();
  }
  return rows;
}
