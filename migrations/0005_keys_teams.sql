-- Maestro Edge schema, version 5: many API keys per user, and teams.
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0005_keys_teams.sql

-- API keys. Like the per-user token, a key is a signed JWT whose jti is never stored: key_hash is
-- SHA-256 (hex) of the jti. models (NULL = every model the user may call) narrows the user's
-- access, ip_allow (NULL = any address) lists addresses or CIDR ranges matched against
-- CF-Connecting-IP, request_limit/token_limit are daily limits of the key on top of the user's.
-- The user's own token is the key marked is_primary: a trigger on users keeps it in step, so the
-- existing admin routes (create, token refresh, reactivate) keep working unchanged.
CREATE TABLE IF NOT EXISTS api_keys (
  id             bigserial PRIMARY KEY,
  user_id        bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  label          text NOT NULL DEFAULT '' CHECK (length(label) <= 100),
  key_hash       text NOT NULL,
  key_prefix     text NOT NULL DEFAULT '',
  is_primary     boolean NOT NULL DEFAULT false,
  models         text[],
  ip_allow       text[],
  request_limit  bigint CHECK (request_limit IS NULL OR request_limit >= 0),
  token_limit    bigint CHECK (token_limit IS NULL OR token_limit >= 0),
  expires_at     timestamptz,
  revoked_at     timestamptz,
  rotated_to     bigint REFERENCES api_keys(id) ON DELETE SET NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_hash_idx ON api_keys (key_hash);
CREATE INDEX IF NOT EXISTS api_keys_user_idx ON api_keys (user_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_primary_idx ON api_keys (user_id) WHERE is_primary;

-- Every existing token becomes its user's first key (same hash: the token keeps working).
INSERT INTO api_keys (user_id, label, key_hash, key_prefix, is_primary, created_at)
SELECT u.id, 'default', u.token_hash, u.token_prefix, true, u.created_at FROM users u
WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.user_id = u.id AND k.is_primary)
  AND NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.key_hash = u.token_hash);

CREATE OR REPLACE FUNCTION api_keys_follow_user_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Deleting a user revokes every key of theirs: a later reactivation issues a new own token
  -- and must not bring old keys back.
  IF TG_OP = 'UPDATE' AND NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
    UPDATE api_keys SET revoked_at = now(), updated_at = now() WHERE user_id = NEW.id AND revoked_at IS NULL AND NOT is_primary;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.token_hash IS NOT DISTINCT FROM OLD.token_hash THEN
    RETURN NEW;
  END IF;
  -- A new token (create, refresh, reactivate, delete's dead hash) replaces the primary key:
  -- the old token ends at once, exactly as before keys existed.
  UPDATE api_keys SET key_hash = NEW.token_hash, key_prefix = NEW.token_prefix, revoked_at = NULL, expires_at = NULL,
                      rotated_to = NULL, created_at = now(), updated_at = now()
  WHERE user_id = NEW.id AND is_primary;
  IF NOT FOUND THEN
    INSERT INTO api_keys (user_id, label, key_hash, key_prefix, is_primary) VALUES (NEW.id, 'default', NEW.token_hash, NEW.token_prefix, true);
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS users_token_to_api_keys ON users;
CREATE TRIGGER users_token_to_api_keys AFTER INSERT OR UPDATE OF token_hash, deleted_at ON users
  FOR EACH ROW EXECUTE FUNCTION api_keys_follow_user_token();

-- Last use of a key is derived from usage records (no write per request).
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS key_id bigint;
CREATE INDEX IF NOT EXISTS usage_records_key_idx ON usage_records (key_id, created_at) WHERE key_id IS NOT NULL;

-- Teams: an allow-list (names of models and groups, or all), daily limits, members.
CREATE TABLE IF NOT EXISTS teams (
  id              bigserial PRIMARY KEY,
  name            text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._@-]{1,64}$'),
  description     text NOT NULL DEFAULT '',
  has_all_models  boolean NOT NULL DEFAULT false,
  request_limit   bigint CHECK (request_limit IS NULL OR request_limit >= 0),
  token_limit     bigint CHECK (token_limit IS NULL OR token_limit >= 0),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS team_models (
  team_id     bigint NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  model_name  text NOT NULL,
  PRIMARY KEY (team_id, model_name)
);
CREATE TABLE IF NOT EXISTS team_members (
  team_id     bigint NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (team_id, user_id)
);
CREATE INDEX IF NOT EXISTS team_members_user_idx ON team_members (user_id);

-- Admins who sign in through Cloudflare Access: the email Access vouches for (lower case) and
-- its scope (NULL = every resource; a team = only that team's members, their keys and usage).
CREATE TABLE IF NOT EXISTS admin_emails (
  email       text PRIMARY KEY CHECK (email = lower(email) AND email LIKE '%_@_%' AND length(email) <= 320),
  team_id     bigint REFERENCES teams(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO schema_migrations (version, name) VALUES (5, 'keys_teams') ON CONFLICT (version) DO NOTHING;
