//! The inference pipeline: parse, catalog and allow-list, plan, admit, then attempts with
//! failover before the first byte. Each attempt picks a leg (which upstream API, translated or
//! not), builds the upstream body and shapes it (`policy`), sends it, classifies the answer, and
//! hands a good one to `respond`.

use super::job::{AttemptResult, Job};
use super::respond;
use super::input::{model_field, parse_object};
use crate::costs;
use crate::types::Dialect;
use crate::dialect::{self, ollama, responses, ChatRequest};
use crate::error::GatewayError;
use crate::limits;
use crate::net::{Inbound, Outbound, Reply};
use http::Method;
use crate::origins::failure::{Failure, Next, Scope};
use crate::origins::call::{self, Answer};
use crate::origins::{self, bedrock, Api, Leg};
use crate::platform::{Platform, Settlement};
use crate::policy::{self, Target, UpstreamBody};
use crate::routes::{Endpoint, Op};
use crate::routing::breaker::Outcome;
use crate::routing::needs;
use crate::routing::plan::{self, Attempt, Draws, FailureClass, Planner};
use crate::routing::scope::{self, Scope as NodeScope};
use crate::state::snapshot::{NodeKind, Snapshot, User};
use serde_json::{Map, Value};
use std::rc::Rc;

fn stream_flag(body: &Map<String, Value>, op: &Op) -> Result<bool, GatewayError> {
    let default = matches!(op, Op::OllamaChat | Op::OllamaGenerate);
    let streams = matches!(op, Op::OllamaChat | Op::OllamaGenerate | Op::ChatCompletions | Op::Completions | Op::Messages | Op::Responses);
    match body.get("stream") {
        None | Some(Value::Null) => Ok(default && streams),
        Some(Value::Bool(b)) => Ok(*b && streams),
        Some(_) => Err(GatewayError::bad_field("stream", "'stream' must be true or false")),
    }
}

/// An inference request. Every outcome after authentication yields exactly one usage record
/// (errors included) and carries the rate-limit headers of the limits that applied.
pub(super) async fn run<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, ep: &Endpoint, req: &Inbound) -> Reply {
    let mut job = Job::new(&**p, snap, user, ep, req);
    // Span content is opt-in (`otel.capture_content`); spans are made when the record is finished.
    if snap.settings.observe.otel.as_ref().is_some_and(|o| o.capture_content) {
        p.trace_content(&job.record.id, &req.body, snap.settings.observe.payload.max_bytes);
    }
    let mut limit_headers = Vec::new();
    let mut reply = match steps(p, snap, user, req, &mut job, &mut limit_headers).await {
        Ok(reply) => reply,
        Err(e) => {
            job.failed(&**p, &e);
            respond::responses_failed(p, &job, &e).unwrap_or_else(|| dialect::render_error(job.dialect, &e))
        }
    };
    for (k, v) in limit_headers {
        reply.set_header(&k, v);
    }
    // Payload logging: one branch when off (`observe::payload`).
    if snap.settings.observe.payload.enabled {
        reply = crate::observe::payload::observe(p, &snap.settings.observe.payload, user, &job.record, req, reply);
    }
    reply
}

