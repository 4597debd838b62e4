// Reads a Model Maestro database (its tables: /work/shared/seed/behaviour.md §2) with `psql`
// (installed with Postgres; no driver dependency), one JSON document for everything. Read-only:
// the session is opened read-only, so a mistake here cannot change the original.
import { execFileSync } from "node:child_process";

/**
 * Tables the importer reads, whole rows as JSON so that older or newer Model Maestro versions
 * (columns added over time: code, scoped_models, group priority...) read the same way; a missing
 * column is simply absent. What is never read: user tokens (plaintext JWTs, never reused) and the
 * credentials of node types that are not imported. A table an older version lacks reads as empty.
 */
export const TABLES = {
  users: { order: "id", drop: ["token"] },
  user_models: { order: "id" },
  user_limits: { order: "user_id" },
  user_nodes: { order: "user_id, node_id" },
  user_node_models: { order: "user_id, node_id, model_name" },
  // Bedrock secrets are read (they are re-sealed by the gateway); Antigravity's Google tokens never.
  ollama_nodes: { order: "id", drop: ["oauth_tokens"] },
  model_mappings: { order: "id" },
  model_mapping_nodes: { order: "mapping_id, node_id" },
  model_groups: { order: "id" },
  model_group_members: { order: "group_id, priority, id" },
  model_group_member_nodes: { order: "member_id, priority DESC, node_id" },
  model_config: { order: "model_prefix" },
  tool_sets: { order: "name" },
  system_prompts: { order: "id" },
  system_config: { order: "key" },
};
const rowsOf = (name, { order, drop = [] }) => `(SELECT json_agg(to_jsonb(t)${drop.map((c) => ` - '${c}'`).join("")} ORDER BY ${order.split(", ").map((c) => `t.${c}`).join(", ")}) FROM ${name} t)`;

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
  const parts = present.map((n) => `'${n}', COALESCE(${rowsOf(n, TABLES[n])}, '[]'::json)`);
  const data = JSON.parse(psql(url, `SELECT json_build_object(${parts.join(", ")})`).trim());
  const missing = names.filter((n) => !present.includes(n));
  for (const n of missing) data[n] = [];
  return { ...data, missing };
}
