//! Answering the client from a good origin reply. Same dialect and nothing to repair: the
//! dialect's passthrough (model name rewritten per chunk by a byte scan). Otherwise the origin's
//! decoder -> output repair -> the client's encoder, streamed (`Transcode`) or whole. Which
//! decoder, encoder, passthrough, id prefix and content type is the dialect table's business
//! (`dialect`); this file decides only when to translate or repair, and settles the usage.

use super::job::{AttemptResult, Job};
use crate::error::GatewayError;
use crate::origins::call::{self, read_all};
use crate::dialect::{self, anthropic, ollama, responses, AnswerSpec, ChatResponse, Decoder, StreamEncoder, ToolCall};
use crate::net::{Body, OriginReply, Reply};
use crate::origins::failure;
use crate::origins::failure::Failure;
use crate::origins::{self, bedrock, Api, Leg};
use crate::platform::Platform;
use crate::repair::{self, Piece, Pipeline};
use crate::routes::Op;
use crate::routing::plan::Attempt;
use crate::state::snapshot::{Snapshot, User};
use crate::stream::relay::{self, Timer};
use crate::stream::required_args::{self, RequiredArgs};
use crate::stream::transcode::Transcode;
use crate::stream::transform::{error_message, Transform};
use crate::types::{Dialect, Usage};
use crate::usage::estimate_tokens;
use crate::util::jsonscan;
use serde_json::Value;
use std::rc::Rc;

fn now_s<P: Platform>(p: &P) -> i64 {
    (p.now_ms() / 1000) as i64
}

/// What the client's answer encoder needs to know about this request.
fn answer_spec<'a, P: Platform>(p: &P, job: &'a Job<'_>) -> AnswerSpec<'a> {
    AnswerSpec {
        display: &job.requested,
        id: job.record.id.trim_start_matches("req_"),
        created: now_s(p),
        elapsed_ms: p.now_ms().saturating_sub(job.started_ms),
        include_usage: dialect::openai::include_usage(&job.body),
        // Only Anthropic's `message_start` carries one (a scan of the whole request).
        input_estimate: if *job.op == Op::Messages { job.ir.as_ref().map(anthropic::estimate_input_tokens).unwrap_or(0) } else { 0 },
        responses_meta: job.responses.as_ref().map(|turn| turn.meta()),
        responses_tools: (*job.op == Op::Responses).then(|| responses::tools::map_of(&job.body)),
        origin_tag: job.record.node_id.filter(|_| *job.op == Op::Responses).map(|n| responses::tools::origin_tag(n, &job.record.real_model)),
        prompt_estimate: if *job.op == Op::Responses { prompt_estimate(job) } else { 0 },
    }
}

