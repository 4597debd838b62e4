#!/usr/bin/env node
// `make deploy`: from a Cloudflare account to a running gateway and dashboard, idempotently.
// `make deploy DRY_RUN=1`: everything that needs no network (bundle, size, config, dashboard).
// What each step does and why: README.md, "Deploying".
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as conf from "./deploy/config.mjs";
import * as cf from "./deploy/cloudflare.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const env = process.env;
const ENV = env.ENV || "production";
const DRY = env.DRY_RUN === "1" || env.DRY_RUN === "true";
const PLAN = (env.PLAN || "free").toLowerCase();
/// Generated files (config, bundle, dashboard build): .deploy/<env>/, out of git.
const OUT = env.DEPLOY_DIR ? path.resolve(env.DEPLOY_DIR) : path.join(ROOT, ".deploy", ENV);
const WRANGLER = [process.execPath, path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js")];
/// The Free plan's limit on a Worker's compressed size; the Paid plan's is 10 MiB.
const SIZE_LIMIT = { free: 3 << 20, paid: 10 << 20 };
/// Secrets generated when neither passed nor already set: losing them would end every session
/// and token (JWT_SECRET) or make stored node keys unreadable (SECRETS_KEY), so never replaced.
const GENERATED = ["JWT_SECRET", "SECRETS_KEY"];

const say = (s) => console.log(`-- deploy${DRY ? " (dry run)" : ""} [${ENV}]: ${s}`);
const die = (s) => {
  console.error(`\ndeploy failed: ${s}`);
  process.exit(1);
};

function sh(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? env, stdio: opts.quiet ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"] });
    let out = "";
    child.stdout?.on("data", (d) => (out += d));
    child.stderr?.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(args[0] ?? cmd)} ${args.slice(1, 3).join(" ")} exited with ${code}\n${out.slice(-4000)}`))));
  });
}

const secret = () => randomBytes(32).toString("base64url");

function gzipSize(dir) {
  let raw = 0, gz = 0;
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith(".map") && e.name !== "README.md") {
        const b = fs.readFileSync(p);
        raw += b.length;
        gz += zlib.gzipSync(b, { level: 9 }).length;
      }
    }
  };
  walk(dir);
  return { raw, gz };
}
const mib = (n) => `${(n / (1 << 20)).toFixed(2)} MiB`;

async function buildWorker() {
  if (env.BUILD === "0") {
    if (!fs.existsSync(path.join(ROOT, "build", "index_bg.wasm"))) die("BUILD=0, but build/ has no Worker: build it first (make build, or drop BUILD=0)");
    say("reusing the Worker already in build/ (BUILD=0)");
    return;
  }
  say("building the Worker (release, wasm-opt)");
  await sh("sh", ["scripts/worker-build.sh"], { env: { ...env, WORKER_OPT: "1" } });
}

async function buildDashboard(apiBase, outDir) {
  say(`building the dashboard with API base ${apiBase}`);
  await sh("npm", ["run", "build", "--silent", "--", "--outDir", outDir, "--emptyOutDir"], { cwd: path.join(ROOT, "admin-ui"), env: { ...env, VITE_API_BASE: apiBase, npm_config_update_notifier: "false" }, quiet: true });
  const index = fs.readFileSync(path.join(outDir, "index.html"), "utf8");
  const js = fs.readdirSync(path.join(outDir, "assets")).filter((f) => f.endsWith(".js")).map((f) => fs.readFileSync(path.join(outDir, "assets", f), "utf8")).join("\n");
  if (!index.includes("<") || !js.includes(apiBase)) die(`the dashboard build does not carry its API base ${apiBase}`);
}

/// Bundle exactly what would be uploaded, check its size and the config, without network.
async function bundle(cfgPath, cfg) {
  const dist = path.join(OUT, "dist");
  fs.rmSync(dist, { recursive: true, force: true });
  say("bundling (wrangler deploy --dry-run)");
  const log = await sh(WRANGLER[0], [WRANGLER[1], "deploy", "--dry-run", "--outdir", dist, "--config", cfgPath], {
    quiet: true,
    // Local only: no telemetry, no error reports, no banner (its update check asks npm).
    env: { ...env, WRANGLER_SEND_METRICS: "false", WRANGLER_SEND_ERROR_REPORTS: "false", WRANGLER_HIDE_BANNER: "true" },
  });
  const { raw, gz } = gzipSize(dist);
  const limit = SIZE_LIMIT[PLAN] ?? SIZE_LIMIT.free;
  say(`bundle ${mib(raw)}, ${mib(gz)} gzipped (limit on the ${PLAN} plan: ${mib(limit)} gzipped)`);
  if (gz > limit) die(`the Worker is ${mib(gz)} gzipped, over the ${PLAN} plan's ${mib(limit)}`);
  const text = fs.readdirSync(dist).filter((f) => f.endsWith(".js")).map((f) => fs.readFileSync(path.join(dist, f), "utf8")).join("\n");
  const problems = conf.validate(cfg, { outDir: OUT, bundleText: text, plan: PLAN });
  if (problems.length) die(`the generated config is not deployable:\n  ${problems.join("\n  ")}`);
  for (const d of cfg.durable_objects?.bindings ?? []) if (!log.includes(d.name)) die(`wrangler's dry run does not list the binding ${d.name}`);
  return { raw, gz };
}

