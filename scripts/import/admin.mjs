// The target gateway's admin API (src/admin/, documented in src/admin/openapi.json): every write
// goes through it, so hashing, sealing, validation and the audit log happen in the gateway.
// In a dry run reads still happen (to compare) and writes are only reported.

export class AdminError extends Error {}

export function adminApi(baseUrl, token, { dryRun = false } = {}) {
  const root = baseUrl.replace(/\/+$/, "").replace(/\/admin$/, "");
  async function call(method, path, body) {
    let r;
    try {
      r = await fetch(`${root}/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new AdminError(`${method} /admin${path}: cannot reach the gateway at ${root} (${e.cause?.code ?? e.message})`);
    }
    const text = await r.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    if (r.status >= 400) throw new AdminError(`${method} /admin${path} -> ${r.status}: ${json?.error?.message ?? text.slice(0, 300)}`);
    return json;
  }
  return {
    dryRun,
    get: (path) => call("GET", path),
    /** A write; in a dry run nothing is sent and null comes back. */
    write: (method, path, body) => (dryRun ? Promise.resolve(null) : call(method, path, body)),
  };
}

/** Everything the importer compares against, in one read per resource. */
export async function readTarget(api) {
  const [users, nodes, mappings, groups, configs, toolSets, prompts, settings] = await Promise.all([
    api.get("/users?include_deleted=true"),
    api.get("/nodes"),
    api.get("/model-mappings"),
    api.get("/model-groups"),
    api.get("/model-config"),
    api.get("/tool-sets"),
    api.get("/system-prompts"),
    api.get("/settings"),
  ]);
  return {
    users: users.users,
    nodes: nodes.nodes,
    mappings: mappings.mappings,
    groups: groups.groups,
    configs: configs.configs,
    toolSets: toolSets.tool_sets,
    prompts: prompts.prompts,
    settings: Object.fromEntries(settings.settings.map((s) => [s.key, s.value])),
  };
}
