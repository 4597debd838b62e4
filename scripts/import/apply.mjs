// Brings the target gateway in line with what map.mjs derived: creates what is missing, updates
// what differs, and leaves what already matches alone, so a second run changes nothing. Matching
// is by natural keys (username; node name, then base URL; display name; group name; member model;
// model prefix; tool-set name; prompt scope + text). Nothing here is ever deleted; an inactive
// user of the original is soft-deleted here. One sync function per resource.

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
/** Fields of `want` that differ from `have`. */
const changed = (want, have, fields) => fields.filter((f) => !same(want[f], have[f]));
const pick = (o, fields) => Object.fromEntries(fields.map((f) => [f, o[f]]));

export function reporter({ dryRun, print = console.log }) {
  const counts = {};
  const bump = (kind, action) => {
    counts[kind] ??= { create: 0, update: 0, unchanged: 0, error: 0 };
    counts[kind][action] += 1;
  };
  const verb = { create: dryRun ? "would create" : "created", update: dryRun ? "would update" : "updated" };
  return {
    counts,
    dryRun,
    create(kind, key, detail = "") {
      bump(kind, "create");
      print(`+ ${verb.create} ${kind} ${key}${detail ? ` (${detail})` : ""}`);
    },
    update(kind, key, fields) {
      bump(kind, "update");
      print(`~ ${verb.update} ${kind} ${key}: ${fields.join(", ")}`);
    },
    unchanged(kind) {
      bump(kind, "unchanged");
    },
    error(kind, key, e) {
      bump(kind, "error");
      print(`x ${kind} ${key}: ${e.message}`);
    },
    note(n) {
      print(`${{ skip: "-", fix: "!", wait: "?", info: "i" }[n.level] ?? "i"} ${n.text}`);
    },
  };
}

/** Runs `fn`, turning an admin API failure into a reported error (the rest of the import goes on). */
async function attempt(rep, kind, key, fn) {
  try {
    await fn();
  } catch (e) {
    rep.error(kind, key, e);
  }
}

export async function syncSettings(api, rep, target, wanted) {
  const diff = Object.keys(wanted).filter((k) => !same(wanted[k], target.settings[k]));
  for (const k of Object.keys(wanted)) if (!diff.includes(k)) rep.unchanged("setting");
  if (!diff.length) return;
  await attempt(rep, "setting", diff.join(", "), async () => {
    await api.write("PUT", "/settings", pick(wanted, diff));
    for (const k of diff) rep.update("setting", k, [`${JSON.stringify(target.settings[k])} -> ${JSON.stringify(wanted[k])}`]);
  });
}

const TOOL_SET_FIELDS = ["tools", "description"];
export async function syncToolSets(api, rep, target, items, { createOnly = false } = {}) {
  for (const t of items) {
    const have = target.toolSets.find((x) => x.name === t.name);
    await attempt(rep, "tool set", t.name, async () => {
      if (!have) {
        const made = await api.write("POST", "/tool-sets", t);
        if (made) target.toolSets.push(made);
        return rep.create("tool set", t.name, t.tools ? t.tools.join(", ") : "every tool");
      }
      const diff = createOnly ? [] : changed(t, have, TOOL_SET_FIELDS);
      if (!diff.length) return rep.unchanged("tool set");
      await api.write("PATCH", `/tool-sets/${have.id}`, pick(t, diff));
      rep.update("tool set", t.name, diff);
    });
  }
}

const CONFIG_FIELDS = ["is_exact_match", "allowed_tools", "unsupported_params", "default_context_length", "max_context_length", "maintenance_mode", "is_active", "description", "cost_multiplier"];
export async function syncModelConfigs(api, rep, target, items, { createOnly = false } = {}) {
  for (const c of items) {
    const have = target.configs.find((x) => x.model_prefix === c.model_prefix);
    await attempt(rep, "model config", c.model_prefix, async () => {
      if (!have) {
        const made = await api.write("POST", "/model-config", c);
        if (made) target.configs.push(made);
        return rep.create("model config", c.model_prefix);
      }
      const diff = createOnly ? [] : changed(c, have, CONFIG_FIELDS);
      if (!diff.length) return rep.unchanged("model config");
      await api.write("PATCH", `/model-config/${have.id}`, pick(c, diff));
      rep.update("model config", c.model_prefix, diff);
    });
  }
}

