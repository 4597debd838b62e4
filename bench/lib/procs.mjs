// Child processes for the benchmark: each in its own process group so one signal stops it and
// everything it started (the gateway host's workerd, for one), and a registry that stops them
// all on any exit, also on failure or Ctrl-C. CPU readings from /proc.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import readline from "node:readline";

const live = new Set();
const atExit = [];

/** Run `fn` at exit (after the process groups are signalled); for Postgres and temp folders. */
export function onCleanup(fn) {
  atExit.push(fn);
}

function signalGroup(pid, sig) {
  try {
    process.kill(-pid, sig); // negative pid: the whole process group
    return true;
  } catch {
    return false;
  }
}

/** Stop one child's process group: TERM, then KILL after `graceMs`. */
export async function stopGroup(child, graceMs = 5000) {
  if (!live.has(child)) return;
  live.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) {
    signalGroup(child.pid, "SIGKILL"); // grandchildren may outlive the leader
    return;
  }
  const exited = new Promise((r) => child.once("exit", r));
  signalGroup(child.pid, "SIGTERM");
  const t = setTimeout(() => signalGroup(child.pid, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(t);
  signalGroup(child.pid, "SIGKILL");
}

let cleaned = false;
function cleanupSync() {
  if (cleaned) return;
  cleaned = true;
  for (const c of live) signalGroup(c.pid, "SIGTERM");
  for (const fn of atExit.splice(0)) {
    try {
      fn();
    } catch {}
  }
  // Whatever ignored TERM gets KILL (synchronously: we may be inside 'exit').
  const deadline = Date.now() + 2000;
  for (const c of live) {
    while (Date.now() < deadline && fs.existsSync(`/proc/${c.pid}`) && !isZombie(c.pid)) execFileSync("sleep", ["0.05"]);
    signalGroup(c.pid, "SIGKILL");
  }
  live.clear();
}

function isZombie(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] === "Z";
  } catch {
    return true;
  }
}

/** Stop everything still running (idempotent). */
export async function stopAll() {
  await Promise.all([...live].map((c) => stopGroup(c)));
  cleanupSync();
}

process.on("exit", cleanupSync);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    cleanupSync();
    process.exit(130);
  });
}

/**
 * Spawn `cmd args` in a new process group and wait for a stdout line matching `ready`
 * (a RegExp; its first group is returned). Lines go to `log` (a function) if given.
 */
export async function startChild(name, cmd, args, { ready, env, cwd, timeoutMs = 60_000, log } = {}) {
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env }, cwd });
  live.add(child);
  const stderr = [];
  child.stderr.on("data", (d) => {
    stderr.push(d);
    if (stderr.length > 200) stderr.shift();
    if (log) log(`[${name}] ${d}`);
  });
  const lines = readline.createInterface({ input: child.stdout });
  const match = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} did not become ready within ${timeoutMs} ms`)), timeoutMs);
    lines.on("line", (l) => {
      if (log) log(`[${name}] ${l}`);
      const m = ready && l.match(ready);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    });
    child.once("exit", (code, sig) => {
      clearTimeout(t);
      reject(new Error(`${name} exited (${code ?? sig}) before it was ready: ${Buffer.concat(stderr).toString().slice(-2000)}`));
    });
    child.once("error", (e) => {
      clearTimeout(t);
      live.delete(child);
      reject(new Error(`${name} could not start: ${e.message}`));
    });
  });
  child.stderrText = () => Buffer.concat(stderr).toString();
  return { child, match, lines };
}

// ---- CPU time ----
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** Direct children of `pid` (from /proc/<pid>/task/<tid>/children, all threads). */
export function childrenOf(pid) {
  const out = new Set();
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const s = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      for (const c of s ? s.split(/\s+/) : []) out.add(Number(c));
    }
  } catch {}
  return [...out];
}

export function commOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** Every descendant of `pid`. */
export function descendants(pid) {
  const out = [];
  const walk = (p) => {
    for (const c of childrenOf(p)) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * CPU time of a process (all its threads) in microseconds:
 * - `ticks`: utime+stime from /proc/<pid>/stat (fields 14, 15), clock-tick resolution (10 ms);
 * - `sched`: the sum of /proc/<pid>/task/<tid>/schedstat run time (ns), a finer cross-check.
 * Threads that exited in between drop out of `sched`, never out of `ticks` (their time is
 * folded into the process), so `ticks` is the number we report.
 */
export function cpuOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After "pid (comm) ": state is f[0], so utime (field 14) is f[11] and stime f[12].
  const ticks = ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
  let sched = 0;
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      sched += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]) / 1000;
    }
  } catch {
    sched = NaN;
  }
  return { ticks, sched };
}

/** Sum of cpuOf over pids. */
export function cpuSum(pids) {
  const t = { ticks: 0, sched: 0 };
  for (const p of pids) {
    const c = cpuOf(p);
    t.ticks += c.ticks;
    t.sched += c.sched;
  }
  return t;
}
