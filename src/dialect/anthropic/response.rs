//! Anthropic Messages whole answers: the origin's message -> IR, and IR -> the client's message,
//! with their stop reasons and usage.

use super::super::ir::*;
use super::super::wire;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Value};

// ============================================================================================
// Origin answer -> IR
// ============================================================================================

pub fn finish_from(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "stop_sequence" => FinishReason::StopSequence,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// Prompt tokens as Anthropic reports them: uncached input plus cache reads and writes, then
/// the cache reads and the cache writes (priced apart, see `costs`).
pub(super) fn prompt_tokens(u: &Value) -> Option<[u64; 3]> {
    let parts = ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"].map(|k| u.get(k).and_then(Value::as_u64));
    let [_, read, write] = parts.map(Option::unwrap_or_default);
    parts.iter().any(Option::is_some).then(|| [parts.iter().flatten().sum(), read, write])
}

/// Usage from `prompt_tokens`' three counts and the output tokens.
pub(super) fn usage_of(p: Option<[u64; 3]>, c: Option<u64>) -> Option<Usage> {
    let [prompt, cached, written] = p.unwrap_or_default();
    (p.is_some() || c.is_some()).then(|| Usage { prompt_tokens: prompt, completion_tokens: c.unwrap_or(0), estimated: false, cached_tokens: cached, cache_write_tokens: written, reasoning_tokens: 0 })
}

/// An Anthropic `usage` object (message, or `message_delta`) as IR usage.
pub fn usage_from(u: &Value) -> Option<Usage> {
    usage_of(prompt_tokens(u), u.get("output_tokens").and_then(Value::as_u64))
}

/// Anthropic counts input without the cache: `input_tokens` is what was neither read from nor
/// written to it, and the cache parts are fields of their own (sent only when non-zero).
pub(super) fn usage_json(u: &Usage) -> Value {
    let mut v = json!({"input_tokens": u.prompt_tokens.saturating_sub(u.cached_tokens + u.cache_write_tokens), "output_tokens": u.completion_tokens});
    if u.cached_tokens > 0 {
        v["cache_read_input_tokens"] = json!(u.cached_tokens);
    }
    if u.cache_write_tokens > 0 {
        v["cache_creation_input_tokens"] = json!(u.cache_write_tokens);
    }
    v
}

/// A non-streamed Messages answer. `Err` carries the origin's error message.
pub fn decode_response(v: &Value) -> Result<ChatResponse, String> {
    let m = v.as_object().ok_or("origin answer is not a JSON object")?;
    if m.get("type").and_then(Value::as_str) == Some("error") || m.get("error").is_some_and(|e| !e.is_null()) {
        return Err(m.get("error").map(wire::error_message).unwrap_or_else(|| "origin error".into()));
    }
    let content = m.get("content").and_then(Value::as_array).ok_or("origin answer has no content")?;
    let mut r = ChatResponse { id: m.get("id").and_then(Value::as_str).unwrap_or("").to_string(), ..Default::default() };
    for b in content {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => r.text.push_str(b.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("thinking") => r.reasoning.push_str(b.get("thinking").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => r.tool_calls.push(ToolCall {
                id: b.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
                name: b.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                arguments: b.get("input").filter(|i| i.is_object()).map(Value::to_string).unwrap_or_else(|| "{}".into()),
            }),
            // Server-tool and redacted blocks have no counterpart in the client's dialect.
            _ => {}
        }
    }
    if let Some(s) = m.get("stop_reason").and_then(Value::as_str) {
        r.finish = finish_from(s);
    }
    r.usage = m.get("usage").and_then(usage_from);
    r.settle();
    Ok(r)
}

// ============================================================================================
// IR -> client answer
// ============================================================================================

/// Anthropic `stop_reason` for a finish reason. A content filter is Anthropic's `refusal`.
pub fn stop_reason(f: FinishReason) -> &'static str {
    match f {
        FinishReason::ToolCalls => "tool_use",
        FinishReason::Length => "max_tokens",
        FinishReason::StopSequence => "stop_sequence",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Stop => "end_turn",
    }
}

/// A non-streamed Messages answer: content blocks thinking, text, tool_use (with parsed
/// `input`). Anthropic's usage fields are required: when the origin reported no usage they
/// are 0 (meaning "not reported"; nothing is estimated here).
pub fn encode_response(resp: &ChatResponse, display: &str) -> Value {
    let mut content = Vec::new();
    if !resp.reasoning.is_empty() {
        // Not Anthropic's thinking: marked so (the client needs a signature to replay it, and
        // the gateway drops it before any Anthropic origin).
        content.push(json!({"type": "thinking", "thinking": resp.reasoning, "signature": UNSIGNED_THINKING}));
    }
    if !resp.text.is_empty() {
        content.push(json!({"type": "text", "text": resp.text}));
    }
    for (i, tc) in resp.tool_calls.iter().enumerate() {
        let id = if tc.id.is_empty() { wire::call_id(&resp.id, i) } else { tc.id.clone() };
        content.push(json!({"type": "tool_use", "id": id, "name": tc.name, "input": wire::args_object(&tc.arguments)}));
    }
    if content.is_empty() {
        content.push(json!({"type": "text", "text": ""}));
    }
    let finish = finish_with_tools(Some(resp.finish), !resp.tool_calls.is_empty());
    let u = resp.usage.unwrap_or_default();
    json!({
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": display,
        "content": content,
        "stop_reason": stop_reason(finish),
        "stop_sequence": null,
        "usage": usage_json(&u),
    })
}