const NODE_FIELDS = ["name", "node_type", "base_url", "priority", "weight", "is_active", "warmup_enabled", "health_url", "code", "aws_region", "aws_access_key_id"];
/** Bedrock secrets: write-only like the API key (sent on create, or when none is set here). */
const NODE_SECRETS = [["aws_secret_access_key", "aws_secret_access_key_set"], ["aws_session_token", "aws_session_token_set"]];
const trimUrl = (u) => (u ?? "").replace(/\/+$/, "");
/** Nodes; new ones are discovered right away (best effort) so their models route at once. */
export async function syncNodes(api, rep, target, items) {
  for (const n of items) {
    // By name, else by base URL, but never a node another imported name already holds (the
    // original allowed two nodes on one URL).
    const have =
      target.nodes.find((x) => x.name === n.name) ??
      // (An empty URL, a bedrock node on its region's endpoint, identifies nothing.)
      target.nodes.find((x) => n.body.base_url && trimUrl(x.base_url) === n.body.base_url && x.node_type === n.body.node_type && !items.some((o) => o.name === x.name));
    await attempt(rep, "node", n.name, async () => {
      if (!have) {
        const made = await api.write("POST", "/nodes", { ...n.body, ...(n.api_key ? { api_key: n.api_key } : {}), ...(n.secrets ?? {}) });
        const sealed = n.api_key ? ", api key sealed" : n.secrets?.aws_secret_access_key ? ", secret access key sealed" : "";
        rep.create("node", n.name, `${n.body.node_type}, priority ${n.body.priority}${sealed}`);
        if (!made) return;
        target.nodes.push(made);
        if (made.is_active) {
          try {
            const d = await api.write("POST", `/nodes/${made.id}/discover`, {});
            rep.note({ level: "info", text: `node '${n.name}': discovered ${d?.models ?? "its"} models` });
          } catch (e) {
            rep.note({ level: "info", text: `node '${n.name}': discovery failed for now (${e.message}); the cron retries` });
          }
        }
        return;
      }
      const diff = changed(n.body, { ...have, base_url: trimUrl(have.base_url) }, NODE_FIELDS);
      const patch = pick(n.body, diff);
      // Header values and the key are write-only: only names and "a key is set" can be compared.
      if (!same(Object.keys(n.body.headers).sort(), Object.keys(have.headers ?? {}).sort())) {
        diff.push("headers");
        patch.headers = n.body.headers;
      }
      if (n.api_key && !have.api_key_set) {
        diff.push("api_key");
        patch.api_key = n.api_key;
      }
      for (const [field, isSet] of NODE_SECRETS) {
        if (n.secrets?.[field] && !have[isSet]) {
          diff.push(field);
          patch[field] = n.secrets[field];
        }
      }
      if (!diff.length) return rep.unchanged("node");
      const made = await api.write("PATCH", `/nodes/${have.id}`, patch);
      if (made) Object.assign(have, made);
      rep.update("node", n.name, diff);
    });
  }
}

/**
 * This gateway's node ids for node names. A node that is missing (its creation failed) fails the
 * write: leaving it out would widen a node scope, or make it global. A dry run resolves nothing.
 */
function nodeIds(rep, target, names, what) {
  if (rep.dryRun) return [];
  return names.map((name) => {
    const n = target.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`${what}: node '${name}' is not on the gateway (see its error above); not written, re-run once it is`);
    return n.id;
  });
}
const nodeNames = (target, ids) => ids.map((id) => target.nodes.find((n) => n.id === id)?.name ?? `#${id}`);

const MAPPING_FIELDS = ["real_name", "context_length", "capabilities"];
export async function syncMappings(api, rep, target, items) {
  for (const m of items) {
    const have = target.mappings.find((x) => x.display_name === m.display_name);
    await attempt(rep, "mapping", m.display_name, async () => {
      const body = () => ({ ...pick(m, ["display_name", ...MAPPING_FIELDS]), node_ids: nodeIds(rep, target, m.node_names, `mapping '${m.display_name}'`) });
      if (!have) {
        await api.write("POST", "/model-mappings", body());
        return rep.create("mapping", m.display_name, `${m.real_name}${m.node_names.length ? ` on ${m.node_names.join(", ")}` : ""}`);
      }
      const diff = changed(m, { ...have, capabilities: [...(have.capabilities ?? [])].sort() }, MAPPING_FIELDS);
      if (!same(m.node_names, [...have.node_names].sort())) diff.push("node scope");
      if (!diff.length) return rep.unchanged("mapping");
      await api.write("POST", "/model-mappings", body());
      rep.update("mapping", m.display_name, diff);
    });
  }
}

