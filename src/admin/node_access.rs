//! Node access and node routing options (Model Maestro's `user_nodes`, `user_node_models`,
//! `scoped_models`; see `routing::scope`):
//! - `/admin/users/{username}/nodes`: the nodes a user may reach (empty: all) and, per node,
//!   the models they may reach there (a node without rules: all its models);
//! - `/admin/nodes/{id}/routing`: `pinned_only`, `route_unknown_models`, `request_rules`.

use super::input::as_int;
use super::model_mappings::check_nodes;
use super::kit::{not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::routing::node_rules;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/users/{username}/nodes"),
    ("PUT", "/admin/users/{username}/nodes"),
    ("GET", "/admin/nodes/{id}/routing"),
    ("PUT", "/admin/nodes/{id}/routing"),
    ("PATCH", "/admin/nodes/{id}/routing"),
];

/// `segs`: the whole path after `/admin`. None: not one of these routes.
pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", ["users", username, "nodes"]) => user_view(ctx, username).await.and_then(ok),
        ("PUT", ["users", username, "nodes"]) => set_user_nodes(ctx, username).await,
        ("GET", ["nodes", id, "routing"]) => match node_id(id) {
            Ok(id) => node_view(ctx, id).await.and_then(ok),
            Err(e) => Err(e),
        },
        ("PUT", ["nodes", id, "routing"]) | ("PATCH", ["nodes", id, "routing"]) => match node_id(id) {
            Ok(id) => set_node_routing(ctx, id).await,
            Err(e) => Err(e),
        },
        _ => return None,
    })
}

fn node_id(s: &str) -> Result<i64, GatewayError> {
    s.parse().map_err(|_| GatewayError::NotFound(format!("node '{s}' not found (ids are numbers)")))
}

async fn user_id<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<i64, GatewayError> {
    ctx.json("SELECT to_json(id) FROM users WHERE username = $1::text AND deleted_at IS NULL", &[Param::Text(Some(username.into()))])
        .await?
        .as_i64()
        .ok_or_else(|| not_found(&format!("user '{username}'")))
}

async fn user_view<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Value, GatewayError> {
    let id = user_id(ctx, username).await?;
    let v = ctx
        .json(
            "SELECT json_build_object(
               'node_ids', COALESCE((SELECT json_agg(node_id ORDER BY node_id) FROM user_nodes WHERE user_id = $1::bigint), '[]'::json),
               'node_models', COALESCE((SELECT json_agg(json_build_object('node_id', node_id, 'model', model_name) ORDER BY node_id, model_name) FROM user_node_models WHERE user_id = $1::bigint), '[]'::json)
             )::text",
            &[Param::Int(Some(id))],
        )
        .await?;
    Ok(json!({"username": username, "node_ids": v["node_ids"], "node_models": v["node_models"]}))
}

/// Replace what is given: `node_ids` (the nodes the user may reach; `[]`: all) and/or
/// `node_models` (`[{node_id, model}]`; `[]`: no per-node model rules).
async fn set_user_nodes<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(&["node_ids", "node_models"])?;
    let id = user_id(ctx, username).await?;
    let node_ids = input.int_list("node_ids")?;
    let node_models = match input.raw("node_models") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => {
            let bad = || GatewayError::bad_field("node_models", "'node_models' must be a list of {\"node_id\": integer, \"model\": non-empty string}");
            let mut out = Vec::new();
            for r in a {
                let o = r.as_object().filter(|o| o.keys().all(|k| k == "node_id" || k == "model")).ok_or_else(bad)?;
                let node = o.get("node_id").and_then(as_int).ok_or_else(bad)?;
                let model = o.get("model").and_then(Value::as_str).filter(|m| !m.trim().is_empty() && m.len() <= 255 && !m.contains('\0')).ok_or_else(bad)?;
                out.push((node, model.to_string()));
            }
            Some(out)
        }
        Some(_) => return Err(GatewayError::bad_field("node_models", "'node_models' must be a list")),
    };
    if let Some(ids) = &node_ids {
        check_nodes(ctx, "node_ids", ids).await?;
        ctx.exec("DELETE FROM user_nodes WHERE user_id = $1::bigint", &[Param::Int(Some(id))]).await?;
        ctx.exec(
            "INSERT INTO user_nodes (user_id, node_id) SELECT DISTINCT $1::bigint, i FROM unnest($2::text[]::bigint[]) i",
            &[Param::Int(Some(id)), Param::TextArray(Some(ids.iter().map(i64::to_string).collect()))],
        )
        .await?;
    }
    if let Some(rules) = &node_models {
        let ids: Vec<i64> = rules.iter().map(|(n, _)| *n).collect();
        check_nodes(ctx, "node_models", &ids).await?;
        ctx.exec("DELETE FROM user_node_models WHERE user_id = $1::bigint", &[Param::Int(Some(id))]).await?;
        ctx.exec(
            "INSERT INTO user_node_models (user_id, node_id, model_name)
             SELECT $1::bigint, r.node_id, r.model FROM json_to_recordset($2::text::json) AS r(node_id bigint, model text) ON CONFLICT DO NOTHING",
            &[Param::Int(Some(id)), Param::Text(Some(Value::Array(rules.iter().map(|(n, m)| json!({"node_id": n, "model": m})).collect()).to_string()))],
        )
        .await?;
    }
    let view = user_view(ctx, username).await?;
    ctx.audit("user.nodes", "user", Some(username), &json!({"node_ids": view["node_ids"], "node_models": view["node_models"]})).await?;
    ok(view)
}

async fn node_view<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64) -> Result<Value, GatewayError> {
    let v = ctx.json("SELECT row_to_json(x)::text FROM (SELECT id, name, code, pinned_only, route_unknown_models, request_rules FROM nodes WHERE id = $1::bigint) x", &[Param::Int(Some(id))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("node {id}")));
    }
    let rules = node_rules::parse(&v["request_rules"]).unwrap_or_default();
    Ok(json!({
        "id": v["id"],
        "name": v["name"],
        "code": v["code"],
        "pinned_only": v["pinned_only"],
        "route_unknown_models": v["route_unknown_models"],
        "request_rules": {"default_max_tokens": rules.default_max_tokens, "drop_params": rules.drop_params},
    }))
}

async fn set_node_routing<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(&["pinned_only", "route_unknown_models", "request_rules"])?;
    node_view(ctx, id).await?;
    let rules = match input.raw("request_rules") {
        None => None,
        Some(Value::Null) => Some(Default::default()),
        Some(v) => Some(node_rules::parse(v).map_err(|m| GatewayError::bad_field("request_rules", m))?),
    };
    let rules_json = rules.map(|r: crate::state::snapshot::RequestRules| json!({"default_max_tokens": r.default_max_tokens, "drop_params": r.drop_params}));
    ctx.exec(
        "UPDATE nodes SET pinned_only = COALESCE($2::boolean, pinned_only), route_unknown_models = COALESCE($3::boolean, route_unknown_models),
                request_rules = COALESCE($4::jsonb, request_rules), updated_at = now() WHERE id = $1::bigint",
        &[Param::Int(Some(id)), Param::Bool(input.bool("pinned_only")?), Param::Bool(input.bool("route_unknown_models")?), Param::Json(rules_json)],
    )
    .await?;
    let view = node_view(ctx, id).await?;
    ctx.audit("node.routing", "node", Some(&id.to_string()), &view).await?;
    ok(view)
}
