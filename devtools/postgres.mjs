// A throw-away real PostgreSQL cluster for tests and local runs: initdb + pg_ctl on a free
// port in a temp folder (initdb refuses root, so the server runs as the `postgres` user).
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function pgBin(name) {
  for (const dir of ["/usr/local/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/17/bin"]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${name} not found: run scripts/setup.sh (installs Debian's postgresql)`);
}

function asPostgres(cmd, args) {
  const isRoot = process.getuid && process.getuid() === 0;
  const r = isRoot
    ? spawnSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8" })
    : spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A handle on a running cluster: URLs per database, psql, database creation. */
export function attachPostgres(port) {
  const url = (db = "postgres") => `postgres://postgres:postgres@127.0.0.1:${port}/${db}`;
  return {
    port,
    url,
    psql(sql, db = "postgres") {
      return execFileSync("psql", [url(db), "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql], { encoding: "utf8" }).trim();
    },
    createDatabase(name) {
      this.psql(`CREATE DATABASE "${name}"`);
      return url(name);
    },
  };
}

/** Start a cluster; returns attachPostgres's handle plus dir, stop(), pause(), resume(). */
export async function startPostgres({ dir, port } = {}) {
  dir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "maestro-pg-"));
  port = port ?? (await freePort());
  const data = path.join(dir, "data");
  const isRoot = process.getuid && process.getuid() === 0;
  if (isRoot) execFileSync("chown", ["-R", "postgres", dir]);
  if (!fs.existsSync(path.join(data, "PG_VERSION"))) {
    asPostgres(pgBin("initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  }
  asPostgres(pgBin("pg_ctl"), [
    "-D", data, "-l", path.join(dir, "log"), "-w", "-t", "60",
    "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200`,
    "start",
  ]);
  return {
    ...attachPostgres(port),
    dir,
    stop() {
      try {
        asPostgres(pgBin("pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {}
    },
    /** Stop without removing data (for outage tests); start() brings it back on the same port. */
    pause() {
      asPostgres(pgBin("pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]);
    },
    resume() {
      asPostgres(pgBin("pg_ctl"), ["-D", data, "-l", path.join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
    },
  };
}

/** Stop a cluster started in `dir` (used by shell traps). */
export function stopPostgres(dir) {
  try {
    asPostgres(pgBin("pg_ctl"), ["-D", path.join(dir, "data"), "-m", "immediate", "-w", "stop"]);
  } catch {}
}

// CLI: node devtools/postgres.mjs start DIR [PORT] | stop DIR
if (import.meta.url === `file://${process.argv[1]}`) {
  const [cmd, dir, port] = process.argv.slice(2);
  if (cmd === "start") {
    const p = await startPostgres({ dir, port: port ? Number(port) : undefined });
    console.log(p.port);
  } else if (cmd === "stop") {
    stopPostgres(dir);
  } else {
    console.error("usage: postgres.mjs start DIR [PORT] | stop DIR");
    process.exit(2);
  }
}