function writeConfig(cfg) {
  fs.mkdirSync(OUT, { recursive: true });
  // Not named wrangler.json: `wrangler pages deploy` would take it for the dashboard's config.
  const p = path.join(OUT, "worker-config.json");
  fs.writeFileSync(p, JSON.stringify(cfg, null, 2) + "\n");
  return p;
}

async function dryRun(raw, n) {
  const origin = `https://${n.pages}.pages.dev`;
  const workerUrl = `https://${n.worker}.example.workers.dev`;
  const vars = conf.mergeVars(raw, env, { adminOrigin: origin });
  const ids = {};
  for (const b of conf.resources(raw).kv) ids[`kv:${b}`] = conf.PLACEHOLDER_ID;
  for (const b of conf.resources(raw).hyperdrive) ids[`hyperdrive:${b}`] = conf.PLACEHOLDER_ID;
  await buildWorker();
  const cfg = conf.generate(raw, { root: ROOT, outDir: OUT, worker: n.worker, ids, vars });
  const cfgPath = writeConfig(cfg);
  const size = await bundle(cfgPath, cfg);
  await buildDashboard(workerUrl, path.join(OUT, "admin-ui"));
  const r = conf.resources(raw);
  console.log(`
Dry run passed for ${ENV}: nothing was sent anywhere.
  config     ${path.relative(ROOT, cfgPath)} (Worker ${n.worker})
  bundle     ${path.relative(ROOT, path.join(OUT, "dist"))}: ${mib(size.gz)} gzipped
  bindings   KV ${r.kv.join(", ") || "-"}; Hyperdrive ${r.hyperdrive.join(", ") || "-"}; Durable Objects ${r.durableObjects.map((d) => `${d.binding} (${d.className})`).join(", ")}
  migrations ${r.migrations.join(", ")}; cron ${r.crons.join(", ")}
  dashboard  ${path.relative(ROOT, path.join(OUT, "admin-ui"))} (API base ${workerUrl}, placeholder)
A real deploy: make deploy${ENV === "production" ? "" : ` ENV=${ENV}`} DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB`);
}

