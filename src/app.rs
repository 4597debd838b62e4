//! `handle`: one gateway request from route to response, as plain sequential steps.
//!
//! route -> authenticate -> parse body -> catalog + allow-list -> maintenance -> plan ->
//! attempts (build upstream request, send, classify, fail over before the first byte) ->
//! relay (stream) or rewrite (JSON) -> `Platform::finish` with the usage record.
//! Every error becomes a response in the client's dialect in exactly one place (`respond`).

use crate::auth;
use crate::error::GatewayError;
use crate::ingress::{self, ollama as ol, openai as oa};
use crate::net::{Body, ByteStream, Inbound, OriginReply, Outbound, Reply};
use crate::origins::{self, StatusClass};
use crate::limits;
use crate::platform::{Platform, Settlement};
use crate::routes::{self, Endpoint, Op};
use crate::routing::catalog::{self, Entry};
use crate::routing::needs;
use crate::routing::plan::{self, Attempt, Draws, FailureClass, Planner};
use crate::state::snapshot::{same_model, NodeKind, Snapshot, User};
use crate::stream::passthrough::{self, OllamaNdjson, OpenAiSse, Transform};
use crate::stream::relay::{self, Finished, Timer};
use crate::types::{Dialect, Usage};
use crate::usage::{estimate_tokens, UsageRecord};
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
        Err((dialect, e)) => return ingress::render_error(dialect, &e),
    };
    let dialect = ep.dialect;
    match dispatch(&p, &snap, &ep, &req).await {
        Ok(reply) => reply,
        Err(e) => ingress::render_error(dialect, &e),
    }
}

async fn dispatch<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, ep: &Endpoint, req: &Inbound) -> Result<Reply, GatewayError> {
    match &ep.op {
        Op::Root => return Ok(Reply::json(200, &json!({"name": "Maestro Edge", "version": VERSION, "status": "ok"}))),
        Op::Health => return Ok(Reply::json(200, &json!({"status": "ok"}))),
        Op::Preflight => return Ok(Reply::empty(204)),
        Op::Ready | Op::Admin => return Err(GatewayError::Internal("handled by the edge".into())),
        _ => {}
    }
    let now_s = (p.now_ms() / 1000) as i64;
    let principal = auth::authenticate(req, snap, p.jwt_secret(), now_s)?;
    let user = principal.user;
    match &ep.op {
        Op::OllamaVersion => Ok(Reply::json(200, &json!({"version": snap.settings.ollama_version}))),
        Op::OllamaTags => Ok(Reply::json(200, &ol::tags(&visible(snap, user, true)))),
        Op::Models => Ok(Reply::json(200, &oa::models_list(&visible(snap, user, false)))),
        Op::Model(id) => {
            let e = callable(snap, user, id)?;
            Ok(Reply::json(200, &oa::model_object(&e)))
        }
        Op::OllamaShow => show(p, snap, user, req).await,
        Op::OllamaPs => ps(p, snap, user).await,
        op if op.is_inference() => Ok(infer(p, snap, user, ep, req).await),
        _ => Err(GatewayError::NotFound("no such operation".into())),
    }
}

/// Catalog entries the user may call, for a listing (`native` = Ollama routes, which only
/// Ollama nodes can serve until translation is in place).
fn visible<'a>(snap: &'a Snapshot, user: &User, native: bool) -> Vec<Entry<'a>> {
    let kinds = plan::kinds_for(native);
    catalog::entries(snap).into_iter().filter(|e| catalog::allowed(user, &e.name) && catalog::served_by(e, kinds)).collect()
}

/// The entry for a requested name if it exists and the user may call it: 404 / 403 otherwise.
fn callable<'a>(snap: &'a Snapshot, user: &User, name: &str) -> Result<Entry<'a>, GatewayError> {
    let entry = catalog::find(snap, name);
    match (entry, catalog::allowed(user, name)) {
        (Some(e), true) => Ok(e),
        (Some(_), false) => Err(GatewayError::Forbidden(format!("you are not allowed to use model '{name}'"))),
        (None, _) => Err(GatewayError::NotFound(format!("model '{name}' not found"))),
    }
}

/// Parse a JSON object body; the error says what is wrong.
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

