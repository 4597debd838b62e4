//! Anthropic content blocks inside OpenAI chat messages, as Cursor sends them for models whose
//! name contains `claude` (it then speaks Anthropic's content model over the OpenAI chat
//! endpoint): `tool_use` blocks in assistant content, `tool_result` blocks in user content,
//! `thinking` blocks, Anthropic `image` blocks. No OpenAI-compatible origin reads them (vLLM
//! refuses unknown part types, others drop them, and a dropped `tool_result` loses the tool's
//! output), so the body is rewritten into OpenAI's own form before anything else reads it, for
//! every node type:
//! - assistant `tool_use` -> `tool_calls` (`input` as the JSON `arguments` string), `text` blocks
//!   -> the message's text, `thinking` -> `reasoning_content` on a turn with tool calls
//!   (DeepSeek-style origins refuse a tool-call turn without its reasoning; others ignore the
//!   field), else dropped, like `redacted_thinking` (encrypted, Anthropic's only);
//! - user `tool_result` -> one `tool` message per result, before the rest of that user turn
//!   (an `is_error` result is marked `Error:`, as elsewhere; images inside a result follow as
//!   user content, since tool messages carry text only);
//! - Anthropic `image` blocks (base64 or url source) -> `image_url` parts;
//! - `cache_control` on any block goes (OpenAI-compatible origins have no such field).
//!
//! Bodies without such blocks are not touched (a byte scan decides before any parse).

use super::openai::tool_result_text;
use serde_json::{json, Map, Value};

/// Block types that mark an Anthropic-shaped chat body (a cheap pre-check on the raw bytes).
const MARKERS: [&[u8]; 3] = [b"\"tool_use\"", b"\"tool_result\"", b"\"thinking\""];

/// Whether the raw body may hold Anthropic blocks (false for every plain OpenAI body).
pub fn may_have_blocks(raw: &[u8]) -> bool {
    MARKERS.iter().any(|m| memchr::memmem::find(raw, m).is_some())
}

fn block_type(b: &Value) -> Option<&str> {
    b.get("type").and_then(Value::as_str)
}

fn is_anthropic_block(b: &Value) -> bool {
    match block_type(b) {
        Some("tool_use" | "tool_result" | "thinking" | "redacted_thinking") => true,
        Some("image") => b.get("source").is_some(),
        _ => false,
    }
}

/// An Anthropic `image` block as an OpenAI `image_url` part (None when it is not one).
fn image_part(b: &Value) -> Option<Value> {
    let src = b.get("source")?;
    let url = match src.get("type").and_then(Value::as_str)? {
        "base64" => format!("data:{};base64,{}", src.get("media_type").and_then(Value::as_str).unwrap_or("image/png"), src.get("data").and_then(Value::as_str)?),
        "url" => src.get("url").and_then(Value::as_str)?.to_string(),
        _ => return None,
    };
    Some(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// A block without its `cache_control` (OpenAI-compatible origins have no such field).
fn plain(b: &Value) -> Value {
    let mut b = b.clone();
    if let Some(o) = b.as_object_mut() {
        o.remove("cache_control");
    }
    b
}

fn assistant(m: &Map<String, Value>, blocks: &[Value]) -> Value {
    let mut out = m.clone();
    let mut text = Vec::new();
    let mut reasoning = Vec::new();
    let mut calls: Vec<Value> = m.get("tool_calls").and_then(Value::as_array).cloned().unwrap_or_default();
    for b in blocks {
        match block_type(b) {
            Some("text") => text.extend(b.get("text").and_then(Value::as_str).map(str::to_string)),
            Some("tool_use") => {
                let args = match b.get("input") {
                    Some(v @ Value::Object(_)) => v.to_string(),
                    Some(Value::String(s)) => s.clone(),
                    _ => "{}".to_string(),
                };
                calls.push(json!({"id": b.get("id").cloned().unwrap_or(json!("")), "type": "function", "function": {"name": b.get("name").cloned().unwrap_or(json!("")), "arguments": args}}));
            }
            Some("thinking") => reasoning.extend(b.get("thinking").and_then(Value::as_str).map(str::to_string)),
            _ => {}
        }
    }
    let text = text.join("\n");
    out.insert("content".into(), if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) });
    if !calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(calls));
        if !reasoning.is_empty() && !out.contains_key("reasoning_content") {
            out.insert("reasoning_content".into(), json!(reasoning.join("\n")));
        }
    }
    Value::Object(out)
}

fn result_text(content: Option<&Value>, images: &mut Vec<Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::new();
            for p in parts {
                match block_type(p) {
                    Some("text") => texts.extend(p.get("text").and_then(Value::as_str).map(str::to_string)),
                    Some("image") => images.extend(image_part(p)),
                    _ => {}
                }
            }
            texts.join("\n")
        }
        _ => String::new(),
    }
}

