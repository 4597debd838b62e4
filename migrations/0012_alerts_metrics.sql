-- Maestro Edge schema, version 12: alerts and metrics (src/observe/).
-- alert_outbox: alerts waiting for (or past) delivery; raised idempotently on dedup_key, drained
-- by the cron (signed webhook per kind, retried with back-off), kept 30 days after the outcome.
-- metric_counters: the counters and histogram buckets of GET /metrics, one row per series,
-- added to by the usage flush in the statement that inserts the records (never per request).
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0012_alerts_metrics.sql

CREATE TABLE IF NOT EXISTS alert_outbox (
  id               bigserial PRIMARY KEY,
  kind             text NOT NULL,
  dedup_key        text NOT NULL UNIQUE,
  event            jsonb NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  failed_at        timestamptz,
  last_status      integer,
  last_error       text
);
CREATE INDEX IF NOT EXISTS alert_outbox_due_idx ON alert_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX IF NOT EXISTS alert_outbox_created_idx ON alert_outbox (created_at);

CREATE TABLE IF NOT EXISTS metric_counters (
  name        text NOT NULL,
  labels      jsonb NOT NULL,
  value       double precision NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, labels)
);

INSERT INTO schema_migrations (version, name) VALUES (12, 'alerts_metrics') ON CONFLICT (version) DO NOTHING;
