//! A whole Converse answer -> IR, and the pieces streams share (stop reasons, usage).

use crate::dialect::ir::*;
use crate::types::{FinishReason, Usage};
use serde_json::Value;

pub fn finish_from(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "stop_sequence" => FinishReason::StopSequence,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// Converse `usage` as IR usage: prompt = input + cache reads + cache writes (what the model
/// processed), with the cache reads and writes also counted on their own (cost accounting).
pub fn usage_from(u: &Value) -> Option<Usage> {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let (input, output, read, write) = (n("inputTokens"), n("outputTokens"), n("cacheReadInputTokens"), n("cacheWriteInputTokens"));
    if input.is_none() && output.is_none() {
        return None;
    }
    Some(Usage { prompt_tokens: input.unwrap_or(0) + read.unwrap_or(0) + write.unwrap_or(0), completion_tokens: output.unwrap_or(0), cached_tokens: read.unwrap_or(0), cache_write_tokens: write.unwrap_or(0), estimated: false, reasoning_tokens: 0 })
}

/// A Converse answer. `Err` carries what is wrong with it.
pub fn decode_response(v: &Value) -> Result<ChatResponse, String> {
    let content = v.pointer("/output/message/content").and_then(Value::as_array).ok_or("the answer has no output.message.content")?;
    let mut r = ChatResponse::default();
    for b in content {
        if let Some(t) = b.get("text").and_then(Value::as_str) {
            r.text.push_str(t);
        } else if let Some(t) = b.pointer("/reasoningContent/reasoningText/text").and_then(Value::as_str) {
            r.reasoning.push_str(t);
        } else if let Some(tu) = b.get("toolUse") {
            r.tool_calls.push(ToolCall {
                id: tu.get("toolUseId").and_then(Value::as_str).unwrap_or("").to_string(),
                name: tu.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                arguments: tu.get("input").filter(|i| i.is_object()).map(Value::to_string).unwrap_or_else(|| "{}".into()),
            });
        }
        // Images, documents, guard content, redacted reasoning: no counterpart in the IR.
    }
    if let Some(s) = v.get("stopReason").and_then(Value::as_str) {
        r.finish = finish_from(s);
    }
    r.usage = v.get("usage").and_then(usage_from);
    r.settle();
    Ok(r)
}