async fn steps<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, req: &Inbound, job: &mut Job<'_>, limit_headers: &mut Vec<(String, String)>) -> Result<Reply, GatewayError> {
    if req.body.len() > snap.settings.max_body_bytes {
        return Err(GatewayError::PayloadTooLarge { limit: snap.settings.max_body_bytes });
    }
    let body = parse_object(&req.body)?;
    let requested = model_field(&body, "model")?;
    job.record.requested_model = requested.clone();
    let stream = stream_flag(&body, job.op)?;
    job.record.stream = stream;
    job.body = body;
    // Stored Responses: item references and previous_response_id resolved into the input.
    if *job.op == Op::Responses {
        job.responses = Some(super::stored::prepare(&**p, user, &mut job.body).await?);
    }
    // Responses requests are validated up front (their shape is strict). Anthropic requests are
    // not: a same-dialect leg forwards what it does not need to read, and the origin judges it;
    // a translated leg decodes them when it is chosen.
    if matches!(job.op, Op::Responses) {
        job.ir()?;
    }
    // `node:{code}:{model}` pins a node; the rest of the pipeline sees the bare model name.
    let (pin, requested) = match scope::split_pin(snap, user, &requested)? {
        Some((node, model)) => (Some(node), model.to_string()),
        None => (None, requested),
    };
    super::names::callable_in(snap, user, &requested, pin)?;
    let config = snap.model_config(&requested);
    if config.is_some_and(|c| c.maintenance) {
        return Err(GatewayError::Maintenance(format!("model '{requested}' is in maintenance; try again later")));
    }
    let kinds = origins::kinds_for(job.op);
    let mut draws = Draws { counters: p.counters(&plan::counter_keys(snap, &requested)).await, random: (0..8).map(|_| p.random()).collect() };
    let mut planner = Planner::scoped(snap, &requested, needs::of(&job.body), &kinds, p.nodes(), &mut draws, p.now_ms(), &NodeScope::of(user, pin))?;

    // Admission last: requests refused before this point never touch the user's quota.
    let now = p.now_ms();
    let mut states = Vec::new();
    for (scope, rules) in limits::scopes::plan(user, config) {
        match p.admit(&scope, &rules, now).await {
            Ok((d, ticket)) => {
                states.extend(d.states.clone());
                if !d.admitted {
                    *limit_headers = limits::headers(&states);
                    let what = limits::describe(&scope, d.blocked_by.as_deref(), &requested);
                    return Err(GatewayError::RateLimited { message: format!("rate limit reached: {what}; retry in {} s", d.retry_after), retry_after: d.retry_after });
                }
                job.settle.push(Settlement { scope, rules, admitted_ms: now, ticket, cost: false });
            }
            Err(e) if snap.settings.limits_fail_open => crate::log::platform_log(&format!("limits store unavailable for {scope}, admitting without a limit check (limits.fail_open=true): {e}")),
            Err(e) => {
                crate::log::platform_log(&format!("limits store unavailable for {scope}, rejecting with 503 (limits.fail_open=false): {e}"));
                return Err(GatewayError::Dependency(format!("the limits store is unavailable: {e}")));
            }
        }
    }
    *limit_headers = limits::headers(&states);
    budgets(p, snap, user, job, &mut planner, limit_headers).await?;

    job.requested = requested;
    job.stream = stream;
    let forced_because = planner.forced_because().map(String::from);
    job.planner = Some(planner);
    let mut failures: Vec<String> = Vec::new();
    let mut last: Option<FailureClass> = None;
    let mut last_status = 502;
    let mut maintenance_only = true;
    while let Some(attempt) = job.planner.as_mut().and_then(|pl| pl.next(last)) {
        let node = snap.node(attempt.node_id).map(|n| n.name.clone()).unwrap_or_else(|| "?".into());
        if p.client_gone() {
            return Err(abandoned(p, job, &attempt));
        }
        // Another request of this isolate may have taken the half-open probe since planning.
        if !p.attempt_begins(attempt.node_id, &attempt.real, attempt.forced) {
            failures.push(format!("{node}: skipped, its circuit breaker opened meanwhile"));
            last = Some(FailureClass::NextNode);
            maintenance_only = false;
            continue;
        }
        let result = {
            let run = std::pin::pin!(attempt_once(p, snap, user, job, &attempt));
            let gone = std::pin::pin!(p.client_left());
            match futures::future::select(run, gone).await {
                futures::future::Either::Left((r, _)) => r,
                futures::future::Either::Right(_) => AttemptResult::Abandoned,
            }
        };
        // A failure that arrives after the client left (e.g. the origin resetting the
        // connection we abandoned) is not the origin's fault: it counts for nothing.
        let result = if p.client_gone() && !matches!(result, AttemptResult::Served(_)) { AttemptResult::Abandoned } else { result };
        let (scope, outcome) = match &result {
            AttemptResult::Served(_) => (Scope::Pair, Outcome::Success),
            AttemptResult::Failed(f) => call::report(f),
            _ => (Scope::Nothing, Outcome::Neutral),
        };
        p.attempt_ended(attempt.node_id, &attempt.real, scope, &outcome);
        match result {
            AttemptResult::Served(reply) => return Ok(reply),
            AttemptResult::Abandoned => return Err(abandoned(p, job, &attempt)),
            AttemptResult::Final(e) => {
                finish_error(p, job, &attempt, &e);
                return Err(e);
            }
            AttemptResult::Failed(f) => {
                let class = match f.next() {
                    Next::Client => {
                        let e = GatewayError::Upstream { status: f.status(), message: client_message(snap, user, job, &attempt, f.origin_message()) };
                        finish_error(p, job, &attempt, &e);
                        return Err(e);
                    }
                    Next::TooLarge if attempt.group.is_some() => FailureClass::TooLarge,
                    Next::TooLarge => {
                        let e = GatewayError::Upstream { status: 413, message: f.origin_message() };
                        finish_error(p, job, &attempt, &e);
                        return Err(e);
                    }
                    Next::NextNode => FailureClass::NextNode,
                };
                maintenance_only &= f.is_maintenance();
                failures.push(format!("{node}: {f}"));
                last = Some(class);
                last_status = f.status();
            }
        }
    }
    let mut summary = format!("all {} attempt(s) for '{}' failed: {}", failures.len(), job.requested, failures.join("; "));
    if let Some(why) = forced_because {
        summary = format!("every candidate for '{}' is failing ({why}); tried the one that failed longest ago: {}", job.requested, failures.join("; "));
    }
    if maintenance_only && !failures.is_empty() {
        return Err(GatewayError::Maintenance(format!("'{}' is in maintenance; try again later", job.requested)));
    }
    // Origins' 5xx become 502 Bad Gateway: the gateway is what the client talked to.
    let err = match last_status {
        504 => GatewayError::UpstreamTimeout(summary),
        s if s >= 500 => GatewayError::UpstreamUnavailable(summary),
        s => GatewayError::Upstream { status: s, message: summary },
    };
    job.record.reached_origin = true;
    Err(err)
}

