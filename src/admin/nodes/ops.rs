//! Node operations beyond the node row: today's load per node, and removing a model from an
//! Ollama node (the origin first, then the catalog, so the catalog never claims a model that
//! the origin refused to delete).

use super::super::kit::{no_content, not_found, ok, Ctx};
use super::{pull, rows::ollama_node};
use crate::net::Method;
use crate::error::GatewayError;
use crate::maintenance;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

pub const ROUTES: &[super::super::kit::Route] =
    &[("GET", "/admin/nodes/load"), ("POST", "/admin/nodes/{id}/pull"), ("POST", "/admin/nodes/pull-all"), ("DELETE", "/admin/nodes/{id}/models/{model}")];

const DELETE_TIMEOUT_MS: u64 = 30_000;

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", ["load"]) => load(ctx).await,
        ("POST", ["pull-all"]) => pull::pull_all(ctx).await,
        ("POST", [id, "pull"]) => pull::pull_one(ctx, id).await,
        ("DELETE", [id, "models", model]) => delete_model(ctx, id, model).await,
        _ => return None,
    })
}

async fn load<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    // Active streams come from the cross-isolate lease registry (the Streams Durable Object);
    // if it cannot be reached the field is null rather than a misleading 0.
    let streams = ctx.platform.active_streams().await.ok();
    let mut v = ctx
        .json(
            "WITH today AS (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS t),
                  u AS (SELECT node_id, count(*) AS requests, count(*) FILTER (WHERE status >= 400) AS errors FROM usage_records, today
                        WHERE created_at >= today.t AND node_id IS NOT NULL GROUP BY node_id)
             SELECT COALESCE(json_agg(json_build_object('id', n.id, 'name', n.name, 'health_status', n.health_status, 'is_active', n.is_active,
                      'latency_ms', n.latency_ms, 'active_streams', 0, 'requests_today', COALESCE(u.requests, 0), 'errors_today', COALESCE(u.errors, 0))
                    ORDER BY n.priority, n.id), '[]'::json)::text
             FROM nodes n LEFT JOIN u ON u.node_id = n.id",
            &[],
        )
        .await?;
    if let Some(nodes) = v.as_array_mut() {
        for n in nodes {
            let id = n["id"].as_i64().unwrap_or_default();
            n["active_streams"] = match &streams {
                Some(c) => json!(c.get(&id).copied().unwrap_or(0)),
                None => Value::Null,
            };
        }
    }
    ok(json!({"nodes": v}))
}

async fn delete_model<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: &str, model: &str) -> Result<Reply, GatewayError> {
    let node = ollama_node(ctx, id).await?;
    let (status, body) = maintenance::request_raw(ctx.platform, &node, Method::DELETE, "/api/delete", Some(&json!({"model": model})), DELETE_TIMEOUT_MS)
        .await
        .map_err(|e| GatewayError::UpstreamUnavailable(format!("node '{}': {e}", node.name)))?;
    match status {
        200..=299 => {}
        404 => return Err(not_found(&format!("model '{model}' on node '{}'", node.name))),
        _ => {
            return Err(GatewayError::Upstream {
                status: 502,
                message: format!("node '{}' refused to delete '{model}': HTTP {status}: {}", node.name, crate::origins::error_text(&body)),
            })
        }
    }
    let rows = ctx
        .exec(
            "UPDATE node_models SET is_present = false, is_loaded = false WHERE node_id = $1::bigint AND model_name = $2::text",
            &[Param::Int(Some(node.id)), Param::Text(Some(model.into()))],
        )
        .await?;
    ctx.audit("node.model_delete", "node", Some(&node.id.to_string()), &json!({"model": model, "catalog_rows": rows})).await?;
    no_content()
}
