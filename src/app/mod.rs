//! `handle`: one gateway request from route to response, as plain sequential steps.
//!
//! route (`routes`) -> authenticate (`auth`) -> per operation:
//! - inference (`infer`): parse -> catalog + allow-list -> plan -> admit (limits) -> attempts
//!   (leg, upstream body + `policy`, send, classify, fail over before the first byte) ->
//!   answer (`respond`: passthrough, transcode, or JSON) -> `Platform::finish` with usage;
//! - listings and model info (`listings`), model management (`manage`).
//!
//! Every error becomes a response in the client's dialect in exactly one place
//! (`dialect::render_error`).

pub mod cors;
#[cfg(test)]
mod hangup_tests;
mod infer;
mod listings;
mod manage;
pub mod me;
mod recover;
mod respond;
mod stored;
pub mod tools;

use crate::auth;
use crate::error::GatewayError;
use crate::dialect::{self, ollama as ol, openai as oa};
use crate::net::{ByteStream, Inbound, Reply};
use crate::platform::Platform;
use crate::routes::{self, Endpoint, Op};
use crate::routing::catalog::{self, Entry};
use crate::routing::scope::{self, Scope};
use crate::state::snapshot::{Snapshot, User};
use crate::stream::relay::Timer;
use futures::future::{select, Either};
use futures::StreamExt;
use serde_json::{json, Map, Value};
use std::rc::Rc;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Handle one request against the current snapshot. Never panics on client input; every
/// failure is rendered in the client's dialect.
pub async fn handle<P: Platform>(p: Rc<P>, snap: Rc<Snapshot>, req: Inbound) -> Reply {
    let ep = match routes::resolve(&req.method, &req.path) {
        Ok(ep) => ep,
        Err((dialect, e)) => return dialect::render_error(dialect, &e),
    };
    let dialect = ep.dialect;
    let reply = match dispatch(&p, &snap, &ep, &req).await {
        Ok(reply) => reply,
        Err(e) => dialect::render_error(dialect, &e),
    };
    if snap.settings.cors_allowed_origins.is_empty() {
        return reply;
    }
    cors::decorate(&snap.settings.cors_allowed_origins, &req, reply)
}

async fn dispatch<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, ep: &Endpoint, req: &Inbound) -> Result<Reply, GatewayError> {
    match &ep.op {
        Op::Root => return Ok(tools::root(routes::tool_of(&req.path), req, VERSION)),
        Op::Health | Op::Hello => return Ok(Reply::json(200, &json!({"status": "ok"}))),
        Op::Preflight => return Ok(cors::preflight(&snap.settings.cors_allowed_origins, req)),
        Op::Ready | Op::Metrics | Op::Admin | Op::Me => return Err(GatewayError::Internal("handled by the edge".into())),
        _ => {}
    }
    let now_s = (p.now_ms() / 1000) as i64;
    let principal = auth::authenticate(req, snap, p.jwt_secret(), now_s)?;
    let user: &User = &principal.user;
    let tool = routes::tool_of(&req.path);
    let rewritten = tools::rewrite(tool, &ep.op, req, &|model| claude_name(snap, user, model))?;
    let req = rewritten.as_ref().unwrap_or(req);
    // Cursor's Anthropic content blocks in chat messages, rewritten once for every leg.
    let blocks = if ep.op == Op::ChatCompletions { anthropic_blocks(req)? } else { None };
    let req = blocks.as_ref().unwrap_or(req);
    match &ep.op {
        Op::OllamaVersion => Ok(Reply::json(200, &json!({"version": snap.settings.ollama_version}))),
        Op::OllamaTags => Ok(Reply::json(200, &ol::tags(&visible(snap, user, &Op::OllamaChat)))),
        // Anthropic SDKs list models at the same path; they announce themselves by header.
        Op::Models if tool == Some(routes::Tool::Claude) && tools::is_claude_desktop(req) => Ok(Reply::json(200, &tools::claude_desktop_models(&visible(snap, user, &Op::Messages)))),
        Op::Models if tool == Some(routes::Tool::Claude) => Ok(Reply::json(200, &dialect::anthropic::models_list(&visible(snap, user, &Op::Messages)))),
        Op::Models if tool == Some(routes::Tool::Codex) => Ok(Reply::json(200, &tools::codex_models(&visible(snap, user, &Op::Responses)))),
        Op::Models if req.header("anthropic-version").is_some() => Ok(Reply::json(200, &dialect::anthropic::models_list(&visible(snap, user, &Op::Messages)))),
        Op::Models => Ok(Reply::json(200, &oa::models_list(&visible(snap, user, &Op::ChatCompletions)))),
        Op::Model(id) => {
            let e = callable(snap, user, id)?;
            Ok(Reply::json(200, &oa::model_object(&e)))
        }
        Op::OllamaShow => listings::show(p, snap, user, req).await,
        Op::OllamaPs => listings::ps(p, snap, user).await,
        Op::CountTokens => listings::count_tokens(snap, user, req),
        Op::ResponseGet(_) | Op::ResponseDelete(_) | Op::ResponseInputItems(_) => stored::handle(p, user, &ep.op, req).await,
        op if op.is_model_management() => manage::handle(p, snap, user, op, req).await,
        op if op.is_inference() => Ok(infer::run(p, snap, user, ep, req).await),
        _ => Err(GatewayError::NotFound("no such operation".into())),
    }
}