const GROUP_FIELDS = ["description", "strategy", "is_active", "list_in_catalog", "priority", "max_failover_retries"];
const MEMBER_FIELDS = ["capability_tags", "weight", "priority", "is_fallback", "is_fallback_413", "is_metadata_source", "is_active"];
export async function syncGroups(api, rep, target, items) {
  const member = (g, m) => ({ ...pick(m, ["model_name", ...MEMBER_FIELDS]), preferred_node_ids: nodeIds(rep, target, m.preferred_node_names, `group '${g.name}' member '${m.model_name}'`) });
  for (const g of items) {
    const have = target.groups.find((x) => x.name === g.name);
    await attempt(rep, "group", g.name, async () => {
      if (!have) {
        await api.write("POST", "/model-groups", { name: g.name, ...pick(g, GROUP_FIELDS), members: g.members.map((m) => member(g, m)) });
        return rep.create("group", g.name, `${g.members.length} member(s): ${g.members.map((m) => m.model_name).join(", ")}`);
      }
      const diff = changed(g, have, GROUP_FIELDS);
      if (diff.length) {
        await api.write("PATCH", `/model-groups/${encodeURIComponent(g.name)}`, pick(g, diff));
        rep.update("group", g.name, diff);
      } else rep.unchanged("group");
      for (const m of g.members) {
        const key = `${g.name}/${m.model_name}`;
        const hm = have.members.find((x) => x.model_name === m.model_name);
        await attempt(rep, "group member", key, async () => {
          if (!hm) {
            await api.write("POST", `/model-groups/${encodeURIComponent(g.name)}/members`, member(g, m));
            return rep.create("group member", key);
          }
          const mdiff = changed(m, { ...hm, capability_tags: [...hm.capability_tags].sort() }, MEMBER_FIELDS);
          if (!same(m.preferred_node_names, nodeNames(target, hm.preferred_node_ids))) mdiff.push("preferred nodes");
          if (!mdiff.length) return rep.unchanged("group member");
          await api.write("PATCH", `/model-groups/${encodeURIComponent(g.name)}/members/${hm.id}`, member(g, m));
          rep.update("group member", key, mdiff);
        });
      }
    });
  }
}

const PROMPT_FIELDS = ["priority", "is_active", "description"];
export async function syncSystemPrompts(api, rep, target, items) {
  for (const p of items) {
    const key = `${p.scope_type}:${p.scope_value} "${p.prompt.length > 40 ? `${p.prompt.slice(0, 40)}...` : p.prompt}"`;
    const have = target.prompts.find((x) => x.scope_type === p.scope_type && x.scope_value === p.scope_value && x.prompt === p.prompt);
    await attempt(rep, "system prompt", key, async () => {
      if (!have) {
        await api.write("POST", "/system-prompts", p);
        return rep.create("system prompt", key);
      }
      const diff = changed(p, have, PROMPT_FIELDS);
      if (!diff.length) return rep.unchanged("system prompt");
      await api.write("PATCH", `/system-prompts/${have.id}`, pick(p, diff));
      rep.update("system prompt", key, diff);
    });
  }
}

/**
 * Users. A new user gets a new token, handed to `onToken` (the CSV) and never printed; an
 * existing user keeps theirs. Inactive users of the original are created and soft-deleted here
 * (their token dies at once; reactivating issues a new one).
 */
