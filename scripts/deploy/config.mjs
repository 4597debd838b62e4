// The deploy configuration of one environment, generated from wrangler.toml (the single
// description of the bindings): every KV namespace, Hyperdrive config, Durable Object binding,
// migration, cron and var is taken from it, so an object someone adds there deploys with no
// change here. Only what differs per environment is filled in: the Worker's name, the ids of
// the resources found or created, and the vars the deploy merges. Written to
// .deploy/<env>/worker-config.json (kept out of git), never into wrangler.toml.
import fs from "node:fs";
import path from "node:path";

export const PLACEHOLDER_ID = "00000000000000000000000000000000";

export async function readToml(root) {
  const { experimental_readRawConfig } = await import("wrangler");
  return experimental_readRawConfig({ config: path.join(root, "wrangler.toml") }).rawConfig;
}

/// Names of this environment's Worker and resources. Production keeps wrangler.toml's name;
/// any other environment gets it as a suffix, so staging never touches production's data.
export function names(raw, envName, overrides = {}) {
  const worker = overrides.worker || (envName === "production" ? raw.name : `${raw.name}-${envName}`);
  return {
    worker,
    kv: (binding) => `${worker}-${binding}`,
    hyperdrive: (binding) => `${worker}-${binding}`,
    pages: overrides.pages || `${worker}-admin`,
  };
}

/// The resources wrangler.toml asks for (what the deploy must find or create).
export function resources(raw) {
  return {
    kv: (raw.kv_namespaces ?? []).map((k) => k.binding),
    hyperdrive: (raw.hyperdrive ?? []).map((h) => h.binding),
    durableObjects: (raw.durable_objects?.bindings ?? []).map((d) => ({ binding: d.name, className: d.class_name })),
    migrations: (raw.migrations ?? []).map((m) => m.tag),
    crons: raw.triggers?.crons ?? [],
    vars: Object.keys(raw.vars ?? {}),
  };
}

/// The generated config. `ids` maps "kv:<binding>" / "hyperdrive:<binding>" to resource ids
/// (placeholders in a dry run); `vars` are the final values of the vars (see `mergeVars`).
export function generate(raw, { root, outDir, worker, ids, vars }) {
  const cfg = structuredClone(raw);
  delete cfg.build; // the deploy builds first (with wasm-opt); wrangler only uploads
  delete cfg.env;
  cfg.name = worker;
  cfg.main = path.relative(outDir, path.resolve(root, raw.main));
  cfg.kv_namespaces = (raw.kv_namespaces ?? []).map((k) => ({ ...k, id: ids[`kv:${k.binding}`] ?? PLACEHOLDER_ID, preview_id: undefined }));
  cfg.hyperdrive = (raw.hyperdrive ?? []).map(({ localConnectionString: _local, ...h }) => ({ ...h, id: ids[`hyperdrive:${h.binding}`] ?? PLACEHOLDER_ID }));
  cfg.vars = vars;
  // Vars set on the deployed Worker (the Cloudflare dashboard) and not sent here are kept.
  cfg.keep_vars = true;
  cfg.send_metrics = false;
  if (cfg.kv_namespaces.length === 0) delete cfg.kv_namespaces;
  if (cfg.hyperdrive.length === 0) delete cfg.hyperdrive;
  return JSON.parse(JSON.stringify(cfg)); // drops the undefined keys
}

