// The few Cloudflare API calls the deploy makes itself (wrangler does the uploads): find or
// create each resource by name, so running the deploy again reuses what exists. The API base
// is CLOUDFLARE_API_BASE_URL when set (wrangler honours the same variable), so a test can point
// both at a fake server.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export class ApiError extends Error {
  constructor(status, path, errors) {
    super(`Cloudflare API ${path}: HTTP ${status}: ${(errors ?? []).map((e) => `${e.message} [${e.code}]`).join("; ") || "no details"}`);
    this.status = status;
    this.codes = (errors ?? []).map((e) => e.code);
  }
}

/// The credentials wrangler itself would use: CLOUDFLARE_API_TOKEN (or API key + email) from
/// the environment, else the OAuth token of `wrangler login` (`wrangler auth token`).
export async function credentials(wrangler, env) {
  if (env.CLOUDFLARE_API_TOKEN) return { headers: { authorization: `Bearer ${env.CLOUDFLARE_API_TOKEN}` }, kind: "API token (CLOUDFLARE_API_TOKEN)" };
  if (env.CLOUDFLARE_API_KEY && env.CLOUDFLARE_EMAIL) return { headers: { "x-auth-key": env.CLOUDFLARE_API_KEY, "x-auth-email": env.CLOUDFLARE_EMAIL }, kind: "global API key" };
  let out;
  try {
    out = await run(wrangler[0], [...wrangler.slice(1), "auth", "token", "--json"], { env, encoding: "utf8" });
  } catch (e) {
    throw new Error(`not logged in to Cloudflare: set CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID), or run \`npx wrangler login\` once\n${(e.stderr || e.stdout || "").trim()}`);
  }
  const t = JSON.parse(out.stdout.slice(out.stdout.indexOf("{")));
  if (t.type === "api_key") return { headers: { "x-auth-key": t.key, "x-auth-email": t.email }, kind: "global API key" };
  return { headers: { authorization: `Bearer ${t.token}` }, kind: t.type === "oauth" ? "wrangler login (OAuth)" : "API token" };
}

export function client({ base, headers }) {
  async function call(method, path, body) {
    const res = await fetch(base + path, {
      method,
      headers: { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    let json;
    try {
      json = await res.json();
    } catch {
      throw new ApiError(res.status, path, [{ code: 0, message: "not JSON" }]);
    }
    if (!res.ok || json.success === false) throw new ApiError(res.status, path, json.errors);
    return json;
  }
  const api = {
    call,
    get: async (p) => (await call("GET", p)).result,
    post: async (p, b) => (await call("POST", p, b)).result,
    put: async (p, b) => (await call("PUT", p, b)).result,
    /// Every page of a paged list.
    async all(p) {
      const out = [];
      for (let page = 1; ; page++) {
        const sep = p.includes("?") ? "&" : "?";
        const r = await call("GET", `${p}${sep}per_page=100&page=${page}`);
        out.push(...(r.result ?? []));
        const pages = r.result_info?.total_pages ?? 1;
        if (page >= pages || !(r.result ?? []).length) return out;
      }
    },
    /// GET that answers null for "does not exist".
    async maybe(p) {
      try {
        return await api.get(p);
      } catch (e) {
        if (e.status === 404) return null;
        throw e;
      }
    },
  };
  return api;
}

export async function account(api, env) {
  if (env.CLOUDFLARE_ACCOUNT_ID) return env.CLOUDFLARE_ACCOUNT_ID;
  const accounts = await api.all("/accounts");
  if (accounts.length === 1) return accounts[0].id;
  if (!accounts.length) throw new Error("these credentials see no Cloudflare account");
  throw new Error(`these credentials see ${accounts.length} accounts; choose one with CLOUDFLARE_ACCOUNT_ID=<id>:\n${accounts.map((a) => `  ${a.id}  ${a.name}`).join("\n")}`);
}

/// Find a KV namespace by title, or create it. Returns {id, created}.
export async function kvNamespace(api, acct, title) {
  const found = (await api.all(`/accounts/${acct}/storage/kv/namespaces`)).find((n) => n.title === title);
  if (found) return { id: found.id, created: false };
  const ns = await api.post(`/accounts/${acct}/storage/kv/namespaces`, { title });
  return { id: ns.id, created: true };
}

/// The origin of a postgres:// URL, as Hyperdrive wants it.
export function pgOrigin(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    throw new Error("DATABASE_URL is not a URL (postgres://USER:PASSWORD@HOST:5432/DATABASE)");
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) throw new Error(`DATABASE_URL must be postgres://..., not ${u.protocol}`);
  if (!u.username || !u.password || !u.hostname) throw new Error("DATABASE_URL needs a user, a password and a host");
  return {
    scheme: "postgres",
    host: u.hostname,
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres",
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

/// Find a Hyperdrive config by name, or create it from DATABASE_URL. An existing one is updated
/// only when DATABASE_URL points elsewhere (host, port, database or user differ) or when
/// `rotate` is set (a new password: Cloudflare never returns the stored one to compare).
export async function hyperdrive(api, acct, name, databaseUrl, { rotate = false } = {}) {
  const found = (await api.get(`/accounts/${acct}/hyperdrive/configs`)).find((c) => c.name === name);
  if (!databaseUrl) {
    if (found) return { id: found.id, created: false, updated: false };
    throw new Error(`Hyperdrive config ${name} does not exist yet: pass DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB for the first deploy`);
  }
  const origin = pgOrigin(databaseUrl);
  if (!found) {
    const c = await api.post(`/accounts/${acct}/hyperdrive/configs`, { name, origin });
    return { id: c.id, created: true, updated: false };
  }
  const o = found.origin ?? {};
  const differs = o.host !== origin.host || Number(o.port) !== origin.port || o.database !== origin.database || o.user !== origin.user;
  if (differs || rotate) {
    await api.put(`/accounts/${acct}/hyperdrive/configs/${found.id}`, { name, origin });
    return { id: found.id, created: false, updated: true };
  }
  return { id: found.id, created: false, updated: false };
}

/// What the deployed Worker has now: its secrets' names and its plain-text vars (null when the
/// Worker does not exist yet).
export async function deployedWorker(api, acct, name) {
  const settings = await api.maybe(`/accounts/${acct}/workers/scripts/${name}/settings`);
  if (!settings) return null;
  const secrets = ((await api.maybe(`/accounts/${acct}/workers/scripts/${name}/secrets`)) ?? []).map((s) => s.name);
  const vars = {};
  const secretBindings = new Set(secrets);
  for (const b of settings.bindings ?? []) {
    if (b.type === "plain_text") vars[b.name] = b.text;
    if (b.type === "secret_text") secretBindings.add(b.name);
  }
  return { secrets: [...secretBindings], vars };
}

export async function workersDevUrl(api, acct, worker) {
  const s = await api.maybe(`/accounts/${acct}/workers/subdomain`);
  return s?.subdomain ? `https://${worker}.${s.subdomain}.workers.dev` : null;
}

/// Find a Pages project by name, or create it (production branch "main"). Returns its
/// production origin (https://<subdomain>, which Cloudflare may have suffixed to be unique).
export async function pagesProject(api, acct, name) {
  let p = await api.maybe(`/accounts/${acct}/pages/projects/${name}`);
  let created = false;
  if (!p) {
    p = await api.post(`/accounts/${acct}/pages/projects`, { name, production_branch: "main" });
    created = true;
  }
  return { name: p.name, origin: `https://${p.subdomain ?? `${name}.pages.dev`}`, branch: p.production_branch ?? "main", created };
}
