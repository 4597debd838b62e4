// `make deploy` against a fake Cloudflare API on loopback (tests/e2e/fake-cloudflare.mjs): the
// resources it creates, the secrets it sets, the upload with its Durable Object migrations and
// cron, the dashboard on Pages built for the Worker's URL; then a second run that changes
// nothing. Every process runs with tests/e2e/loopback-guard.cjs preloaded, so any attempt to
// reach a real host fails and fails the test. Needs the Worker in build/ (make test builds it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startFakeCloudflare } from "./fake-cloudflare.mjs";
import * as conf from "../../scripts/deploy/config.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const GUARD = path.join(ROOT, "tests/e2e/loopback-guard.cjs");
const WORKER = "maestro-edge-staging";
const PAGES = `${WORKER}-admin`;
const DATABASE_URL = "postgres://maestro:s3cret%21@db.example.com:6543/gateway";

let cf, tmp, guardLog, raw;

before(async () => {
  cf = await startFakeCloudflare();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "maestro-deploy-test-"));
  guardLog = path.join(tmp, "guard.log");
  raw = await conf.readToml(ROOT);
});
after(async () => {
  await cf?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/// `make deploy ENV=staging` with only loopback reachable; returns its output.
function makeDeploy(extra = {}) {
  const env = {
    PATH: process.env.PATH,
    HOME: tmp, // no real `wrangler login` state, no real caches
    XDG_CONFIG_HOME: path.join(tmp, "config"),
    WRANGLER_CACHE_DIR: path.join(tmp, "wrangler-cache"),
    TMPDIR: tmp,
    CI: "true",
    ENV: "staging",
    SETUP: "0", // the test run installed everything
    BUILD: "0", // reuse the Worker the test run built (a real deploy builds with wasm-opt)
    DEPLOY_DIR: path.join(tmp, "deploy"),
    DATABASE_URL,
    CLOUDFLARE_API_BASE_URL: cf.apiBase,
    CLOUDFLARE_API_TOKEN: "fake-token",
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true", // the banner's update check would ask the npm registry
    npm_config_registry: `${cf.base}/npm/`,
    npm_config_update_notifier: "false",
    NODE_OPTIONS: `--require ${GUARD}`,
    LOOPBACK_GUARD_LOG: guardLog,
    ...extra,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn("make", ["-s", "deploy"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`make deploy exited with ${code}:\n${out.slice(-6000)}`))));
  });
}

function noOutsideTraffic() {
  const attempts = fs.existsSync(guardLog) ? fs.readFileSync(guardLog, "utf8").trim() : "";
  assert.equal(attempts, "", `a process tried to reach a non-loopback host:\n${attempts}`);
  assert.deepEqual(cf.state.unknown, [], "calls the fake Cloudflare API does not know");
}

const uploads = (from) => cf.state.log.slice(from).filter((e) => (e.method === "PUT" && e.path.endsWith(`/workers/scripts/${WORKER}`)) || (e.method === "POST" && e.path.endsWith(`/workers/scripts/${WORKER}/versions`)));
const meta = (e) => JSON.parse(typeof e.body.metadata === "string" ? e.body.metadata : e.body.metadata.text);
const calls = (from, method, re) => cf.state.log.slice(from).filter((e) => e.method === method && re.test(e.path));

let afterFirst = 0;
let firstSecrets;