/// The vars to send: wrangler.toml's values, each overridden by the same name in the deploy's
/// environment; empty values are not sent at all (with keep_vars, a value an operator set on
/// the deployed Worker stays). ADMIN_UI_ORIGINS is the union of what the deployed Worker has,
/// what the operator passes and the dashboard's own origin, so a deploy only ever adds to it.
export function mergeVars(raw, env, { deployedVars = {}, adminOrigin } = {}) {
  const out = {};
  for (const [k, v] of Object.entries(raw.vars ?? {})) {
    const value = env[k] !== undefined && env[k] !== "" ? env[k] : v;
    if (typeof value !== "string" || value !== "") out[k] = value;
  }
  const origins = [];
  for (const list of [deployedVars.ADMIN_UI_ORIGINS, env.ADMIN_UI_ORIGINS, raw.vars?.ADMIN_UI_ORIGINS, adminOrigin]) {
    for (const o of String(list ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
      if (!origins.includes(o)) origins.push(o);
    }
  }
  if (origins.length) out.ADMIN_UI_ORIGINS = origins.join(",");
  return out;
}

/// Checks the generated config must pass before anything is uploaded. Returns problems.
export function validate(cfg, { outDir, bundleText, plan = "free" }) {
  const problems = [];
  const classes = new Map();
  const tags = new Set();
  for (const m of cfg.migrations ?? []) {
    if (!m.tag) problems.push("a [[migrations]] entry has no tag");
    if (tags.has(m.tag)) problems.push(`migration tag ${m.tag} is used twice`);
    tags.add(m.tag);
    for (const c of m.new_sqlite_classes ?? []) classes.set(c, "sqlite");
    for (const c of m.new_classes ?? []) {
      classes.set(c, "kv");
      if (plan === "free") problems.push(`Durable Object class ${c} is key-value backed (new_classes): the Free plan only has SQLite-backed classes (new_sqlite_classes)`);
    }
    for (const r of m.renamed_classes ?? []) {
      classes.set(r.to, classes.get(r.from) ?? "renamed");
      classes.delete(r.from);
    }
    for (const c of m.deleted_classes ?? []) classes.delete(c);
  }
  for (const d of cfg.durable_objects?.bindings ?? []) {
    if (d.script_name) continue; // an object of another Worker
    if (!classes.has(d.class_name)) problems.push(`Durable Object ${d.name} (class ${d.class_name}) is not created by any [[migrations]] entry: add one with a new tag`);
    if (bundleText && !new RegExp(`\\b${d.class_name}\\b`).test(bundleText)) problems.push(`the bundle does not export Durable Object class ${d.class_name}`);
  }
  for (const c of cfg.triggers?.crons ?? []) {
    if (String(c).trim().split(/\s+/).length !== 5) problems.push(`cron "${c}" does not have 5 fields`);
  }
  if (plan === "free" && (cfg.triggers?.crons ?? []).length > 5) problems.push("the Free plan allows 5 cron triggers per account");
  for (const k of cfg.kv_namespaces ?? []) if (!/^[0-9a-f]{32}$/.test(k.id)) problems.push(`KV ${k.binding}: id ${k.id} is not a namespace id`);
  for (const h of cfg.hyperdrive ?? []) if (!/^[0-9a-f]{32}$/.test(h.id)) problems.push(`Hyperdrive ${h.binding}: id ${h.id} is not a config id`);
  if (!fs.existsSync(path.resolve(outDir, cfg.main))) problems.push(`main ${cfg.main}: the Worker is not built`);
  if (cfg.vars && Object.keys(cfg.vars).length > 64) problems.push("more than 64 vars (the Free plan's limit)");
  for (const [k, v] of Object.entries(cfg.vars ?? {})) if (Buffer.byteLength(JSON.stringify(v)) > 5120) problems.push(`var ${k} is over 5 KB`);
  return problems;
}

/// The names the Worker reads as secrets, from its source (src/edge/): whatever another change
/// adds there is set by the deploy when the operator passes it, with no list to keep in sync.
export function secretNames(root, raw) {
  const found = new Set();
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".rs")) {
        const src = fs.readFileSync(p, "utf8");
        // `env.secret("X")`, and any helper called as `helper(env, "X")` (secret, text, ...).
        for (const m of src.matchAll(/(?:\.secret\(\s*|\b\w+\(\s*&?\w*env\w*\s*,\s*)"([A-Z][A-Z0-9_]+)"/g)) found.add(m[1]);
      }
    }
  };
  walk(path.join(root, "src", "edge"));
  const vars = new Set(Object.keys(raw.vars ?? {}));
  vars.add("ADMIN_UI_ORIGINS"); // a var the deploy merges (see mergeVars)
  return [...found].filter((n) => !vars.has(n)).sort();
}
