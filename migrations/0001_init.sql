-- Maestro Edge schema, version 1.
-- Applied automatically by the Worker (src/edge/pg/migrate.rs: advisory lock + schema_migrations),
-- or by hand on a production database: psql "$DATABASE_URL" -1 -f migrations/0001_init.sql
-- Every statement is idempotent so a hand run over an applied database is harmless.

CREATE TABLE IF NOT EXISTS schema_migrations (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Users. The token itself is never stored: token_hash is SHA-256 (hex) of the JWT's jti, so a
-- database leak reveals no usable credential and a refresh (new jti) kills the old token.
CREATE TABLE IF NOT EXISTS users (
  id                 bigserial PRIMARY KEY,
  username           text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
  token_hash         text NOT NULL,
  token_prefix       text NOT NULL DEFAULT '',
  is_active          boolean NOT NULL DEFAULT true,
  has_all_models     boolean NOT NULL DEFAULT false,
  can_manage_models  boolean NOT NULL DEFAULT false,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  deleted_at         timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS users_token_hash_idx ON users (token_hash);

-- Allow-list: names the user may call (display names and/or group names).
CREATE TABLE IF NOT EXISTS user_models (
  user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  model_name  text NOT NULL,
  PRIMARY KEY (user_id, model_name)
);

CREATE TABLE IF NOT EXISTS user_limits (
  user_id        bigint PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  request_limit  bigint CHECK (request_limit IS NULL OR request_limit >= 0),
  token_limit    bigint CHECK (token_limit IS NULL OR token_limit >= 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Origins. api_key_ciphertext is AES-GCM sealed with a key derived from the Worker secret;
-- the admin API only ever says whether one is set.
CREATE TABLE IF NOT EXISTS nodes (
  id                     bigserial PRIMARY KEY,
  name                   text NOT NULL UNIQUE,
  code                   text UNIQUE CHECK (code IS NULL OR code ~ '^[a-z0-9_-]{1,30}$'),
  node_type              text NOT NULL DEFAULT 'ollama' CHECK (node_type IN ('ollama', 'openai', 'anthropic')),
  base_url               text NOT NULL,
  api_key_ciphertext     text,
  priority               integer NOT NULL DEFAULT 100,   -- lower number = tried first
  weight                 integer NOT NULL DEFAULT 100 CHECK (weight >= 0),
  headers                jsonb NOT NULL DEFAULT '{}'::jsonb,
  health_url             text,
  warmup_enabled         boolean NOT NULL DEFAULT false,
  is_active              boolean NOT NULL DEFAULT true,
  health_status          text NOT NULL DEFAULT 'unknown' CHECK (health_status IN ('unknown', 'healthy', 'unhealthy')),
  consecutive_failures   integer NOT NULL DEFAULT 0,
  consecutive_successes  integer NOT NULL DEFAULT 0,
  last_health_check      timestamptz,
  last_error             text,
  latency_ms             integer,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);

-- Discovered catalog. is_present is discovery's view (vanished models become false);
-- is_available is the admin's switch and survives every sync.
CREATE TABLE IF NOT EXISTS node_models (
  node_id         bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  model_name      text NOT NULL,
  size_bytes      bigint,
  family          text,
  digest          text,
  details         jsonb NOT NULL DEFAULT '{}'::jsonb,
  context_length  integer,
  capabilities    text[] NOT NULL DEFAULT '{}',
  is_present      boolean NOT NULL DEFAULT true,
  is_available    boolean NOT NULL DEFAULT true,
  is_loaded       boolean NOT NULL DEFAULT false,
  modified_at     text,
  first_seen      timestamptz NOT NULL DEFAULT now(),
  last_seen       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (node_id, model_name)
);
CREATE INDEX IF NOT EXISTS node_models_name_idx ON node_models (model_name);

CREATE TABLE IF NOT EXISTS model_mappings (
  id              bigserial PRIMARY KEY,
  display_name    text NOT NULL UNIQUE,
  real_name       text NOT NULL,
  context_length  integer CHECK (context_length IS NULL OR context_length > 0),
  capabilities    text[] NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Node scope of a mapping: empty = global.
CREATE TABLE IF NOT EXISTS model_mapping_nodes (
  mapping_id  bigint NOT NULL REFERENCES model_mappings(id) ON DELETE CASCADE,
  node_id     bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  PRIMARY KEY (mapping_id, node_id)
);

CREATE TABLE IF NOT EXISTS model_groups (
  id                    bigserial PRIMARY KEY,
  name                  text NOT NULL UNIQUE,
  description           text NOT NULL DEFAULT '',
  strategy              text NOT NULL DEFAULT 'priority' CHECK (strategy IN ('priority', 'weighted', 'round_robin')),
  is_active             boolean NOT NULL DEFAULT true,
  list_in_catalog       boolean NOT NULL DEFAULT true,
  priority              integer NOT NULL DEFAULT 0,
  max_failover_retries  integer CHECK (max_failover_retries IS NULL OR max_failover_retries >= 0),
  node_strategy         text CHECK (node_strategy IS NULL OR node_strategy IN ('priority', 'round_robin', 'weighted', 'least_busy')),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS model_group_members (
  id                  bigserial PRIMARY KEY,
  group_id            bigint NOT NULL REFERENCES model_groups(id) ON DELETE CASCADE,
  model_name          text NOT NULL,
  capability_tags     text[] NOT NULL DEFAULT '{}',
  weight              integer NOT NULL DEFAULT 1 CHECK (weight >= 0),
  priority            integer NOT NULL DEFAULT 0,   -- lower number = first
  is_fallback         boolean NOT NULL DEFAULT false,
  is_fallback_413     boolean NOT NULL DEFAULT false,
  is_metadata_source  boolean NOT NULL DEFAULT false,
  is_active           boolean NOT NULL DEFAULT true,
  created_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (group_id, model_name)
);

-- Preferred nodes of a member, in order (position 0 first).
CREATE TABLE IF NOT EXISTS model_group_member_nodes (
  member_id  bigint NOT NULL REFERENCES model_group_members(id) ON DELETE CASCADE,
  node_id    bigint NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
  position   integer NOT NULL DEFAULT 0,
  PRIMARY KEY (member_id, node_id)
);

CREATE TABLE IF NOT EXISTS tool_sets (
  id           bigserial PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  tools        text[],            -- NULL = every tool
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Per-model behaviour by name prefix. tool_set_id is a live link: editing the set changes
-- every config that uses it (allowed_tools is used only when no set is linked).
CREATE TABLE IF NOT EXISTS model_configs (
  id                      bigserial PRIMARY KEY,
  model_prefix            text NOT NULL UNIQUE,
  is_exact_match          boolean NOT NULL DEFAULT false,
  allowed_tools           text[],
  tool_set_id             bigint REFERENCES tool_sets(id) ON DELETE SET NULL,
  unsupported_params      text[] NOT NULL DEFAULT '{}',
  default_context_length  integer CHECK (default_context_length IS NULL OR default_context_length > 0),
  max_context_length      integer CHECK (max_context_length IS NULL OR max_context_length > 0),
  requests_per_minute     integer CHECK (requests_per_minute IS NULL OR requests_per_minute >= 0),
  tokens_per_minute       integer CHECK (tokens_per_minute IS NULL OR tokens_per_minute >= 0),
  node_strategy           text CHECK (node_strategy IS NULL OR node_strategy IN ('priority', 'round_robin', 'weighted', 'least_busy')),
  maintenance_mode        boolean NOT NULL DEFAULT false,
  is_active               boolean NOT NULL DEFAULT true,
  description             text NOT NULL DEFAULT '',
  cost_multiplier         double precision NOT NULL DEFAULT 1.0,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS system_prompts (
  id           bigserial PRIMARY KEY,
  scope_type   text NOT NULL CHECK (scope_type IN ('user', 'node', 'group', 'model', 'mapping')),
  scope_value  text NOT NULL,
  prompt       text NOT NULL,
  priority     integer NOT NULL DEFAULT 0,    -- higher first
  is_active    boolean NOT NULL DEFAULT true,
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS system_prompts_scope_idx ON system_prompts (scope_type, scope_value);

-- Settings: one row per key, JSON values; defaults live in src/settings.rs and are documented.
CREATE TABLE IF NOT EXISTS settings (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per gateway request. id is generated by the Worker so a retried flush is idempotent.
CREATE TABLE IF NOT EXISTS usage_records (
  id                 text PRIMARY KEY,
  created_at         timestamptz NOT NULL,
  user_id            bigint REFERENCES users(id) ON DELETE SET NULL,
  username           text NOT NULL DEFAULT '',
  requested_model    text NOT NULL DEFAULT '',
  resolved_model     text NOT NULL DEFAULT '',
  real_model         text NOT NULL DEFAULT '',
  node_id            bigint,
  node_name          text NOT NULL DEFAULT '',
  endpoint           text NOT NULL DEFAULT '',
  dialect            text NOT NULL DEFAULT '',
  client             text NOT NULL DEFAULT '',
  stream             boolean NOT NULL DEFAULT false,
  status             integer NOT NULL,
  prompt_tokens      bigint NOT NULL DEFAULT 0,
  completion_tokens  bigint NOT NULL DEFAULT 0,
  total_tokens       bigint NOT NULL DEFAULT 0,
  estimated          boolean NOT NULL DEFAULT false,
  duration_ms        integer NOT NULL DEFAULT 0,
  ttfb_ms            integer,
  error              text
);
CREATE INDEX IF NOT EXISTS usage_records_created_idx ON usage_records (created_at);
CREATE INDEX IF NOT EXISTS usage_records_user_idx ON usage_records (user_id, created_at);
CREATE INDEX IF NOT EXISTS usage_records_model_idx ON usage_records (requested_model, created_at);

CREATE TABLE IF NOT EXISTS audit_log (
  id           bigserial PRIMARY KEY,
  created_at   timestamptz NOT NULL DEFAULT now(),
  actor        text NOT NULL,
  source_ip    text,
  action       text NOT NULL,
  entity_type  text NOT NULL,
  entity_id    text,
  details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS audit_log_created_idx ON audit_log (created_at);
CREATE INDEX IF NOT EXISTS audit_log_action_idx ON audit_log (action);

-- Admin sessions from /admin/auth/login: the signed session token carries this id, so logout
-- (revoked_at) and expiry are enforced server-side, not only by the token's own exp.
CREATE TABLE IF NOT EXISTS admin_sessions (
  id          text PRIMARY KEY,
  username    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz,
  source_ip   text
);

-- Monotonic version of the routing snapshot; every admin mutation bumps it.
CREATE TABLE IF NOT EXISTS snapshot_version (
  id       boolean PRIMARY KEY DEFAULT true CHECK (id),
  version  bigint NOT NULL DEFAULT 0
);
INSERT INTO snapshot_version (id, version) VALUES (true, 0) ON CONFLICT (id) DO NOTHING;

INSERT INTO schema_migrations (version, name) VALUES (1, 'init') ON CONFLICT (version) DO NOTHING;
