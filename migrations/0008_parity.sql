-- Maestro Edge schema, version 8: parity with Model Maestro (issue 23).
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0008_parity.sql
--
-- 1. Per-node routing options (admin: /admin/nodes/{id}/routing):
--    pinned_only          the node serves only requests that name it (`node:{code}:{model}`),
--                         group members that prefer it and mappings restricted to it;
--    route_unknown_models a model no catalog lists yet is tried on this node instead of 404
--                         (discovery then lists it);
--    request_rules        {"default_max_tokens": n, "drop_params": [...]} applied to every
--                         request this node receives (vLLM / NVIDIA / AgentRouter-style origins).
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS pinned_only boolean NOT NULL DEFAULT false;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS route_unknown_models boolean NOT NULL DEFAULT false;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS request_rules jsonb NOT NULL DEFAULT '{}'::jsonb;

-- 2. Per-user node access (admin: /admin/users/{username}/nodes). No user_nodes rows: every
--    node. Rows: only those nodes. user_node_models rows for a node: only those models there
--    (the real name on the node, or the name the user calls).
CREATE TABLE IF NOT EXISTS user_nodes (
  user_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  node_id  bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, node_id)
);
CREATE TABLE IF NOT EXISTS user_node_models (
  user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  node_id     bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  model_name  text NOT NULL,
  PRIMARY KEY (user_id, node_id, model_name)
);

INSERT INTO schema_migrations (version, name) VALUES (8, 'parity') ON CONFLICT (version) DO NOTHING;
