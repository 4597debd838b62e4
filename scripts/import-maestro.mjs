#!/usr/bin/env node
// `make import-maestro DATABASE=postgres://...`: moves a Model Maestro installation into this
// gateway through its admin API (README, "Importing a Model Maestro database").
//
//   DATABASE     the Model Maestro Postgres URL (read-only session)
//   ADMIN_URL    the gateway (default http://127.0.0.1:8787, `make dev`)
//   ADMIN_TOKEN  the gateway's ADMIN_TOKEN (or an admin session token)
//   DRY_RUN=1    print what would change, write nothing
//   PRESETS=1    also add the original's seed tool sets and model configs (create-only)
//   TOKENS_CSV   where new user tokens go (default maestro-tokens-<UTC time>.csv, mode 600)
//   --presets-only  (`make presets`): only the presets, no DATABASE needed
import fs from "node:fs";
import { readSource } from "./import/source.mjs";
import { adminApi, readTarget } from "./import/admin.mjs";
import * as map from "./import/map.mjs";
import * as sync from "./import/apply.mjs";
import { TOOL_SETS, MODEL_CONFIGS } from "./import/presets.mjs";

const env = process.env;
const args = process.argv.slice(2);
const truthy = (v) => ["1", "true", "yes"].includes(String(v ?? "").toLowerCase());
const dryRun = truthy(env.DRY_RUN) || args.includes("--dry-run");
const presetsOnly = args.includes("--presets-only");
const presets = presetsOnly || truthy(env.PRESETS) || args.includes("--presets");
const database = env.DATABASE || env.MAESTRO_DATABASE_URL;
const adminUrl = env.ADMIN_URL || "http://127.0.0.1:8787";
const adminToken = env.ADMIN_TOKEN;

function die(msg) {
  console.error(`import-maestro: ${msg}`);
  process.exit(2);
}
if (!adminToken) die("set ADMIN_TOKEN (the target gateway's admin token) and ADMIN_URL");
if (!presetsOnly && !database) die("set DATABASE=postgres://... (the Model Maestro database), or use `make presets`");

/** The token CSV: opened (mode 600) on the first new token, one row per token as it arrives. */
function tokenSink(file) {
  let fd = null;
  const cell = (v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  return {
    get file() {
      return fd === null ? null : file;
    },
    write(user) {
      if (fd === null) {
        // Appends to a file of an earlier run rather than failing after the user was created.
        fd = fs.openSync(file, "a", 0o600);
        fs.fchmodSync(fd, 0o600);
        if (fs.fstatSync(fd).size === 0) fs.writeSync(fd, "username,token,token_prefix\n");
      }
      // Written at once: a token lost here cannot be shown again (the gateway keeps its hash only).
      fs.writeSync(fd, `${[user.username, user.token, user.token_prefix].map(cell).join(",")}\n`);
      fs.fsyncSync(fd);
    },
  };
}

const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
const tokens = tokenSink(env.TOKENS_CSV || `maestro-tokens-${stamp}.csv`);
const api = adminApi(adminUrl, adminToken, { dryRun });
const rep = sync.reporter({ dryRun });
const say = (s) => console.log(`\n== ${s}`);

console.log(`import-maestro${dryRun ? " (dry run: nothing is written)" : ""}: ${presetsOnly ? "presets" : "Model Maestro database"} -> ${adminUrl}`);
console.log("(+ create, ~ update, - not carried over and why, ! a Model Maestro bug not copied, ? waits for a feature this gateway lacks yet, i information, x failed)");
let target;
try {
  target = await readTarget(api);
} catch (e) {
  die(e.message);
}

if (!presetsOnly) {
  let src;
  try {
    src = readSource(database);
  } catch (e) {
    die(e.message);
  }
  if (src.missing.length) console.log(`i tables not in this database (older Model Maestro), read as empty: ${src.missing.join(", ")}`);
  const nodes = map.nodeIndex(src);
  const steps = [
    ["settings", () => map.mapSettings(src), (m) => sync.syncSettings(api, rep, target, m.settings)],
    ["tool sets", () => map.mapToolSets(src), (m) => sync.syncToolSets(api, rep, target, m.items)],
    ["model configs", () => map.mapModelConfigs(src), (m) => sync.syncModelConfigs(api, rep, target, m.items)],
    ["nodes", () => map.mapNodes(src), async (m) => {
      await sync.syncNodes(api, rep, target, m.items);
      await sync.syncNodeRouting(api, rep, target, m.items);
    }],
    ["mappings", () => map.mapMappings(src, nodes), (m) => sync.syncMappings(api, rep, target, m.items)],
    ["groups", () => map.mapGroups(src, nodes), (m) => sync.syncGroups(api, rep, target, m.items)],
    ["users", () => map.mapUsers(src), (m) => sync.syncUsers(api, rep, target, m.items, (u) => tokens.write(u))],
    ["system prompts", () => map.mapSystemPrompts(src, nodes), (m) => sync.syncSystemPrompts(api, rep, target, m.items)],
    ["per-user node access", () => map.mapNodeAccess(src, nodes), (m) => sync.syncNodeAccess(api, rep, target, m.items)],
  ];
  for (const [title, derive, apply] of steps) {
    say(title);
    const m = derive();
    for (const n of m.notes) rep.note(n);
    await apply(m);
  }
}

if (presets) {
  say("presets (Model Maestro's seed tool sets and model configs; existing ones are kept as they are)");
  await sync.syncToolSets(api, rep, target, TOOL_SETS, { createOnly: true });
  await sync.syncModelConfigs(api, rep, target, MODEL_CONFIGS, { createOnly: true });
}

say(`summary${dryRun ? " (dry run)" : ""}`);
let errors = 0;
for (const [kind, c] of Object.entries(rep.counts)) {
  errors += c.error;
  console.log(`${kind}: ${c.create} ${dryRun ? "to create" : "created"}, ${c.update} ${dryRun ? "to update" : "updated"}, ${c.unchanged} unchanged${c.error ? `, ${c.error} failed` : ""}`);
}
if (tokens.file) console.log(`\nNew user tokens (shown once, only their hashes are stored): ${tokens.file} (mode 600). Hand them out, then delete the file.`);
else if (!dryRun && !presetsOnly) console.log("\nNo new user tokens (existing users keep theirs).");
if (errors) {
  console.log(`\n${errors} change(s) failed (see the lines starting with x); fix and re-run: the import is idempotent.`);
  process.exit(1);
}