/// Admission under the caller's budgets (`costs::budget`), after the limits: only when some
/// candidate costs something. A spent budget leaves the free candidates when there are any
/// (a budget never blocks a free model), else refuses with 429 and the window's Retry-After.
async fn budgets<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, job: &mut Job<'_>, planner: &mut Planner, headers: &mut Vec<(String, String)>) -> Result<(), GatewayError> {
    let scopes = costs::budget::plan(snap, user);
    if scopes.is_empty() || planner.candidates().all(|(node, real)| costs::is_free(snap, real, node)) {
        return Ok(());
    }
    let now = p.now_ms();
    let mut states = Vec::new();
    for (scope, rules) in scopes {
        match p.admit(&scope, &rules, now).await {
            Ok((d, ticket)) if d.admitted => {
                states.extend(d.states.iter().map(|s| (scope.clone(), s.clone())));
                job.settle.push(Settlement { scope, rules, admitted_ms: now, ticket, cost: true });
            }
            Ok((d, _)) => {
                if planner.retain(|node, real| costs::is_free(snap, real, node)) {
                    // Only free candidates remain: nothing to hold against any budget.
                    return Ok(());
                }
                states.extend(d.states.iter().map(|s| (scope.clone(), s.clone())));
                headers.extend(costs::budget::headers(snap, &states));
                let rule = d.blocked_by.as_deref().unwrap_or("day");
                return Err(GatewayError::BudgetExceeded { message: costs::budget::refusal(snap, &scope, rule, d.retry_after), retry_after: d.retry_after });
            }
            Err(e) if snap.settings.limits_fail_open => crate::log::platform_log(&format!("limits store unavailable for {scope}, admitting without a budget check (limits.fail_open=true): {e}")),
            Err(e) => {
                crate::log::platform_log(&format!("limits store unavailable for {scope}, rejecting with 503 (limits.fail_open=false): {e}"));
                return Err(GatewayError::Dependency(format!("the limits store is unavailable: {e}")));
            }
        }
    }
    headers.extend(costs::budget::headers(snap, &states));
    Ok(())
}

