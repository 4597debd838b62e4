// Module compile and instantiate cost of the gateway's wasm inside workerd itself (Node 20's V8
// cannot compile it: it uses the new exception-handling opcodes, try_table/exnref). workerd
// refuses to compile wasm from bytes at run time ("Wasm code generation disallowed by embedder",
// as on the edge), so:
//  - compile = startup time of a probe worker that imports the wasm as a module, minus the
//    same probe without it (workerd compiles module imports while loading the worker);
//  - instantiate = a request that instantiates it (with stub imports), minus a no-op request.
// Medians over a few repetitions; everything runs in a throw-away miniflare/workerd.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Miniflare } from "miniflare";
import { median, round } from "./stats.mjs";

const probe = (withWasm) => `${withWasm ? 'import MOD from "./gw.wasm";' : "const MOD = null;"}
const stubs = (m) => {
  const imports = {};
  for (const i of WebAssembly.Module.imports(m)) {
    imports[i.module] ??= {};
    imports[i.module][i.name] = i.kind === "function" ? () => { throw new Error("stub"); } : i.kind === "tag" ? WebAssembly.JSTag : undefined;
  }
  return imports;
};
export default { async fetch(req) {
  if (new URL(req.url).pathname === "/instantiate") new WebAssembly.Instance(MOD, stubs(MOD));
  return new Response("ok");
} }`;

async function start(wasmFile) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-probe-"));
  const modules = [{ type: "ESModule", path: path.join(dir, "probe.mjs"), contents: probe(!!wasmFile) }];
  if (wasmFile) modules.push({ type: "CompiledWasm", path: path.join(dir, "gw.wasm"), contents: fs.readFileSync(wasmFile) });
  const t0 = performance.now();
  const mf = new Miniflare({ modulesRoot: dir, modules, compatibilityDate: "2026-04-20" });
  await mf.ready;
  return { mf, readyMs: performance.now() - t0, dir };
}

async function timed(mf, p) {
  const t0 = performance.now();
  const r = await mf.dispatchFetch(`http://probe${p}`);
  await r.text();
  if (r.status !== 200) throw new Error(`probe ${p}: ${r.status}`);
  return performance.now() - t0;
}

export async function wasmStartupCost(wasmFile, { trials = 5, reps = 15 } = {}) {
  const without = [];
  const withWasm = [];
  const noop = [];
  const inst = [];
  for (let i = 0; i < trials; i++) {
    // Alternate the two kinds of start so drift hits both.
    for (const kind of i % 2 ? ["with", "without"] : ["without", "with"]) {
      const s = await start(kind === "with" ? wasmFile : null);
      try {
        (kind === "with" ? withWasm : without).push(s.readyMs);
        if (kind === "with") {
          await timed(s.mf, "/"); // first request pays for the isolate's first event
          for (let k = 0; k < reps; k++) {
            noop.push(await timed(s.mf, "/"));
            inst.push(await timed(s.mf, "/instantiate"));
          }
        }
      } finally {
        await s.mf.dispose();
        fs.rmSync(s.dir, { recursive: true, force: true });
      }
    }
  }
  return {
    compileMs: round(median(withWasm) - median(without), 1),
    startupWithMs: round(median(withWasm), 1),
    startupWithoutMs: round(median(without), 1),
    instantiateMs: round(median(inst) - median(noop), 2),
  };
}
