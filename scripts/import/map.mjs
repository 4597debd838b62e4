// Model Maestro rows -> what this gateway's admin API should hold. One pure function per target
// resource; each returns { items, notes } and never touches the network. Notes are
// { level, text }: "skip" (not carried over, and why), "fix" (an original bug not copied),
// "wait" (the original's feature has no admin field here yet), "info".
//
// Node references are carried by node *name* (ids differ between the two databases); the
// apply step turns names into this gateway's ids.

const note = (level, text) => ({ level, text });
const sorted = (a) => [...a].sort();

/** Node types: ollama stays, vllm (any OpenAI-compatible server) becomes openai, bedrock stays. */
export const NODE_TYPES = { ollama: "ollama", vllm: "openai", bedrock: "bedrock" };
const NOT_CARRIED = {
  antigravity: "antigravity nodes impersonate Google's Antigravity IDE to reach internal Cloud Code endpoints (terms-of-service risk); use a Gemini API key through an OpenAI-compatible node instead",
  cursor: "cursor nodes send the Cursor API key to a third-party proxy; point Cursor at this gateway instead",
};
/** Headers the admin API refuses (the gateway sets them) or that were the original's directives. */
const REFUSED_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length", "content-type"]);
export const CAPABILITIES = ["completion", "tools", "vision", "thinking", "embedding", "insert"];
const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
const HTTP_URL = /^https?:\/\/\S{2,}$/;

/** Source node id -> { name } for imported nodes, or { skipped: reason }. Built by mapNodes. */
export function nodeIndex(src) {
  const idx = new Map();
  for (const n of src.ollama_nodes) {
    const type = (n.node_type || "ollama").toLowerCase();
    if (!NODE_TYPES[type]) idx.set(n.id, { skipped: `node '${n.name}' (${type}) is not imported` });
    else if (!HTTP_URL.test(n.base_url ?? "")) idx.set(n.id, { skipped: `node '${n.name}' (no http(s) base URL) is not imported` });
    else idx.set(n.id, { name: n.name });
  }
  return idx;
}

/**
 * Nodes. Priority is inverted: there higher was preferred, here lower is tried first. The
 * importer keeps the order: the original's highest priority becomes 0, every other node
 * (max - priority), ties stay ties.
 */
export function mapNodes(src) {
  const items = [];
  const notes = [];
  const kept = src.ollama_nodes.filter((n) => NODE_TYPES[(n.node_type || "ollama").toLowerCase()] && HTTP_URL.test(n.base_url ?? ""));
  const top = Math.max(0, ...kept.map((n) => n.priority ?? 0));
  for (const n of src.ollama_nodes) {
    const type = (n.node_type || "ollama").toLowerCase();
    if (!NODE_TYPES[type]) {
      notes.push(note("skip", `node '${n.name}' (${type}): ${NOT_CARRIED[type] ?? `unknown node type '${type}'`}`));
      continue;
    }
    if (!HTTP_URL.test(n.base_url ?? "")) {
      notes.push(note("skip", `node '${n.name}': base_url '${n.base_url}' is not an http(s) URL`));
      continue;
    }
    const headers = {};
    const given = n.headers && typeof n.headers === "object" && !Array.isArray(n.headers) ? n.headers : {};
    if (n.headers != null && given !== n.headers) notes.push(note("skip", `node '${n.name}': headers are not a JSON object; none imported`));
    for (const [k, v] of Object.entries(given)) {
      const lk = k.toLowerCase();
      if (lk === "x-skip-max-tokens-injection") {
        notes.push(note("info", `node '${n.name}': header ${k} (the original's "do not inject max_tokens" directive) is not sent as a header: this gateway adds max_tokens only where a node's request rule (/admin/nodes/{id}/routing, default_max_tokens) says so`));
      } else if (REFUSED_HEADERS.has(lk) || lk.startsWith("proxy-") || !/^[A-Za-z0-9_-]+$/.test(k) || typeof v !== "string" || /[\r\n\0]/.test(v)) {
        notes.push(note("skip", `node '${n.name}': header ${k} is not allowed as a node header here (the gateway sets it, or it is not a single-line value)`));
      } else headers[k] = v;
    }
    const code = n.code && /^[a-z0-9_-]{1,30}$/.test(n.code) ? n.code : null;
    if (n.code && !code) notes.push(note("skip", `node '${n.name}': code '${n.code}' is not 1-30 characters of a-z, 0-9, '_' or '-'; imported without a code`));
    if (n.auto_cookie_refresh) notes.push(note("skip", `node '${n.name}': auto_cookie_refresh (WAF cookie capture) has no counterpart; a Cookie header it captured is imported as a plain header`));
    if (n.auto_sync_enabled === false) notes.push(note("info", `node '${n.name}': auto_sync_enabled=false has no counterpart; the cron discovers every active node`));
    let health = n.health_check_url || null;
    if (health && !HTTP_URL.test(health)) {
      notes.push(note("skip", `node '${n.name}': health_check_url '${health}' is not an http(s) URL; the default probe is used`));
      health = null;
    }
    const priority = top - (n.priority ?? 0);
    const bedrock = type === "bedrock" ? mapBedrock(n, notes) : null;
    if (type === "bedrock" && !bedrock) continue;
    items.push({
      name: n.name,
      body: {
        name: n.name,
        node_type: NODE_TYPES[type],
        base_url: n.base_url.replace(/\/+$/, ""),
        priority,
        weight: Math.max(0, Math.min(1_000_000, n.weight ?? 100)),
        is_active: n.is_active !== false,
        warmup_enabled: n.warmup_enabled !== false,
        health_url: health,
        code,
        headers,
      },
      // scoped_models (only node:{code}:{model} requests) is this gateway's pinned-only node,
      // set through /admin/nodes/{id}/routing (syncNodeRouting).
      pinned_only: n.scoped_models === true,
      // Write-only: sent when the node is created (or has no key here yet), never compared.
      api_key: n.api_key ? String(n.api_key).trim() || null : null,
      from_priority: n.priority ?? 0,
      ...(bedrock ? { api_key: bedrock.api_key, secrets: bedrock.secrets } : {}),
    });
    if (bedrock) Object.assign(items.at(-1).body, bedrock.body);
  }
  if (items.length) notes.push(note("info", `node priority inverted (Model Maestro: higher = preferred; here: lower is tried first): ${items.map((i) => `${i.name} ${i.from_priority}->${i.body.priority}`).join(", ")}`));
  return { items, notes };
}