fn stream_flag(body: &Map<String, Value>, op: &Op) -> Result<bool, GatewayError> {
    let default = matches!(op, Op::OllamaChat | Op::OllamaGenerate);
    let streams = matches!(op, Op::OllamaChat | Op::OllamaGenerate | Op::ChatCompletions | Op::Completions);
    match body.get("stream") {
        None | Some(Value::Null) => Ok(default && streams),
        Some(Value::Bool(b)) => Ok(*b && streams),
        Some(_) => Err(GatewayError::bad_field("stream", "'stream' must be true or false")),
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

/// What one attempt produced.
enum AttemptResult {
    Served(Reply),
    Failed { class: FailureClass, status: u16, message: String },
    /// An error to return as is (a client error the origin reported).
    Final(GatewayError),
}

struct Job<'a> {
    op: &'a Op,
    dialect: Dialect,
    requested: String,
    stream: bool,
    body: Map<String, Value>,
    record: UsageRecord,
    started_ms: u64,
    /// Limit scopes this request was admitted into (settled exactly once, in `finish`).
    settle: Vec<Settlement>,
    finished: bool,
}

impl Job<'_> {
    /// Hand the record (and the settlements) to the platform; once per request.
    fn finish<P: Platform>(&mut self, p: &P) {
        if !self.finished {
            self.finished = true;
            p.finish(self.record.clone(), std::mem::take(&mut self.settle));
        }
    }
}

/// An inference request. Every outcome after authentication yields exactly one usage record
/// (errors included) and carries the rate-limit headers of the limits that applied.
async fn infer<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, ep: &Endpoint, req: &Inbound) -> Reply {
    let started_ms = p.now_ms();
    let record = UsageRecord {
        id: p.request_id(),
        created_at_ms: started_ms,
        user_id: Some(user.id),
        username: user.username.clone(),
        endpoint: ep.op.name().to_string(),
        dialect: ep.dialect.as_str().to_string(),
        client: req.header("user-agent").unwrap_or("").chars().take(200).collect(),
        ..Default::default()
    };
    let mut job = Job { op: &ep.op, dialect: ep.dialect, requested: String::new(), stream: false, body: Map::new(), record, started_ms, settle: Vec::new(), finished: false };
    let mut limit_headers = Vec::new();
    let mut reply = match infer_steps(p, snap, user, req, &mut job, &mut limit_headers).await {
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

async fn infer_steps<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, req: &Inbound, job: &mut Job<'_>, limit_headers: &mut Vec<(String, String)>) -> Result<Reply, GatewayError> {
    if req.body.len() > snap.settings.max_body_bytes {
        return Err(GatewayError::PayloadTooLarge { limit: snap.settings.max_body_bytes });
    }
    let body = parse_object(&req.body)?;
    let requested = model_field(&body, "model")?;
    job.record.requested_model = requested.clone();
    let stream = stream_flag(&body, job.op)?;
    job.record.stream = stream;
    callable(snap, user, &requested)?;
    let config = snap.model_config(&requested);
    if config.is_some_and(|c| c.maintenance) {
        return Err(GatewayError::Maintenance(format!("model '{requested}' is in maintenance; try again later")));
    }
    let native = matches!(job.op, Op::OllamaChat | Op::OllamaGenerate | Op::OllamaEmbed | Op::OllamaEmbeddings);
    let kinds = plan::kinds_for(native);
    let mut draws = Draws { counters: p.counters(&plan::counter_keys(snap, &requested)).await, random: (0..8).map(|_| p.random()).collect() };
    let mut planner = Planner::new(snap, &requested, needs::of(&body), kinds, p.nodes(), &mut draws, p.now_ms())?;

    // Admission last: requests refused before this point never touch the user's quota.
    let now = p.now_ms();
    let mut states = Vec::new();
    for (scope, rules) in limits::plan(user, config) {
        match p.admit(&scope, &rules, now).await {
            Ok(d) => {
                states.extend(d.states.clone());
                if !d.admitted {
                    *limit_headers = limits::headers(&states);
                    let what = if d.blocked_by.as_deref() == Some("minute") { format!("the per-minute limit of model '{requested}'") } else { "your daily limit".to_string() };
                    return Err(GatewayError::RateLimited { message: format!("rate limit reached: {what}; retry in {} s", d.retry_after), retry_after: d.retry_after });
                }
                job.settle.push(Settlement { scope, rules, admitted_ms: now });
            }
            Err(e) if snap.settings.limits_fail_open => {
                crate::platform_log(&format!("limits store unavailable, admitting (limits.fail_open): {e}"));
            }
            Err(e) => return Err(GatewayError::Dependency(format!("the limits store is unavailable: {e}"))),
        }
    }
    *limit_headers = limits::headers(&states);

    job.requested = requested;
    job.stream = stream;
    job.body = body;
    let mut failures: Vec<String> = Vec::new();
    let mut last: Option<FailureClass> = None;
    let mut last_status = 502;
    while let Some(attempt) = planner.next(last) {
        match run_attempt(p, snap, job, &attempt).await {
            AttemptResult::Served(reply) => return Ok(reply),
            AttemptResult::Final(e) => {
                finish_error(p, job, &attempt, &e);
                return Err(e);
            }
            AttemptResult::Failed { class, status, message } => {
                let node = snap.node(attempt.node_id).map(|n| n.name.as_str()).unwrap_or("?");
                failures.push(format!("{node}: {message}"));
                last = Some(class);
                last_status = status;
            }
        }
    }
    let summary = format!("all {} attempt(s) for '{}' failed: {}", failures.len(), job.requested, failures.join("; "));
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

async fn run_attempt<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, job: &mut Job<'_>, attempt: &Attempt) -> AttemptResult {
    let Some(node) = snap.node(attempt.node_id) else {
        return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: "node vanished".into() };
    };
    let Some(path) = origins::path(job.op, node.kind) else {
        return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: "node cannot serve this endpoint".into() };
    };
    let (body, strip_usage) = origins::body(job.op, &job.body, &attempt.real, job.stream);
    let api_key = node.api_key_sealed.as_deref().and_then(|s| p.open_secret(s));
    let out = Outbound {
        method: "POST",
        url: origins::url(node, path),
        headers: origins::headers(node, api_key.as_deref()),
        body: Some(serde_json::to_vec(&body).unwrap_or_default()),
    };
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
            let text = read_all(&**p, reply.body, remaining, 1 << 20).await.map(|b| origins::error_text(&b)).unwrap_or_default();
            let message = format!("HTTP {status}: {text}");
            return match class {
                StatusClass::Retry => {
                    if status == 429 || status >= 500 {
                        p.node_failed(node.id, retry_after.unwrap_or(snap.settings.cooldown_ms), &message);
                    }
                    AttemptResult::Failed { class: FailureClass::NextNode, status, message }
                }
                StatusClass::TooLarge if attempt.group.is_some() => AttemptResult::Failed { class: FailureClass::TooLarge, status, message },
                _ => AttemptResult::Final(GatewayError::Upstream { status, message: text }),
            };
        }
    }
    p.node_ok(node.id);
    job.record.resolved_model = attempt.model.clone();
    job.record.real_model = attempt.real.clone();
    job.record.node_id = Some(node.id);
    job.record.node_name = node.name.clone();
    job.record.reached_origin = true;
    if job.stream {
        stream_reply(p, snap, job, attempt, reply, remaining, strip_usage).await
    } else {
        json_reply(p, snap, job, reply, remaining).await
    }
}

