//! `/admin/model-mappings`: display name -> real name, optional node scope, context length
//! (`32768`, `"128K"`, `"1M"`) and capabilities.

use super::input::{context_display, context_length, Input};
use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

pub const CAPABILITIES: &[&str] = &["completion", "tools", "vision", "thinking", "embedding", "insert"];

const VIEW: &str = "
    SELECT mm.id, mm.display_name, mm.real_name, mm.context_length, mm.capabilities, mm.created_at, mm.updated_at,
           COALESCE((SELECT json_agg(n.id ORDER BY n.id) FROM model_mapping_nodes mn JOIN nodes n ON n.id = mn.node_id WHERE mn.mapping_id = mm.id), '[]'::json) AS node_ids,
           COALESCE((SELECT json_agg(n.name ORDER BY n.id) FROM model_mapping_nodes mn JOIN nodes n ON n.id = mn.node_id WHERE mn.mapping_id = mm.id), '[]'::json) AS node_names
    FROM model_mappings mm";

fn present(mut v: Value) -> Value {
    if let Some(n) = v["context_length"].as_i64() {
        v["context_length_display"] = json!(context_display(n));
    }
    v
}

pub fn capabilities(input: &Input) -> Result<Option<Vec<String>>, GatewayError> {
    let caps = input.str_list("capabilities")?;
    if let Some(c) = &caps {
        if let Some(bad) = c.iter().find(|c| !CAPABILITIES.contains(&c.as_str())) {
            return Err(GatewayError::bad_field("capabilities", format!("unknown capability '{bad}'; use {}", CAPABILITIES.join(", "))));
        }
    }
    Ok(caps)
}

/// Node ids in the input must exist: a clear 400 instead of a constraint error.
pub async fn check_nodes<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, field: &str, ids: &[i64]) -> Result<(), GatewayError> {
    if ids.is_empty() {
        return Ok(());
    }
    let missing = ctx
        .json("SELECT COALESCE(json_agg(i), '[]'::json)::text FROM unnest($1::text[]::bigint[]) i WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = i)", &[Param::TextArray(Some(ids.iter().map(i64::to_string).collect()))])
        .await?;
    match missing.as_array() {
        Some(m) if !m.is_empty() => Err(GatewayError::bad_field(field, format!("unknown node id(s): {}", Value::Array(m.clone())))),
        _ => Ok(()),
    }
}

async fn get<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, display: &str) -> Result<Value, GatewayError> {
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({VIEW} WHERE mm.display_name = $1::text) x"), &[Param::Text(Some(display.into()))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("mapping '{display}'")));
    }
    Ok(present(v))
}

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/model-mappings"),
    ("POST", "/admin/model-mappings"),
    ("POST", "/admin/model-mappings/invalidate-cache"),
    ("GET", "/admin/model-mappings/{display_name}"),
    ("PUT", "/admin/model-mappings/{display_name}"),
    ("PATCH", "/admin/model-mappings/{display_name}"),
    ("DELETE", "/admin/model-mappings/{display_name}"),
];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => upsert(ctx, None).await,
        ("POST", ["invalidate-cache"]) => {
            // Kept for the reference's clients: publishing a snapshot is what invalidates.
            ctx.audit("mapping.invalidate_cache", "mapping", None, &json!({})).await.and_then(|_| ok(json!({"message": "snapshot republished"})))
        }
        ("GET", [d]) => get(ctx, d).await.and_then(ok),
        ("PUT", [d]) | ("PATCH", [d]) => upsert(ctx, Some(d)).await,
        ("DELETE", [d]) => delete(ctx, d).await,
        _ => return None,
    })
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let v = ctx.json(&format!("SELECT COALESCE(json_agg(x ORDER BY x.display_name), '[]'::json)::text FROM ({VIEW}) x"), &[]).await?;
    let items: Vec<Value> = v.as_array().cloned().unwrap_or_default().into_iter().map(present).collect();
    ok(json!({"mappings": items, "total": items.len()}))
}

