//! Maintenance jobs run by the cron trigger and by the admin API's "now" buttons: one file per
//! job, each `async fn` over the `Db` and `Platform` ports, idempotent and bounded in time.

pub mod budget;
pub mod cron;
#[cfg(test)]
mod cron_tests;
pub mod discovery;
pub mod health;
pub mod warmup;

use crate::net::Method;
use crate::net::Outbound;
use crate::origins::{self, call};
use crate::platform::Platform;
use crate::state::snapshot::{Node, NodeKind};
use serde_json::Value;

/// A node as maintenance reads it from Postgres (not from the snapshot: the cron must see
/// nodes the admin just added).
pub const NODE_ROWS_SQL: &str = "SELECT COALESCE(json_agg(json_build_object(
    'id', n.id, 'name', n.name, 'code', n.code, 'kind', n.node_type, 'base_url', n.base_url,
    'api_key_sealed', n.api_key_ciphertext, 'priority', n.priority, 'weight', n.weight,
    'headers', COALESCE((SELECT json_agg(json_build_array(h.key, h.value)) FROM jsonb_each_text(n.headers) h), '[]'::json),
    'headers_sealed', n.headers_sealed,
    'health', n.health_status, 'active', n.is_active, 'warmup', n.warmup_enabled, 'health_url', n.health_url,
    'aws', CASE WHEN n.node_type = 'bedrock' THEN json_build_object('region', COALESCE(n.aws_region, ''), 'access_key_id', n.aws_access_key_id,
      'secret_sealed', n.aws_secret_key_ciphertext, 'session_token_sealed', n.aws_session_token_ciphertext) END
  ) ORDER BY n.id), '[]'::json)::text FROM nodes n WHERE ($1::bigint IS NULL OR n.id = $1::bigint)";

pub fn parse_nodes(v: Value) -> Vec<Node> {
    serde_json::from_value(v).unwrap_or_default()
}

/// GET a JSON document from a node with its credentials, under a deadline.
pub async fn get_json<P: Platform>(p: &P, node: &Node, path: &str, timeout_ms: u64) -> Result<Value, String> {
    request_json(p, node, Method::GET, path, None, timeout_ms).await
}

pub async fn request_json<P: Platform>(p: &P, node: &Node, method: Method, path: &str, body: Option<&Value>, timeout_ms: u64) -> Result<Value, String> {
    request_json_max(p, node, method, path, body, timeout_ms, MAX_ANSWER_BYTES).await
}

/// Largest answer maintenance reads from a node, unless a job sets a smaller bound.
pub const MAX_ANSWER_BYTES: usize = 32 << 20;

/// `request_json` with the answer bounded at `max` bytes (read no further than that).
pub async fn request_json_max<P: Platform>(p: &P, node: &Node, method: Method, path: &str, body: Option<&Value>, timeout_ms: u64, max: usize) -> Result<Value, String> {
    let (status, bytes) = request_raw_max(p, node, method, path, body, timeout_ms, max).await?;
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}: {}", origins::error_text(&bytes)));
    }
    serde_json::from_slice::<Value>(&bytes).map_err(|_| format!("not JSON: {}", origins::error_text(&bytes)))
}

/// The node's request for `path` with its URL rules, custom headers and API key (`origins::call`).
/// Bedrock's listings are on its control plane, signed like its runtime calls.
pub fn outbound<P: Platform>(p: &P, node: &Node, method: Method, path: &str, body: Option<&Value>) -> Outbound {
    let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
    let absolute = path.starts_with("http://") || path.starts_with("https://");
    if node.kind == NodeKind::Bedrock && !absolute {
        let url = format!("{}{path}", origins::bedrock::control_base(node));
        // Without usable credentials the request goes unsigned, and Bedrock's refusal is the
        // error the admin sees.
        let base = origins::headers(node, None);
        let headers = match origins::bedrock::auth(node, |s| p.open_secret(s)) {
            Ok(auth) => origins::bedrock::authorize(base, &auth, origins::bedrock::region(node), method.as_str(), &url, body.as_deref().unwrap_or(b""), p.now_ms()),
            Err(_) => base,
        };
        return Outbound { method, url, headers, body };
    }
    call::request(p, node, method, path, body)
}

/// Status and whole body (capped) of a request to a node, under a deadline; any status is Ok.
pub async fn request_raw<P: Platform>(p: &P, node: &Node, method: Method, path: &str, body: Option<&Value>, timeout_ms: u64) -> Result<(u16, Vec<u8>), String> {
    request_raw_max(p, node, method, path, body, timeout_ms, MAX_ANSWER_BYTES).await
}

async fn request_raw_max<P: Platform>(p: &P, node: &Node, method: Method, path: &str, body: Option<&Value>, timeout_ms: u64, max: usize) -> Result<(u16, Vec<u8>), String> {
    call::whole(p, outbound(p, node, method, path, body), timeout_ms, max).await
}

/// The cheap liveness probe for a node kind.
pub fn probe_path(node: &Node) -> String {
    if let Some(u) = node.health_url.as_deref().filter(|u| !u.is_empty()) {
        return u.to_string();
    }
    match node.kind {
        // /api/ps both proves the node answers and says which models are loaded.
        NodeKind::Ollama => "/api/ps".into(),
        NodeKind::Openai | NodeKind::Anthropic => "/v1/models".into(),
        // Signed like every Bedrock request: reachability and credentials, no tokens spent.
        NodeKind::Bedrock => origins::bedrock::discovery::PROBE_PATH.into(),
    }
}
