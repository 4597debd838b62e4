//! `/admin/settings`: every documented setting with its value, default and description;
//! writes are validated against `settings::DEFINITIONS`.

use super::kit::{no_content, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::settings::{self, Settings, DEFINITIONS};
use crate::state::db::{Db, Param};
use serde_json::{json, Value};
use std::collections::HashMap;

async fn raw<D: Db>(db: &D) -> Result<HashMap<String, Value>, GatewayError> {
    let v = db.json("SELECT COALESCE(json_object_agg(key, value), '{}'::json)::text FROM settings", &[]).await?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// The validated settings straight from Postgres (maintenance and admin "now" actions).
pub async fn current<D: Db>(db: &D) -> Result<Settings, GatewayError> {
    Ok(Settings::from_raw(&raw(db).await?))
}

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/settings"),
    ("PUT", "/admin/settings"),
    ("PATCH", "/admin/settings"),
    ("DELETE", "/admin/settings/{key}"),
];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("PUT", []) | ("PATCH", []) => put(ctx).await,
        ("DELETE", [key]) => reset(ctx, key).await,
        _ => return None,
    })
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let raw = raw(ctx.db).await?;
    let items: Vec<Value> = DEFINITIONS
        .iter()
        .map(|d| {
            let default = (d.default)();
            let value = raw.get(d.key).cloned().unwrap_or_else(|| default.clone());
            json!({"key": d.key, "value": value, "default": default, "is_default": !raw.contains_key(d.key), "description": d.doc})
        })
        .collect();
    ok(json!({"settings": items}))
}

async fn put<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    if input.0.is_empty() {
        return Err(GatewayError::bad_request("send an object of setting key to value"));
    }
    let mut values = input.0.clone();
    for (k, v) in values.iter_mut() {
        // Stored as an integer so the typed reader (`as_i64`) sees it: 5.0 is 5.
        if matches!(settings::definition(k).map(|d| d.kind), Some(settings::Kind::Int { .. })) {
            if let Some(n) = super::input::as_int(v) {
                *v = json!(n);
            }
        }
        settings::validate(k, v).map_err(|m| GatewayError::bad_field(k.as_str(), m))?;
    }
    for (k, v) in &values {
        ctx.exec(
            "INSERT INTO settings (key, value) VALUES ($1::text, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            &[Param::Text(Some(k.clone())), Param::Json(Some(v.clone()))],
        )
        .await?;
    }
    ctx.audit("settings.update", "settings", None, &Value::Object(values)).await?;
    list(ctx).await
}

async fn reset<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, key: &str) -> Result<Reply, GatewayError> {
    if settings::definition(key).is_none() {
        return Err(GatewayError::NotFound(format!("unknown setting '{key}'")));
    }
    ctx.exec("DELETE FROM settings WHERE key = $1::text", &[Param::Text(Some(key.into()))]).await?;
    ctx.audit("settings.reset", "settings", Some(key), &json!({})).await?;
    no_content()
}