/// POST upserts by display name; PUT/PATCH edits `existing` (and may rename it).
async fn upsert<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, existing: Option<&str>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let current = match existing {
        Some(d) => Some(get(ctx, d).await?),
        None => None,
    };
    let display = match (&current, input.str("display_name")?) {
        (_, Some(d)) if !d.is_empty() => d,
        (Some(c), _) => c["display_name"].as_str().unwrap_or_default().to_string(),
        (None, _) => return Err(GatewayError::bad_field("display_name", "'display_name' is required")),
    };
    let real = match (&current, input.str("real_name")?) {
        (_, Some(r)) if !r.is_empty() => r,
        (Some(c), _) => c["real_name"].as_str().unwrap_or_default().to_string(),
        (None, _) => return Err(GatewayError::bad_field("real_name", "'real_name' is required")),
    };
    let ctx_len = match input.raw("context_length") {
        Some(v) => context_length("context_length", v)?,
        None => current.as_ref().and_then(|c| c["context_length"].as_i64()),
    };
    let caps = capabilities(&input)?.or_else(|| current.as_ref().and_then(|c| serde_json::from_value(c["capabilities"].clone()).ok())).unwrap_or_default();
    let node_ids = input.int_list("node_ids")?.or_else(|| input.int("node_id").ok().flatten().map(|i| vec![i]));
    if let Some(ids) = &node_ids {
        check_nodes(ctx, "node_ids", ids).await?;
    }
    if let (Some(c), Some(_)) = (&current, existing) {
        let old = c["display_name"].as_str().unwrap_or_default();
        if old != display && !ctx.json("SELECT to_json(1) FROM model_mappings WHERE display_name = $1::text", &[Param::Text(Some(display.clone()))]).await?.is_null() {
            return Err(GatewayError::Conflict { message: format!("a mapping named '{display}' already exists"), field: Some("display_name".into()) });
        }
    }
    let key = existing.map(String::from).unwrap_or_else(|| display.clone());
    let was_new = ctx.json("SELECT to_json(1) FROM model_mappings WHERE display_name = $1::text", &[Param::Text(Some(key.clone()))]).await?.is_null();
    let id = ctx
        .json(
            "INSERT INTO model_mappings (display_name, real_name, context_length, capabilities) VALUES ($1::text, $2::text, $3::bigint, $4::text[])
             ON CONFLICT (display_name) DO UPDATE SET real_name = EXCLUDED.real_name, context_length = EXCLUDED.context_length, capabilities = EXCLUDED.capabilities, updated_at = now()
             RETURNING to_json(id)",
            &[Param::Text(Some(key.clone())), Param::Text(Some(real.clone())), Param::Int(ctx_len), Param::TextArray(Some(caps.clone()))],
        )
        .await?
        .as_i64()
        .unwrap_or_default();
    if key != display {
        ctx.exec("UPDATE model_mappings SET display_name = $2::text WHERE id = $1::bigint", &[Param::Int(Some(id)), Param::Text(Some(display.clone()))]).await?;
    }
    if let Some(ids) = &node_ids {
        ctx.exec("DELETE FROM model_mapping_nodes WHERE mapping_id = $1::bigint", &[Param::Int(Some(id))]).await?;
        ctx.exec(
            "INSERT INTO model_mapping_nodes (mapping_id, node_id) SELECT DISTINCT $1::bigint, i FROM unnest($2::text[]::bigint[]) i",
            &[Param::Int(Some(id)), Param::TextArray(Some(ids.iter().map(i64::to_string).collect()))],
        )
        .await?;
    }
    ctx.audit(if was_new { "mapping.create" } else { "mapping.update" }, "mapping", Some(&display), &json!({"real_name": real, "context_length": ctx_len, "capabilities": caps, "node_ids": node_ids, "renamed_from": existing.filter(|e| *e != display)})).await?;
    let v = get(ctx, &display).await?;
    if was_new {
        created(v)
    } else {
        ok(v)
    }
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, display: &str) -> Result<Reply, GatewayError> {
    let n = ctx.exec("DELETE FROM model_mappings WHERE display_name = $1::text", &[Param::Text(Some(display.into()))]).await?;
    if n == 0 {
        return Err(not_found(&format!("mapping '{display}'")));
    }
    ctx.audit("mapping.delete", "mapping", Some(display), &json!({})).await?;
    no_content()
}