/**
 * A bedrock node's credentials (behaviour.md §7.4). Mode `iam`: the `api_key` column holds the
 * access key id, `aws_secret_key` and `aws_session_token` the rest (SigV4 here); mode `api_key`: a
 * Bedrock API key (Bearer here). Unset mode: `iam` when a secret is present. The region's public
 * endpoint becomes an empty base_url (derived from the region here); any other URL is kept.
 * Returns { body, api_key, secrets } overrides, or null (with a note) when unusable.
 */
function mapBedrock(n, notes) {
  const region = (n.aws_region || /bedrock(?:-runtime)?\.([a-z0-9-]+)\.amazonaws\.com/.exec(n.base_url ?? "")?.[1] || "").trim();
  if (!/^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/.test(region)) {
    notes.push(note("skip", `node '${n.name}' (bedrock): no usable AWS region ('${region}'); add it by hand (README "Amazon Bedrock")`));
    return null;
  }
  const key = n.api_key ? String(n.api_key).trim() : "";
  const secret = n.aws_secret_key ? String(n.aws_secret_key).trim() : "";
  const mode = (n.bedrock_auth_mode || (secret ? "iam" : "api_key")).toLowerCase();
  const publicUrl = new RegExp(`^https://bedrock-runtime\\.${region.replace(/-/g, "\\-")}\\.amazonaws\\.com/*$`).test(n.base_url ?? "");
  const body = { aws_region: region, base_url: publicUrl ? "" : n.base_url.replace(/\/+$/, "") };
  if (mode === "iam") {
    if (!/^[A-Z0-9]{16,128}$/.test(key) || !secret) {
      notes.push(note("skip", `node '${n.name}' (bedrock, iam): needs an access key id and a secret access key; add it by hand`));
      return null;
    }
    const token = n.aws_session_token ? String(n.aws_session_token).trim() : "";
    if (token) notes.push(note("info", `node '${n.name}' (bedrock): a session token is imported; temporary credentials expire, update the node when you rotate them`));
    return { body: { ...body, aws_access_key_id: key }, api_key: null, secrets: { aws_secret_access_key: secret, ...(token ? { aws_session_token: token } : {}) } };
  }
  if (!key) {
    notes.push(note("skip", `node '${n.name}' (bedrock, api_key): no Bedrock API key; add it by hand`));
    return null;
  }
  return { body, api_key: key, secrets: {} };
}