/// The client's stream encoder for its operation (a stored Responses turn is kept when done).
fn encoder<P: Platform>(p: &Rc<P>, job: &Job<'_>) -> Box<dyn StreamEncoder> {
    let on_done = job.responses.clone().filter(|turn| turn.store).map(|turn| {
        let (p, user_id) = (p.clone(), job.record.user_id);
        Box::new(move |r: &Value| super::stored::keep(&*p, user_id, &turn, r)) as dialect::responses::OnDone
    });
    dialect::encoder_for(job.op, answer_spec(&**p, job), on_done)
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn stream<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, user: &User, job: &mut Job<'_>, attempt: &Attempt, leg: Leg, repair: Option<Pipeline>, mut reply: OriginReply, remaining: u64, strip_usage: bool) -> AttemptResult {
    // Failover is still possible until the first event: read up to it under the TTFB
    // deadline. A stream that closes (or breaks) before one moves to the next candidate.
    let deadline = p.now_ms() + remaining;
    // (A huge first line ends the search: the relay judges it, its line limit applies.)
    let event_stream = leg.api == Api::BedrockConverse;
    let complete: fn(&[u8]) -> bool = if event_stream { bedrock::eventstream::has_message } else { call::has_event };
    let first = match call::first_frame(&**p, &mut reply.body, deadline, snap.settings.ttfb_ms, FIRST_EVENT_MAX, complete).await {
        Ok(first) => first,
        Err(f) => return AttemptResult::Failed(f),
    };
    // A ConverseStream that opens with an exception (throttling, validation) failed before
    // anything went out: typed like Bedrock's HTTP errors, so failover still applies.
    if let Some(f) = event_stream.then(|| bedrock::first_failure(&first)).flatten() {
        return AttemptResult::Failed(f);
    }
    let ttfb_ms = p.now_ms() - job.started_ms;
    let display = job.requested.clone();
    // Recoverable streams are transcoded even between the same dialects: continuing one needs
    // the client encoder's state (id, open blocks, the text so far).
    let recover = snap.settings.stream_recover && super::recover::applies(job, leg.api);
    let transform: Box<dyn Transform> = if leg.translate || repair.is_some() || recover {
        let t = Transcode::new(Decoder::for_api(leg.api), repair, encoder(p, job)).with_required_args(tools_requiring_args(job));
        Box::new(if recover { t.recoverable(prompt_estimate(job)) } else { t })
    } else {
        dialect::passthrough_checked(leg.api, &display, strip_usage, tools_requiring_args(job))
    };
    // The node the stream comes from (a recovery moves it, and its stream lease with it).
    let node = Rc::new(std::cell::Cell::new(attempt.node_id));
    p.stream_started(attempt.node_id, &job.record.id);
    let prompt_estimate = prompt_estimate(job);
    let hook = job.stream_settlement(p.clone(), node.clone(), ttfb_ms, prompt_estimate);
    let timer: Rc<dyn Timer> = p.clone();
    let request_id = origin_request_id(leg, &reply);
    let mut body = relay::relay(reply.body, reply.native, first, transform, timer, snap.settings.stream_idle_ms, hook).with_keepalive(snap.settings.keepalive_ms);
    if recover {
        if let Some(r) = super::recover::continuation(p, snap, user, job, node) {
            body = body.with_recovery(r);
        }
    }
    let mut headers = vec![
        ("content-type".into(), dialect::content_type(job.dialect).into()),
        ("cache-control".into(), "no-cache".into()),
        // Nothing between us and the client may compress (and so buffer) a stream.
        ("content-encoding".into(), "identity".into()),
        ("x-accel-buffering".into(), "no".into()),
        ("x-request-id".into(), job.record.id.clone()),
    ];
    headers.extend(request_id);
    AttemptResult::Served(Reply { status: 200, headers, body: Body::Relay(body) })
}

/// Bytes read while looking for the first event before the relay takes over anyway.
const FIRST_EVENT_MAX: usize = 1 << 20;

pub(super) fn prompt_estimate(job: &Job<'_>) -> u64 {
    if let Some(ir) = &job.ir {
        return anthropic::estimate_input_tokens(ir);
    }
    estimate_tokens(["messages", "prompt", "input", "system"].iter().filter_map(|k| job.body.get(*k)).map(|v| v.to_string().len()).sum())
}

/// Names of the request's tools whose schema lists required arguments (the IR's when the
/// request was decoded, else the client body's, in its dialect's tool shape).
fn tools_requiring_args(job: &Job<'_>) -> Vec<String> {
    if let Some(ir) = &job.ir {
        return ir.tools.iter().filter(|t| t.parameters.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty())).map(|t| t.name.clone()).collect();
    }
    job.body.get("tools").and_then(Value::as_array).map(|t| required_args::tools_requiring_args(t)).unwrap_or_default()
}

/// A whole answer calling a tool that requires arguments with none at all
/// (`stream::required_args`): the origin failed, never a call with `{}`.
fn empty_required_call(resp: &ChatResponse, required: Vec<String>) -> Option<String> {
    let mut watch = RequiredArgs::new(required);
    for (i, c) in resp.tool_calls.iter().enumerate() {
        watch.call(i, Some(&c.name), &c.arguments);
    }
    watch.missing()
}

/// Text with think tags and raw tool-call markup -> reasoning, text and tool calls.
fn repair_whole(resp: &mut ChatResponse, mut p: Pipeline) {
    let pieces = repair::repair_all(&mut p, &resp.text);
    let mut text = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => text.push_str(&t),
            Piece::Reasoning(r) => resp.reasoning.push_str(&r),
            Piece::ToolCall(c) => resp.tool_calls.push(ToolCall { id: String::new(), name: c.name, arguments: c.arguments }),
        }
    }
    resp.text = text;
    resp.settle();
}

