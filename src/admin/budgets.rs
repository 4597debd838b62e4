//! `/admin/budgets`: budgets in currency per user, team or API key, per UTC day or month (see
//! `costs::budget`), and `/admin/budget-events`, the soft and hard threshold crossings the cron
//! recorded (`costs::alerts`).
//!
//! Amounts are decimal currency (`50`, `"12.50"`), stored as millionths. `spent` in answers is
//! what the usage records of the current window cost (it trails the requests by the usage
//! flush); the enforcement itself is the Limiter's and does not wait for Postgres.

use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::costs::parse_amount;
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/budgets"),
    ("POST", "/admin/budgets"),
    ("PATCH", "/admin/budgets/{id}"),
    ("DELETE", "/admin/budgets/{id}"),
    ("GET", "/admin/budget-events"),
];

const VIEW: &str = "
    SELECT b.id, CASE WHEN b.user_id IS NOT NULL THEN 'user' WHEN b.team_id IS NOT NULL THEN 'team' ELSE 'key' END AS scope,
           COALESCE(b.user_id, b.team_id, b.key_id) AS scope_id,
           COALESCE(u.username, t.name, k.label) AS scope_name, k.user_id AS key_user_id,
           b.period, b.limit_micros, round(b.limit_micros::numeric / 1000000, 6) AS \"limit\", b.soft_pct,
           w.start AS window_start, w.reset_at,
           (SELECT COALESCE(sum(r.cost_micros), 0) FROM usage_records r
            WHERE r.created_at >= w.start AND r.cost_micros > 0
              AND (r.user_id = b.user_id OR r.key_id = b.key_id
                   OR (b.team_id IS NOT NULL AND r.user_id IN (SELECT tm.user_id FROM team_members tm WHERE tm.team_id = b.team_id)))) AS spent_micros,
           b.created_at, b.updated_at
    FROM budgets b
    LEFT JOIN users u ON u.id = b.user_id LEFT JOIN teams t ON t.id = b.team_id LEFT JOIN api_keys k ON k.id = b.key_id
    CROSS JOIN LATERAL (SELECT date_trunc(b.period, now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start,
                               (date_trunc(b.period, now() AT TIME ZONE 'UTC') + CASE WHEN b.period = 'month' THEN interval '1 month' ELSE interval '1 day' END) AT TIME ZONE 'UTC' AS reset_at) w";

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => create(ctx).await,
        ("PATCH", [id]) => update(ctx, id).await,
        ("DELETE", [id]) => delete(ctx, id).await,
        _ => return None,
    })
}

fn with_spent(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        let spent = o.get("spent_micros").and_then(Value::as_u64).unwrap_or(0);
        let limit = o.get("limit_micros").and_then(Value::as_u64).unwrap_or(0);
        o.insert("spent".into(), json!(crate::costs::format_micros(spent)));
        o.insert("remaining".into(), json!(crate::costs::format_micros(limit.saturating_sub(spent))));
    }
    v
}

async fn one<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64) -> Result<Value, GatewayError> {
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({VIEW} WHERE b.id = $1::bigint) x"), &[Param::Int(Some(id))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("budget {id}")));
    }
    Ok(with_spent(v))
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let v = ctx.json(&format!("SELECT COALESCE(json_agg(x ORDER BY x.scope, x.scope_name, x.period), '[]'::json)::text FROM ({VIEW}) x"), &[]).await?;
    let rows: Vec<Value> = v.as_array().cloned().unwrap_or_default().into_iter().map(with_spent).collect();
    let currency = super::settings::current(ctx.db).await?.currency;
    ok(json!({"budgets": rows, "total": rows.len(), "currency": currency}))
}

