//! OpenAI Responses whole answers: IR -> the client's `response` object.

use super::super::ir::*;
use super::super::wire;
use super::tools::{self, Kind, ToolMap};
use crate::types::{FinishReason, Usage};
use serde_json::{json, Map, Value};

// ============================================================================================
// IR -> client answer
// ============================================================================================

/// How origin reasoning is presented to a Responses client (see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReasoningStyle {
    #[default]
    Summary,
    Text,
}

pub(super) fn id_tail(resp_id: &str) -> &str {
    resp_id.strip_prefix("resp_").unwrap_or(resp_id)
}

pub(super) fn item_id(kind: &str, resp_id: &str, output_index: usize) -> String {
    format!("{kind}_{}_{output_index}", id_tail(resp_id))
}

pub(super) fn usage_json(u: &Usage) -> Value {
    let mut v = json!({"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens, "total_tokens": u.total()});
    if u.cached_tokens > 0 {
        v["input_tokens_details"] = json!({"cached_tokens": u.cached_tokens});
    }
    if u.reasoning_tokens > 0 {
        v["output_tokens_details"] = json!({"reasoning_tokens": u.reasoning_tokens});
    }
    v
}

/// (status, incomplete_details) for a finish reason.
pub(super) fn status_of(f: FinishReason) -> (&'static str, Value) {
    match f {
        FinishReason::Length => ("incomplete", json!({"reason": "max_output_tokens"})),
        FinishReason::ContentFilter => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// `tag` (`tools::origin_tag`) names the origin that produced the reasoning, as the item's
/// `encrypted_content`: a next turn sends it back, and only that origin gets it again.
pub(super) fn reasoning_item(id: &str, text: &str, style: ReasoningStyle, tag: Option<&str>) -> Value {
    let mut item = match style {
        ReasoningStyle::Summary => {
            json!({"id": id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]})
        }
        ReasoningStyle::Text => {
            json!({"id": id, "type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": text}]})
        }
    };
    if let Some(t) = tag {
        item["encrypted_content"] = json!(t);
    }
    item
}

pub(super) fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"id": id, "type": "message", "status": status, "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

pub(super) fn call_item(id: &str, call_id: &str, name: &str, args: &str, status: &str) -> Value {
    json!({"id": id, "type": "function_call", "status": status, "call_id": call_id, "name": name, "arguments": args})
}

/// The output item of a call of the origin's tool `origin` (see `tools`): a `function_call`
/// under the client's name (with its `namespace`), or a `custom_tool_call` carrying the raw
/// `input` (`args` are the origin's JSON arguments; an item just opened passes empty ones).
pub(super) fn tool_item(map: &ToolMap, id: &str, call_id: &str, origin: &str, args: &str, status: &str) -> Value {
    let Some(e) = map.client(origin) else { return call_item(id, call_id, origin, args, status) };
    let mut item = match e.kind {
        Kind::Custom => {
            let input = if args.is_empty() { String::new() } else { tools::custom_input(args) };
            json!({"id": id, "type": "custom_tool_call", "status": status, "call_id": call_id, "name": e.name, "input": input})
        }
        Kind::Function => call_item(id, call_id, &e.name, args, status),
    };
    if let Some(ns) = &e.namespace {
        item["namespace"] = json!(ns);
    }
    item
}

pub(super) fn is_custom(map: &ToolMap, origin: &str) -> bool {
    map.client(origin).is_some_and(|e| e.kind == Kind::Custom)
}

pub(super) fn response_obj(id: &str, display: &str, created: i64, status: &str, output: Vec<Value>) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("id".into(), json!(id));
    r.insert("object".into(), json!("response"));
    r.insert("created_at".into(), json!(created));
    r.insert("status".into(), json!(status));
    r.insert("error".into(), Value::Null);
    r.insert("incomplete_details".into(), Value::Null);
    r.insert("model".into(), json!(display));
    r.insert("output".into(), Value::Array(output));
    r
}

/// A non-streamed `response` object: output items reasoning, message (`output_text`),
/// function_call (with `call_id`); `status` completed, or incomplete with
/// `incomplete_details` for a length/content-filter stop. `usage` only when the origin
/// reported it — omitted otherwise, never invented.
pub fn encode_response(resp: &ChatResponse, display: &str, created: i64) -> Value {
    encode_response_styled(resp, display, created, ReasoningStyle::Summary)
}

pub fn encode_response_styled(resp: &ChatResponse, display: &str, created: i64, style: ReasoningStyle) -> Value {
    encode_response_with(resp, display, created, style, &ToolMap::default(), None)
}

/// `encode_response_styled` with the request's tool map: calls of custom and namespace tools
/// come back under the client's names and types; `tag` marks the reasoning's origin.
pub fn encode_response_with(resp: &ChatResponse, display: &str, created: i64, style: ReasoningStyle, map: &ToolMap, tag: Option<&str>) -> Value {
    let (status, incomplete) = status_of(resp.finish);
    let mut output = Vec::new();
    if !resp.reasoning.is_empty() {
        output.push(reasoning_item(&item_id("rs", &resp.id, output.len()), &resp.reasoning, style, tag));
    }
    if !resp.text.is_empty() || resp.tool_calls.is_empty() {
        output.push(message_item(&item_id("msg", &resp.id, output.len()), &resp.text, status));
    }
    for (i, tc) in resp.tool_calls.iter().enumerate() {
        let call_id = if tc.id.is_empty() { wire::call_id(&resp.id, i) } else { tc.id.clone() };
        let custom = is_custom(map, &tc.name);
        let args = if custom { tc.arguments.as_str() } else { wire::args_text(&tc.arguments) };
        output.push(tool_item(map, &item_id(if custom { "ctc" } else { "fc" }, &resp.id, output.len()), &call_id, &tc.name, args, "completed"));
    }
    let mut r = response_obj(&resp.id, display, created, status, output);
    r.insert("incomplete_details".into(), incomplete);
    if let Some(u) = &resp.usage {
        r.insert("usage".into(), usage_json(u));
    }
    Value::Object(r)
}
