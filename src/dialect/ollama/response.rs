//! Ollama whole answers: the origin's `/api/chat` (or `/api/generate`) answer -> IR, and IR -> the
//! client's `/api/chat` / `/api/generate` answer with every metric Ollama's carry (`Timing`).

use super::super::ir::*;
use super::super::wire;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Map, Value};

// ============================================================================================
// Origin answer -> IR
// ============================================================================================

/// Ollama knows `stop` and `length` (and reports `stop` for a tool-calling turn).
pub(super) fn finish_from(done_reason: Option<&str>, had_tools: bool) -> FinishReason {
    finish_with_tools((done_reason == Some("length")).then_some(FinishReason::Length), had_tools)
}

/// The counters of an Ollama answer or final stream line (`prompt_eval_count`, `eval_count`) as
/// IR usage.
pub fn usage_of(v: &Value) -> Option<Usage> {
    usage_from(v.get("prompt_eval_count").and_then(Value::as_u64), v.get("eval_count").and_then(Value::as_u64))
}

pub(super) fn usage_from(prompt: Option<u64>, eval: Option<u64>) -> Option<Usage> {
    // Ollama omits a zero count (`omitempty`), so one present count means the other is 0.
    if prompt.is_none() && eval.is_none() {
        return None;
    }
    Some(Usage { prompt_tokens: prompt.unwrap_or(0), completion_tokens: eval.unwrap_or(0), estimated: false, ..Default::default() })
}

pub(super) fn args_from(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// A non-streamed `/api/chat` (or `/api/generate`: `response`) answer.
pub fn decode_chat_response(v: &Value) -> Result<ChatResponse, String> {
    let m = v.as_object().ok_or("origin answer is not a JSON object")?;
    if let Some(e) = m.get("error").filter(|e| !e.is_null()) {
        return Err(wire::error_message(e));
    }
    let mut r = ChatResponse::default();
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(msg) = m.get("message") {
        r.text = s(msg.get("content"));
        r.reasoning = s(msg.get("thinking"));
        for c in msg.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let f = c.get("function");
            r.tool_calls.push(ToolCall { id: s(c.get("id")), name: s(f.and_then(|f| f.get("name"))), arguments: args_from(f.and_then(|f| f.get("arguments"))) });
        }
    } else {
        r.text = s(m.get("response"));
        r.reasoning = s(m.get("thinking"));
    }
    r.finish = finish_from(m.get("done_reason").and_then(Value::as_str), !r.tool_calls.is_empty());
    r.usage = usage_from(m.get("prompt_eval_count").and_then(Value::as_u64), m.get("eval_count").and_then(Value::as_u64));
    Ok(r)
}

// ============================================================================================
// IR -> client answer
// ============================================================================================

pub(super) fn done_reason(f: FinishReason) -> &'static str {
    // Ollama knows `stop` and `length`; a tool-calling turn is `stop` there.
    match f {
        FinishReason::Length => "length",
        _ => "stop",
    }
}

/// Durations of a translated answer in nanoseconds, as the gateway measured them (the origin
/// reports none): `total` from the request's arrival, `prompt_eval` until the first output,
/// `eval` the rest; a chat origin's load time is unknown and reported as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub total_ns: u64,
    pub load_ns: u64,
    pub prompt_eval_ns: u64,
    pub eval_ns: u64,
}

impl Timing {
    /// From the time to the first output and the total, in milliseconds. The evaluation
    /// durations are never 0 (clients divide token counts by them).
    pub fn from_ms(first_ms: u64, total_ms: u64) -> Timing {
        let first = first_ms.min(total_ms);
        let prompt_eval_ns = (first * 1_000_000).max(1);
        let eval_ns = ((total_ms - first) * 1_000_000).max(1);
        Timing { total_ns: (total_ms * 1_000_000).max(prompt_eval_ns + eval_ns), load_ns: 0, prompt_eval_ns, eval_ns }
    }
}

/// Every metric Ollama's final answers carry, always present (clients such as
/// ollama-ai-provider-v2 require them): counts from the origin's usage, 0 when it reported none.
pub(super) fn put_metrics(m: &mut Map<String, Value>, u: Option<&Usage>, t: &Timing) {
    let (p, c) = u.map_or((0, 0), |u| (u.prompt_tokens, u.completion_tokens));
    m.insert("total_duration".into(), json!(t.total_ns));
    m.insert("load_duration".into(), json!(t.load_ns));
    m.insert("prompt_eval_count".into(), json!(p));
    m.insert("prompt_eval_duration".into(), json!(t.prompt_eval_ns));
    m.insert("eval_count".into(), json!(c));
    m.insert("eval_duration".into(), json!(t.eval_ns));
}

pub(super) fn tool_calls_json<'a>(calls: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Value {
    Value::Array(
        calls
            .enumerate()
            .map(|(i, (id, name, args))| {
                let mut c = Map::new();
                if !id.is_empty() {
                    c.insert("id".into(), json!(id));
                }
                c.insert("function".into(), json!({"index": i, "name": name, "arguments": wire::args_object(args)}));
                Value::Object(c)
            })
            .collect(),
    )
}

/// A non-streamed `/api/chat` answer with zero durations (see `encode_chat_response_timed`).
pub fn encode_chat_response(resp: &ChatResponse, display: &str, created_at: &str) -> Value {
    encode_chat_response_timed(resp, display, created_at, &Timing::default())
}

/// A non-streamed `/api/chat` answer with every field Ollama's carries (`put_metrics`).
pub fn encode_chat_response_timed(resp: &ChatResponse, display: &str, created_at: &str, t: &Timing) -> Value {
    let mut msg = Map::new();
    msg.insert("role".into(), json!("assistant"));
    msg.insert("content".into(), json!(resp.text));
    if !resp.reasoning.is_empty() {
        msg.insert("thinking".into(), json!(resp.reasoning));
    }
    if !resp.tool_calls.is_empty() {
        msg.insert("tool_calls".into(), tool_calls_json(resp.tool_calls.iter().map(|t| (t.id.as_str(), t.name.as_str(), t.arguments.as_str()))));
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(display));
    out.insert("created_at".into(), json!(created_at));
    out.insert("message".into(), Value::Object(msg));
    out.insert("done".into(), json!(true));
    out.insert("done_reason".into(), json!(done_reason(resp.finish)));
    put_metrics(&mut out, resp.usage.as_ref(), t);
    Value::Object(out)
}

pub fn encode_generate_response(resp: &ChatResponse, display: &str, created_at: &str) -> Value {
    encode_generate_response_timed(resp, display, created_at, &Timing::default())
}

/// A non-streamed `/api/generate` answer. `context` (Ollama token ids) cannot be produced for
/// a chat origin and is omitted (Ollama omits it too when empty); tool calls do not exist on
/// /api/generate.
pub fn encode_generate_response_timed(resp: &ChatResponse, display: &str, created_at: &str, t: &Timing) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), json!(display));
    out.insert("created_at".into(), json!(created_at));
    out.insert("response".into(), json!(resp.text));
    if !resp.reasoning.is_empty() {
        out.insert("thinking".into(), json!(resp.reasoning));
    }
    out.insert("done".into(), json!(true));
    out.insert("done_reason".into(), json!(done_reason(resp.finish)));
    put_metrics(&mut out, resp.usage.as_ref(), t);
    Value::Object(out)
}

/// The current time as Ollama writes `created_at` (RFC 3339, nanoseconds, UTC).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
