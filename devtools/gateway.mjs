// Start the built Worker (build/index.js) in workerd through miniflare, configured from
// wrangler.toml, so `make dev` and every test run exactly what `wrangler deploy` ships.
// Needs the guard preload: node --require ./devtools/wrangler-guard.cjs ...
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { fileURLToPath } from "node:url";
import path from "node:path";
import readline from "node:readline";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * @param {object} o
 * @param {string} o.databaseUrl   Postgres the Hyperdrive binding points at
 * @param {Record<string,string>} [o.vars]  extra vars/secrets (JWT_SECRET, ADMIN_TOKEN, ...)
 * @param {string} [o.persistTo]   folder for KV and Durable Object state (omit: in memory)
 * @param {number} [o.port]        0 = any free port
 * @param {string} [o.host]
 * @param {(line: string) => void} [o.onLog]  receives every line the runtime prints (tests scan them)
 * @param {string} [o.build]       folder of the built Worker (default build/; the benchmark
 *                                 also starts a wasm-opt'ed copy)
 * @param {object} [o.miniflare]   extra Miniflare worker options (the benchmark opens a direct
 *                                 socket with unsafeDirectSockets to skip miniflare's entry worker)
 */
export async function startGateway(o) {
  const toml = path.join(ROOT, "wrangler.toml");
  const { workerOptions } = unstable_getMiniflareWorkerOptions(toml);
  // wrangler also folds .dev.vars into the bindings; keep only wrangler.toml's [vars] so a
  // caller's secrets are exactly what it passes (make dev passes .dev.vars itself).
  const declared = Object.keys(unstable_readConfig({ config: toml }).vars ?? {});
  const baseBindings = Object.fromEntries(Object.entries(workerOptions.bindings ?? {}).filter(([k]) => declared.includes(k)));
  // The Worker's console output, printed as miniflare would, kept so tests can assert on it,
  // and handed to `onLog` (the secrets scan) as it arrives.
  const logs = [];
  const handleRuntimeStdio = (stdout, stderr) => {
    for (const [stream, print] of [[stdout, console.log], [stderr, console.error]]) {
      readline.createInterface(stream).on("line", (l) => {
        logs.push(l);
        print(l);
        o.onLog?.(l);
      });
    }
  };
  const mf = new Miniflare({
    handleRuntimeStdio,
    ...workerOptions,
    name: "maestro-edge",
    modules: true,
    scriptPath: path.join(o.build ?? path.join(ROOT, "build"), "index.js"),
    modulesRoot: o.build ?? path.join(ROOT, "build"),
    bindings: { ...baseBindings, ...(o.vars ?? {}) },
    hyperdrives: { DB: o.databaseUrl },
    host: o.host ?? "127.0.0.1",
    port: o.port ?? 0,
    cf: false,
    ...(o.persistTo
      ? { kvPersist: path.join(o.persistTo, "kv"), durableObjectsPersist: path.join(o.persistTo, "do"), cachePersist: path.join(o.persistTo, "cache") }
      : {}),
    verbose: !!process.env.GATEWAY_VERBOSE,
    ...(o.miniflare ?? {}),
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    mf,
    /** Every line the Worker logged so far. */
    logs,
    /** Run the cron handler once, as Cloudflare would. */
    async scheduled(cron = "* * * * *", scheduledTime = new Date()) {
      const worker = await mf.getWorker();
      return worker.scheduled({ cron, scheduledTime });
    },
    /** Active-stream counts per node as the Coordinator authority holds them, pushed there by
     * each node's Streams objects (what the cron and the admin load view read; tests). */
    async streamCounts() {
      const ns = await mf.getDurableObjectNamespace("COORDINATOR");
      const r = await ns.get(ns.idFromName("global")).fetch("https://coordinator/streams");
      return r.json();
    },
    async stop() {
      await mf.dispose();
    },
  };
}
