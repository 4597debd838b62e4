// Reads a Model Maestro database (its tables: /work/shared/seed/behaviour.md §2) with `psql`
// (installed with Postgres; no driver dependency), one JSON document for everything. Read-only:
// the session is opened read-only, so a mistake here cannot change the original.
import { execFileSync } from "node:child_process";

/** Tables the importer reads; a table an older Model Maestro lacks reads as empty. */
export const TABLES = {
  users: "SELECT id, username, is_active FROM users ORDER BY id",
  user_models: "SELECT user_id, model_display_name, has_all_models FROM user_models ORDER BY id",
  user_limits: "SELECT user_id, request_limit, token_limit FROM user_limits ORDER BY user_id",
  user_nodes: "SELECT user_id, node_id FROM user_nodes ORDER BY user_id, node_id",
  user_node_models: "SELECT user_id, node_id, model_name FROM user_node_models ORDER BY user_id, node_id, model_name",
  ollama_nodes: `SELECT id, name, base_url, api_key, priority, weight, is_active, node_type, warmup_enabled, auto_sync_enabled,
                        code, health_check_url, headers, scoped_models, auto_cookie_refresh FROM ollama_nodes ORDER BY id`,
  model_mappings: "SELECT id, display_name, real_name, context_length, capabilities FROM model_mappings ORDER BY id",
  model_mapping_nodes: "SELECT mapping_id, node_id FROM model_mapping_nodes ORDER BY mapping_id, node_id",
  model_groups: "SELECT id, name, description, strategy, is_active, list_in_catalog, priority, max_failover_retries FROM model_groups ORDER BY priority, id",
  model_group_members: `SELECT id, group_id, model_display_name, capability_tags, weight, priority, is_fallback, is_fallback_413,
                               is_metadata_source, is_active FROM model_group_members ORDER BY group_id, priority, id`,
  model_group_member_nodes: "SELECT member_id, node_id, priority FROM model_group_member_nodes ORDER BY member_id, priority DESC, node_id",
  model_config: `SELECT model_prefix, is_exact_match, allowed_tools, unsupported_params, default_context_length, max_context_length,
                        requests_per_minute, tokens_per_minute, is_active, maintenance_mode, description, cost_multiplier::float8 AS cost_multiplier
                 FROM model_config ORDER BY model_prefix`,
  tool_sets: "SELECT name, tools, description FROM tool_sets ORDER BY name",
  system_prompts: "SELECT id, scope_type, scope_value, prompt, priority, is_active, description FROM system_prompts ORDER BY id",
  system_config: "SELECT key, value FROM system_config ORDER BY key",
};

function psql(url, sql) {
  try {
    return execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql], {
      encoding: "utf8",
      maxBuffer: 256 << 20,
      env: { ...process.env, PGOPTIONS: "-c default_transaction_read_only=on -c client_min_messages=warning" },
    });
  } catch (e) {
    throw new Error(`reading the Model Maestro database failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** Every table of TABLES as an array of row objects, plus `missing` (tables not found). */
export function readSource(url) {
  const names = Object.keys(TABLES);
  const present = JSON.parse(
    psql(url, `SELECT json_agg(t) FROM unnest(ARRAY[${names.map((n) => `'${n}'`).join(",")}]) t WHERE to_regclass('public.' || t) IS NOT NULL`).trim() || "null",
  ) ?? [];
  if (!present.includes("users") || !present.includes("ollama_nodes")) {
    throw new Error("this database has no Model Maestro tables (users, ollama_nodes); check DATABASE");
  }
  const parts = present.map((n) => `'${n}', COALESCE((SELECT json_agg(x) FROM (${TABLES[n]}) x), '[]'::json)`);
  const data = JSON.parse(psql(url, `SELECT json_build_object(${parts.join(", ")})`).trim());
  const missing = names.filter((n) => !present.includes(n));
  for (const n of missing) data[n] = [];
  return { ...data, missing };
}
