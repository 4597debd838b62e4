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
 * @param {string} [o.assets]      folder of static files served under /ui/ (the admin dashboard)
 */
export async function startGateway(o) {
  const toml = path.join(ROOT, "wrangler.toml");
  const { workerOptions } = unstable_getMiniflareWorkerOptions(toml);
  // wrangler also folds .dev.vars into the bindings; keep only wrangler.toml's [vars] so a
  // caller's secrets are exactly what it passes (make dev passes .dev.vars itself).
  const declared = Object.keys(unstable_readConfig({ config: toml }).vars ?? {});
  const baseBindings = Object.fromEntries(Object.entries(workerOptions.bindings ?? {}).filter(([k]) => declared.includes(k)));
  // The Worker's console output, printed as miniflare would and kept so tests can assert on it.
  const logs = [];
  const handleRuntimeStdio = (stdout, stderr) => {
    readline.createInterface(stdout).on("line", (l) => (logs.push(l), console.log(l)));
    readline.createInterface(stderr).on("line", (l) => (logs.push(l), console.error(l)));
  };
  const mf = new Miniflare({
    handleRuntimeStdio,
    ...workerOptions,
    name: "maestro-edge",
    modules: true,
    scriptPath: path.join(ROOT, "build/index.js"),
    modulesRoot: path.join(ROOT, "build"),
    bindings: { ...baseBindings, ...(o.vars ?? {}) },
    hyperdrives: { DB: o.databaseUrl },
    host: o.host ?? "127.0.0.1",
    port: o.port ?? 0,
    cf: false,
    ...(o.persistTo
      ? { kvPersist: path.join(o.persistTo, "kv"), durableObjectsPersist: path.join(o.persistTo, "do"), cachePersist: path.join(o.persistTo, "cache") }
      : {}),
    verbose: !!process.env.GATEWAY_VERBOSE,
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    mf,
    /** Every line the Worker logged so far. */
    logs,
    /** Run the cron handler once, as Cloudflare would. */
    async scheduled(cron = "* * * * *") {
      const worker = await mf.getWorker();
      return worker.scheduled({ cron, scheduledTime: new Date() });
    },
    async stop() {
      await mf.dispose();
    },
  };
}
