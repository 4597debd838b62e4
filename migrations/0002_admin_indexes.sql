-- Maestro Edge schema, version 2: indexes for the admin API's filters.
-- A user's activity and usage are looked up by username (unique and never renamed, and kept
-- when the user row goes); the audit trail is filtered by entity type and actor.
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0002_admin_indexes.sql

CREATE INDEX IF NOT EXISTS usage_records_username_idx ON usage_records (username, created_at);
CREATE INDEX IF NOT EXISTS audit_log_entity_type_idx ON audit_log (entity_type, created_at);
CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor, created_at);

INSERT INTO schema_migrations (version, name) VALUES (2, 'admin_indexes') ON CONFLICT (version) DO NOTHING;
