// A fake Cloudflare API on loopback for the deploy test: just enough of the v4 API, with state,
// for `make deploy` (scripts/deploy.mjs and the wrangler commands it runs) to provision, upload
// and publish. Every request is recorded (method, path, query, parsed body) so the test asserts
// what reached "Cloudflare"; anything unknown answers 404 and is recorded as unknown.
import http from "node:http";
import { randomUUID, createHash } from "node:crypto";

const ACCOUNT = "0123456789abcdef0123456789abcdef";
const SUBDOMAIN = "fake-sub";

function envelope(result, extra = {}) {
  return { success: true, errors: [], messages: [], result, ...extra };
}
function failure(code, message) {
  return { success: false, errors: [{ code, message }], messages: [], result: null };
}
const hex32 = () => randomUUID().replace(/-/g, "");
const b64url = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");

export async function startFakeCloudflare() {
  const state = {
    account: ACCOUNT,
    kv: new Map(), // id -> {id, title}
    hyperdrive: new Map(), // id -> {id, name, origin}
    scripts: new Map(), // name -> {tag, migration_tag, bindings, secrets, schedules, versions, modules, keep_bindings}
    pages: new Map(), // name -> {name, subdomain, production_branch, deployments, files}
    log: [],
    unknown: [],
  };

  async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks);
  }

  // Multipart uploads (Worker scripts, Pages deployments) parsed with the platform's FormData.
  async function parseForm(req, raw) {
    const r = new Request("http://x/", { method: "POST", headers: { "content-type": req.headers["content-type"] }, body: raw });
    const form = await r.formData();
    const parts = {};
    for (const [k, v] of form.entries()) {
      parts[k] = typeof v === "string" ? v : { name: v.name, size: v.size, type: v.type, text: v.size < 1 << 20 ? await v.text() : null };
    }
    return parts;
  }

  function script(name) {
    let s = state.scripts.get(name);
    if (!s) {
      s = { id: name, tag: hex32(), migration_tag: undefined, bindings: [], secrets: new Map(), schedules: [], versions: [], modules: [], created: new Date().toISOString() };
      state.scripts.set(name, s);
    }
    return s;
  }

  // A Worker upload (PUT script or POST version): bindings from the metadata, secrets kept
  // unless overwritten, migrations applied in order.
  function upload(name, parts) {
    const meta = JSON.parse(typeof parts.metadata === "string" ? parts.metadata : parts.metadata.text);
    const s = script(name);
    const keep = new Set(meta.keep_bindings ?? []);
    const kept = s.bindings.filter((b) => keep.has(b.type) && !meta.bindings.some((n) => n.name === b.name));
    for (const b of meta.bindings) if (b.type === "secret_text") s.secrets.set(b.name, b.text);
    s.bindings = [...kept, ...meta.bindings.filter((b) => b.type !== "secret_text" && b.type !== "inherit")];
    if (meta.migrations) {
      if ((meta.migrations.old_tag ?? undefined) !== s.migration_tag) throw Object.assign(new Error(`migration old_tag ${meta.migrations.old_tag} does not match ${s.migration_tag}`), { code: 10079 });
      s.migration_tag = meta.migrations.new_tag;
    }
    s.modules = Object.entries(parts).filter(([k]) => k !== "metadata").map(([k, v]) => ({ name: k, size: v.size }));
    const version = { id: randomUUID(), number: s.versions.length + 1, metadata: { created_on: new Date().toISOString(), source: "wrangler" }, resources: { script: { etag: hex32() }, bindings: s.bindings } };
    s.versions.push(version);
    s.deployed = version.id;
    return { s, meta, version };
  }

  const routes = [];
  const on = (method, pattern, fn) => routes.push({ method, re: new RegExp("^" + pattern.replace(/:(\w+)/g, "(?<$1>[^/]+)") + "$"), fn });
  const A = "/client/v4/accounts/:account";

  on("GET", "/client/v4/accounts", () => envelope([{ id: ACCOUNT, name: "Fake account" }], { result_info: { page: 1, per_page: 50, total_pages: 1, count: 1, total_count: 1 } }));
  on("GET", "/client/v4/memberships", () => envelope([{ id: "m1", account: { id: ACCOUNT, name: "Fake account" } }]));
  on("GET", "/client/v4/user", () => envelope({ id: "u1", email: "operator@example.com" }));
  on("GET", "/client/v4/user/tokens/verify", () => envelope({ id: "t1", status: "active" }));

  // KV namespaces.
  on("GET", `${A}/storage/kv/namespaces`, (_m, q) => {
    const all = [...state.kv.values()];
    const per = Number(q.get("per_page") ?? 20), page = Number(q.get("page") ?? 1);
    return envelope(all.slice((page - 1) * per, page * per), { result_info: { page, per_page: per, count: all.length, total_count: all.length, total_pages: Math.max(1, Math.ceil(all.length / per)) } });
  });
  on("POST", `${A}/storage/kv/namespaces`, (_m, _q, body) => {
    if ([...state.kv.values()].some((n) => n.title === body.title)) return [400, failure(10014, "a namespace with this account ID and title already exists")];
    const ns = { id: hex32(), title: body.title, supports_url_encoding: true };
    state.kv.set(ns.id, ns);
    return envelope(ns);
  });

  // Hyperdrive configs (the password is write-only, as on Cloudflare).
  const publicHd = (c) => ({ id: c.id, name: c.name, origin: { ...c.origin, password: undefined }, caching: { disabled: false } });
  on("GET", `${A}/hyperdrive/configs`, () => envelope([...state.hyperdrive.values()].map(publicHd)));
  on("POST", `${A}/hyperdrive/configs`, (_m, _q, body) => {
    if ([...state.hyperdrive.values()].some((c) => c.name === body.name)) return [409, failure(2017, "a config with this name already exists")];
    if (!body.origin?.host || !body.origin?.password) return [400, failure(2008, "origin host and password are required")];
    const c = { id: hex32(), name: body.name, origin: body.origin };
    state.hyperdrive.set(c.id, c);
    return envelope(publicHd(c));
  });
  on("PUT", `${A}/hyperdrive/configs/:id`, (m, _q, body) => {
    const c = state.hyperdrive.get(m.id);
    if (!c) return [404, failure(2005, "not found")];
    Object.assign(c, { name: body.name, origin: body.origin });
    return envelope(publicHd(c));
  });

  // Workers scripts.
  on("GET", `${A}/workers/subdomain`, () => envelope({ subdomain: SUBDOMAIN }));
  on("GET", `${A}/workers/scripts`, () => envelope([...state.scripts.values()].map((s) => ({ id: s.id, tag: s.tag, migration_tag: s.migration_tag, created_on: s.created }))));
  on("GET", `${A}/workers/services/:name`, (m) => {
    const s = state.scripts.get(m.name);
    if (!s) return [404, failure(10090, "This Worker does not exist on your account.")];
    return envelope({ id: m.name, default_environment: { environment: "production", script: { id: m.name, tag: s.tag, tags: [], last_deployed_from: "wrangler", migration_tag: s.migration_tag } } });
  });
  on("PUT", `${A}/workers/scripts/:name`, async (m, _q, body) => {
    const { s } = upload(m.name, body);
    return envelope({ id: m.name, etag: hex32(), deployment_id: s.deployed, startup_time_ms: 5 });
  });
  on("POST", `${A}/workers/scripts/:name/versions`, async (m, _q, body) => {
    if (!state.scripts.has(m.name)) return [404, failure(10007, "This Worker does not exist on your account.")];
    const { version } = upload(m.name, body);
    return envelope(version);
  });
  on("POST", `${A}/workers/scripts/:name/deployments`, (m, _q, body) => envelope({ id: randomUUID(), strategy: "percentage", versions: body.versions, created_on: new Date().toISOString(), source: "wrangler" }));
  on("GET", `${A}/workers/scripts/:name/deployments`, (m) => {
    const s = state.scripts.get(m.name);
    return envelope({ deployments: s ? [{ id: "d1", versions: [{ version_id: s.deployed, percentage: 100 }] }] : [] });
  });
  on("PATCH", `${A}/workers/scripts/:name/script-settings`, (_m, _q, body) => envelope(body));
  on("GET", `${A}/workers/scripts/:name/settings`, (m) => {
    const s = state.scripts.get(m.name);
    if (!s) return [404, failure(10007, "This Worker does not exist on your account.")];
    const secrets = [...s.secrets.keys()].map((name) => ({ type: "secret_text", name }));
    return envelope({ bindings: [...s.bindings, ...secrets], compatibility_date: "2026-04-20" });
  });
  on("GET", `${A}/workers/scripts/:name/secrets`, (m) => {
    const s = state.scripts.get(m.name);
    if (!s) return [404, failure(10007, "This Worker does not exist on your account.")];
    return envelope([...s.secrets.keys()].map((name) => ({ name, type: "secret_text" })));
  });
  on("GET", `${A}/workers/scripts/:name/schedules`, (m) => envelope({ schedules: state.scripts.get(m.name)?.schedules ?? [] }));
  on("PUT", `${A}/workers/scripts/:name/schedules`, (m, _q, body) => {
    script(m.name).schedules = body.map((b) => ({ cron: b.cron, created_on: new Date().toISOString() }));
    return envelope({ schedules: script(m.name).schedules });
  });
  on("GET", `${A}/workers/scripts/:name/subdomain`, (m) => envelope({ enabled: state.scripts.get(m.name)?.workersDev ?? false, previews_enabled: false }));
  on("POST", `${A}/workers/scripts/:name/subdomain`, (m, _q, body) => {
    script(m.name).workersDev = body.enabled;
    return envelope({ enabled: body.enabled, previews_enabled: body.previews_enabled ?? false });
  });

  // Pages projects, uploads and deployments.
  on("GET", `${A}/pages/projects`, () => envelope([...state.pages.values()].map(publicProject), { result_info: { page: 1, per_page: 10, count: state.pages.size, total_count: state.pages.size, total_pages: 1 } }));
  on("GET", `${A}/pages/projects/:name`, (m) => {
    const p = state.pages.get(m.name);
    return p ? envelope(publicProject(p)) : [404, failure(8000007, "Project not found. The specified project name does not match any of your existing projects.")];
  });
  on("POST", `${A}/pages/projects`, (_m, _q, body) => {
    if (state.pages.has(body.name)) return [409, failure(8000002, "A project with this name already exists.")];
    const p = { name: body.name, subdomain: `${body.name}.pages.dev`, production_branch: body.production_branch ?? "main", deployments: [], files: new Set() };
    state.pages.set(p.name, p);
    return envelope(publicProject(p));
  });
  on("GET", `${A}/pages/projects/:name/upload-token`, (m) => {
    const jwt = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ sub: m.name, exp: Math.floor(Date.now() / 1000) + 3600, max_file_count_allowed: 20000 })}.sig`;
    return envelope({ jwt });
  });
  const pagesProject = (req) => {
    const jwt = (req.headers.authorization ?? "").replace(/^Bearer /, "").split(".")[1];
    return state.pages.get(JSON.parse(Buffer.from(jwt ?? "", "base64url").toString() || "{}").sub);
  };
  on("POST", "/client/v4/pages/assets/check-missing", (_m, _q, body, req) => {
    const p = pagesProject(req);
    return envelope(body.hashes.filter((h) => !p?.files.has(h)));
  });
  on("POST", "/client/v4/pages/assets/upload", (_m, _q, body, req) => {
    const p = pagesProject(req);
    for (const f of body) p?.files.add(f.key);
    return envelope({ successful_key_count: body.length, unsuccessful_keys: [] });
  });
  on("POST", "/client/v4/pages/assets/upsert-hashes", () => envelope(null));
  on("POST", `${A}/pages/projects/:name/deployments`, (m, _q, body) => {
    const p = state.pages.get(m.name);
    if (!p) return [404, failure(8000007, "Project not found.")];
    const d = { id: randomUUID(), url: `https://${hex32().slice(0, 8)}.${p.subdomain}`, aliases: [`https://${p.subdomain}`], branch: body.branch, manifest: JSON.parse(body.manifest ?? "{}"), latest_stage: { name: "deploy", status: "success" } };
    p.deployments.push(d);
    return envelope(d);
  });
  on("GET", `${A}/pages/projects/:name/deployments/:id`, (m) => {
    const d = state.pages.get(m.name)?.deployments.find((x) => x.id === m.id);
    return d ? envelope(d) : [404, failure(8000009, "not found")];
  });

  function publicProject(p) {
    return { name: p.name, subdomain: p.subdomain, production_branch: p.production_branch, deployment_configs: { production: {}, preview: {} }, latest_deployment: p.deployments.at(-1) ?? null, created_on: "2026-01-01T00:00:00Z" };
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    const raw = await readBody(req);
    const type = req.headers["content-type"] ?? "";
    let body = null;
    try {
      if (type.startsWith("multipart/form-data")) body = await parseForm(req, raw);
      else if (raw.length) body = JSON.parse(raw.toString());
    } catch {
      body = raw.toString();
    }
    const entry = { method: req.method, path: url.pathname, query: url.search, body, auth: req.headers.authorization ?? null };
    state.log.push(entry);
    let status = 200, out;
    const route = routes.find((r) => r.method === req.method && r.re.test(url.pathname));
    if (!route) {
      state.unknown.push(`${req.method} ${url.pathname}`);
      status = 404;
      out = failure(7003, `fake Cloudflare: no route for ${req.method} ${url.pathname}`);
    } else {
      const m = url.pathname.match(route.re).groups ?? {};
      if (m.account && m.account !== ACCOUNT) {
        status = 403;
        out = failure(9109, "unknown account");
      } else {
        try {
          const r = await route.fn(m, url.searchParams, body, req);
          [status, out] = Array.isArray(r) ? r : [200, r];
        } catch (e) {
          status = 400;
          out = failure(e.code ?? 10000, e.message);
        }
      }
    }
    entry.status = status;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(out));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    state,
    apiBase: `${base}/client/v4`,
    base,
    account: ACCOUNT,
    subdomain: SUBDOMAIN,
    calls: (method, re) => state.log.filter((e) => e.method === method && re.test(e.path)),
    close: () => new Promise((r) => server.close(r)),
  };
}

export const secretDigest = (v) => createHash("sha256").update(v).digest("hex").slice(0, 12);
