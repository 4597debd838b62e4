-- Maestro Edge schema, version 9: costs in currency (issue 22).
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0009_costs.sql
--
-- 1. Prices per real model (the name on the node) and node, in millionths of the currency
--    (setting costs.currency) per million tokens. node_id NULL is the model's default row, used
--    on every node without a row of its own, except Ollama nodes (free unless they have a row).
--    cache_read / cache_write NULL: the input price.
CREATE TABLE IF NOT EXISTS model_prices (
  id                  bigserial PRIMARY KEY,
  model_name          text NOT NULL CHECK (length(model_name) BETWEEN 1 AND 200),
  node_id             bigint REFERENCES nodes(id) ON DELETE CASCADE,
  input_micros        bigint NOT NULL DEFAULT 0 CHECK (input_micros >= 0),
  output_micros       bigint NOT NULL DEFAULT 0 CHECK (output_micros >= 0),
  cache_read_micros   bigint CHECK (cache_read_micros IS NULL OR cache_read_micros >= 0),
  cache_write_micros  bigint CHECK (cache_write_micros IS NULL OR cache_write_micros >= 0),
  source              text NOT NULL DEFAULT '' CHECK (length(source) <= 200),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS model_prices_model_node_idx ON model_prices (model_name, COALESCE(node_id, 0));

-- 2. What each request cost, computed when it was recorded (a price edit never rewrites
--    history), and the cached part of its prompt. prompt_tokens stays the whole input.
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS cached_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS cache_write_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS cost_micros bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS priced boolean NOT NULL DEFAULT false;
-- (The cost views and budget events read usage_records through the indexes of 0001 and 0005.)

INSERT INTO schema_migrations (version, name) VALUES (9, 'costs') ON CONFLICT (version) DO NOTHING;