fn limit(input: &super::input::Input) -> Result<Option<i64>, GatewayError> {
    match input.raw("limit") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match parse_amount(v) {
            Ok(0) => Err(GatewayError::bad_field("limit", "'limit' must be above 0 (delete the budget to lift it)")),
            Ok(n) => Ok(Some(n as i64)),
            Err(e) => Err(GatewayError::bad_field("limit", format!("'limit' (currency) {e}"))),
        },
    }
}

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(&["user", "team", "key_id", "period", "limit", "soft_pct"])?;
    let owners = ["user", "team", "key_id"].iter().filter(|k| input.raw(k).is_some_and(|v| !v.is_null())).count();
    if owners != 1 {
        return Err(GatewayError::bad_field("user", "exactly one of 'user' (a username), 'team' (a team name) or 'key_id' is required"));
    }
    let period = input.req_str("period")?;
    if !matches!(period.as_str(), "day" | "month") {
        return Err(GatewayError::bad_field("period", "'period' must be day or month (UTC)"));
    }
    let limit = limit(&input)?.ok_or_else(|| GatewayError::bad_field("limit", "'limit' is required (currency, e.g. 50 or \"12.50\")"))?;
    let soft = input.int_in("soft_pct", 1, 100)?.unwrap_or(80);
    let (user_id, team_id, key_id) = if let Some(u) = input.str("user")? {
        let id = ctx.json("SELECT to_json(id) FROM users WHERE username = $1::text AND deleted_at IS NULL", &[Param::Text(Some(u.clone()))]).await?.as_i64();
        (Some(id.ok_or_else(|| GatewayError::bad_field("user", format!("user '{u}' not found")))?), None, None)
    } else if let Some(t) = input.str("team")? {
        let id = ctx.json("SELECT to_json(id) FROM teams WHERE name = $1::text", &[Param::Text(Some(t.clone()))]).await?.as_i64();
        (None, Some(id.ok_or_else(|| GatewayError::bad_field("team", format!("team '{t}' not found")))?), None)
    } else {
        let k = input.int("key_id")?.unwrap_or(0);
        let id = ctx.json("SELECT to_json(id) FROM api_keys WHERE id = $1::bigint AND revoked_at IS NULL", &[Param::Int(Some(k))]).await?.as_i64();
        (None, None, Some(id.ok_or_else(|| GatewayError::bad_field("key_id", format!("API key {k} not found (or revoked)")))?))
    };
    let id = ctx
        .json(
            "INSERT INTO budgets (user_id, team_id, key_id, period, limit_micros, soft_pct) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::text, $5::bigint, ($6::bigint)::integer)
             ON CONFLICT DO NOTHING RETURNING to_json(id)",
            &[Param::Int(user_id), Param::Int(team_id), Param::Int(key_id), Param::Text(Some(period.clone())), Param::Int(Some(limit)), Param::Int(Some(soft))],
        )
        .await?
        .as_i64()
        .ok_or_else(|| GatewayError::Conflict { message: format!("this owner already has a {period} budget: change it with PATCH"), field: Some("period".into()) })?;
    ctx.audit("budget.create", "budget", Some(&id.to_string()), &Value::Object(input.0.clone())).await?;
    created(one(ctx, id).await?)
}

fn budget_id(id: &str) -> Result<i64, GatewayError> {
    id.parse().map_err(|_| not_found(&format!("budget {id}")))
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = budget_id(id)?;
    let input = ctx.input()?;
    input.only(&["limit", "soft_pct"])?;
    let n = ctx
        .exec(
            "UPDATE budgets SET limit_micros = COALESCE($2::bigint, limit_micros), soft_pct = COALESCE(($3::bigint)::integer, soft_pct), updated_at = now() WHERE id = $1::bigint",
            &[Param::Int(Some(id)), Param::Int(limit(&input)?), Param::Int(input.int_in("soft_pct", 1, 100)?)],
        )
        .await?;
    if n == 0 {
        return Err(not_found(&format!("budget {id}")));
    }
    ctx.audit("budget.update", "budget", Some(&id.to_string()), &Value::Object(input.0.clone())).await?;
    ok(one(ctx, id).await?)
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let id = budget_id(id)?;
    if ctx.exec("DELETE FROM budgets WHERE id = $1::bigint", &[Param::Int(Some(id))]).await? == 0 {
        return Err(not_found(&format!("budget {id}")));
    }
    ctx.audit("budget.delete", "budget", Some(&id.to_string()), &json!({})).await?;
    no_content()
}

/// `GET /admin/budget-events?limit=&offset=&undelivered=true`: newest first.
pub async fn events<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let page = super::query::page(ctx.req, 50)?;
    let undelivered = super::query::flag(ctx.req, "undelivered")?;
    let v = ctx
        .json(
            "SELECT json_build_object(
               'events', COALESCE((SELECT json_agg(x ORDER BY x.id DESC) FROM (
                   SELECT id, created_at, budget_id, scope, scope_id, scope_name, period, window_start, threshold, limit_micros, spent_micros, currency, delivered_at
                   FROM budget_events WHERE NOT $3::boolean OR delivered_at IS NULL ORDER BY id DESC LIMIT $1::bigint OFFSET $2::bigint) x), '[]'::json),
               'total', (SELECT count(*) FROM budget_events WHERE NOT $3::boolean OR delivered_at IS NULL))::text",
            &[Param::Int(Some(page.limit)), Param::Int(Some(page.offset)), Param::Bool(Some(undelivered))],
        )
        .await?;
    ok(json!({"events": v["events"], "total": v["total"], "limit": page.limit, "offset": page.offset}))
}