fn user(m: &Map<String, Value>, blocks: &[Value], out: &mut Vec<Value>) {
    let mut rest = Vec::new();
    for b in blocks {
        match block_type(b) {
            Some("tool_result") => {
                let mut images = Vec::new();
                let text = result_text(b.get("content"), &mut images);
                let is_error = b.get("is_error").and_then(Value::as_bool).unwrap_or(false);
                out.push(json!({"role": "tool", "tool_call_id": b.get("tool_use_id").cloned().unwrap_or(json!("")), "content": tool_result_text(&text, is_error)}));
                rest.extend(images);
            }
            Some("image") => rest.extend(image_part(b)),
            Some("thinking" | "redacted_thinking" | "tool_use") => {}
            _ => rest.push(plain(b)),
        }
    }
    if rest.is_empty() {
        return;
    }
    let mut u = m.clone();
    let all_text = rest.iter().all(|p| block_type(p) == Some("text"));
    u.insert(
        "content".into(),
        if all_text { json!(rest.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")) } else { Value::Array(rest) },
    );
    out.push(Value::Object(u));
}

/// Rewrite the Anthropic blocks of an OpenAI chat body (module docs). Returns whether it changed.
pub fn normalize(body: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(messages)) = body.get("messages") else { return false };
    let has = |m: &Value| m.get("content").and_then(Value::as_array).is_some_and(|c| c.iter().any(is_anthropic_block));
    if !messages.iter().any(has) {
        return false;
    }
    let mut out = Vec::with_capacity(messages.len() + 2);
    for m in messages {
        let (Some(obj), Some(blocks)) = (m.as_object(), m.get("content").and_then(Value::as_array)) else {
            out.push(m.clone());
            continue;
        };
        if !blocks.iter().any(is_anthropic_block) {
            out.push(m.clone());
            continue;
        }
        match obj.get("role").and_then(Value::as_str) {
            Some("assistant") => out.push(assistant(obj, blocks)),
            Some("user" | "tool") => user(obj, blocks, &mut out),
            _ => out.push(m.clone()),
        }
    }
    body.insert("messages".into(), Value::Array(out));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_anthropic_blocks_become_openai_messages() {
        let raw = json!({"model": "claude-sonnet-4-5", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "Read a.rs"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should read it.", "signature": "sig"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a.rs"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Grep", "input": {"q": "x"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "fn main() {}"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "no match", "is_error": true},
                {"type": "text", "text": "Now fix it.", "cache_control": {"type": "ephemeral"}}]}]});
        let text = raw.to_string();
        assert!(may_have_blocks(text.as_bytes()));
        let mut body = raw.as_object().unwrap().clone();
        assert!(normalize(&mut body));
        let m = body["messages"].as_array().unwrap();
        assert_eq!(m[0], raw["messages"][0], "not Anthropic's blocks: untouched");
        assert_eq!(m[2]["content"], "Reading.");
        assert_eq!(m[2]["reasoning_content"], "I should read it.", "a tool-call turn keeps its reasoning");
        assert_eq!(m[2]["tool_calls"][0], json!({"id": "toolu_1", "type": "function", "function": {"name": "Read", "arguments": "{\"path\":\"a.rs\"}"}}));
        assert_eq!(m[2]["tool_calls"][1]["function"]["name"], "Grep");
        assert_eq!(m[3], json!({"role": "tool", "tool_call_id": "toolu_1", "content": "fn main() {}"}));
        assert_eq!(m[4], json!({"role": "tool", "tool_call_id": "toolu_2", "content": "Error: no match"}));
        assert_eq!(m[5], json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}, {"type": "text", "text": "Now fix it."}]}));
        assert_eq!(m.len(), 6);
        // What comes out is a chat request the OpenAI decoder reads whole.
        let ir = super::super::openai::decode_request(&body).unwrap();
        assert_eq!(ir.messages.iter().filter(|m| m.role == super::super::ir::Role::Tool).count(), 2);
    }

    #[test]
    fn plain_openai_bodies_are_left_alone() {
        let plain = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "assistant", "content": "x", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]});
        assert!(!may_have_blocks(plain.to_string().as_bytes()));
        let mut b = plain.as_object().unwrap().clone();
        assert!(!normalize(&mut b));
        assert_eq!(Value::Object(b), plain);
        // A tool named "thinking" passes the byte scan but is not a block.
        let named = json!({"model": "m", "messages": [{"role": "user", "content": "q"}], "tools": [{"type": "function", "function": {"name": "thinking"}}]});
        let mut b = named.as_object().unwrap().clone();
        assert!(!normalize(&mut b));
        // A thinking-only answer without calls: the reasoning is dropped, the text stays.
        let mut b = json!({"messages": [{"role": "assistant", "content": [{"type": "thinking", "thinking": "t"}, {"type": "text", "text": "a"}]}]}).as_object().unwrap().clone();
        assert!(normalize(&mut b));
        assert_eq!(b["messages"][0], json!({"role": "assistant", "content": "a"}));
    }
}
