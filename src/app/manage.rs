//! Ollama model operations through the gateway (`/api/pull`, `/api/push`, `/api/copy`,
//! `/api/delete`, `/api/create`), for users an admin granted model management. Names here are
//! the nodes' real names. Pull and create go to one node (the one named in the body's `node`
//! field — name, code or id — else the first healthy Ollama node by priority); push goes to a
//! node that has the model; copy and delete act on every node that has it.

use super::input::parse_object;
use crate::net::Method;
use crate::error::GatewayError;
use crate::net::{Body, Inbound, Outbound, Reply};
use crate::origins::call::{self, read_all, within};
use crate::origins;
use crate::platform::Platform;
use crate::routes::Op;
use crate::state::snapshot::{same_model, Health, Node, NodeKind, Snapshot, User};
use crate::stream::progress::PullProgress;
use crate::stream::relay::{self, Timer};
use serde_json::{json, Map, Value};
use std::rc::Rc;

/// Model downloads can verify large layers silently for a while.
const PROGRESS_IDLE_MS: u64 = 300_000;

fn name_field(body: &Map<String, Value>, keys: &[&str]) -> Result<String, GatewayError> {
    keys.iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str).filter(|s| !s.trim().is_empty()).map(String::from))
        .ok_or_else(|| GatewayError::bad_field(keys[0], format!("'{}' is required", keys[0])))
}

fn ollama_nodes(snap: &Snapshot) -> Vec<&Node> {
    let mut v: Vec<&Node> = snap.nodes.iter().filter(|n| n.active && n.kind == NodeKind::Ollama).collect();
    v.sort_by_key(|n| (n.health == Health::Unhealthy, n.priority, n.id));
    v
}

fn has_model(n: &Node, model: &str) -> bool {
    n.models.iter().any(|m| same_model(&m.name, model))
}

fn named_node<'a>(nodes: &[&'a Node], which: &str) -> Option<&'a Node> {
    nodes.iter().copied().find(|n| n.name == which || n.code.as_deref() == Some(which) || n.id.to_string() == which)
}

pub(super) async fn handle<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, op: &Op, req: &Inbound) -> Result<Reply, GatewayError> {
    if !user.can_manage_models {
        return Err(GatewayError::Forbidden("model management is not granted to this user (an admin can set can_manage_models)".into()));
    }
    let mut body = parse_object(&req.body)?;
    let nodes = ollama_nodes(snap);
    if nodes.is_empty() {
        return Err(GatewayError::NoHealthyNode("no active Ollama node".into()));
    }
    let requested_node = body.remove("node").and_then(|v| v.as_str().map(String::from).or_else(|| v.as_i64().map(|i| i.to_string())));
    let pick_one = |model: Option<&str>| -> Result<&Node, GatewayError> {
        if let Some(w) = &requested_node {
            return named_node(&nodes, w).ok_or_else(|| GatewayError::NotFound(format!("no active Ollama node '{w}'")));
        }
        match model {
            Some(m) => nodes.iter().copied().find(|n| has_model(n, m)).ok_or_else(|| GatewayError::NotFound(format!("model '{m}' not found on any node"))),
            None => Ok(nodes[0]),
        }
    };
    match op {
        Op::OllamaPull | Op::OllamaCreate => {
            name_field(&body, &["model", "name"])?;
            let node = pick_one(None)?;
            forward_progress(p, node, op, body).await
        }
        Op::OllamaPush => {
            let model = name_field(&body, &["model", "name"])?;
            let node = pick_one(Some(&model))?;
            forward_progress(p, node, op, body).await
        }
        Op::OllamaCopy => {
            let source = name_field(&body, &["source"])?;
            name_field(&body, &["destination"])?;
            let targets: Vec<&Node> = match &requested_node {
                Some(_) => vec![pick_one(None)?],
                None => nodes.iter().copied().filter(|n| has_model(n, &source)).collect(),
            };
            fan_out(p, &targets, Method::POST, "/api/copy", &body, &source).await
        }
        Op::OllamaDelete => {
            let model = name_field(&body, &["model", "name"])?;
            let targets: Vec<&Node> = match &requested_node {
                Some(_) => vec![pick_one(None)?],
                None => nodes.iter().copied().filter(|n| has_model(n, &model)).collect(),
            };
            fan_out(p, &targets, Method::DELETE, "/api/delete", &body, &model).await
        }
        _ => Err(GatewayError::NotFound("no such operation".into())),
    }
}

