// Runs the built Worker in workerd through miniflare (devtools/gateway.mjs, exactly as `make dev`
// and the e2e tests do) in a process of its own, so the benchmark's load client never shares a
// process (or its CPU accounting) with the runtime. Configured by the BENCH_GATEWAY env var
// (JSON: databaseUrl, vars, persistTo, build, direct, floor). Prints one line once serving:
//   ready {"url":..., "directUrl":..., "readyMs":..., "workerd":[pids]}
// and stops the runtime on SIGTERM/SIGINT.
// Run with: node --require ./devtools/wrangler-guard.cjs bench/gateway-host.mjs
import fs from "node:fs";
import path from "node:path";
import { Miniflare } from "miniflare";
import { startGateway, ROOT } from "../devtools/gateway.mjs";

async function startFloor(origin) {
  const mf = new Miniflare({
    name: "floor",
    modules: true,
    scriptPath: path.join(ROOT, "bench/floor-worker.mjs"),
    compatibilityDate: "2026-04-20",
    bindings: { ORIGIN: origin },
    host: "127.0.0.1",
    port: 0,
    cf: false,
    unsafeDirectSockets: cfg.direct ? [{ host: "127.0.0.1", port: 0 }] : undefined,
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, mf, stop: () => mf.dispose() };
}

const cfg = JSON.parse(process.env.BENCH_GATEWAY);
const t0 = performance.now();
// Floor mode: the same runtime with bench/floor-worker.mjs (a logic-free proxy) instead.
const gw = cfg.floor ? await startFloor(cfg.floor) : await startGateway({
  databaseUrl: cfg.databaseUrl,
  vars: cfg.vars,
  persistTo: cfg.persistTo,
  build: cfg.build,
  // A second socket straight into the Worker's fetch handler, skipping miniflare's entry
  // worker (which imitates the edge: cf object, gzip). Measured next to the normal URL.
  miniflare: {
    ...(cfg.direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}),
    // bench/profile.mjs: the V8 inspector, for CPU profiles of the isolate.
    ...(cfg.inspectorPort ? { inspectorPort: cfg.inspectorPort } : {}),
  },
});
const readyMs = performance.now() - t0;
const directUrl = cfg.direct ? (await gw.mf.unsafeGetDirectURL(cfg.floor ? "floor" : "maestro-edge")).toString().replace(/\/$/, "") : null;

// The runtime processes are this process's children (miniflare spawns workerd).
const kids = [];
for (const tid of fs.readdirSync(`/proc/${process.pid}/task`)) {
  for (const c of fs.readFileSync(`/proc/${process.pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) kids.push(Number(c));
}
const workerd = kids.filter((p) => {
  try {
    return fs.readFileSync(`/proc/${p}/comm`, "utf8").trim().startsWith("workerd");
  } catch {
    return false;
  }
});
// Which wasm this runtime loaded (the benchmark checks it started the build it meant to).
const wasmBytes = cfg.floor ? 0 : fs.statSync(path.join(cfg.build ?? path.join(ROOT, "build"), "index_bg.wasm")).size;
console.log(`ready ${JSON.stringify({ url: gw.url, directUrl, readyMs, workerd, wasmBytes })}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.race([gw.stop().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