/** Model mappings, with their node scope. A scope whose nodes were all skipped skips the mapping. */
export function mapMappings(src, nodes = nodeIndex(src)) {
  const items = [];
  const notes = [];
  for (const m of src.model_mappings) {
    const scoped = src.model_mapping_nodes.filter((x) => x.mapping_id === m.id).map((x) => nodes.get(x.node_id)).filter(Boolean);
    const names = scoped.filter((s) => s.name).map((s) => s.name);
    if (scoped.length && !names.length) {
      notes.push(note("skip", `mapping '${m.display_name}': its node scope is only nodes that are not imported (${scoped.map((s) => s.skipped).join("; ")}); a global mapping would route it elsewhere`));
      continue;
    }
    if (names.length < scoped.length) notes.push(note("info", `mapping '${m.display_name}': scope narrowed to imported nodes ${names.join(", ")}`));
    const caps = m.capabilities ?? [];
    const bad = caps.filter((c) => !CAPABILITIES.includes(c));
    if (bad.length) notes.push(note("skip", `mapping '${m.display_name}': capabilities ${bad.join(", ")} are not known here (${CAPABILITIES.join(", ")}); dropped`));
    items.push({
      display_name: m.display_name,
      real_name: m.real_name,
      context_length: m.context_length > 0 ? m.context_length : null,
      capabilities: sorted(caps.filter((c) => CAPABILITIES.includes(c))),
      node_names: sorted(names),
    });
  }
  return { items, notes };
}

/** Groups and members. Member preferred nodes keep the original's order (member priority, higher first). */
export function mapGroups(src, nodes = nodeIndex(src)) {
  const items = [];
  const notes = [];
  for (const g of src.model_groups) {
    const strategy = ["priority", "weighted", "round_robin"].includes(g.strategy) ? g.strategy : "round_robin";
    if (strategy !== g.strategy) notes.push(note("skip", `group '${g.name}': strategy '${g.strategy}' unknown, imported as round_robin (the original's default)`));
    let retries = g.max_failover_retries;
    // There NULL or <= 0 meant "the default"; here 0 means no retries at all.
    if (retries != null && retries <= 0) {
      notes.push(note("fix", `group '${g.name}': max_failover_retries ${retries} meant "the default" there (0 would mean none here); imported as the default`));
      retries = null;
    } else if (retries > 20) {
      notes.push(note("info", `group '${g.name}': max_failover_retries ${retries} capped at 20`));
      retries = 20;
    }
    const members = [];
    for (const m of src.model_group_members.filter((x) => x.group_id === g.id)) {
      const pref = src.model_group_member_nodes.filter((x) => x.member_id === m.id).map((x) => nodes.get(x.node_id)).filter(Boolean);
      const names = pref.filter((p) => p.name).map((p) => p.name);
      if (pref.length && !names.length) {
        notes.push(note("skip", `group '${g.name}': member '${m.model_display_name}' prefers only nodes that are not imported (${pref.map((p) => p.skipped).join("; ")}); member skipped`));
        continue;
      }
      members.push({
        model_name: m.model_display_name,
        capability_tags: sorted((m.capability_tags ?? []).map((t) => t.toLowerCase())),
        weight: Math.max(0, m.weight ?? 1),
        priority: m.priority ?? 0,
        is_fallback: !!m.is_fallback,
        is_fallback_413: !!m.is_fallback_413,
        is_metadata_source: !!m.is_metadata_source,
        is_active: m.is_active !== false,
        preferred_node_names: names,
      });
    }
    if (src.model_group_member_nodes.some((x) => x.priority > 0 && src.model_group_members.some((m) => m.id === x.member_id && m.group_id === g.id))) {
      notes.push(note("info", `group '${g.name}': per-member node priorities become the order of preferred_node_ids (higher first)`));
    }
    items.push({ name: g.name, description: g.description ?? "", strategy, is_active: g.is_active !== false, list_in_catalog: !!g.list_in_catalog, priority: g.priority ?? 0, max_failover_retries: retries, members });
  }
  return { items, notes };
}

/** Parameters no prefix may strip: the original's `deepseek` seed removed tools from every DeepSeek request. */
const NEVER_STRIPPED = ["tools", "tool_choice"];

