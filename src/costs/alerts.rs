//! Budget threshold events: the cron (`edge/maintenance.rs`, on the connection its clean-up
//! already holds) compares what each budget's owner spent in the current UTC window, from the
//! usage records' stored costs, with the soft threshold and the limit, and records each
//! crossing once in `budget_events` (unique per budget, window and threshold). Whatever sends
//! alerts (webhooks) reads the rows whose `delivered_at` is NULL and sets it once delivered.
//! Off the request path: an event trails the spending by the usage flush (seconds) plus at most
//! one cron minute.

/// Insert the crossings not yet recorded; returns the new rows' count through `exec`.
pub const RECORD_SQL: &str = "
    WITH w AS (
        SELECT b.id, b.user_id, b.team_id, b.key_id, b.period, b.limit_micros, b.soft_pct,
               CASE WHEN b.period = 'month' THEN date_trunc('month', now() AT TIME ZONE 'UTC') ELSE date_trunc('day', now() AT TIME ZONE 'UTC') END AT TIME ZONE 'UTC' AS window_start
        FROM budgets b),
    s AS (
        SELECT w.*,
               CASE WHEN w.user_id IS NOT NULL THEN 'user' WHEN w.team_id IS NOT NULL THEN 'team' ELSE 'key' END AS scope,
               COALESCE(w.user_id, w.team_id, w.key_id) AS scope_id,
               COALESCE((SELECT u.username FROM users u WHERE u.id = w.user_id), (SELECT t.name FROM teams t WHERE t.id = w.team_id),
                        (SELECT k.label FROM api_keys k WHERE k.id = w.key_id), '') AS scope_name,
               (SELECT COALESCE(sum(r.cost_micros), 0) FROM usage_records r
                WHERE r.created_at >= w.window_start AND r.cost_micros > 0
                  AND (r.user_id = w.user_id OR r.key_id = w.key_id
                       OR (w.team_id IS NOT NULL AND r.user_id IN (SELECT tm.user_id FROM team_members tm WHERE tm.team_id = w.team_id)))) AS spent
        FROM w)
    INSERT INTO budget_events (budget_id, scope, scope_id, scope_name, period, window_start, threshold, limit_micros, spent_micros, currency)
    SELECT s.id, s.scope, s.scope_id, s.scope_name, s.period, s.window_start, t.threshold, s.limit_micros, s.spent,
           COALESCE((SELECT value #>> '{}' FROM settings WHERE key = 'costs.currency'), 'USD')
    FROM s CROSS JOIN LATERAL (VALUES ('soft', s.limit_micros::numeric * s.soft_pct / 100), ('hard', s.limit_micros::numeric)) AS t(threshold, at)
    WHERE s.spent > 0 AND s.spent >= t.at
    ON CONFLICT (budget_id, window_start, threshold) DO NOTHING";
