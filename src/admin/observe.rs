//! Admin routes of this module: the alert outbox (`GET /admin/alerts`, a test alert with
//! `POST /admin/alerts/test`) and the payload log (`GET /admin/payload-logs`, one entry with
//! both bodies, deleting one). Same shape as the resources in `admin/`: `ROUTES` and `route`.

use crate::observe::alerts::{self, Alert, AlertKind};
use crate::observe::payload;
use super::query;
use super::kit::{no_content, not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/alerts"),
    ("POST", "/admin/alerts/test"),
    ("GET", "/admin/payload-logs"),
    ("GET", "/admin/payload-logs/{request_id}"),
    ("DELETE", "/admin/payload-logs/{request_id}"),
];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    match (method, segs) {
        ("GET", ["alerts"]) => Some(list_alerts(ctx).await),
        ("POST", ["alerts", "test"]) => Some(test_alert(ctx).await),
        ("GET", ["payload-logs"]) => Some(list_payloads(ctx).await),
        ("GET", ["payload-logs", id]) => Some(get_payload(ctx, id).await),
        ("DELETE", ["payload-logs", id]) => Some(delete_payload(ctx, id).await),
        _ => None,
    }
}

async fn list_alerts<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let kind = query::text(ctx.req, "kind");
    if let Some(k) = &kind {
        if AlertKind::parse(k).is_none() {
            let all: Vec<&str> = AlertKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(GatewayError::bad_field("kind", format!("'kind' must be one of {}", all.join(", "))));
        }
    }
    let limit = query::int(ctx.req, "limit", 50, 1, query::MAX_LIMIT)?;
    let v = ctx.json(alerts::LIST_SQL, &[Param::Text(kind), Param::Int(Some(limit))]).await?;
    ok(json!({"alerts": v}))
}

/// Queue a test alert (delivered by the next cron run, signed like every other).
async fn test_alert<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let message = match input.0.get("message") {
        None | Some(Value::Null) => "Test alert from the admin API".to_string(),
        Some(Value::String(s)) if s.chars().count() <= 500 => s.clone(),
        Some(_) => return Err(GatewayError::bad_field("message", "'message' must be a string of at most 500 characters")),
    };
    let key = format!("test:{}", ctx.env.random_hex(8));
    let alert = Alert { kind: AlertKind::Test, dedup_key: key.clone(), event: json!({"title": message, "requested_by": ctx.actor.name}) };
    alerts::raise(ctx.db, &alert).await?;
    ctx.audit("alert.test", "alert", Some(&key), &json!({})).await?;
    Ok(Reply::json(202, &json!({"queued": true, "dedup_key": key})))
}

async fn list_payloads<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let req = ctx.req;
    let limit = query::int(req, "limit", 50, 1, query::MAX_LIMIT)?;
    let before = match query::text(req, "before") {
        Some(b) => Some(chrono::DateTime::parse_from_rfc3339(&b).map_err(|_| GatewayError::bad_field("before", "'before' must be an RFC 3339 timestamp"))?.to_rfc3339()),
        None => None,
    };
    let v = ctx.json(payload::LIST_SQL, &[Param::Text(query::text(req, "username")), Param::Text(query::text(req, "model")), Param::Text(before), Param::Int(Some(limit))]).await?;
    ok(v)
}

async fn get_payload<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    let v = ctx.json(payload::GET_SQL, &[Param::Text(Some(id.to_string()))]).await?;
    if v.is_null() {
        return Err(not_found("payload log entry"));
    }
    ok(v)
}

async fn delete_payload<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str) -> Result<Reply, GatewayError> {
    if ctx.exec(payload::DELETE_SQL, &[Param::Text(Some(id.to_string()))]).await? == 0 {
        return Err(not_found("payload log entry"));
    }
    ctx.audit("payload_log.delete", "payload_log", Some(id), &json!({})).await?;
    no_content()
}
