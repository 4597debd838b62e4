#!/usr/bin/env node
// Per-chunk CPU of streamed answers, focused (bench/run.mjs measures the same thing among much
// else): workerd's utime+stime over N long (200-chunk) and N short (1-chunk) streams per kind,
// per chunk = (long - short) / 199, kinds interleaved over rounds (order reversed each round) so
// the shared machine's noise spreads over all of them. Prints the median of the rounds.
//
//   node bench/stream-cpu.mjs [--floor rid,rpull,...] [--builds build,/tmp/build-before]
//                             [--dialects openai,ollama] [--rounds 5] [--streams 16] [--direct]
//
// --floor: the floor Worker's variants (bench/floor-worker.mjs); --builds: gateway builds to run
// side by side, each in its own workerd with its own database (e.g. before/after a change).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { stopAll, cpuSum } from "./lib/procs.mjs";
import { target, request, pool, close } from "./lib/client.mjs";
import { median, round } from "./lib/stats.mjs";
import { ROOT, REAL_MODEL, DISPLAY_MODEL, startDatabase, startOrigin, startGatewayHost, configure } from "./lib/world.mjs";

const argv = process.argv.slice(2);
const opt = (f, d) => (argv.includes(f) ? argv[argv.indexOf(f) + 1] : d);
const list = (f, d) => opt(f, d).split(",").filter(Boolean);
const FLOOR = list("--floor", "");
const BUILDS = list("--builds", "");
const DIALECTS = list("--dialects", "openai,ollama");
const ROUNDS = Number(opt("--rounds", 5));
const STREAMS = Number(opt("--streams", 16));
const CHUNKS = 200;
const log = (...a) => console.error("[stream-cpu]", ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MESSAGES = [{ role: "system", content: "You are a terse assistant." }, { role: "user", content: "Say hello to the benchmark." }];
const PATHS = { openai: "/v1/chat/completions", ollama: "/api/chat" };

async function stream(t, dialect, chunks) {
  const body = { model: t.model, messages: MESSAGES, stream: true, bench_chunks: chunks, bench_chunk_delay_us: 1000, bench_ttft_us: 0 };
  if (dialect === "openai") body.stream_options = { include_usage: true };
  const res = await request(t, "POST", PATHS[dialect], body);
  const text = res.body.toString();
  const n = dialect === "openai" ? text.split("\n\n").filter(Boolean).length : text.split("\n").filter(Boolean).length;
  const want = dialect === "openai" ? chunks + 3 : chunks + 1;
  const ok = res.status === 200 && n === want && text.includes(`"model":"${t.model}"`) && (dialect === "openai" ? text.endsWith("data: [DONE]\n\n") : JSON.parse(text.trim().split("\n").at(-1)).done === true);
  if (!ok) throw new Error(`${t.name} ${dialect}: status ${res.status}, ${n} frames (want ${want}): ${text.slice(0, 300)}`);
}

// ticks: utime+stime (10 ms resolution, what bench/run.mjs reports); sched: schedstat run time
// (ns resolution; a thread that exits in between drops out, so it is only a cross-check).
async function idleRate(pids, ms = 2000) {
  const a = cpuSum(pids);
  const t0 = performance.now();
  await sleep(ms);
  const b = cpuSum(pids);
  const dt = performance.now() - t0;
  return { ticks: (b.ticks - a.ticks) / dt, sched: (b.sched - a.sched) / dt };
}

async function slice(rt, count, fn) {
  const a = cpuSum(rt.workerd);
  const t0 = performance.now();
  await pool({ concurrency: 8, count }, fn);
  await sleep(200);
  const b = cpuSum(rt.workerd);
  const dt = performance.now() - t0;
  return { ticks: b.ticks - a.ticks - rt.idle.ticks * dt, sched: b.sched - a.sched - rt.idle.sched * dt };
}

async function main() {
  const origin = await startOrigin("rust");
  const kinds = []; // [name, runtime, fn(chunks)]
  const hosts = [];
  if (FLOOR.length) {
    const fl = await startGatewayHost({ floor: origin.url, direct: false });
    hosts.push(fl);
    for (const k of FLOOR) {
      const t = target(`floor-${k}`, `${fl.url}/${k}`);
      t.model = REAL_MODEL;
      for (const d of DIALECTS) kinds.push([`floor ${k} ${d}`, fl, (n) => stream(t, d, n)]);
    }
  }
  if (BUILDS.length) {
    const db = await startDatabase(log);
    for (const [i, b] of BUILDS.entries()) {
      let url = db.url;
      if (i > 0) {
        const name = `${db.db}_${i}`;
        db.cluster.psql(`CREATE DATABASE "${name}"`);
        url = db.cluster.url(name);
      }
      const persist = fs.mkdtempSync(path.join(os.tmpdir(), "bench-state-"));
      const gw = await startGatewayHost({ databaseUrl: url, persistTo: persist, build: path.resolve(ROOT, b), direct: argv.includes("--direct") });
      hosts.push(gw);
      const tokens = await configure(gw.url, origin.url);
      const t = target(`gw-${b}`, argv.includes("--direct") ? gw.directUrl : gw.url, { token: tokens.token });
      t.model = DISPLAY_MODEL;
      for (const d of DIALECTS) kinds.push([`gateway ${b} ${d}`, gw, (n) => stream(t, d, n)]);
    }
  }
  log("warm-up");
  for (const [, , fn] of kinds) for (let i = 0; i < 8; i++) await fn(i % 2 ? CHUNKS : 1);
  for (const h of hosts) h.idle = await idleRate(h.workerd);
  log(`idle: ${hosts.map((h) => (h.idle.ticks * 1000).toFixed(0) + " us/s").join(", ")}; ${ROUNDS} rounds x ${STREAMS} long + ${STREAMS} short streams per kind, c=8`);
  const per = Object.fromEntries(kinds.map(([n]) => [n, []]));
  const perSched = Object.fromEntries(kinds.map(([n]) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, rt, fn] of r % 2 ? [...kinds].reverse() : kinds) {
      const long = await slice(rt, STREAMS, () => fn(CHUNKS));
      const short = await slice(rt, STREAMS, () => fn(1));
      per[name].push((long.ticks - short.ticks) / STREAMS / (CHUNKS - 1));
      perSched[name].push((long.sched - short.sched) / STREAMS / (CHUNKS - 1));
    }
    log(`round ${r + 1}: ${kinds.map(([n]) => `${n} ${per[n].at(-1).toFixed(1)}`).join(" | ")}`);
  }
  console.log(`\nper streamed chunk, workerd utime+stime (us), median of ${ROUNDS} rounds [rounds]; schedstat median`);
  for (const [n, v] of Object.entries(per)) console.log(`${n.padEnd(40)} ${round(median(v), 1).toString().padStart(7)}   [${v.map((x) => x.toFixed(0)).join(", ")}]   sched ${round(median(perSched[n]), 1)}`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
