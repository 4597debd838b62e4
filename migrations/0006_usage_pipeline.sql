-- Maestro Edge schema, version 6: the usage pipeline's own bookkeeping.
-- usage_shards: one row per UsageBuffer shard, written by the shard after each flush (its
-- backlog, what it moved, its last error), read by /health/ready and the cron's alert.
-- usage_quarantine: records Postgres refused as data (each alone, after the batch was split),
-- kept as JSON text so nothing is lost and one bad record never blocks the others.
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0006_usage_pipeline.sql

CREATE TABLE IF NOT EXISTS usage_shards (
  shard          integer PRIMARY KEY,
  backlog        bigint NOT NULL DEFAULT 0,
  flushed_total  bigint NOT NULL DEFAULT 0,
  last_flush_at  timestamptz,
  last_error     text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS usage_quarantine (
  id              text PRIMARY KEY,
  quarantined_at  timestamptz NOT NULL DEFAULT now(),
  shard           integer NOT NULL,
  reason          text NOT NULL,
  record          text NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_quarantine_at_idx ON usage_quarantine (quarantined_at);

INSERT INTO schema_migrations (version, name) VALUES (6, 'usage_pipeline') ON CONFLICT (version) DO NOTHING;
