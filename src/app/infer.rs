//! The inference pipeline: parse, catalog and allow-list, plan, admit, then attempts with
//! failover before the first byte. Each attempt picks a leg (which upstream API, translated or
//! not), builds the upstream body and shapes it (`policy`), sends it, classifies the answer, and
//! hands a good one to `respond`.

use super::respond;
use super::{callable, model_field, parse_object, read_all, within};
use crate::error::GatewayError;
use crate::ingress;
use crate::limits;
use crate::net::{Inbound, Outbound, Reply};
use crate::origins::{self, Api, Leg, StatusClass};
use crate::platform::{Platform, Settlement};
use crate::policy::{self, Shape, Target};
use crate::routes::{Endpoint, Op};
use crate::routing::needs;
use crate::routing::plan::{self, Attempt, Draws, FailureClass, Planner};
use crate::state::snapshot::{NodeKind, Snapshot, User};
use crate::translate::{anthropic, ollama, openai, responses, ChatRequest};
use crate::types::Dialect;
use crate::usage::UsageRecord;
use serde_json::{Map, Value};
use std::rc::Rc;

/// What one attempt produced.
pub(super) enum AttemptResult {
    Served(Reply),
    Failed { class: FailureClass, status: u16, message: String },
    /// An error to return as is (a client error the origin reported, or untranslatable input).
    Final(GatewayError),
}

/// One request's state across its attempts.
pub(super) struct Job<'a> {
    pub op: &'a Op,
    pub dialect: Dialect,
    pub requested: String,
    pub stream: bool,
    pub body: Map<String, Value>,
    /// The client body in the internal representation, decoded once when a leg needs it.
    pub ir: Option<ChatRequest>,
    pub headers: Vec<(String, String)>,
    /// The client's body and query as received: same-dialect legs forward them (`origins::wire_body`),
    /// so `body` stays the parse of `raw` (edits go into each attempt's upstream body).
    pub raw: &'a [u8],
    pub query: &'a str,
    pub record: UsageRecord,
    pub started_ms: u64,
    /// Limit scopes this request was admitted into (settled exactly once, in `finish`).
    pub settle: Vec<Settlement>,
    pub finished: bool,
    /// Responses only: what the request said about stored state (`super::stored`).
    pub responses: Option<crate::state::response_store::Turn>,
}

