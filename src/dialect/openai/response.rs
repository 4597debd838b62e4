//! OpenAI chat completions whole answers: the origin's `chat.completion` -> IR, and IR -> the
//! client's `chat.completion`, with their usage.

use super::super::ir::*;
use super::super::wire;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Map, Value};

// ============================================================================================
// Origin answer -> IR
// ============================================================================================

pub(super) fn finish_from(reason: &str, stop_reason: Option<&Value>) -> FinishReason {
    let f = FinishReason::from_openai(reason);
    // vLLM reports the matched stop string in `stop_reason`.
    if f == FinishReason::Stop && matches!(stop_reason, Some(Value::String(_))) {
        FinishReason::StopSequence
    } else {
        f
    }
}

/// An OpenAI `usage` object as IR usage (`None` when it holds neither count).
pub fn usage_from(u: &Value) -> Option<Usage> {
    let p = u.get("prompt_tokens").and_then(Value::as_u64);
    let c = u.get("completion_tokens").and_then(Value::as_u64);
    if p.is_none() && c.is_none() {
        return None;
    }
    let prompt = p.unwrap_or(0);
    Some(Usage { prompt_tokens: prompt, completion_tokens: c.unwrap_or(0), estimated: false, cached_tokens: Usage::openai_cached(u, prompt), cache_write_tokens: 0, reasoning_tokens: u.pointer("/completion_tokens_details/reasoning_tokens").and_then(Value::as_u64).unwrap_or(0) })
}

/// A non-streamed `/v1/chat/completions` answer. `Err` carries the origin's error message.
pub fn decode_response(v: &Value) -> Result<ChatResponse, String> {
    let m = v.as_object().ok_or("origin answer is not a JSON object")?;
    if let Some(e) = m.get("error").filter(|e| !e.is_null()) {
        return Err(wire::error_message(e));
    }
    let mut r = ChatResponse { id: m.get("id").and_then(Value::as_str).unwrap_or("").to_string(), ..Default::default() };
    let choice = m.get("choices").and_then(Value::as_array).and_then(|c| c.first()).ok_or("origin answer has no choices")?;
    // A `/v1/completions` answer (fill-in-the-middle, `ollama::fim`).
    if let Some(t) = choice.get("text").and_then(Value::as_str) {
        r.text = t.to_string();
    }
    if let Some(msg) = choice.get("message") {
        match msg.get("content") {
            Some(Value::String(s)) => r.text = s.clone(),
            Some(Value::Array(parts)) => {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(Value::as_str) {
                        r.text.push_str(t);
                    }
                }
            }
            _ => {}
        }
        if r.text.is_empty() {
            if let Some(s) = msg.get("refusal").and_then(Value::as_str) {
                r.text = s.to_string();
            }
        }
        if let Some(s) = msg.get("reasoning_content").and_then(Value::as_str).or_else(|| msg.get("reasoning").and_then(Value::as_str)) {
            r.reasoning = s.to_string();
        }
        if let Some(calls) = msg.get("tool_calls").and_then(Value::as_array) {
            for c in calls {
                let f = c.get("function");
                r.tool_calls.push(ToolCall {
                    id: c.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
                    name: f.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or("").to_string(),
                    arguments: match f.and_then(|f| f.get("arguments")) {
                        Some(Value::String(s)) => s.clone(),
                        Some(v @ Value::Object(_)) => v.to_string(),
                        _ => String::new(),
                    },
                });
            }
        }
    }
    if let Some(fr) = choice.get("finish_reason").and_then(Value::as_str) {
        r.finish = finish_from(fr, choice.get("stop_reason"));
    }
    r.usage = m.get("usage").and_then(usage_from);
    r.settle();
    Ok(r)
}

// ============================================================================================
// IR -> client answer
// ============================================================================================

pub(super) fn usage_json(u: &Usage) -> Value {
    let mut v = json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total()});
    if u.cached_tokens > 0 {
        v["prompt_tokens_details"] = json!({"cached_tokens": u.cached_tokens});
    }
    if u.reasoning_tokens > 0 {
        v["completion_tokens_details"] = json!({"reasoning_tokens": u.reasoning_tokens});
    }
    v
}

/// A `chat.completion` object for the client. `usage` is omitted when the origin reported none.
/// Reasoning goes out as `reasoning_content` (the field most OpenAI-speaking clients read).
pub fn encode_response(resp: &ChatResponse, display: &str, created: i64) -> Value {
    let mut msg = Map::new();
    msg.insert("role".into(), json!("assistant"));
    msg.insert("content".into(), if resp.text.is_empty() && !resp.tool_calls.is_empty() { Value::Null } else { json!(resp.text) });
    if !resp.reasoning.is_empty() {
        msg.insert("reasoning_content".into(), json!(resp.reasoning));
    }
    if !resp.tool_calls.is_empty() {
        let calls: Vec<Value> = resp
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, tc)| {
                let id = if tc.id.is_empty() { wire::call_id(&resp.id, i) } else { tc.id.clone() };
                json!({"id": id, "type": "function", "function": {"name": tc.name, "arguments": wire::args_text(&tc.arguments)}})
            })
            .collect();
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    let mut out = json!({
        "id": resp.id,
        "object": "chat.completion",
        "created": created,
        "model": display,
        "choices": [{"index": 0, "message": msg, "logprobs": null, "finish_reason": resp.finish.as_openai()}],
    });
    if let Some(u) = &resp.usage {
        out["usage"] = usage_json(u);
    }
    out
}
