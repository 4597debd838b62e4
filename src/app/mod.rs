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
pub mod input;
mod infer;
mod job;
mod listings;
mod manage;
pub mod names;
pub mod me;
mod recover;
mod repairs;
mod respond;
mod stored;
pub mod tools;

use crate::auth;
use crate::error::GatewayError;
use crate::dialect::{self, ollama as ol, openai as oa};
use crate::net::{Inbound, Reply};
use input::parse_object;
use names::{callable, claude_name, visible};
use crate::platform::Platform;
use crate::routes::{self, Endpoint, Op};
use crate::state::snapshot::{Snapshot, User};
use crate::types::Dialect;
use serde_json::json;
use std::rc::Rc;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Handle one request against the current snapshot. Never panics on client input; every
/// failure is rendered in the client's dialect.
pub async fn handle<P: Platform>(p: Rc<P>, snap: Rc<Snapshot>, req: Inbound) -> Reply {
    let ep = routes::resolve(req.method.as_str(), &req.path);
    serve(p, snap, ep, req).await
}

/// `handle` for a request whose route the caller already resolved (the edge resolves it once,
/// to answer health, readiness and the admin API before any snapshot is loaded).
pub async fn serve<P: Platform>(p: Rc<P>, snap: Rc<Snapshot>, ep: Result<Endpoint, (Dialect, GatewayError)>, req: Inbound) -> Reply {
    let ep = match ep {
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

