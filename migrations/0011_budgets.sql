-- Maestro Edge schema, version 11: budgets in currency (issue 22).
-- Idempotent, like every migration: psql "$DATABASE_URL" -1 -f migrations/0011_budgets.sql
--
-- 1. A budget per user, team or key (exactly one owner) and UTC period, in millionths of the
--    currency. Enforced by the Limiter (see README "Budgets"); soft_pct is the warning threshold.
CREATE TABLE IF NOT EXISTS budgets (
  id            bigserial PRIMARY KEY,
  user_id       bigint REFERENCES users(id) ON DELETE CASCADE,
  team_id       bigint REFERENCES teams(id) ON DELETE CASCADE,
  key_id        bigint REFERENCES api_keys(id) ON DELETE CASCADE,
  period        text NOT NULL CHECK (period IN ('day', 'month')),
  limit_micros  bigint NOT NULL CHECK (limit_micros > 0),
  soft_pct      integer NOT NULL DEFAULT 80 CHECK (soft_pct BETWEEN 1 AND 100),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (num_nonnulls(user_id, team_id, key_id) = 1)
);
CREATE UNIQUE INDEX IF NOT EXISTS budgets_owner_period_idx ON budgets (COALESCE(user_id, 0), COALESCE(team_id, 0), COALESCE(key_id, 0), period);

-- 2. Threshold crossings, one row per budget, window and threshold (the cron writes them, see
--    src/costs/alerts.rs); an alert sender delivers rows whose delivered_at is NULL and sets it.
CREATE TABLE IF NOT EXISTS budget_events (
  id            bigserial PRIMARY KEY,
  created_at    timestamptz NOT NULL DEFAULT now(),
  budget_id     bigint NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
  scope         text NOT NULL CHECK (scope IN ('user', 'team', 'key')),
  scope_id      bigint NOT NULL,
  scope_name    text NOT NULL DEFAULT '',
  period        text NOT NULL,
  window_start  timestamptz NOT NULL,
  threshold     text NOT NULL CHECK (threshold IN ('soft', 'hard')),
  limit_micros  bigint NOT NULL,
  spent_micros  bigint NOT NULL,
  currency      text NOT NULL DEFAULT 'USD',
  delivered_at  timestamptz,
  UNIQUE (budget_id, window_start, threshold)
);
CREATE INDEX IF NOT EXISTS budget_events_undelivered_idx ON budget_events (id) WHERE delivered_at IS NULL;

INSERT INTO schema_migrations (version, name) VALUES (11, 'budgets') ON CONFLICT (version) DO NOTHING;