test("first deploy (API token, account found by the API): creates KV, Hyperdrive and the Pages project, sets secrets, uploads with migrations and cron, publishes the dashboard", async () => {
  const out = await makeDeploy();
  noOutsideTraffic();
  assert.deepEqual([...new Set(cf.state.log.map((e) => e.auth?.startsWith("Bearer ey") ? "pages-jwt" : e.auth))].sort(), ["Bearer fake-token", "pages-jwt"], "every call carries the API token (Pages uploads their upload JWT)");
  const r = conf.resources(raw);

  // Resources, one each, named for the environment.
  const kv = calls(0, "POST", /\/storage\/kv\/namespaces$/);
  assert.deepEqual(kv.map((c) => c.body.title), r.kv.map((b) => `${WORKER}-${b}`));
  const hd = calls(0, "POST", /\/hyperdrive\/configs$/);
  assert.equal(hd.length, r.hyperdrive.length);
  assert.deepEqual(hd[0].body, { name: `${WORKER}-DB`, origin: { scheme: "postgres", host: "db.example.com", port: 6543, database: "gateway", user: "maestro", password: "s3cret!" } });
  assert.deepEqual(calls(0, "POST", /\/pages\/projects$/).map((c) => c.body), [{ name: PAGES, production_branch: "main" }]);

  // One upload with every binding of wrangler.toml, the migrations and the secrets.
  const up = uploads(0);
  assert.equal(up.length, 1, "one Worker upload");
  const m = meta(up[0]);
  const byName = Object.fromEntries(m.bindings.map((b) => [b.name, b]));
  const kvId = [...cf.state.kv.values()][0].id;
  assert.equal(byName.KV.type, "kv_namespace");
  assert.equal(byName.KV.namespace_id, kvId);
  assert.equal(byName.DB.type, "hyperdrive");
  assert.equal(byName.DB.id, [...cf.state.hyperdrive.values()][0].id);
  for (const d of r.durableObjects) {
    assert.equal(byName[d.binding]?.type, "durable_object_namespace", d.binding);
    assert.equal(byName[d.binding].class_name, d.className);
  }
  assert.equal(m.migrations.new_tag, r.migrations.at(-1));
  assert.equal(m.migrations.old_tag, undefined);
  assert.equal(m.migrations.steps.length, r.migrations.length);
  assert.deepEqual(m.migrations.steps.flatMap((s) => s.new_sqlite_classes ?? []).sort(), r.durableObjects.map((d) => d.className).sort());
  for (const s of ["JWT_SECRET", "SECRETS_KEY", "ADMIN_TOKEN", "ADMIN_PASSWORD", "ADMIN_USERNAME"]) assert.equal(byName[s]?.type, "secret_text", s);
  assert.ok(byName.JWT_SECRET.text.length >= 40, "a long random JWT_SECRET");
  assert.equal(byName.ADMIN_USERNAME.text, "admin");
  assert.equal(byName.ADMIN_UI_ORIGINS.type, "plain_text");
  assert.equal(byName.ADMIN_UI_ORIGINS.text, `https://${PAGES}.pages.dev`);
  assert.equal(byName.UPSTASH_REDIS_REST_URL, undefined, "an empty var is not sent (it would clobber one set on the Worker)");
  assert.ok(m.keep_bindings.includes("plain_text"), "vars set on the Worker are kept");
  assert.ok(up[0].body && Object.values(up[0].body).some((p) => p?.name?.endsWith(".wasm")), "the wasm module is uploaded");

  // The cron.
  const sched = calls(0, "PUT", new RegExp(`/workers/scripts/${WORKER}/schedules$`));
  assert.deepEqual(sched.at(-1).body.map((s) => s.cron), r.crons);

  // The dashboard: built for the Worker's URL, uploaded and deployed to the project.
  const workerUrl = `https://${WORKER}.${cf.subdomain}.workers.dev`;
  const uploaded = calls(0, "POST", /\/pages\/assets\/upload$/).flatMap((c) => c.body);
  assert.ok(uploaded.some((f) => Buffer.from(f.value, "base64").toString().includes(workerUrl)), "a dashboard asset carries the Worker's URL as its API base");
  assert.ok(uploaded.some((f) => Buffer.from(f.value, "base64").toString().includes("<html") || Buffer.from(f.value, "base64").toString().includes("<!doctype")), "index.html is uploaded");
  assert.equal(calls(0, "POST", new RegExp(`/pages/projects/${PAGES}/deployments$`)).length, 1);

  // What the operator is told.
  const password = cf.state.scripts.get(WORKER).secrets.get("ADMIN_PASSWORD");
  assert.match(out, new RegExp(`gateway\\s+${workerUrl.replace(/\./g, "\\.")}`));
  assert.match(out, new RegExp(`dashboard\\s+https://${PAGES}\\.pages\\.dev`));
  assert.ok(out.includes(`ADMIN_PASSWORD=${password}`), "the generated password is shown once");
  assert.match(out, /First steps:/);
  assert.ok(!out.includes(cf.state.scripts.get(WORKER).secrets.get("JWT_SECRET")), "JWT_SECRET is never printed");
  const login = fs.readFileSync(path.join(tmp, "deploy", "admin-login.txt"), "utf8");
  assert.ok(login.includes(`ADMIN_PASSWORD=${password}`));
  assert.equal(fs.statSync(path.join(tmp, "deploy", "admin-login.txt")).mode & 0o077, 0, "the login file is private");
  assert.ok(!fs.existsSync(path.join(tmp, "deploy", "secrets.json")), "the secrets file is removed after the upload");

  afterFirst = cf.state.log.length;
  firstSecrets = new Map(cf.state.scripts.get(WORKER).secrets);
});

