//! `/admin/models`: the discovered catalog by model name across nodes, with the mappings that
//! expose each one, and a switch that makes a model (un)available on every node at once.

use super::kit::{not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

pub const ROUTES: &[super::kit::Route] = &[("GET", "/admin/models"), ("PATCH", "/admin/models/{model}/available")];

/// `is_available` at model level: offered by at least one node.
const VIEW: &str = "
    SELECT m.model_name, bool_or(m.is_available) AS is_available,
           COALESCE((SELECT json_agg(mm.display_name ORDER BY mm.display_name) FROM model_mappings mm WHERE mm.real_name = m.model_name), '[]'::json) AS mapped_as,
           json_agg(json_build_object('node_id', n.id, 'node_name', n.name, 'node_type', n.node_type, 'is_available', m.is_available,
                    'is_present', m.is_present, 'is_loaded', m.is_loaded, 'context_length', m.context_length, 'capabilities', m.capabilities)
                    ORDER BY n.priority, n.id) AS nodes
    FROM node_models m JOIN nodes n ON n.id = m.node_id";

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("PATCH", [model, "available"]) => availability(ctx, model).await,
        _ => return None,
    })
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let v = ctx.json(&format!("SELECT COALESCE(json_agg(x ORDER BY x.model_name), '[]'::json)::text FROM ({VIEW} GROUP BY m.model_name) x"), &[]).await?;
    ok(json!({"models": v}))
}

async fn availability<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, model: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(&["is_available"])?;
    let available = input.bool("is_available")?.ok_or_else(|| GatewayError::bad_field("is_available", "'is_available' is required"))?;
    let n = ctx.exec("UPDATE node_models SET is_available = $2::boolean WHERE model_name = $1::text", &[Param::Text(Some(model.into())), Param::Bool(Some(available))]).await?;
    if n == 0 {
        return Err(not_found(&format!("model '{model}' on any node")));
    }
    ctx.audit("model.availability", "model", Some(model), &json!({"is_available": available, "nodes": n})).await?;
    let v: Value =
        ctx.json(&format!("SELECT row_to_json(x)::text FROM ({VIEW} WHERE m.model_name = $1::text GROUP BY m.model_name) x"), &[Param::Text(Some(model.into()))]).await?;
    ok(v)
}