export async function syncUsers(api, rep, target, items, saveToken) {
  const onToken = (u) => {
    try {
      saveToken(u);
    } catch (e) {
      throw new Error(`the new token could not be saved (${e.message}); issue another with PUT /admin/users/${u.username}/token`);
    }
  };
  for (const u of items) {
    const have = target.users.find((x) => x.username === u.username);
    await attempt(rep, "user", u.username, async () => {
      const access = u.has_all_models ? "every model" : u.models.length ? `models ${u.models.join(", ")}` : "no models";
      if (!have) {
        const made = await api.write("POST", "/users", pick(u, ["username", "has_all_models", "models", "request_limit", "token_limit"]));
        if (u.active) {
          if (made) onToken(made);
        } else await api.write("DELETE", `/users/${encodeURIComponent(u.username)}`);
        return rep.create("user", u.username, `${access}${u.active ? "" : "; inactive there, deleted here"}`);
      }
      const path = `/users/${encodeURIComponent(u.username)}`;
      const diff = [];
      if (!u.active) {
        if (!have.is_deleted) {
          await api.write("DELETE", path);
          diff.push("deleted (inactive there)");
        }
        return diff.length ? rep.update("user", u.username, diff) : rep.unchanged("user");
      }
      if (have.is_deleted) {
        const back = await api.write("POST", `${path}/reactivate`);
        if (back) onToken(back);
        diff.push("reactivated (new token)");
      } else if (!have.is_active) {
        await api.write("PATCH", path, { is_active: true });
        diff.push("is_active");
      }
      if (u.has_all_models !== have.has_all_models || (!u.has_all_models && !same(u.models, [...have.models].sort()))) {
        if (u.has_all_models) await api.write("POST", `${path}/models/all`);
        else await api.write("POST", `${path}/models`, { models: u.models });
        diff.push("models");
      }
      if (u.request_limit !== have.request_limit || u.token_limit !== have.token_limit) {
        if (u.request_limit == null && u.token_limit == null) await api.write("DELETE", `${path}/limits`);
        else await api.write("POST", `${path}/limits`, pick(u, ["request_limit", "token_limit"]));
        diff.push("limits");
      }
      diff.length ? rep.update("user", u.username, diff) : rep.unchanged("user");
    });
  }
}

/** Pinned-only nodes (the original's scoped_models), through /admin/nodes/{id}/routing. */
export async function syncNodeRouting(api, rep, target, items) {
  for (const n of items) {
    const have = target.nodes.find((x) => x.name === n.name);
    await attempt(rep, "node routing", n.name, async () => {
      // Not on the gateway: a dry run of a new node, or a node whose creation failed above.
      if (!have) return n.pinned_only && rep.dryRun ? rep.update("node routing", n.name, ["pinned_only -> true"]) : undefined;
      const cur = await api.get(`/nodes/${have.id}/routing`);
      if (cur.pinned_only === n.pinned_only) return rep.unchanged("node routing");
      await api.write("PATCH", `/nodes/${have.id}/routing`, { pinned_only: n.pinned_only });
      rep.update("node routing", n.name, [`pinned_only -> ${n.pinned_only}`]);
    });
  }
}

/** Per-user node access (node names resolved to this gateway's ids), replaced when it differs. */
export async function syncNodeAccess(api, rep, target, items) {
  const byId = (a, b) => a.node_id - b.node_id || a.model.localeCompare(b.model);
  const norm = (v) => ({ node_ids: [...v.node_ids].sort((a, b) => a - b), node_models: v.node_models.map((m) => ({ node_id: m.node_id, model: m.model })).sort(byId) });
  for (const a of items) {
    const detail = `nodes ${a.nodes.join(", ")}${a.node_models.length ? `; models ${a.node_models.map((x) => `${x.node}/${x.model}`).join(", ")}` : ""}`;
    await attempt(rep, "node access", a.username, async () => {
      const id = (name) => target.nodes.find((x) => x.name === name)?.id;
      const known = target.users.some((u) => u.username === a.username) && a.nodes.every((n) => id(n) !== undefined);
      if (rep.dryRun && !known) return rep.update("node access", a.username, [detail]);
      const missing = a.nodes.filter((n) => id(n) === undefined);
      // Leaving a node out would change what the user may reach: write nothing instead.
      if (missing.length) throw new Error(`node ${missing.join(", ")} is not on the gateway (see its error above); not written, re-run once it is`);
      const want = { node_ids: a.nodes.map(id), node_models: a.node_models.map((m) => ({ node_id: id(m.node), model: m.model })) };
      const path = `/users/${encodeURIComponent(a.username)}/nodes`;
      if (same(norm(want), norm(await api.get(path)))) return rep.unchanged("node access");
      await api.write("PUT", path, want);
      rep.update("node access", a.username, [detail]);
    });
  }
}