async function deploy(raw, n) {
  const auth = await cf.credentials(WRANGLER, env);
  const api = cf.client({ base: env.CLOUDFLARE_API_BASE_URL || "https://api.cloudflare.com/client/v4", headers: auth.headers });
  const acct = await cf.account(api, env);
  say(`account ${acct}, signed in with ${auth.kind}`);
  const childEnv = { ...env, CLOUDFLARE_ACCOUNT_ID: acct, WRANGLER_SEND_METRICS: env.WRANGLER_SEND_METRICS ?? "false" };
  const r = conf.resources(raw);

  const ids = {};
  for (const b of r.kv) {
    const ns = await cf.kvNamespace(api, acct, n.kv(b));
    ids[`kv:${b}`] = ns.id;
    say(`KV ${b}: ${n.kv(b)} ${ns.id} (${ns.created ? "created" : "exists"})`);
  }
  for (const [i, b] of r.hyperdrive.entries()) {
    // The first Hyperdrive binding is DATABASE_URL; any other one is DATABASE_URL_<BINDING>.
    const url = i === 0 ? env.DATABASE_URL : env[`DATABASE_URL_${b}`];
    const hd = await cf.hyperdrive(api, acct, n.hyperdrive(b), url, { rotate: env.ROTATE_DATABASE_PASSWORD === "1" });
    ids[`hyperdrive:${b}`] = hd.id;
    say(`Hyperdrive ${b}: ${n.hyperdrive(b)} ${hd.id} (${hd.created ? "created" : hd.updated ? "updated from DATABASE_URL" : "exists"})`);
  }
  const pages = await cf.pagesProject(api, acct, n.pages);
  say(`Pages project ${pages.name}: ${pages.origin} (${pages.created ? "created" : "exists"})`);

  const current = await cf.deployedWorker(api, acct, n.worker);
  say(current ? `Worker ${n.worker} exists: an upgrade (secrets kept: ${current.secrets.join(", ") || "none"})` : `Worker ${n.worker} is new`);
  const existing = new Set(current?.secrets ?? []);
  if (existing.has("ADMIN_UI_ORIGINS")) say("ADMIN_UI_ORIGINS is a secret on the Worker: left alone; make sure it lists " + pages.origin);
  const vars = conf.mergeVars(raw, env, { deployedVars: current?.vars ?? {}, adminOrigin: existing.has("ADMIN_UI_ORIGINS") ? undefined : pages.origin });
  if (existing.has("ADMIN_UI_ORIGINS")) delete vars.ADMIN_UI_ORIGINS;

  // Secrets: those passed in the environment are set; the generated ones only when missing.
  const secrets = {};
  const generated = [];
  // Replacing an existing JWT_SECRET ends every token and session, SECRETS_KEY makes stored node
  // keys unreadable: a value left in the shell must not do that, only ROTATE=NAME,... does.
  const rotate = new Set((env.ROTATE ?? "").split(",").map((x) => x.trim()).filter(Boolean));
  for (const name of conf.secretNames(ROOT, raw)) {
    if (!env[name]) continue;
    if (GENERATED.includes(name) && existing.has(name) && !rotate.has(name)) {
      say(`${name} is already set on the Worker: not replaced (ROTATE=${name} replaces it: ${name === "JWT_SECRET" ? "every user token and session ends" : "stored node API keys become unreadable"})`);
      continue;
    }
    secrets[name] = env[name];
  }
  for (const name of GENERATED) {
    if (!secrets[name] && !existing.has(name)) {
      secrets[name] = secret();
      generated.push(name);
    }
  }
  if (!secrets.ADMIN_USERNAME && !existing.has("ADMIN_USERNAME")) secrets.ADMIN_USERNAME = "admin";
  for (const name of ["ADMIN_PASSWORD", "ADMIN_TOKEN"]) {
    if (!secrets[name] && !existing.has(name)) {
      secrets[name] = secret();
      generated.push(name);
    }
  }

  await buildWorker();
  const cfg = conf.generate(raw, { root: ROOT, outDir: OUT, worker: n.worker, ids, vars });
  const cfgPath = writeConfig(cfg);
  await bundle(cfgPath, cfg);

  const secretsFile = path.join(OUT, "secrets.json");
  const outputFile = path.join(OUT, "wrangler-output.ndjson");
  fs.rmSync(outputFile, { force: true });
  const args = [WRANGLER[1], "deploy", "--config", cfgPath];
  if (Object.keys(secrets).length) {
    fs.writeFileSync(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
    args.push("--secrets-file", secretsFile);
  }
  say(`deploying the Worker${Object.keys(secrets).length ? ` with secrets ${Object.keys(secrets).sort().join(", ")}` : ""}`);
  try {
    await sh(WRANGLER[0], args, { env: { ...childEnv, WRANGLER_OUTPUT_FILE_PATH: outputFile } });
  } finally {
    fs.rmSync(secretsFile, { force: true });
  }
  const entries = fs.existsSync(outputFile) ? fs.readFileSync(outputFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
  const deployed = entries.filter((e) => e.type === "deploy").at(-1);
  const workerUrl = env.WORKER_URL || deployed?.targets?.find((t) => /^https:\/\//.test(t)) || (await cf.workersDevUrl(api, acct, n.worker));
  if (!workerUrl) die("the Worker has no URL: register a workers.dev subdomain in the Cloudflare dashboard, or add a route and pass WORKER_URL");

  const site = path.join(OUT, "admin-ui");
  await buildDashboard(workerUrl, site);
  say(`deploying the dashboard to Pages project ${pages.name}`);
  await sh(WRANGLER[0], [WRANGLER[1], "pages", "deploy", site, "--project-name", pages.name, "--branch", pages.branch, "--commit-dirty=true"], { env: childEnv, cwd: OUT });

  const login = [];
  if (generated.includes("ADMIN_PASSWORD") || generated.includes("ADMIN_TOKEN")) {
    const file = path.join(OUT, "admin-login.txt");
    const lines = [`ADMIN_USERNAME=${secrets.ADMIN_USERNAME ?? "(unchanged)"}`];
    if (generated.includes("ADMIN_PASSWORD")) lines.push(`ADMIN_PASSWORD=${secrets.ADMIN_PASSWORD}`);
    if (generated.includes("ADMIN_TOKEN")) lines.push(`ADMIN_TOKEN=${secrets.ADMIN_TOKEN}`);
    fs.writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
    login.push(...lines.map((l) => `  ${l}`), `  (generated now, shown once; also in ${path.relative(ROOT, file)}, mode 600: keep it safe, then delete it)`);
  } else {
    login.push(`  user ${secrets.ADMIN_USERNAME ?? "as set before (ADMIN_USERNAME)"}, password as set before (ADMIN_PASSWORD)`);
  }
  const token = generated.includes("ADMIN_TOKEN") ? secrets.ADMIN_TOKEN : "$ADMIN_TOKEN";
  console.log(`
Maestro Edge is deployed (${ENV}).
  gateway    ${workerUrl}
  dashboard  ${pages.origin}  (allowed in ADMIN_UI_ORIGINS: ${vars.ADMIN_UI_ORIGINS ?? "see the Worker's settings"})
  admin login
${login.join("\n")}
  generated  ${generated.length ? generated.join(", ") : "nothing (every secret was already set)"}

First steps:
  1. ${workerUrl}/health/ready should answer {"status":"ready",...} (Postgres reachable, migrations applied).
  2. Sign in at ${pages.origin} and add a node (Nodes > Add), or:
     curl -s -X POST ${workerUrl}/admin/nodes -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' \\
          -d '{"name":"ollama","node_type":"ollama","base_url":"https://ollama.example.com"}'
  3. Create a user and point a client at ${workerUrl}/v1 with its token (dashboard > Guide).
Upgrading: run the same command again. Rolling back: README.md, "Deploying" > "Upgrades and rollback".`);
}

async function main() {
  if (env.SETUP !== "0") await sh("bash", ["scripts/setup.sh"]);
  const raw = await conf.readToml(ROOT);
  const n = conf.names(raw, ENV, { worker: env.WORKER_NAME, pages: env.PAGES_PROJECT });
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(n.worker)) die(`"${n.worker}" is not a valid Worker name (ENV must be lowercase letters, digits, dashes)`);
  fs.mkdirSync(OUT, { recursive: true });
  if (DRY) await dryRun(raw, n);
  else await deploy(raw, n);
}

main().catch((e) => die(e.message));
