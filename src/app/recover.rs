//! Mid-stream recovery (`streams.recover`): the continuation a broken chat stream asks for.
//! The next candidates of the request's plan are tried in order; each is sent the conversation
//! plus the answer so far as a final assistant message (a prefill: Ollama's /api/chat continues
//! it; OpenAI-compatible origins get vLLM's `continue_final_message`), and the first whose
//! stream reaches an event continues the client's stream. An origin that answers the prefill
//! with a 4xx rejects it: no continuation, the stream ends with its in-band error. Attempts are
//! reported to the breakers like any other.

use super::job::Job;
use super::repairs::repair_for;
use crate::dialect::{ollama, openai, ChatRequest, Decoder, Message, Role};
use crate::origins::call::{self, Answer};
use crate::origins::failure::{Failure, Scope};
use crate::origins::{self, Api};
use crate::platform::Platform;
use crate::policy::{self, Target, UpstreamBody};
use crate::routes::Op;
use crate::routing::breaker::Outcome;
use crate::routing::plan::{Attempt, FailureClass, Planner};
use crate::state::snapshot::{Snapshot, User};
use crate::stream::relay::{Recover, Resumed};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Whether a stream of this request on this leg can be recovered: chat operations whose leg
/// is transcodable and that the planner can still continue.
pub(super) fn applies(job: &mut Job<'_>, api: Api) -> bool {
    matches!(job.op, Op::OllamaChat | Op::ChatCompletions | Op::Messages | Op::Responses) && matches!(api, Api::OpenAiChat | Api::OllamaChat) && job.ir().is_ok() && job.planner.is_some()
}

struct Ctx<P: Platform> {
    p: Rc<P>,
    snap: Rc<Snapshot>,
    user: User,
    op: Op,
    ir: ChatRequest,
    planner: RefCell<Planner>,
    /// The node the client's stream comes from now (its stream lease follows it).
    node: Rc<Cell<i64>>,
    lease: String,
}

/// The continuation for this request's stream (takes the rest of its plan along).
pub(super) fn continuation<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, job: &mut Job<'_>, node: Rc<Cell<i64>>) -> Option<Recover> {
    let ir = job.ir().ok()?.clone();
    let planner = job.planner.take()?;
    let ctx = Rc::new(Ctx { p: p.clone(), snap: snap.clone(), user: user.clone(), op: job.op.clone(), ir, planner: RefCell::new(planner), node, lease: job.record.id.clone() });
    Some(Box::new(move |partial: String, why: String| {
        let ctx = ctx.clone();
        Box::pin(async move { next(&ctx, partial, why).await })
    }))
}

async fn next<P: Platform>(ctx: &Ctx<P>, partial: String, why: String) -> Option<Resumed> {
    loop {
        let attempt = ctx.planner.borrow_mut().next(Some(FailureClass::NextNode))?;
        if ctx.p.client_gone() {
            return None;
        }
        match once(ctx, &attempt, &partial, &why).await {
            Ok(r) => return Some(r),
            Err(None) => continue,
            Err(Some(f)) => {
                let (scope, outcome) = call::report(&f);
                ctx.p.attempt_ended(attempt.node_id, &attempt.real, scope, &outcome);
                crate::log::platform_log(&format!("mid-stream recovery on node {} failed: {f}", attempt.node_id));
                if f.ends_recovery() {
                    return None;
                }
            }
        }
    }
}

/// One continuation attempt. Err(None): this candidate cannot take it (skipped, nothing
/// reported); Err(Some): it failed.
async fn once<P: Platform>(ctx: &Ctx<P>, attempt: &Attempt, partial: &str, why: &str) -> Result<Resumed, Option<Failure>> {
    let (p, snap) = (&ctx.p, &ctx.snap);
    let node = snap.node(attempt.node_id).ok_or(None)?;
    let leg = origins::leg(&ctx.op, node.kind).ok_or(None)?;
    if !matches!(leg.api, Api::OpenAiChat | Api::OllamaChat) {
        return Err(None);
    }
    let target = Target { snap, user: &ctx.user, group: attempt.group.as_deref(), model: &attempt.model, real: &attempt.real, node, upstream: UpstreamBody::of(leg.api) };
    if policy::in_maintenance(&target) {
        return Err(None);
    }
    let mut ir = ctx.ir.clone();
    ir.stream = true;
    ir.messages.push(Message::text(Role::Assistant, partial));
    let v = match leg.api {
        Api::OllamaChat => ollama::encode_chat_request(&ir, &attempt.real).map_err(|_| None)?,
        _ => {
            let mut v = openai::encode_request(&ir, &attempt.real);
            if let Value::Object(m) = &mut v {
                // vLLM's continuation form: go on from the final assistant message.
                m.insert("continue_final_message".into(), Value::Bool(true));
                m.insert("add_generation_prompt".into(), Value::Bool(false));
                m.insert("stream_options".into(), serde_json::json!({"include_usage": true}));
            }
            v
        }
    };
    let Value::Object(mut body) = v else { return Err(None) };
    policy::apply(&mut body, &target);
    // Claimed last: every path after this reports an outcome (a half-open probe is never lost).
    if !p.attempt_begins(node.id, &attempt.real, attempt.forced) {
        return Err(None);
    }
    let out = call::inference(&**p, node, origins::url(node, leg.api.path()), &[], serde_json::to_vec(&body).unwrap_or_default());
    let ttfb = snap.settings.ttfb_ms;
    let deadline = p.now_ms() + ttfb;
    let mut reply = match call::attempt(&**p, out, ttfb).await.map_err(Some)? {
        Answer::Good { reply, .. } => reply,
        Answer::Status { failure, .. } => return Err(Some(failure)),
    };
    let first = call::first_event(&**p, &mut reply.body, deadline, ttfb, usize::MAX).await.map_err(Some)?;
    p.attempt_ended(node.id, &attempt.real, Scope::Pair, &Outcome::Success);
    let old = ctx.node.replace(node.id);
    p.stream_ended(old, &ctx.lease);
    p.stream_started(node.id, &ctx.lease);
    Ok(Resumed { upstream: reply.body, first, decoder: Decoder::for_api(leg.api), repair: repair_for(leg, &target), note: format!("{why}; continued on node '{}'", node.name) })
}