pub(super) async fn json<P: Platform>(p: &Rc<P>, snap: &Rc<Snapshot>, job: &mut Job<'_>, leg: Leg, repair: Option<Pipeline>, reply: OriginReply, remaining: u64) -> AttemptResult {
    let idle = remaining.max(snap.settings.stream_idle_ms);
    let request_id = origin_request_id(leg, &reply);
    let headers_ms = p.now_ms().saturating_sub(job.started_ms);
    let bytes = match read_all(&**p, reply.body, idle, 256 << 20).await {
        Ok(b) => b,
        Err(e) => return AttemptResult::Failed(Failure::StreamBroke(e)),
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return AttemptResult::Failed(Failure::Empty);
    }
    if !leg.translate && repair.is_none() {
        return match passthrough_json(p, job, leg, bytes) {
            AttemptResult::Served(mut r) => {
                r.headers.extend(request_id);
                AttemptResult::Served(r)
            }
            other => other,
        };
    }
    let v: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => return AttemptResult::Failed(Failure::NotJson(origins::error_text(&bytes))),
    };
    if v.get("error").is_some_and(|e| !e.is_null()) {
        let msg = error_message(&bytes).unwrap_or_else(|| "origin error".into());
        return AttemptResult::Failed(Failure::OriginError(msg));
    }
    let display = job.requested.clone();
    let timing = ollama::Timing::from_ms(headers_ms, p.now_ms().saturating_sub(job.started_ms));
    let (out, usage) = if leg.api == Api::OpenAiEmbeddings && leg.translate {
        let translated = if *job.op == Op::OllamaEmbeddings {
            ollama::embeddings_response_from_openai(&v)
        } else {
            ollama::embed_response_from_openai(&v, &display).map(|mut o| {
                o["total_duration"] = serde_json::json!(timing.total_ns);
                o
            })
        };
        match translated {
            Ok(o) => (o, v.get("usage").and_then(dialect::openai::usage_from)),
            Err(e) => return AttemptResult::Failed(Failure::OriginError(e)),
        }
    } else {
        let mut resp = match dialect::decode_response(leg.api, &v) {
            Ok(r) => r,
            Err(e) => return AttemptResult::Failed(Failure::OriginError(format!("unreadable answer: {e}"))),
        };
        if let Some(pl) = repair {
            repair_whole(&mut resp, pl);
        }
        if let Some(msg) = empty_required_call(&resp, tools_requiring_args(job)) {
            return AttemptResult::Failed(Failure::OriginError(msg));
        }
        let out = dialect::encode_response(job.op, &mut resp, answer_spec(&**p, job), &timing);
        // After encoding: a Responses answer always has usage (estimated when the origin gave none).
        let usage = resp.usage;
        if let Some(turn) = &job.responses {
            super::stored::keep(&**p, job.record.user_id, turn, &out);
        }
        (out, usage)
    };
    let usage = usage.unwrap_or_else(|| Usage { prompt_tokens: prompt_estimate(job), completion_tokens: estimate_tokens(bytes.len() / 2), estimated: true, ..Default::default() });
    job.served(&**p, usage, serde_json::to_vec(&out).unwrap_or_default())
}

/// Same dialect, nothing to repair: the origin's bytes with the model name swapped in place
/// and the usage read from its own small field, instead of a parse of the whole answer into a
/// tree and a re-serialisation (allocation-heavy in wasm, and proportional to the answer).
fn passthrough_json<P: Platform>(p: &Rc<P>, job: &mut Job<'_>, leg: Leg, bytes: Vec<u8>) -> AttemptResult {
    // Still a full syntax check: a 200 that is not a JSON object is the origin failing.
    if !bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'{') || serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() {
        return AttemptResult::Failed(Failure::NotJson(origins::error_text(&bytes)));
    }
    if let Some(msg) = error_message(&bytes) {
        return AttemptResult::Failed(Failure::OriginError(msg));
    }
    // An OpenAI answer calling a tool without its required arguments (parsed only then).
    if matches!(leg.api, Api::OpenAiChat) && memchr::memmem::find(&bytes, b"\"tool_calls\"").is_some() {
        let mut watch = RequiredArgs::new(tools_requiring_args(job));
        if !watch.off() {
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                watch.openai_payload(&v);
            }
            if let Some(msg) = watch.missing() {
                return AttemptResult::Failed(Failure::OriginError(msg));
            }
        }
    }
    let field = |key: &str| -> Option<Value> { jsonscan::top_level_value(&bytes, key).and_then(|(s, e)| serde_json::from_slice(&bytes[s..e]).ok()) };
    let usage = dialect::answer_usage(leg.api, field);
    let usage = usage.unwrap_or_else(|| Usage { prompt_tokens: prompt_estimate(job), completion_tokens: estimate_tokens(bytes.len() / 2), estimated: true, ..Default::default() });
    let out = jsonscan::set_top_level_str(&bytes, "model", &job.requested).unwrap_or(bytes);
    job.served(&**p, usage, out)
}