test("second deploy (a `wrangler login` session): finds everything, regenerates no secret, keeps an origin the operator added", async () => {
  assert.ok(afterFirst > 0, "needs the first deploy");
  // What `wrangler login` leaves behind, with a token that has not expired.
  const auth = path.join(tmp, "config", ".wrangler", "config");
  fs.mkdirSync(auth, { recursive: true });
  fs.writeFileSync(path.join(auth, "default.toml"), `oauth_token = "fake-oauth-token"\nexpiration_time = "${new Date(Date.now() + 3600e3).toISOString()}"\nrefresh_token = "fake-refresh"\nscopes = ["account:read", "workers:write", "workers_kv:write", "pages:write"]\n`);
  // The operator adds an origin of their own on the Worker (the Cloudflare dashboard).
  const s = cf.state.scripts.get(WORKER);
  const origins = s.bindings.find((b) => b.name === "ADMIN_UI_ORIGINS");
  origins.text = `https://ops.example.com,${origins.text}`;
  const kvBefore = cf.state.kv.size, hdBefore = cf.state.hyperdrive.size, pagesBefore = cf.state.pages.size;

  // A JWT_SECRET left in the shell must not end every token: only ROTATE=JWT_SECRET replaces it.
  const out = await makeDeploy({ CLOUDFLARE_API_TOKEN: undefined, JWT_SECRET: "left-in-the-shell" });
  noOutsideTraffic();
  const auths = new Set(cf.state.log.slice(afterFirst).filter((e) => !e.path.includes("/pages/assets/")).map((e) => e.auth));
  assert.deepEqual([...auths], ["Bearer fake-oauth-token"], "the deploy script and wrangler both use the login session");
  assert.equal(calls(afterFirst, "POST", /\/storage\/kv\/namespaces$/).length, 0, "no second KV namespace");
  assert.equal(calls(afterFirst, "POST", /\/hyperdrive\/configs$/).length, 0, "no second Hyperdrive config");
  assert.equal(calls(afterFirst, "PUT", /\/hyperdrive\/configs\//).length, 0, "the Hyperdrive config is left alone");
  assert.equal(calls(afterFirst, "POST", /\/pages\/projects$/).length, 0, "no second Pages project");
  assert.deepEqual([cf.state.kv.size, cf.state.hyperdrive.size, cf.state.pages.size], [kvBefore, hdBefore, pagesBefore]);

  const up = uploads(afterFirst);
  assert.equal(up.length, 1);
  const m = meta(up[0]);
  assert.deepEqual(m.bindings.filter((b) => b.type === "secret_text").map((b) => b.name), [], "no secret is sent again");
  assert.equal(m.migrations, undefined, "no Durable Object migration is applied twice");
  assert.deepEqual(new Map(s.secrets), firstSecrets, "every secret keeps its value (tokens stay valid)");
  const sent = m.bindings.find((b) => b.name === "ADMIN_UI_ORIGINS").text.split(",");
  assert.ok(sent.includes("https://ops.example.com"), "the operator's origin is kept");
  assert.ok(sent.includes(`https://${PAGES}.pages.dev`));
  assert.equal(calls(afterFirst, "POST", /\/pages\/assets\/upload$/).length, 0, "unchanged dashboard files are not uploaded again");
  assert.match(out, /generated\s+nothing/);
  assert.match(out, /JWT_SECRET is already set on the Worker: not replaced/);
  assert.match(out, /an upgrade/);
});

test("the generated config carries whatever wrangler.toml declares (a new Durable Object needs no deploy change)", () => {
  const extra = structuredClone(raw);
  extra.durable_objects.bindings.push({ name: "BREAKER", class_name: "Breaker" });
  extra.migrations.push({ tag: "v99", new_sqlite_classes: ["Breaker"] });
  extra.triggers = { crons: ["*/5 * * * *"] };
  const out = path.join(tmp, "gen");
  const cfg = conf.generate(extra, { root: ROOT, outDir: out, worker: "w", ids: { "kv:KV": "a".repeat(32), "hyperdrive:DB": "b".repeat(32) }, vars: {} });
  assert.deepEqual(cfg.durable_objects.bindings.at(-1), { name: "BREAKER", class_name: "Breaker" });
  assert.equal(cfg.migrations.at(-1).tag, "v99");
  assert.deepEqual(cfg.triggers.crons, ["*/5 * * * *"]);
  assert.equal(cfg.build, undefined);
  assert.equal(cfg.keep_vars, true);
  // The bundle exports every class wrangler.toml binds (derived, so a new one needs no edit here).
  const exported = raw.durable_objects.bindings.map((b) => b.class_name).join(" ");
  assert.deepEqual(conf.validate(cfg, { outDir: out, bundleText: `class Breaker ${exported}` }), []);
  // A class no migration creates, or one the bundle lacks, is caught before any upload.
  const bad = structuredClone(cfg);
  bad.migrations.pop();
  assert.match(conf.validate(bad, { outDir: out, bundleText: exported }).join("\n"), /BREAKER .*not created by any \[\[migrations\]\].*\n.*does not export .*Breaker/);
});
