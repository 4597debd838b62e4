-- Maestro Edge schema, version 4: hardening (issue 19).
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0004_hardening.sql
--
-- 1. Custom node header values become write-only secrets, sealed like node API keys
--    (AES-256-GCM, `v1.` + base64url, see src/auth/secrets.rs). The key is a Worker secret
--    (SECRETS_KEY) that never reaches the database, so SQL cannot seal: this migration marks
--    every row whose headers are still plain text (headers_sealed = false), and the Worker seals
--    them right after applying migrations, before it reads anything else (src/edge/pg.rs,
--    `seal_node_headers`). Until then readers send the plain values as before, so nothing breaks
--    in between; rows with no headers need no sealing.
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS headers_sealed boolean NOT NULL DEFAULT false;
UPDATE nodes SET headers_sealed = true WHERE headers = '{}'::jsonb AND NOT headers_sealed;

-- 2. Discovery's outcome per node: why the last catalog could not be read (the node keeps its
--    last good catalog), or what was dropped from it (duplicates, malformed entries, overflow).
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS discovery_error text;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS discovered_at timestamptz;

-- 3. Login limiting counts recent failures per client address and per account name.
CREATE INDEX IF NOT EXISTS audit_log_login_failed_idx ON audit_log (created_at) WHERE action = 'admin.login_failed';

INSERT INTO schema_migrations (version, name) VALUES (4, 'hardening') ON CONFLICT (version) DO NOTHING;
