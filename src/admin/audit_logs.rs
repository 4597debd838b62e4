//! `GET /admin/audit-logs`: the audit trail, newest first, filtered by action, entity type,
//! actor and time; `total` counts the filtered set (the reference counted everything).

use super::query::{self, Window};
use super::kit::{ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::json;

pub const ROUTES: &[super::kit::Route] = &[("GET", "/admin/audit-logs")];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    match (method, segs) {
        ("GET", []) => Some(list(ctx).await),
        _ => None,
    }
}

const SQL: &str = "
    WITH f AS (
      SELECT id, created_at, actor, source_ip, action, entity_type, entity_id, details FROM audit_log
      WHERE ($1::text IS NULL OR action = $1::text)
        AND ($2::text IS NULL OR entity_type = $2::text)
        AND ($3::text IS NULL OR actor = $3::text)
        AND ($4::text IS NULL OR created_at >= $4::text::timestamptz)
        AND ($5::text IS NULL OR created_at < $5::text::timestamptz))
    SELECT json_build_object(
      'logs', COALESCE((SELECT json_agg(x ORDER BY x.created_at DESC, x.id DESC) FROM (SELECT * FROM f ORDER BY created_at DESC, id DESC LIMIT $6::bigint OFFSET $7::bigint) x), '[]'::json),
      'total', (SELECT count(*) FROM f))::text";

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let req = ctx.req;
    let page = query::page(req, 50)?;
    let Window { start, end } = query::dates(req)?;
    let v = ctx
        .json(
            SQL,
            &[
                Param::Text(query::text(req, "action")),
                Param::Text(query::text(req, "entity_type")),
                Param::Text(query::text(req, "actor")),
                Param::Text(start.as_ref().map(query::rfc3339)),
                Param::Text(end.as_ref().map(query::rfc3339)),
                Param::Int(Some(page.limit)),
                Param::Int(Some(page.offset)),
            ],
        )
        .await?;
    // Rows are redacted when written; redacting again on the way out covers rows written by
    // anything else (bootstrap, manual SQL).
    let logs: Vec<_> = v["logs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut l| {
            l["details"] = super::audit::redact(&l["details"]);
            l
        })
        .collect();
    ok(json!({"logs": logs, "total": v["total"], "limit": page.limit, "offset": page.offset}))
}