export function mapModelConfigs(src) {
  const items = [];
  const notes = [];
  for (const c of src.model_config) {
    const params = c.unsupported_params ?? [];
    const stripped = params.filter((p) => NEVER_STRIPPED.includes(p));
    if (stripped.length) notes.push(note("fix", `model config '${c.model_prefix}': unsupported_params ${stripped.join(", ")} not carried over (it silently removed tool calling from every matching model; restrict tools with allowed_tools instead)`));
    if (c.requests_per_minute != null || c.tokens_per_minute != null) {
      notes.push(note("skip", `model config '${c.model_prefix}': requests_per_minute=${c.requests_per_minute} tokens_per_minute=${c.tokens_per_minute} not imported: Model Maestro never enforced them and this gateway does; set them deliberately`));
    }
    let max = c.max_context_length > 0 ? c.max_context_length : null;
    const def = c.default_context_length > 0 ? c.default_context_length : null;
    if (max != null && def != null && def > max) {
      notes.push(note("skip", `model config '${c.model_prefix}': max_context_length ${max} is below default_context_length ${def}; max dropped`));
      max = null;
    }
    items.push({
      model_prefix: c.model_prefix,
      is_exact_match: !!c.is_exact_match,
      allowed_tools: c.allowed_tools ?? null,
      unsupported_params: params.filter((p) => !NEVER_STRIPPED.includes(p)),
      default_context_length: def,
      max_context_length: max,
      maintenance_mode: !!c.maintenance_mode,
      is_active: c.is_active !== false,
      description: c.description ?? "",
      cost_multiplier: c.cost_multiplier ?? 1,
    });
    if (c.is_exact_match) notes.push(note("info", `model config '${c.model_prefix}': is_exact_match is honoured here (Model Maestro ignored it and matched by prefix)`));
  }
  return { items, notes };
}

export function mapToolSets(src) {
  return { items: src.tool_sets.map((t) => ({ name: t.name, tools: t.tools ?? null, description: t.description ?? "" })), notes: [] };
}

/** System prompts. A node scope by id becomes the node's name (ids are not kept). */
export function mapSystemPrompts(src, nodes = nodeIndex(src)) {
  const items = [];
  const notes = [];
  const byName = new Map(src.ollama_nodes.flatMap((n) => [[n.name, n], ...(n.code ? [[n.code, n]] : [])]));
  for (const p of src.system_prompts) {
    const scope = p.scope_type;
    let value = p.scope_value;
    if (!["user", "node", "group", "model", "mapping"].includes(scope)) {
      notes.push(note("skip", `system prompt ${p.id}: scope '${scope}' unknown`));
      continue;
    }
    if (!p.prompt?.trim() || !value?.trim()) {
      notes.push(note("skip", `system prompt ${p.id}: empty prompt or scope value`));
      continue;
    }
    if (scope === "node") {
      const n = /^\d+$/.test(value) ? src.ollama_nodes.find((x) => String(x.id) === value) : byName.get(value);
      const target = n && nodes.get(n.id);
      if (!target?.name) {
        notes.push(note("skip", `system prompt ${p.id} (node '${value}'): ${target?.skipped ?? "no such node"}`));
        continue;
      }
      if (n.code === value) value = n.code;
      else value = target.name;
    }
    items.push({ scope_type: scope, scope_value: value, prompt: p.prompt, priority: p.priority ?? 0, is_active: p.is_active !== false, description: p.description ?? "" });
  }
  return { items, notes };
}

/** The original's `ollama_unsupported_params` default; left alone it means "this gateway's default". */
const MAESTRO_UNSUPPORTED_DEFAULT = ["logit_bias", "logprobs", "top_logprobs", "top_k", "response_format", "user", "service_tier", "parallel_tool_calls", "store", "metadata", "prediction", "modalities", "audio"];
const UNMAPPED = {
  "claude.streaming_enabled": "this gateway always streams when the client asks",
  "grafana_llm_model": "the Grafana assistant surface is not carried over (it had no authentication)",
  "defaults.log_level": "no counterpart (Workers logs)",
  "defaults.local_port": "tunnel setting; no tunnels on Workers",
};
const UNMAPPED_GROUPS = {
  background_tasks: "never read by Model Maestro (constants); usage flushing is the cron's",
  http_client: "never read by Model Maestro (constants); see timeouts.ttfb_ms and timeouts.stream_idle_ms",
  search: "the Brave-search mock is not carried over",
  tunnel: "tunnels are not portable to Workers",
};

