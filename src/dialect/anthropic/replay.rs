//! A conversation replayed to an `anthropic` node by an Anthropic client (the same-dialect leg,
//! otherwise forwarded as the client's bytes): thinking that is not Anthropic's is taken out.
//!
//! Why: a conversation can move between origin families (a group with an Ollama and an
//! Anthropic member, a failover, a `/model` switch). The thinking an Ollama or OpenAI-compatible
//! origin produced reached the client as a thinking block signed `UNSIGNED_THINKING` (or, from
//! other gateways, unsigned); the Messages API rejects such a block (`Invalid signature in
//! thinking block`, `thinking.signature: Field required`) and the session wedges. Forging a
//! signature cannot work, and turning the reasoning into text would put words in the
//! assistant's mouth, so it is dropped: it was that origin's scratch work, and the answer it led
//! to (text, tool calls) stays. Anthropic's own blocks (real signatures, `redacted_thinking`)
//! are untouched, byte for byte (`jsonscan::splice_object` rewrites only what changed).
//!
//! With thinking on, the API wants the last assistant turn of an open tool loop to start with
//! its (signed) thinking; when the block taken out was that one, the request goes without
//! thinking, as a translated request does (`origin::encode_request`).

use super::super::ir::anthropic_signature;
use serde_json::{Map, Value};

/// Takes foreign thinking out of `body` (a Messages request). Returns whether it changed.
pub fn strip_foreign_thinking(body: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(messages)) = body.get_mut("messages") else { return false };
    let last_assistant = messages.iter().rposition(|m| m.get("role").and_then(Value::as_str) == Some("assistant"));
    let mut changed = false;
    let mut loop_lost_its_thinking = false;
    let mut emptied = Vec::new();
    for (i, m) in messages.iter_mut().enumerate() {
        if m.get("role").and_then(Value::as_str) != Some("assistant") {
            continue;
        }
        let Some(Value::Array(blocks)) = m.get_mut("content") else { continue };
        let before = blocks.len();
        blocks.retain(|b| b.get("type").and_then(Value::as_str) != Some("thinking") || anthropic_signature(b.get("signature").and_then(Value::as_str)).is_some());
        if blocks.len() == before {
            continue;
        }
        changed = true;
        if blocks.is_empty() {
            // Nothing left of that turn: the API refuses empty content, and joins the turns
            // around a missing one.
            emptied.push(i);
        } else if Some(i) == last_assistant {
            let first = blocks[0].get("type").and_then(Value::as_str);
            let calls = blocks.iter().any(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"));
            loop_lost_its_thinking = calls && !matches!(first, Some("thinking" | "redacted_thinking"));
        }
    }
    for i in emptied.into_iter().rev() {
        messages.remove(i);
    }
    let thinking_on = body.get("thinking").and_then(|t| t.get("type")).and_then(Value::as_str).is_some_and(|t| t != "disabled");
    if loop_lost_its_thinking && thinking_on {
        body.remove("thinking");
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::ir::UNSIGNED_THINKING;
    use serde_json::json;

    fn run(v: Value) -> (bool, Value) {
        let mut m = v.as_object().unwrap().clone();
        let changed = strip_foreign_thinking(&mut m);
        (changed, Value::Object(m))
    }

    #[test]
    fn only_anthropics_own_thinking_stays() {
        let signed = json!({"type": "thinking", "thinking": "mine", "signature": "EqQBCkYIBxgC"});
        let body = json!({"thinking": {"type": "enabled", "budget_tokens": 2048}, "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "ollama's", "signature": UNSIGNED_THINKING}, {"type": "text", "text": "a"}]},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": [signed.clone(), {"type": "redacted_thinking", "data": "xx"}, {"type": "tool_use", "id": "t1", "name": "R", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
        ]});
        let (changed, out) = run(body.clone());
        assert!(changed);
        assert_eq!(out["messages"][1]["content"], json!([{"type": "text", "text": "a"}]));
        assert_eq!(out["messages"][3], body["messages"][3], "signed and redacted thinking untouched");
        assert_eq!(out["thinking"], body["thinking"], "the open loop keeps its signed thinking");
        let (changed, same) = run(json!({"messages": [{"role": "assistant", "content": [signed]}]}));
        assert!(!changed);
        assert_eq!(same["messages"][0]["content"][0]["signature"], "EqQBCkYIBxgC");
    }

    #[test]
    fn an_open_loop_that_lost_its_thinking_goes_without_thinking() {
        for sig in [json!(UNSIGNED_THINKING), json!(""), Value::Null] {
            let mut block = json!({"type": "thinking", "thinking": "qwen's"});
            if !sig.is_null() {
                block["signature"] = sig;
            }
            let body = json!({"thinking": {"type": "adaptive"}, "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": [block, {"type": "tool_use", "id": "t1", "name": "R", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
            ]});
            let (changed, out) = run(body);
            assert!(changed);
            assert_eq!(out["messages"][1]["content"].as_array().unwrap().len(), 1);
            assert!(out.get("thinking").is_none());
        }
        // A turn that was only thinking disappears.
        let (_, out) = run(json!({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": ""}]}, {"role": "user", "content": "again"}]}));
        assert_eq!(out["messages"].as_array().unwrap().len(), 2);
    }
}