impl Job<'_> {
    /// Hand the record (and the settlements) to the platform; once per request.
    pub fn finish<P: Platform>(&mut self, p: &P) {
        if !self.finished {
            self.finished = true;
            p.finish(self.record.clone(), std::mem::take(&mut self.settle));
        }
    }

    /// The client's request in the IR (decoded on first use; errors are the client's 400s).
    fn ir(&mut self) -> Result<&ChatRequest, GatewayError> {
        if self.ir.is_none() {
            let ir = match self.op {
                Op::OllamaChat => ollama::decode_chat_request(&self.body)?,
                Op::OllamaGenerate => ollama::decode_generate_request(&self.body)?,
                Op::ChatCompletions => openai::decode_request(&self.body)?,
                Op::Messages => anthropic::decode_request(&self.body)?,
                Op::Responses => responses::decode_request(&self.body)?,
                _ => return Err(GatewayError::bad_request("this endpoint cannot be translated")),
            };
            self.ir = Some(ir);
        }
        Ok(self.ir.as_ref().expect("set above"))
    }
}

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
    let started_ms = p.now_ms();
    let record = UsageRecord {
        id: p.request_id(),
        created_at_ms: started_ms,
        user_id: Some(user.id),
        key_id: user.key_id,
        username: user.username.clone(),
        endpoint: ep.op.name().to_string(),
        dialect: ep.dialect.as_str().to_string(),
        client: req.header("user-agent").unwrap_or("").chars().take(200).collect(),
        ..Default::default()
    };
    let mut job = Job {
        op: &ep.op,
        dialect: ep.dialect,
        requested: String::new(),
        stream: false,
        body: Map::new(),
        ir: None,
        headers: req.headers.clone(),
        raw: &req.body,
        query: &req.query,
        record,
        started_ms,
        settle: Vec::new(),
        finished: false,
        responses: None,
    };
    let mut limit_headers = Vec::new();
    let mut reply = match steps(p, snap, user, req, &mut job, &mut limit_headers).await {
        Ok(reply) => reply,
        Err(e) => {
            if !job.finished {
                job.record.status = e.status();
                job.record.error = Some(e.message());
                job.record.duration_ms = p.now_ms() - job.started_ms;
                job.finish(&**p);
            }
            ingress::render_error(job.dialect, &e)
        }
    };
    for (k, v) in limit_headers {
        reply.set_header(&k, v);
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
    callable(snap, user, &requested)?;
    let config = snap.model_config(&requested);
    if config.is_some_and(|c| c.maintenance) {
        return Err(GatewayError::Maintenance(format!("model '{requested}' is in maintenance; try again later")));
    }
    let kinds = origins::kinds_for(job.op);
    let mut draws = Draws { counters: p.counters(&plan::counter_keys(snap, &requested)).await, random: (0..8).map(|_| p.random()).collect() };
    let mut planner = Planner::new(snap, &requested, needs::of(&job.body), &kinds, p.nodes(), &mut draws, p.now_ms())?;

    // Admission last: requests refused before this point never touch the user's quota.
    let now = p.now_ms();
    let mut states = Vec::new();
    for (scope, rules) in limits::plan(user, config) {
        match p.admit(&scope, &rules, now).await {
            Ok((d, ticket)) => {
                states.extend(d.states.clone());
                if !d.admitted {
                    *limit_headers = limits::headers(&states);
                    let what = limits::describe(&scope, d.blocked_by.as_deref(), &requested);
                    return Err(GatewayError::RateLimited { message: format!("rate limit reached: {what}; retry in {} s", d.retry_after), retry_after: d.retry_after });
                }
                job.settle.push(Settlement { scope, rules, admitted_ms: now, ticket });
            }
            Err(e) if snap.settings.limits_fail_open => crate::platform_log(&format!("limits store unavailable for {scope}, admitting without a limit check (limits.fail_open=true): {e}")),
            Err(e) => {
                crate::platform_log(&format!("limits store unavailable for {scope}, rejecting with 503 (limits.fail_open=false): {e}"));
                return Err(GatewayError::Dependency(format!("the limits store is unavailable: {e}")));
            }
        }
    }
    *limit_headers = limits::headers(&states);

    job.requested = requested;
    job.stream = stream;
    let mut failures: Vec<String> = Vec::new();
    let mut last: Option<FailureClass> = None;
    let mut last_status = 502;
    let mut maintenance_only = true;
    while let Some(attempt) = planner.next(last) {
        match attempt_once(p, snap, user, job, &attempt).await {
            AttemptResult::Served(reply) => return Ok(reply),
            AttemptResult::Final(e) => {
                finish_error(p, job, &attempt, &e);
                return Err(e);
            }
            AttemptResult::Failed { class, status, message } => {
                maintenance_only &= status == 503 && message.contains("maintenance");
                let node = snap.node(attempt.node_id).map(|n| n.name.as_str()).unwrap_or("?");
                failures.push(format!("{node}: {message}"));
                last = Some(class);
                last_status = status;
            }
        }
    }
    let summary = format!("all {} attempt(s) for '{}' failed: {}", failures.len(), job.requested, failures.join("; "));
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

fn finish_error<P: Platform>(p: &Rc<P>, job: &mut Job<'_>, attempt: &Attempt, e: &GatewayError) {
    job.record.status = e.status();
    job.record.error = Some(e.message());
    job.record.resolved_model = attempt.model.clone();
    job.record.real_model = attempt.real.clone();
    job.record.node_id = Some(attempt.node_id);
    job.record.duration_ms = p.now_ms() - job.started_ms;
    job.record.reached_origin = true;
    job.finish(&**p);
}

fn shape_of(api: Api) -> Shape {
    match api {
        Api::OpenAiChat | Api::OllamaChat => Shape::Chat,
        Api::OllamaGenerate => Shape::Generate,
        Api::AnthropicMessages => Shape::Anthropic,
        _ => Shape::Other,
    }
}

/// The upstream body for a leg: the client's JSON re-addressed, or translated from the IR.
/// Returns whether the gateway added a usage request the client did not make.
fn upstream_body(job: &mut Job<'_>, leg: Leg, real: &str) -> Result<(Map<String, Value>, bool), GatewayError> {
    if !leg.translate {
        return Ok(origins::body(job.op, &job.body, real, job.stream));
    }
    let stream = job.stream;
    let v = match leg.api {
        Api::OpenAiEmbeddings => ollama::embed_request_to_openai(&job.body, real)?,
        Api::OpenAiChat => {
            let mut ir = job.ir()?.clone();
            ir.stream = stream;
            openai::encode_request(&ir, real)
        }
        Api::OllamaChat => {
            let mut ir = job.ir()?.clone();
            ir.stream = stream;
            ollama::encode_chat_request(&ir, real)?
        }
        Api::AnthropicMessages => {
            let mut ir = job.ir()?.clone();
            ir.stream = stream;
            anthropic::encode_request(&ir, real)
        }
        other => return Err(GatewayError::Internal(format!("no translation to {other:?}"))),
    };
    match v {
        Value::Object(m) => Ok((m, false)),
        _ => Err(GatewayError::Internal("translation produced a non-object body".into())),
    }
}

async fn attempt_once<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, job: &mut Job<'_>, attempt: &Attempt) -> AttemptResult {
    let Some(node) = snap.node(attempt.node_id) else {
        return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: "node vanished".into() };
    };
    let Some(leg) = origins::leg(job.op, node.kind) else {
        return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: "node cannot serve this endpoint".into() };
    };
    let target = Target { snap, user, group: attempt.group.as_deref(), model: &attempt.model, real: &attempt.real, node, shape: shape_of(leg.api) };
    if policy::in_maintenance(&target) {
        return AttemptResult::Failed { class: FailureClass::NextNode, status: 503, message: format!("'{}' is in maintenance", attempt.model) };
    }
    let (mut body, strip_usage) = match upstream_body(job, leg, &attempt.real) {
        Ok(b) => b,
        Err(e) => return AttemptResult::Final(e),
    };
    policy::apply(&mut body, &target);
    let api_key = node.api_key_sealed.as_deref().and_then(|s| p.open_secret(s));
    let headers = if node.kind == NodeKind::Anthropic { origins::anthropic_headers(node, api_key.as_deref(), &job.headers) } else { origins::headers(node, api_key.as_deref()) };
    let wire = if leg.translate { serde_json::to_vec(&body).unwrap_or_default() } else { origins::wire_body(job.raw, &job.body, &body) };
    let mut url = origins::url(node, leg.api.path());
    if let Some(q) = origins::forwarded_query(leg, job.query) {
        url = format!("{url}?{q}");
    }
    let out = Outbound { method: "POST", url, headers, body: Some(wire) };
    let ttfb = snap.settings.ttfb_ms;
    let sent_at = p.now_ms();
    let reply = match within(&**p, ttfb, p.fetch(out)).await {
        None => {
            p.node_failed(node.id, snap.settings.cooldown_ms, "timeout");
            return AttemptResult::Failed { class: FailureClass::NextNode, status: 504, message: format!("no response within {ttfb} ms") };
        }
        Some(Err(e)) => {
            p.node_failed(node.id, snap.settings.cooldown_ms, &e);
            return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: format!("connection failed: {e}") };
        }
        Some(Ok(r)) => r,
    };
    let remaining = ttfb.saturating_sub(p.now_ms() - sent_at).max(1);
    match origins::classify(reply.status) {
        StatusClass::Ok => {}
        class => {
            let status = reply.status;
            let retry_after = origins::retry_after_ms(reply.header("retry-after"));
            let kept = respond::origin_headers(leg, &reply.headers);
            let raw = read_all(&**p, reply.body, remaining, 1 << 20).await.unwrap_or_default();
            let text = origins::error_text(&raw);
            let message = format!("HTTP {status}: {text}");
            return match class {
                StatusClass::Retry => {
                    if status == 429 || status >= 500 {
                        p.node_failed(node.id, retry_after.unwrap_or(snap.settings.cooldown_ms), &message);
                    }
                    AttemptResult::Failed { class: FailureClass::NextNode, status, message }
                }
                StatusClass::TooLarge if attempt.group.is_some() => AttemptResult::Failed { class: FailureClass::TooLarge, status, message },
                // Same dialect: the origin's own error, status and body word for word.
                _ if respond::verbatim_errors(leg) && !raw.is_empty() => respond::origin_error(p, job, attempt, status, kept, raw, text),
                _ => AttemptResult::Final(GatewayError::Upstream { status, message: text }),
            };
        }
    }
    // A 200 that is an HTML page (a proxy's error or login page) is a failed attempt, not an
    // answer: nothing has been sent yet, so another node can still serve it.
    if reply.header("content-type").is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html")) {
        p.node_failed(node.id, snap.settings.cooldown_ms, "HTML instead of an API answer");
        return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: "the origin answered with an HTML page instead of the API".into() };
    }
    p.node_ok(node.id);
    job.record.resolved_model = attempt.model.clone();
    job.record.real_model = attempt.real.clone();
    job.record.node_id = Some(node.id);
    job.record.node_name = node.name.clone();
    job.record.reached_origin = true;
    let shaping = respond::shaping_for(leg, &target);
    if job.stream {
        respond::stream(p, snap, job, attempt, leg, shaping, reply, remaining, strip_usage).await
    } else {
        respond::json(p, snap, job, leg, shaping, reply, remaining).await
    }
}