/// Catalog entries the user may call that some node can serve for `op`.
fn visible<'a>(snap: &'a Snapshot, user: &User, op: &Op) -> Vec<Entry<'a>> {
    let kinds = crate::origins::kinds_for(op);
    let scope = Scope::of(user, None);
    catalog::entries(snap).into_iter().filter(|e| catalog::allowed(user, &e.name) && catalog::served_by(e, &kinds) && scope::reachable(snap, &scope, e, &kinds)).collect()
}

/// What a Claude-side model name stands for (`tools::claude_name`), among the names this user
/// may call.
fn claude_name(snap: &Snapshot, user: &User, model: &str) -> Option<String> {
    let exists = |n: &str| catalog::find(snap, n).is_some();
    if model.starts_with("claude-maestro-") {
        let names: Vec<String> = visible(snap, user, &Op::Messages).into_iter().map(|e| e.name).collect();
        return tools::claude_name(model, &names, &exists);
    }
    tools::claude_name(model, &[], &exists)
}

/// The entry for a requested name if it exists and the user may call it. Otherwise 404 with one
/// message whether the name is unknown or outside the user's allow-list: a different answer
/// would confirm which hidden names exist (README, "403 or 404").
fn callable<'a>(snap: &'a Snapshot, user: &User, name: &str) -> Result<Entry<'a>, GatewayError> {
    callable_in(snap, user, name, None)
}

/// `callable` within the user's node rules and a pinned node (`routing::scope`): a name no
/// node the user may use serves is unknown to them too. A name no catalog lists yet is callable
/// when a `route_unknown_models` node in scope takes it.
fn callable_in<'a>(snap: &'a Snapshot, user: &User, name: &str, pin: Option<i64>) -> Result<Entry<'a>, GatewayError> {
    let scope = Scope::of(user, pin);
    let allowed = catalog::allowed(user, name);
    match catalog::find(snap, name).filter(|_| allowed) {
        Some(e) if scope::reachable(snap, &scope, &e, &[]) => Ok(e),
        None if allowed && !scope::unknown_model_nodes(snap, &scope, name, &[]).is_empty() => Ok(Entry {
            name: name.to_string(),
            kind: catalog::EntryKind::Real,
            backing: None,
            context_length: catalog::context_length(snap, None, None, name),
            capabilities: vec!["completion".to_string()],
        }),
        _ => Err(GatewayError::NotFound(catalog::not_callable(name))),
    }
}

/// Parse a JSON object body; the error says what is wrong.
/// A chat body holding Anthropic content blocks, rewritten (`dialect::chat_blocks`); None
/// for every other body, which only a byte scan looked at.
fn anthropic_blocks(req: &Inbound) -> Result<Option<Inbound>, GatewayError> {
    if !crate::dialect::chat_blocks::may_have_blocks(&req.body) {
        return Ok(None);
    }
    let mut body = parse_object(&req.body)?;
    if !crate::dialect::chat_blocks::normalize(&mut body) {
        return Ok(None);
    }
    Ok(Some(Inbound { body: serde_json::to_vec(&body).unwrap_or_default(), ..req.clone() }))
}

pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, GatewayError> {
    if body.is_empty() {
        return Err(GatewayError::bad_request("request body is empty; expected a JSON object"));
    }
    let text = std::str::from_utf8(body).map_err(|e| GatewayError::bad_request(format!("request body is not valid UTF-8 (byte {})", e.valid_up_to())))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(GatewayError::bad_request("request body must be a JSON object")),
        Err(e) => Err(GatewayError::bad_request(format!("invalid JSON: {e}"))),
    }
}

fn model_field(body: &Map<String, Value>, key: &str) -> Result<String, GatewayError> {
    match body.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None => Err(GatewayError::bad_field(key, format!("'{key}' is required"))),
        Some(_) => Err(GatewayError::bad_field(key, format!("'{key}' must be a string"))),
    }
}

/// Race a future against a deadline.
async fn within<T>(timer: &dyn Timer, ms: u64, fut: impl std::future::Future<Output = T>) -> Option<T> {
    let fut = std::pin::pin!(fut);
    match select(fut, timer.sleep(ms)).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// Read a whole (non-streamed) origin body with an idle deadline per chunk and a size cap.
async fn read_all(timer: &dyn Timer, mut body: ByteStream, idle_ms: u64, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        match within(timer, idle_ms, body.next()).await {
            None => return Err(format!("the origin sent nothing for {idle_ms} ms")),
            Some(None) => return Ok(out),
            Some(Some(Err(e))) => return Err(e),
            Some(Some(Ok(b))) => {
                out.extend_from_slice(&b);
                if out.len() > max {
                    return Err(format!("the origin's answer exceeds {max} bytes"));
                }
            }
        }
    }
}
