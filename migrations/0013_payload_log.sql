-- Maestro Edge schema, version 13: optional payload logging (src/observe/payload.rs; off by
-- default, see the payload_log.* settings). One row per logged request, keyed by the request
-- id (the usage record's id), bodies cut to payload_log.max_bytes; the cron deletes rows older
-- than payload_log.retention_days.
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0013_payload_log.sql

CREATE TABLE IF NOT EXISTS payload_log (
  id                  text PRIMARY KEY,
  created_at          timestamptz NOT NULL,
  user_id             bigint,
  username            text NOT NULL DEFAULT '',
  model               text NOT NULL DEFAULT '',
  endpoint            text NOT NULL DEFAULT '',
  status              integer,
  request             text NOT NULL DEFAULT '',
  request_truncated   boolean NOT NULL DEFAULT false,
  response            text NOT NULL DEFAULT '',
  response_truncated  boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS payload_log_created_idx ON payload_log (created_at);
CREATE INDEX IF NOT EXISTS payload_log_user_idx ON payload_log (username, created_at);

INSERT INTO schema_migrations (version, name) VALUES (13, 'payload_log') ON CONFLICT (version) DO NOTHING;
