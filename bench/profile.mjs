#!/usr/bin/env node
// `make profile`: where the gateway's CPU goes, by function. Starts the benchmark's world (real
// Postgres, the Rust fake origin, the built Worker in workerd with the V8 inspector on),
// configures it like `make bench`, then for each kind of request: the workerd process's CPU per
// request (/proc, as `make bench` measures it) and a V8 CPU profile of the isolate over the
// same requests, printed as the top functions by self time (JS and wasm; "(program)" is the
// runtime's own C++ work, "(idle)" waiting). The .cpuprofile files go to bench/results/profiles/
// and open in Chrome DevTools.
//
//   node bench/profile.mjs [--kinds chat_openai,stream_openai] [--n 1000] [--top 25] [--no-build]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import WebSocket from "ws";
import { stopAll, cpuSum } from "./lib/procs.mjs";
import { target, request, pool, close } from "./lib/client.mjs";
import { ROOT, REAL_MODEL, DISPLAY_MODEL, startDatabase, startOrigin, originBinary, startGatewayHost, configure } from "./lib/world.mjs";
import { freePort } from "../devtools/postgres.mjs";

const argv = process.argv.slice(2);
const opt = (f, d) => (argv.includes(f) ? argv[argv.indexOf(f) + 1] : d);
const N = Number(opt("--n", 1000));
const TOP = Number(opt("--top", 25));
const KINDS = opt("--kinds", "chat_openai,chat_openai_nolimits,stream_openai").split(",");
const PROFILE = !argv.includes("--no-profile");
const OUTDIR = path.join(ROOT, "bench/results/profiles");
const log = (...a) => console.error("[profile]", ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MESSAGES = [{ role: "system", content: "You are a terse assistant." }, { role: "user", content: "Say hello to the benchmark." }];

/** A minimal Chrome DevTools Protocol session. */
async function cdp(url) {
  const ws = new WebSocket(url);
  await new Promise((res, rej) => (ws.once("open", res), ws.once("error", rej)));
  let id = 0;
  const waiting = new Map();
  ws.on("message", (m) => {
    const msg = JSON.parse(m);
    if (msg.id && waiting.has(msg.id)) {
      const { res, rej } = waiting.get(msg.id);
      waiting.delete(msg.id);
      msg.error ? rej(new Error(JSON.stringify(msg.error))) : res(msg.result);
    }
  });
  return {
    send: (method, params = {}) => new Promise((res, rej) => {
      const n = ++id;
      waiting.set(n, { res, rej });
      ws.send(JSON.stringify({ id: n, method, params }));
    }),
    close: () => ws.close(),
  };
}

/** Self time per function name (ms) from a .cpuprofile. */
function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) hits.set(profile.samples[i], (hits.get(profile.samples[i]) ?? 0) + (dt[i + 1] ?? dt[i] ?? 0));
  const out = new Map();
  for (const [id, us] of hits) {
    const f = byId.get(id).callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url ? path.basename(f.url) : ""}`.trim();
    out.set(name, (out.get(name) ?? 0) + us);
  }
  return [...out.entries()].sort((a, b) => b[1] - a[1]);
}

/** --compare: the same kinds against two builds, interleaved, so machine noise hits both alike. */
async function compare(dirA, dirB) {
  const rounds = Number(opt("--rounds", 6));
  const origin = await startOrigin("rust");
  const sides = [];
  for (const [label, dir] of [["A", dirA], ["B", dirB]]) {
    const db = await startDatabase(log);
    const persist = fs.mkdtempSync(path.join(os.tmpdir(), "bench-state-"));
    const gw = await startGatewayHost({ databaseUrl: db.url, persistTo: persist, direct: false, build: path.resolve(dir) });
    const tokens = await configure(gw.url, origin.url);
    sides.push({ label, dir, gw, g: target(`gw${label}`, gw.url, { token: tokens.token }), open: target(`open${label}`, gw.url, { token: tokens.open }) });
  }
  const call = (t, dialect, stream = false, chunks = 1) => async () => {
    const p = dialect === "openai" ? "/v1/chat/completions" : "/api/chat";
    const r = await request(t, "POST", p, { model: DISPLAY_MODEL, messages: MESSAGES, stream, bench_chunks: chunks, bench_chunk_delay_us: 1000, bench_ttft_us: 0 });
    if (r.status !== 200) throw new Error(`${p}: ${r.status} ${r.body}`);
  };
  const kinds = (sd) => ({
    health: [N, () => request(sd.g, "GET", "/health")],
    models: [N, () => request(sd.g, "GET", "/v1/models")],
    chat_openai: [N, call(sd.g, "openai")],
    chat_ollama: [N, call(sd.g, "ollama")],
    chat_openai_nolimits: [N, call(sd.open, "openai")],
    stream_openai: [Math.max(4, Math.round(N / 40)), call(sd.g, "openai", true, 200)],
    stream_openai_1: [Math.max(4, Math.round(N / 40)), call(sd.g, "openai", true, 1)],
    stream_ollama: [Math.max(4, Math.round(N / 40)), call(sd.g, "ollama", true, 200)],
    stream_ollama_1: [Math.max(4, Math.round(N / 40)), call(sd.g, "ollama", true, 1)],
  });
  for (const sd of sides) for (let i = 0; i < 100; i++) await call(sd.g, i % 2 ? "openai" : "ollama")();
  await sleep(1500);
  console.log(`A = ${dirA}\nB = ${dirB}\n${rounds} interleaved slices per kind; workerd CPU per request, median (min..max)`);
  for (const name of KINDS) {
    const per = { A: [], B: [] };
    for (let r = 0; r < rounds; r++) {
      for (const sd of r % 2 ? [...sides].reverse() : sides) {
        const [count, fn] = kinds(sd)[name];
        const a = cpuSum(sd.gw.workerd);
        await pool({ concurrency: 8, count }, fn);
        await sleep(150);
        per[sd.label].push((cpuSum(sd.gw.workerd).ticks - a.ticks) / count);
      }
    }
    const med = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
    const fmt = (v) => `${med(v).toFixed(0).padStart(6)} (${Math.min(...v).toFixed(0)}..${Math.max(...v).toFixed(0)})`;
    console.log(`${name.padEnd(22)} A ${fmt(per.A)}   B ${fmt(per.B)}   B/A ${(med(per.B) / med(per.A)).toFixed(2)}`);
  }
  for (const sd of sides) close(sd.g, sd.open);
}

async function main() {
  if (argv.includes("--compare")) {
    const i = argv.indexOf("--compare");
    return compare(argv[i + 1], argv[i + 2]);
  }
  if (!argv.includes("--no-build")) {
    log("building the Worker (WORKER_OPT=0 keeps the wasm's function names)");
    execFileSync("sh", ["scripts/worker-build.sh"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, WORKER_OPT: "0", MAESTRO_WASM_NAMES: "1" } });
  }
  if (!fs.existsSync(originBinary())) execFileSync("cargo", ["build", "--release", "--quiet", "--manifest-path", "bench/origin/Cargo.toml"], { cwd: ROOT, stdio: "inherit" });
  fs.mkdirSync(OUTDIR, { recursive: true });
  const db = await startDatabase(log);
  const origin = await startOrigin("rust");
  const persist = fs.mkdtempSync(path.join(os.tmpdir(), "bench-state-"));
  const inspectorPort = await freePort();
  const gw = await startGatewayHost({ databaseUrl: db.url, persistTo: persist, direct: false, inspectorPort });
  const tokens = await configure(gw.url, origin.url);
  const g = target("gateway", gw.url, { token: tokens.token });
  const open = target("open", gw.url, { token: tokens.open });
  const chat = (t, dialect, stream = false, chunks = 1) => async () => {
    const p = dialect === "openai" ? "/v1/chat/completions" : "/api/chat";
    const r = await request(t, "POST", p, { model: DISPLAY_MODEL, messages: MESSAGES, stream, bench_chunks: chunks, bench_chunk_delay_us: 1000, bench_ttft_us: 0 });
    if (r.status !== 200) throw new Error(`${p}: ${r.status} ${r.body}`);
  };
  const kinds = {
    health: [N, () => request(g, "GET", "/health")],
    models: [N, () => request(g, "GET", "/v1/models")],
    chat_openai: [N, chat(g, "openai")],
    chat_ollama: [N, chat(g, "ollama")],
    chat_openai_nolimits: [N, chat(open, "openai")],
    stream_openai: [Math.max(4, Math.round(N / 20)), chat(g, "openai", true, 200)],
    stream_openai_1: [N, chat(g, "openai", true, 1)],
    stream_ollama: [Math.max(4, Math.round(N / 20)), chat(g, "ollama", true, 200)],
  };
  for (let i = 0; i < 100; i++) await chat(g, i % 2 ? "openai" : "ollama")();
  await chat(g, "openai", true, 5)();
  await sleep(500);

  const list = await fetch(`http://127.0.0.1:${inspectorPort}/json/list`).then((r) => r.json());
  const t = list.find((x) => x.title?.includes("maestro-edge") || x.id?.includes("maestro-edge")) ?? list[0];
  log(`inspector targets: ${list.map((x) => x.title || x.id).join(", ")}; profiling ${t.title || t.id}`);
  const s = await cdp(t.webSocketDebuggerUrl);
  await s.send("Profiler.enable");
  await s.send("Profiler.setSamplingInterval", { interval: Number(opt("--interval", 50)) });
  for (const name of KINDS) {
    const [count, fn] = kinds[name];
    if (!PROFILE) {
      // CPU only (no profiler overhead): three slices, median per request.
      const per = [];
      for (let r = 0; r < 3; r++) {
        const a = cpuSum(gw.workerd);
        await pool({ concurrency: 8, count }, fn);
        await sleep(300);
        per.push((cpuSum(gw.workerd).ticks - a.ticks) / count);
      }
      per.sort((x, y) => x - y);
      console.log(`${name.padEnd(24)} workerd ${per[1].toFixed(0).padStart(6)} us/request (slices: ${per.map((x) => x.toFixed(0)).join(", ")})`);
      continue;
    }
    await s.send("Profiler.start");
    const a = cpuSum(gw.workerd);
    const t0 = performance.now();
    await pool({ concurrency: 8, count }, fn);
    await sleep(300);
    const b = cpuSum(gw.workerd);
    const { profile } = await s.send("Profiler.stop");
    const file = path.join(OUTDIR, `${name}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    const top = selfTimes(profile);
    const busy = top.filter(([n]) => n !== "(idle)").reduce((x, [, us]) => x + us, 0);
    const code = top.filter(([n]) => !["(idle)", "(program)"].includes(n)).reduce((x, [, us]) => x + us, 0);
    console.log(`\n## ${name}: ${count} requests in ${(performance.now() - t0).toFixed(0)} ms; workerd process ${((b.ticks - a.ticks) / count).toFixed(0)} us/request (ticks, incl. the profiler's overhead); isolate busy (profile, excl. idle) ${(busy / count).toFixed(0)} us/request, of which JS + wasm + GC (excl. the runtime's own "(program)") ${(code / count).toFixed(0)} us`);
    for (const [n, us] of top.slice(0, TOP)) console.log(`${(us / count).toFixed(1).padStart(8)} us  ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${n}`);
  }
  s.close();
  close(g, open);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