fn outbound<P: Platform>(p: &P, node: &Node, method: Method, path: &str, body: &Map<String, Value>) -> Outbound {
    call::request(p, node, method, path, serde_json::to_vec(body).ok())
}

/// Pull/push/create: stream the node's progress lines (never a fake `success`).
async fn forward_progress<P: Platform>(p: &Rc<P>, node: &Node, op: &Op, body: Map<String, Value>) -> Result<Reply, GatewayError> {
    let path = match op {
        Op::OllamaPull => "/api/pull",
        Op::OllamaPush => "/api/push",
        _ => "/api/create",
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(true);
    let r = match within(&**p, 30_000, p.fetch(outbound(&**p, node, Method::POST, path, &body))).await {
        None => return Err(GatewayError::UpstreamTimeout(format!("node '{}' did not answer", node.name))),
        Some(Err(e)) => return Err(GatewayError::UpstreamUnavailable(format!("node '{}': {e}", node.name))),
        Some(Ok(r)) => r,
    };
    if !(200..300).contains(&r.status) {
        let text = read_all(&**p, r.body, 30_000, 1 << 20).await.map(|b| origins::error_text(&b)).unwrap_or_default();
        return Err(GatewayError::Upstream { status: r.status, message: format!("node '{}': {text}", node.name) });
    }
    if !stream {
        let bytes = read_all(&**p, r.body, PROGRESS_IDLE_MS, 1 << 20).await.map_err(GatewayError::UpstreamUnavailable)?;
        return Ok(Reply::json_bytes(200, bytes));
    }
    let timer: Rc<dyn Timer> = p.clone();
    let body = relay::relay(r.body, r.native, Vec::new(), Box::new(PullProgress::new(None)), timer, PROGRESS_IDLE_MS, Box::new(|_| {}));
    Ok(Reply {
        status: 200,
        headers: vec![("content-type".into(), "application/x-ndjson".into()), ("content-encoding".into(), "identity".into()), ("cache-control".into(), "no-cache".into())],
        body: Body::Relay(body),
    })
}

/// Copy/delete on each node that has the model: 200 when every node succeeded.
async fn fan_out<P: Platform>(p: &Rc<P>, targets: &[&Node], method: Method, path: &str, body: &Map<String, Value>, model: &str) -> Result<Reply, GatewayError> {
    if targets.is_empty() {
        return Err(GatewayError::NotFound(format!("model '{model}' not found on any node")));
    }
    let mut results = Vec::new();
    let mut failed: Option<(u16, String)> = None;
    for node in targets {
        let outcome = match within(&**p, 30_000, p.fetch(outbound(&**p, node, method.clone(), path, body))).await {
            None => Err((504, "no answer".to_string())),
            Some(Err(e)) => Err((502, e)),
            Some(Ok(r)) if (200..300).contains(&r.status) => Ok(()),
            Some(Ok(r)) => {
                let status = r.status;
                let text = read_all(&**p, r.body, 30_000, 1 << 20).await.map(|b| origins::error_text(&b)).unwrap_or_default();
                Err((status, text))
            }
        };
        match outcome {
            Ok(()) => results.push(json!({"node": node.name, "status": "success"})),
            Err((status, e)) => {
                results.push(json!({"node": node.name, "error": e}));
                failed.get_or_insert((status, format!("node '{}': {e}", node.name)));
            }
        }
    }
    match failed {
        None => Ok(Reply::json(200, &json!({"status": "success", "nodes": results}))),
        Some((status, message)) => Err(GatewayError::Upstream { status: if status >= 500 { 502 } else { status }, message }),
    }
}
