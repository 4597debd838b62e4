//! Listings and model information that need the snapshot or an origin: `/api/show`, `/api/ps`
//! and `/v1/messages/count_tokens`, always under the names the client may call. The shapes are
//! the dialects' (`dialect::<name>::models`).

use super::input::{model_field, parse_object};
use super::names::{callable, visible};
use crate::net::Method;
use crate::origins::call::{self, read_all, within};
use crate::dialect::anthropic;
use crate::dialect::ollama as ol;
use crate::error::GatewayError;
use crate::net::{Inbound, Reply};
use crate::platform::Platform;
use crate::routes::Op;
use crate::routing::catalog;
use crate::state::snapshot::{same_model, NodeKind, Snapshot, User};
use serde_json::{json, Value};
use std::rc::Rc;

/// Anthropic's token count: a documented estimate (no origin call; see `dialect::anthropic`).
pub(super) fn count_tokens(snap: &Snapshot, user: &User, req: &Inbound) -> Result<Reply, GatewayError> {
    let body = parse_object(&req.body)?;
    let model = model_field(&body, "model")?;
    callable(snap, user, &model)?;
    let n = anthropic::count_tokens(&body)?;
    Ok(Reply::json(200, &json!({ "input_tokens": n })))
}

/// `/api/show`: access-checked, answered by an Ollama node that has the model, with the
/// gateway's context length and capabilities merged in.
pub(super) async fn show<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, req: &Inbound) -> Result<Reply, GatewayError> {
    let body = parse_object(&req.body)?;
    let name = if body.contains_key("model") { model_field(&body, "model")? } else { model_field(&body, "name")? };
    let entry = callable(snap, user, &name)?;
    let origin = match entry.backing {
        Some((node, nm)) if node.kind == NodeKind::Ollama && node.active => {
            let mut b = body.clone();
            b.remove("name");
            b.insert("model".into(), Value::String(nm.name.clone()));
            let out = call::request(&**p, node, Method::POST, "/api/show", serde_json::to_vec(&b).ok());
            match within(&**p, snap.settings.probe_timeout_ms.max(5000), p.fetch(out)).await {
                Some(Ok(r)) if r.status == 200 => read_all(&**p, r.body, 10_000, 64 << 20).await.ok().and_then(|b| serde_json::from_slice(&b).ok()),
                _ => None,
            }
        }
        _ => None,
    };
    Ok(Reply::json(200, &ol::show(&entry, origin)))
}

/// `/api/ps`: models loaded on every active Ollama node, under names the user may call.
pub(super) async fn ps<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User) -> Result<Reply, GatewayError> {
    let nodes: Vec<_> = snap.nodes.iter().filter(|n| n.active && n.kind == NodeKind::Ollama).collect();
    let calls = nodes.iter().map(|node| {
        let out = call::request(&**p, node, Method::GET, "/api/ps", None);
        let p = p.clone();
        async move {
            match within(&*p, 5000, p.fetch(out)).await {
                Some(Ok(r)) if r.status == 200 => read_all(&*p, r.body, 5000, 16 << 20).await.ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
                _ => None,
            }
        }
    });
    let answers = futures::future::join_all(calls).await;
    let names = visible(snap, user, &Op::OllamaChat);
    let mut models: Vec<Value> = Vec::new();
    for (node, answer) in nodes.iter().zip(answers) {
        let Some(list) = answer.as_ref().and_then(|a| a.get("models")).and_then(Value::as_array) else { continue };
        for m in list {
            let real = m.get("model").or_else(|| m.get("name")).and_then(Value::as_str).unwrap_or("");
            // Every callable name that resolves to this real model on this node.
            for e in &names {
                let hit = match &e.kind {
                    catalog::EntryKind::Mapping(map) => {
                        same_model(&map.real, real) && (map.node_ids.is_empty() || map.node_ids.contains(&node.id))
                    }
                    catalog::EntryKind::Real => same_model(&e.name, real) && !catalog::hidden_on(snap, node, real),
                    catalog::EntryKind::Group(_) => false,
                };
                if hit && !models.iter().any(|x| x["name"] == e.name.as_str()) {
                    let mut entry = ol::ps_entry(m, e);
                    entry["name"] = json!(e.name);
                    entry["model"] = json!(e.name);
                    models.push(entry);
                }
            }
        }
    }
    Ok(Reply::json(200, &json!({ "models": models })))
}