/// Origins whose error answers reach the client as they are: same-dialect Anthropic legs
/// (Claude Code recognises "prompt is too long", thinking and beta errors by their wording).
pub(super) fn verbatim_errors(leg: Leg) -> bool {
    leg.api == Api::AnthropicMessages && !leg.translate
}

/// The origin's client error, status and body unchanged, recorded like any final error.
/// Origin answer headers a same-dialect Anthropic client gets too: `request-id` (quoted in bug
/// reports), and on errors their content type and `retry-after`. Nothing for other legs.
pub(super) fn origin_headers(leg: Leg, headers: &[(String, String)]) -> Vec<(String, String)> {
    if !verbatim_errors(leg) {
        return Vec::new();
    }
    headers
        .iter()
        .filter(|(k, v)| matches!(k.to_ascii_lowercase().as_str(), "request-id" | "content-type" | "retry-after") && origins::header_safe(v))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}

/// `request-id` of a same-dialect Anthropic answer (see `origin_headers`).
fn origin_request_id(leg: Leg, reply: &OriginReply) -> Option<(String, String)> {
    origin_headers(leg, &reply.headers).into_iter().find(|(k, _)| k == "request-id")
}

pub(super) fn origin_error<P: Platform>(p: &Rc<P>, job: &mut Job<'_>, attempt: &Attempt, status: u16, kept: Vec<(String, String)>, body: Vec<u8>, text: String) -> AttemptResult {
    job.failed_on(&**p, attempt, status, format!("HTTP {status}: {text}"));
    let mut headers = kept;
    if !headers.iter().any(|(k, _)| k == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    headers.push(("x-request-id".into(), job.record.id.clone()));
    AttemptResult::Served(Reply { status, headers, body: Body::Full(body) })
}

/// A streamed Responses request that fails before its first byte, when Codex acts on the
/// failure: 200 with `response.created` then `response.failed` carrying Codex's code. Codex
/// recognises a context overflow only as `context_length_exceeded` in `response.failed` (it
/// compacts the conversation), and waits exactly the "try again in Ns" of a
/// `rate_limit_exceeded` message; as HTTP errors both would be a failed turn or a blind retry.
/// Other errors stay HTTP errors in the OpenAI shape (`None`): Codex treats a 4xx as final,
/// a `response.failed` with another code as retryable.
pub(super) fn responses_failed<P: Platform>(p: &Rc<P>, job: &Job<'_>, e: &GatewayError) -> Option<Reply> {
    if job.dialect != Dialect::Responses || !job.record.stream {
        return None;
    }
    let (code, message) = match e {
        GatewayError::RateLimited { message, retry_after } => ("rate_limit_exceeded", format!("{message}. Please try again in {retry_after}s.")),
        GatewayError::Upstream { status: 429, message } => ("rate_limit_exceeded", message.clone()),
        GatewayError::Upstream { status, message } if (400..500).contains(status) && (*status == 413 || failure::is_context_overflow(message)) => ("context_length_exceeded", message.clone()),
        _ => return None,
    };
    let id = job.record.id.trim_start_matches("req_");
    let display = if job.requested.is_empty() { job.record.requested_model.clone() } else { job.requested.clone() };
    let mut enc = responses::StreamEncoder::new(&display, &format!("resp_{id}"), now_s(&**p));
    if let Some(turn) = &job.responses {
        enc = enc.with_meta(turn.meta());
    }
    let mut out = Vec::new();
    enc.fail(code, &message, &mut out);
    let headers = vec![
        ("content-type".into(), "text/event-stream".into()),
        ("cache-control".into(), "no-cache".into()),
        ("x-request-id".into(), job.record.id.clone()),
    ];
    Some(Reply { status: 200, headers, body: Body::Full(out) })
}
