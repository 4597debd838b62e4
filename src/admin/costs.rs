//! `GET /admin/costs`: usage and cost from the usage records, grouped by user, team, API key,
//! model (as requested, or the real name on the node) or node, per UTC day or month or over the
//! whole window, with the cached share of the prompt tokens. Costs are the ones stored with each
//! record when it was recorded (`costs`), so they add up to exactly what was charged.
//!
//! Query: `by` = user | team | key | model | real_model | node (default user), `bucket` = day |
//! month | total (default day), and the window as elsewhere (`period`, `start_date`/`end_date`;
//! default 30d). A user in several teams counts in each of them.

use super::query::{self, Window};
use super::kit::{ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

pub const ROUTES: &[super::kit::Route] = &[("GET", "/admin/costs")];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => costs(ctx).await,
        _ => return None,
    })
}

/// (key expression, extra join) per grouping: fixed strings, never built from input.
fn grouping(by: &str) -> Option<(&'static str, &'static str)> {
    Some(match by {
        "user" => ("r.username", ""),
        "model" => ("r.requested_model", ""),
        "real_model" => ("r.real_model", ""),
        "node" => ("r.node_name", ""),
        "key" => ("COALESCE(k.label || ' (' || r.key_id || ')', r.key_id::text, '')", "LEFT JOIN api_keys k ON k.id = r.key_id"),
        "team" => ("t.name", "JOIN team_members tm ON tm.user_id = r.user_id JOIN teams t ON t.id = tm.team_id"),
        _ => return None,
    })
}

fn bucket_expr(bucket: &str) -> Option<&'static str> {
    Some(match bucket {
        "day" => "to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
        "month" => "to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM')",
        "total" => "'total'",
        _ => return None,
    })
}

/// `unpriced`: answered requests no price applied to (requests refused before an origin have
/// no real model, cost nothing and are not counted).
const SUMS: &str = "count(*) AS requests, COALESCE(sum(r.prompt_tokens), 0) AS prompt_tokens, COALESCE(sum(r.cached_tokens), 0) AS cached_tokens,
    COALESCE(sum(r.cache_write_tokens), 0) AS cache_write_tokens, COALESCE(sum(r.completion_tokens), 0) AS completion_tokens,
    COALESCE(sum(r.cost_micros), 0) AS cost_micros, count(*) FILTER (WHERE NOT r.priced AND r.real_model <> '') AS unpriced";

/// The SQL for one grouping and bucket over `$1`/`$2` (window bounds as text, NULL = open).
pub fn sql(by: &str, bucket: &str) -> Option<String> {
    let (key, join) = grouping(by)?;
    let b = bucket_expr(bucket)?;
    Some(format!(
        "SELECT json_build_object(
           'rows', COALESCE((SELECT json_agg(x ORDER BY x.bucket, x.cost_micros DESC, x.key) FROM (
               SELECT {b} AS bucket, {key} AS key, {SUMS}
               FROM usage_records r {join}
               WHERE ($1::text IS NULL OR r.created_at >= $1::text::timestamptz) AND ($2::text IS NULL OR r.created_at < $2::text::timestamptz)
               GROUP BY 1, 2) x), '[]'::json),
           'totals', (SELECT json_build_object({totals}) FROM usage_records r
               WHERE ($1::text IS NULL OR r.created_at >= $1::text::timestamptz) AND ($2::text IS NULL OR r.created_at < $2::text::timestamptz)))::text",
        totals = "'requests', count(*), 'prompt_tokens', COALESCE(sum(r.prompt_tokens), 0), 'cached_tokens', COALESCE(sum(r.cached_tokens), 0), 'cache_write_tokens', COALESCE(sum(r.cache_write_tokens), 0), 'completion_tokens', COALESCE(sum(r.completion_tokens), 0), 'cost_micros', COALESCE(sum(r.cost_micros), 0)"
    ))
}

/// Decimal cost and the cached share (cached / prompt tokens, 0..1) added to a row.
fn decorate(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        let n = |k: &str| o.get(k).and_then(Value::as_u64).unwrap_or(0);
        let (cost, cached, prompt) = (n("cost_micros"), n("cached_tokens"), n("prompt_tokens"));
        o.insert("cost".into(), json!(crate::costs::format_micros(cost)));
        o.insert("cached_share".into(), json!(if prompt == 0 { 0.0 } else { (cached as f64 / prompt as f64 * 10_000.0).round() / 10_000.0 }));
    }
    v
}

async fn costs<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let by = query::text(ctx.req, "by").unwrap_or_else(|| "user".into());
    let bucket = query::text(ctx.req, "bucket").unwrap_or_else(|| "day".into());
    let w: Window = query::period(ctx.req, ctx.env.now_s, "30d")?;
    let sql = match (grouping(&by), bucket_expr(&bucket)) {
        (None, _) => return Err(GatewayError::bad_field("by", "'by' must be one of user, team, key, model, real_model, node")),
        (_, None) => return Err(GatewayError::bad_field("bucket", "'bucket' must be one of day, month, total")),
        _ => sql(&by, &bucket).expect("checked above"),
    };
    let v = ctx.json(&sql, &[Param::Text(w.start_text()), Param::Text(w.end_text())]).await?;
    let rows: Vec<Value> = v["rows"].as_array().cloned().unwrap_or_default().into_iter().map(decorate).collect();
    let currency = super::settings::current(ctx.db).await?.currency;
    ok(json!({"by": by, "bucket": bucket, "period": w.describe(ctx.env.now_s), "currency": currency, "rows": rows, "totals": decorate(v["totals"].clone())}))
}
