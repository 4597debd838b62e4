//! `/admin/dashboard/*`: totals, a per-day series and top lists over `usage_records`. Days are
//! UTC calendar days; "week" and "month" are the last 7 and 30 days including today.

use super::query;
use super::kit::{ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::json;

pub const ROUTES: &[super::kit::Route] =
    &[("GET", "/admin/dashboard/stats"), ("GET", "/admin/dashboard/series"), ("GET", "/admin/dashboard/top-models"), ("GET", "/admin/dashboard/top-users")];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", ["stats"]) => stats(ctx).await,
        ("GET", ["series"]) => series(ctx).await,
        ("GET", ["top-models"]) => top_models(ctx).await,
        ("GET", ["top-users"]) => top_users(ctx).await,
        _ => return None,
    })
}

/// Start of the current UTC day, and of the 7- and 30-day windows that include it.
const DAYS: &str = "WITH d AS (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS today),
    b AS (SELECT today, today - interval '6 days' AS week, today - interval '29 days' AS month FROM d)";

const STATS: &str = "
    SELECT json_build_object(
      'users', (SELECT json_build_object('total', count(*), 'active', count(*) FILTER (WHERE is_active),
                  'active_today', (SELECT count(DISTINCT username) FROM usage_records, b WHERE created_at >= b.today AND username <> ''))
                FROM users WHERE deleted_at IS NULL),
      'requests', (SELECT json_build_object('today', count(*) FILTER (WHERE created_at >= b.today), 'week', count(*) FILTER (WHERE created_at >= b.week),
                     'month', count(*) FILTER (WHERE created_at >= b.month), 'total', count(*),
                     'errors_today', count(*) FILTER (WHERE created_at >= b.today AND status >= 400),
                     'avg_duration_ms_today', COALESCE(round(avg(duration_ms) FILTER (WHERE created_at >= b.today)), 0))
                   FROM usage_records, b),
      'tokens', (SELECT json_build_object(
                   'today', json_build_object('prompt', COALESCE(sum(prompt_tokens) FILTER (WHERE created_at >= b.today), 0),
                              'completion', COALESCE(sum(completion_tokens) FILTER (WHERE created_at >= b.today), 0),
                              'total', COALESCE(sum(total_tokens) FILTER (WHERE created_at >= b.today), 0)),
                   'week', json_build_object('prompt', COALESCE(sum(prompt_tokens), 0), 'completion', COALESCE(sum(completion_tokens), 0), 'total', COALESCE(sum(total_tokens), 0)),
                   'month', (SELECT json_build_object('prompt', COALESCE(sum(prompt_tokens), 0), 'completion', COALESCE(sum(completion_tokens), 0), 'total', COALESCE(sum(total_tokens), 0))
                             FROM usage_records, b WHERE created_at >= b.month))
                 FROM usage_records, b WHERE created_at >= b.week),
      'nodes', (SELECT json_build_object('total', count(*), 'healthy', count(*) FILTER (WHERE health_status = 'healthy'),
                  'unhealthy', count(*) FILTER (WHERE health_status = 'unhealthy')) FROM nodes))::text";

async fn stats<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    // The database answered the authentication query already; this round trip measures it.
    let t0 = ctx.platform.now_ms();
    ctx.json("SELECT to_json(1)", &[]).await?;
    let latency = ctx.platform.now_ms().saturating_sub(t0);
    let mut v = ctx.json(&format!("{DAYS} {STATS}"), &[]).await?;
    let usage = ctx.json(crate::state::usage_flush::STATUS_SQL, &[Param::Int(Some(crate::state::usage_shards::STALL_S as i64))]).await?;
    v["dependencies"] = json!({"database": {"up": true, "latency_ms": latency}, "usage": usage});
    ok(v)
}

async fn series<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let days = query::int(ctx.req, "days", 7, 1, 90)?;
    let v = ctx
        .json(
            "WITH r AS (SELECT (date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => $1::bigint::int - 1)) AS first,
                               date_trunc('day', now() AT TIME ZONE 'UTC') AS last),
                  u AS (SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AS day, count(*) AS requests, count(*) FILTER (WHERE status >= 400) AS errors,
                               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, sum(total_tokens) AS total_tokens
                        FROM usage_records, r WHERE created_at >= r.first AT TIME ZONE 'UTC' GROUP BY 1)
             SELECT json_build_object('days', json_agg(json_build_object(
                      'date', to_char(d.day, 'YYYY-MM-DD'), 'requests', COALESCE(u.requests, 0), 'errors', COALESCE(u.errors, 0),
                      'prompt_tokens', COALESCE(u.prompt_tokens, 0), 'completion_tokens', COALESCE(u.completion_tokens, 0), 'total_tokens', COALESCE(u.total_tokens, 0))
                    ORDER BY d.day))::text
             FROM r, generate_series(r.first, r.last, interval '1 day') AS d(day) LEFT JOIN u ON u.day = d.day",
            &[Param::Int(Some(days))],
        )
        .await?;
    ok(v)
}

async fn top_models<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let w = query::period(ctx.req, ctx.env.now_s, "7d")?;
    let limit = query::int(ctx.req, "limit", 10, 1, query::MAX_LIMIT)?;
    let models = ctx
        .json(
            "SELECT COALESCE(json_agg(x ORDER BY x.requests DESC, x.total_tokens DESC, x.model), '[]'::json)::text FROM (
               SELECT requested_model AS model, count(*) AS requests, COALESCE(sum(total_tokens), 0) AS total_tokens FROM usage_records
               WHERE requested_model <> '' AND ($1::text IS NULL OR created_at >= $1::text::timestamptz) AND ($2::text IS NULL OR created_at < $2::text::timestamptz)
               GROUP BY requested_model ORDER BY requests DESC, total_tokens DESC, model LIMIT $3::bigint) x",
            &[Param::Text(w.start_text()), Param::Text(w.end_text()), Param::Int(Some(limit))],
        )
        .await?;
    ok(json!({"models": models}))
}

async fn top_users<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let w = query::period(ctx.req, ctx.env.now_s, "7d")?;
    let limit = query::int(ctx.req, "limit", 10, 1, query::MAX_LIMIT)?;
    let users = ctx
        .json(
            "SELECT COALESCE(json_agg(x ORDER BY x.total_tokens DESC, x.requests DESC, x.username), '[]'::json)::text FROM (
               SELECT username, count(*) AS requests, COALESCE(sum(prompt_tokens), 0) AS prompt_tokens, COALESCE(sum(completion_tokens), 0) AS completion_tokens,
                      COALESCE(sum(total_tokens), 0) AS total_tokens FROM usage_records
               WHERE username <> '' AND ($1::text IS NULL OR created_at >= $1::text::timestamptz) AND ($2::text IS NULL OR created_at < $2::text::timestamptz)
               GROUP BY username ORDER BY total_tokens DESC, requests DESC, username LIMIT $3::bigint) x",
            &[Param::Text(w.start_text()), Param::Text(w.end_text()), Param::Int(Some(limit))],
        )
        .await?;
    ok(json!({"users": users}))
}
