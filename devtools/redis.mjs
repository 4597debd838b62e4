// A throw-away redis-server (no persistence) behind the Upstash REST bridge, for tests and
// `make dev` with the Redis backend. Both processes run detached with their pids in `dir`, so a
// shell trap can stop them (`node devtools/redis.mjs stop DIR`) even if the starter is gone.
//   node devtools/redis.mjs start DIR [TOKEN]  -> prints the bridge URL
//   node devtools/redis.mjs stop DIR
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./postgres.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = path.join(os.homedir(), ".cache/maestro-edge/venv/bin/python");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, ok, ms = 15000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await ok()) return;
    await sleep(50);
  }
  throw new Error(`${what} did not come up within ${ms} ms`);
}

const portOpen = (port) =>
  new Promise((r) => {
    const s = net.connect(port, "127.0.0.1", () => (s.end(), r(true)));
    s.on("error", () => r(false));
  });

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(file) {
  try {
    return Number(fs.readFileSync(file, "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}

function startRedisServer(dir, port) {
  const r = spawnSync("redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--daemonize", "yes", "--dir", dir, "--pidfile", path.join(dir, "redis.pid"), "--logfile", path.join(dir, "redis.log"),
  ], { encoding: "utf8" });
  if (r.error?.code === "ENOENT") throw new Error("redis-server not found: run scripts/setup.sh (installs Debian's redis-server)");
  if (r.status !== 0) throw new Error(`redis-server failed: ${r.stderr || r.stdout}`);
}

function startBridge(dir, redisPort, token) {
  const portFile = path.join(dir, "bridge.port");
  fs.rmSync(portFile, { force: true });
  const log = fs.openSync(path.join(dir, "bridge.log"), "a");
  const child = spawn(PYTHON, [path.join(HERE, "upstash_bridge.py"), "--port", "0", "--port-file", portFile, "--redis", `redis://127.0.0.1:${redisPort}`, "--token", token], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  child.unref();
  fs.writeFileSync(path.join(dir, "bridge.pid"), String(child.pid));
  return portFile;
}

function stopPid(file) {
  const pid = readPid(file);
  if (pid && alive(pid)) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  return pid;
}

/**
 * Start redis-server and the bridge. Returns { url, token, redisPort, dir, stop(), pause(), resume() }:
 * pause() stops redis-server (the bridge answers 500, like Upstash with its backend away),
 * resume() starts it again on the same port (empty: there is no persistence).
 */
export async function startRedis({ dir, token = "local-dev-token" } = {}) {
  dir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "maestro-redis-"));
  const redisPort = await freePort();
  startRedisServer(dir, redisPort);
  await until("redis-server", () => portOpen(redisPort));
  const portFile = startBridge(dir, redisPort, token);
  await until("the Upstash bridge", () => fs.existsSync(portFile));
  const url = `http://127.0.0.1:${fs.readFileSync(portFile, "utf8").trim()}`;
  fs.writeFileSync(path.join(dir, "bridge.url"), url);
  return {
    url,
    token,
    redisPort,
    dir,
    async stop() {
      await stopRedis(dir);
    },
    async pause() {
      const pid = stopPid(path.join(dir, "redis.pid"));
      await until("redis-server to stop", () => !alive(pid));
    },
    async resume() {
      startRedisServer(dir, redisPort);
      await until("redis-server", () => portOpen(redisPort));
    },
  };
}

/** Signal both processes to stop, synchronously (safe in a process 'exit' handler). */
export function killRedis(dir) {
  return [stopPid(path.join(dir, "bridge.pid")), stopPid(path.join(dir, "redis.pid"))].filter(Boolean);
}

/** Stop what startRedis started in `dir` and wait until both processes are gone. */
export async function stopRedis(dir) {
  const pids = killRedis(dir);
  await until("redis and the bridge to stop", () => pids.every((p) => !alive(p)), 5000).catch(() => {
    for (const p of pids) if (alive(p)) process.kill(p, "SIGKILL");
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [cmd, dir, token] = process.argv.slice(2);
  if (cmd === "start" && dir) {
    const r = await startRedis({ dir, token });
    console.log(r.url);
  } else if (cmd === "stop" && dir) {
    await stopRedis(dir);
  } else {
    console.error("usage: node devtools/redis.mjs start|stop DIR [TOKEN]");
    process.exit(2);
  }
}