/// The client hung up before the first byte: the attempt was dropped (aborting its origin
/// call) and no other is started. Recorded as 499; nothing is blamed.
fn abandoned<P: Platform>(p: &Rc<P>, job: &mut Job<'_>, attempt: &Attempt) -> GatewayError {
    // Nobody reads this answer; 499 (nginx's "client closed request") marks it in usage.
    let e = GatewayError::Upstream { status: 499, message: "the client closed the connection before the first byte".into() };
    finish_error(p, job, attempt, &e);
    e
}

/// The origin's error text for the client. Anthropic clients get another origin's context
/// overflow in Anthropic's wording (`origins::overflow`), which Claude Code acts on.
fn client_message(snap: &Snapshot, user: &User, job: &Job<'_>, attempt: &Attempt, message: String) -> String {
    if job.dialect != Dialect::Anthropic {
        return message;
    }
    let context = snap.node(attempt.node_id).map(|node| {
        let t = Target { snap, user, group: attempt.group.as_deref(), model: &attempt.model, real: &attempt.real, node, upstream: UpstreamBody::Other };
        t.context_length() as u64
    });
    origins::overflow::anthropic_wording(&message, respond::prompt_estimate(job), context).unwrap_or(message)
}

fn finish_error<P: Platform>(p: &Rc<P>, job: &mut Job<'_>, attempt: &Attempt, e: &GatewayError) {
    job.failed_on(&**p, attempt, e.status(), e.message());
}

/// The upstream body for a leg: the client's JSON re-addressed, or translated from the IR.
/// Returns whether the gateway added a usage request the client did not make.
fn upstream_body(job: &mut Job<'_>, leg: Leg, node_id: i64, real: &str) -> Result<(Map<String, Value>, bool), GatewayError> {
    if !leg.translate {
        let (mut body, strip_usage) = origins::body(job.op, &job.body, real, job.stream);
        // The one edit a same-dialect Anthropic body gets beyond policy: another origin
        // family's thinking, which the API would reject, comes out (`anthropic::replay`).
        if *job.op == Op::Messages {
            crate::dialect::anthropic::replay::strip_foreign_thinking(&mut body);
        }
        return Ok((body, strip_usage));
    }
    let stream = job.stream;
    // The IR for this leg: reasoning a Responses client sent back only reaches the origin that
    // produced it (`responses::tools::settle_reasoning`).
    let leg_ir = |job: &mut Job<'_>| -> Result<ChatRequest, GatewayError> {
        let mut ir = job.ir()?.clone();
        ir.stream = stream;
        responses::tools::settle_reasoning(&mut ir, node_id, real);
        Ok(ir)
    };
    let v = match leg.api {
        Api::OpenAiEmbeddings => ollama::embed_request_to_openai(&job.body, real)?,
        Api::OpenAiCompletions => Value::Object(ollama::fim::completions_request(&job.body, real, stream)?),
        api => {
            let ir = leg_ir(job)?;
            dialect::encode_request(api, &ir, real).ok_or_else(|| GatewayError::Internal(format!("no translation to {api:?}")))??
        }
    };
    match v {
        Value::Object(m) => Ok((m, false)),
        _ => Err(GatewayError::Internal("translation produced a non-object body".into())),
    }
}