async fn stream_reply<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, job: &mut Job<'_>, attempt: &Attempt, mut reply: OriginReply, remaining: u64, strip_usage: bool) -> AttemptResult {
    // Failover is still possible until the first byte: peek it under the TTFB deadline.
    let first = match within(&**p, remaining, reply.body.next()).await {
        None => {
            p.node_failed(attempt.node_id, snap.settings.cooldown_ms, "no first byte");
            return AttemptResult::Failed { class: FailureClass::NextNode, status: 504, message: "no first byte within the deadline".into() };
        }
        Some(None) => return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: "empty stream".into() },
        Some(Some(Err(e))) => {
            p.node_failed(attempt.node_id, snap.settings.cooldown_ms, &e);
            return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: format!("stream failed before the first byte: {e}") };
        }
        Some(Some(Ok(b))) => b,
    };
    let ttfb_ms = p.now_ms() - job.started_ms;
    let display = job.requested.clone();
    let (transform, content_type): (Box<dyn Transform>, &str) = match job.dialect {
        Dialect::Ollama => (Box::new(OllamaNdjson::new(&display)), "application/x-ndjson"),
        _ => (Box::new(OpenAiSse::new(&display, strip_usage)), "text/event-stream"),
    };
    let node_id = attempt.node_id;
    p.stream_started(node_id);
    let hook_p = p.clone();
    let mut record = job.record.clone();
    record.ttfb_ms = Some(ttfb_ms);
    // The relay owns the settlement from here: it runs when the stream ends or is dropped.
    let settle = std::mem::take(&mut job.settle);
    job.finished = true;
    let started = job.started_ms;
    let prompt_estimate = estimate_tokens(job.body.get("messages").or_else(|| job.body.get("prompt")).map(|v| v.to_string().len()).unwrap_or(0));
    let hook = Box::new(move |f: Finished| {
        hook_p.stream_ended(node_id);
        record.duration_ms = hook_p.now_ms() - started;
        record.status = if f.completed { 200 } else if f.client_gone { 499 } else { 502 };
        record.error = f.error;
        let usage = f.usage.unwrap_or(Usage { prompt_tokens: prompt_estimate, completion_tokens: f.frames, estimated: true });
        record.prompt_tokens = usage.prompt_tokens;
        record.completion_tokens = usage.completion_tokens;
        record.estimated = usage.estimated;
        hook_p.finish(record, settle);
    });
    let timer: Rc<dyn Timer> = p.clone();
    let body: ByteStream = relay::relay(reply.body, first, transform, timer, snap.settings.stream_idle_ms, hook);
    let reply = Reply {
        status: 200,
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("cache-control".into(), "no-cache".into()),
            // Nothing between us and the client may compress (and so buffer) a stream.
            ("content-encoding".into(), "identity".into()),
            ("x-accel-buffering".into(), "no".into()),
            ("x-request-id".into(), job.record.id.clone()),
        ],
        body: Body::Stream(body),
    };
    AttemptResult::Served(reply)
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