/** system_config -> settings. Values are never printed (search.web_search_api_key is a secret). */
export function mapSettings(src) {
  const settings = {};
  const notes = [];
  for (const { key, value } of src.system_config) {
    if (key === "defaults.context_length") {
      const n = Number(value);
      if (Number.isInteger(n) && n >= 256 && n <= 16_777_216) settings["routing.default_context_length"] = n;
      else notes.push(note("skip", `setting ${key}: not an integer in 256..16777216`));
    } else if (key === "ollama_unsupported_params") {
      let list;
      try {
        list = JSON.parse(value);
      } catch {}
      if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) notes.push(note("skip", `setting ${key}: not a JSON list of names`));
      else if (JSON.stringify(sorted(list)) === JSON.stringify(sorted(MAESTRO_UNSUPPORTED_DEFAULT))) notes.push(note("fix", `setting ${key}: the original's default (it stripped response_format, user, top_k, which Ollama accepts); this gateway's default kept`));
      else {
        const kept = list.filter((p) => !NEVER_STRIPPED.includes(p));
        settings["ollama.unsupported_params"] = kept;
        if (kept.length < list.length) notes.push(note("fix", `setting ${key}: tools/tool_choice not carried over`));
      }
    } else {
      const why = UNMAPPED[key] ?? UNMAPPED_GROUPS[key.split(".")[0]] ?? "no counterpart here";
      notes.push(note("skip", `setting ${key}: unmapped (${why})`));
    }
  }
  return { settings, notes };
}

/** Users, their allow-lists and daily limits. Tokens are never read: each user gets a new one. */
export function mapUsers(src) {
  const items = [];
  const notes = [];
  const limits = new Map(src.user_limits.map((l) => [l.user_id, l]));
  for (const u of src.users) {
    if (!USERNAME.test(u.username)) {
      notes.push(note("skip", `user '${u.username}': usernames here are 1-64 characters of letters, digits, '.', '_', '@' or '-'; create it under a new name`));
      continue;
    }
    const rows = src.user_models.filter((m) => m.user_id === u.id);
    const hasAll = rows.some((m) => m.has_all_models);
    const models = hasAll ? [] : sorted(new Set(rows.map((m) => m.model_display_name).filter((m) => m && m.trim())));
    const l = limits.get(u.id) ?? {};
    const lim = (v, k) => {
      if (v == null) return null;
      if (v < 0) {
        notes.push(note("skip", `user '${u.username}': ${k} ${v} is negative; imported as unlimited`));
        return null;
      }
      return v;
    };
    items.push({ username: u.username, active: u.is_active !== false, has_all_models: hasAll, models, request_limit: lim(l.request_limit, "request_limit"), token_limit: lim(l.token_limit, "token_limit") });
  }
  return { items, notes };
}

/**
 * Per-user node access (user_nodes: no rows = every node; user_node_models: no rows = every
 * model). Model Maestro checked a user's (node, model) rules on every node, so a node without
 * rules of its own was closed to a user who had any; here a node without rules is open. To keep
 * what each user could reach, such nodes are left out of the user's node list.
 */
export function mapNodeAccess(src, nodes = nodeIndex(src)) {
  const items = [];
  const notes = [];
  const name = (id) => nodes.get(id)?.name ?? null;
  for (const u of src.users) {
    const acl = src.user_nodes.filter((x) => x.user_id === u.id);
    const rules = src.user_node_models.filter((x) => x.user_id === u.id);
    if (!acl.length && !rules.length) continue;
    let open = acl.length ? acl.map((x) => x.node_id) : null; // null: every node
    if (rules.length) {
      const ruled = [...new Set(rules.map((x) => x.node_id))];
      const closed = (open ?? [...nodes.keys()]).filter((id) => !ruled.includes(id) && name(id));
      open = open ? open.filter((id) => ruled.includes(id)) : ruled;
      if (closed.length) notes.push(note("info", `user '${u.username}': nodes ${closed.map(name).join(", ")} left out of the node list (Model Maestro's model rules closed nodes that had none for the user)`));
    }
    const names = [...new Set(open.map(name).filter(Boolean))];
    if (!names.length) {
      // An empty list here means every node: never widen a restriction to that.
      notes.push(note("skip", `user '${u.username}': may use only nodes that are not imported; node access not written, set it by hand (the user can reach every node until then)`));
      continue;
    }
    items.push({
      username: u.username,
      nodes: names,
      node_models: rules.filter((x) => names.includes(name(x.node_id))).map((x) => ({ node: name(x.node_id), model: x.model_name })),
    });
  }
  return { items, notes };
}