async fn attempt_once<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, job: &mut Job<'_>, attempt: &Attempt) -> AttemptResult {
    let Some(node) = snap.node(attempt.node_id) else {
        return AttemptResult::Failed(Failure::Unservable("node vanished".into()));
    };
    let Some(mut leg) = origins::leg(job.op, node.kind) else {
        return AttemptResult::Failed(Failure::Unservable("node cannot serve this endpoint".into()));
    };
    // Fill-in-the-middle (Continue) needs an OpenAI-compatible node's /v1/completions: chat
    // completions carry neither `suffix` nor a raw prompt.
    if *job.op == Op::OllamaGenerate && leg.api == Api::OpenAiChat && ollama::fim::is_fim(&job.body) {
        leg = Leg { api: Api::OpenAiCompletions, translate: true };
    }
    let target = Target { snap, user, group: attempt.group.as_deref(), model: &attempt.model, real: &attempt.real, node, upstream: UpstreamBody::of(leg.api) };
    if policy::in_maintenance(&target) {
        return AttemptResult::Failed(Failure::Maintenance(attempt.model.clone()));
    }
    let (mut body, strip_usage) = match upstream_body(job, leg, node.id, &attempt.real) {
        Ok(b) => b,
        Err(e) => return AttemptResult::Final(e),
    };
    if node.kind == NodeKind::Ollama && !leg.translate && matches!(leg.api, Api::OpenAiChat | Api::OpenAiCompletions) {
        origins::for_ollama_v1(&mut body);
    }
    policy::apply(&mut body, &target);
    crate::routing::node_rules::apply(&mut body, &node.request_rules, leg.api);
    let wire = if leg.translate { serde_json::to_vec(&body).unwrap_or_default() } else { origins::wire_body(job.raw, &job.body, &body) };
    let out = if node.kind == NodeKind::Bedrock {
        // Signed over the exact bytes sent, at the time they are sent.
        let auth = match bedrock::auth(node, |s| p.open_secret(s)) {
            Ok(a) => a,
            Err(e) => return AttemptResult::Failed(Failure::Unservable(e)),
        };
        let url = bedrock::converse_url(node, &attempt.real, job.stream);
        let mut base = origins::headers(node, None);
        base.push(("accept".into(), if job.stream { "application/vnd.amazon.eventstream" } else { "application/json" }.into()));
        let headers = bedrock::authorize(base, &auth, bedrock::region(node), "POST", &url, &wire, p.now_ms());
        Outbound { method: Method::POST, url, headers, body: Some(wire) }
    } else {
        let mut url = origins::url(node, leg.api.path());
        if let Some(q) = origins::forwarded_query(leg, job.query) {
            url = format!("{url}?{q}");
        }
        call::inference(&**p, node, url, &job.headers, wire)
    };
    let (reply, remaining) = match call::attempt(&**p, out, snap.settings.ttfb_ms).await {
        Err(f) => return AttemptResult::Failed(f),
        Ok(Answer::Good { reply, remaining_ms }) => (reply, remaining_ms),
        Ok(Answer::Status { failure, headers, body }) => {
            // Bedrock names its errors in a header and the body's type (see `bedrock::failure`).
            let failure = if leg.api == Api::BedrockConverse { bedrock::failure(failure.status(), failure.retry_after_ms(), &headers, &body) } else { failure };
            // Same dialect: an error the client gets (no failover) is the origin's own, status
            // and body word for word.
            let answered_here = match failure.next() {
                Next::Client => true,
                Next::TooLarge => attempt.group.is_none(),
                Next::NextNode => false,
            };
            if answered_here && respond::verbatim_errors(leg) && !body.is_empty() {
                let status = failure.status();
                let kept = respond::origin_headers(leg, &headers);
                let text = failure.origin_message();
                return respond::origin_error(p, job, attempt, status, kept, body, text);
            }
            return AttemptResult::Failed(failure);
        }
    };
    job.reached(attempt, node);
    let repair = super::repairs::repair_for(leg, &target);
    if job.stream {
        respond::stream(p, snap, user, job, attempt, leg, repair, reply, remaining, strip_usage).await
    } else {
        respond::json(p, snap, job, leg, repair, reply, remaining).await
    }
}