async fn json_reply<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, job: &mut Job<'_>, reply: OriginReply, remaining: u64) -> AttemptResult {
    let idle = remaining.max(snap.settings.stream_idle_ms);
    let bytes = match read_all(&**p, reply.body, idle, 256 << 20).await {
        Ok(b) => b,
        Err(e) => return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: e },
    };
    let mut v: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: format!("the origin answered 200 with a body that is not JSON: {}", origins::error_text(&bytes)) }
        }
    };
    if let Some(msg) = v.get("error").filter(|e| !e.is_null()).map(|_| passthrough::error_message(&bytes).unwrap_or_default()) {
        return AttemptResult::Failed { class: FailureClass::NextNode, status: 502, message: msg };
    }
    if v.get("model").is_some() {
        v["model"] = Value::String(job.requested.clone());
    }
    let usage = match job.dialect {
        Dialect::Ollama => passthrough::ollama_usage(&v),
        _ => passthrough::openai_usage(&v),
    }
    .unwrap_or_else(|| Usage {
        prompt_tokens: estimate_tokens(job.body.get("messages").or_else(|| job.body.get("prompt")).or_else(|| job.body.get("input")).map(|v| v.to_string().len()).unwrap_or(0)),
        completion_tokens: estimate_tokens(bytes.len() / 2),
        estimated: true,
    });
    job.record.status = 200;
    job.record.prompt_tokens = usage.prompt_tokens;
    job.record.completion_tokens = usage.completion_tokens;
    job.record.estimated = usage.estimated;
    job.record.duration_ms = p.now_ms() - job.started_ms;
    job.record.ttfb_ms = Some(job.record.duration_ms);
    job.finish(&**p);
    AttemptResult::Served(Reply::json(200, &v).with_header("x-request-id", job.record.id.clone()))
}

/// `/api/show`: access-checked, answered by an Ollama node that has the model, with the
/// gateway's context length and capabilities merged in.
async fn show<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, req: &Inbound) -> Result<Reply, GatewayError> {
    let body = parse_object(&req.body)?;
    let name = if body.contains_key("model") { model_field(&body, "model")? } else { model_field(&body, "name")? };
    let entry = callable(snap, user, &name)?;
    let origin = match entry.backing {
        Some((node, nm)) if node.kind == NodeKind::Ollama && node.active => {
            let api_key = node.api_key_sealed.as_deref().and_then(|s| p.open_secret(s));
            let mut b = body.clone();
            b.remove("name");
            b.insert("model".into(), Value::String(nm.name.clone()));
            let out = Outbound { method: "POST", url: origins::url(node, "/api/show"), headers: origins::headers(node, api_key.as_deref()), body: serde_json::to_vec(&b).ok() };
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
async fn ps<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User) -> Result<Reply, GatewayError> {
    let nodes: Vec<_> = snap.nodes.iter().filter(|n| n.active && n.kind == NodeKind::Ollama).collect();
    let calls = nodes.iter().map(|node| {
        let api_key = node.api_key_sealed.as_deref().and_then(|s| p.open_secret(s));
        let out = Outbound { method: "GET", url: origins::url(node, "/api/ps"), headers: origins::headers(node, api_key.as_deref()), body: None };
        let p = p.clone();
        async move {
            match within(&*p, 5000, p.fetch(out)).await {
                Some(Ok(r)) if r.status == 200 => read_all(&*p, r.body, 5000, 16 << 20).await.ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok()),
                _ => None,
            }
        }
    });
    let answers = futures::future::join_all(calls).await;
    let names = visible(snap, user, true);
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
                    catalog::EntryKind::Real => same_model(&e.name, real),
                    catalog::EntryKind::Group(_) => false,
                };
                if hit && !models.iter().any(|x| x["name"] == e.name.as_str()) {
                    let mut entry = m.clone();
                    entry["name"] = json!(e.name);
                    entry["model"] = json!(e.name);
                    models.push(entry);
                }
            }
        }
    }
    Ok(Reply::json(200, &json!({ "models": models })))
}
