//! The Anthropic origin side: IR -> `POST /v1/messages` body, and the origin's answers (JSON
//! message, SSE events) -> IR. This is the leg for OpenAI chat, Responses and Ollama clients on
//! an `anthropic` node (Anthropic clients there are forwarded untouched, never translated).
//!
//! Mapping rules (README "Any dialect on an anthropic node"):
//! - leading system text -> top-level `system`; a system message later in the conversation
//!   stays a `role: "system"` message at its place (the Messages API accepts them);
//! - consecutive messages of one role are merged into one turn; tool results become
//!   `tool_result` blocks in the user turn that follows the call, one per call id (repeated
//!   results for one id are joined), before that turn's other content;
//! - tool-call arguments become an `input` object (text that is not an object is kept under
//!   `_raw_arguments`, never lost); tool parameters become `input_schema` (an object schema);
//! - thinking from an earlier turn is sent back only with its signature (unsigned reasoning from
//!   another origin family would be rejected), and a request whose last assistant turn made tool
//!   calls without signed thinking goes without thinking (the API requires it in an open tool
//!   loop), as does one that forces a tool (`tool_choice` required or named); otherwise
//!   reasoning controls become `thinking` with a
//!   budget of at least 1024 tokens and below `max_tokens` (else no thinking), and then no
//!   `temperature`/`top_p`, which the API refuses with thinking on;
//! - `max_tokens` is required by Anthropic: when the client set none, `DEFAULT_MAX_TOKENS` plus
//!   the thinking budget (at most `MAX_DEFAULT_TOKENS`); whitespace-only stop sequences (which
//!   the API refuses) are left out; `temperature` is capped at 1 and `top_p` sent only without
//!   it (recent models refuse both);
//! - dropped (no Messages counterpart): `seed`, penalties, `response_format`, and the other
//!   dialect's extra fields.

use super::super::ir::*;
use super::super::wire;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Map, Value};

/// `max_tokens` for clients that sent none (OpenAI and Ollama make it optional).
pub const DEFAULT_MAX_TOKENS: u64 = 8192;
/// The smallest thinking budget the Messages API accepts.
pub const MIN_THINKING_BUDGET: u64 = 1024;
/// The largest `max_tokens` the gateway picks by itself (thinking budget plus an answer).
pub const MAX_DEFAULT_TOKENS: u64 = 32_000;

// ============================================================================================
// IR -> origin request
// ============================================================================================

/// The body for an Anthropic `/v1/messages` origin.
pub fn encode_request(req: &ChatRequest, real_model: &str) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), json!(real_model));
    // Without a client limit, room for the thinking budget on top of the default answer.
    let wanted = req.reasoning.and_then(|r| wanted_budget(&r)).unwrap_or(0);
    let max_tokens = req.max_tokens.filter(|m| *m > 0).unwrap_or((DEFAULT_MAX_TOKENS + wanted).min(MAX_DEFAULT_TOKENS));
    out.insert("max_tokens".into(), json!(max_tokens));
    if !req.system.is_empty() {
        out.insert("system".into(), json!(req.system.join("\n\n")));
    }
    let messages = encode_messages(req);
    // With thinking on, the API wants the assistant turn of an open tool loop to start with its
    // signed thinking; another dialect's history cannot carry one, so such a turn goes without.
    let loop_without_thinking = messages.iter().rev().find(|m| m["role"] == "assistant").is_some_and(|m| {
        let blocks = m["content"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        blocks.iter().any(|b| b["type"] == "tool_use") && blocks.first().is_none_or(|b| b["type"] != "thinking")
    });
    out.insert("messages".into(), Value::Array(messages));
    if req.stream {
        out.insert("stream".into(), json!(true));
    }
    // Nor does it take thinking with a forced tool choice.
    let forced = !req.tools.is_empty() && matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Named(_)));
    let thinking = req.reasoning.filter(|_| !loop_without_thinking && !forced).and_then(|r| thinking_budget(&r, max_tokens));
    match thinking {
        Some(budget) => {
            out.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
        }
        None => {
            // OpenAI allows temperatures up to 2, Anthropic up to 1; recent Claude models refuse
            // temperature and top_p together, so top_p goes only alone.
            match (req.temperature, req.top_p) {
                (Some(t), _) => {
                    out.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
                }
                (None, Some(p)) => {
                    out.insert("top_p".into(), json!(p));
                }
                (None, None) => {}
            }
        }
    }
    // The API refuses whitespace-only stop sequences (OpenAI clients send "\n").
    let stops: Vec<&String> = req.stop.iter().filter(|s| !s.trim().is_empty()).collect();
    if !stops.is_empty() {
        out.insert("stop_sequences".into(), json!(stops));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req.tools.iter().map(tool_json).collect();
        out.insert("tools".into(), Value::Array(tools));
        let mut choice = match &req.tool_choice {
            None | Some(ToolChoice::Auto) => json!({"type": "auto"}),
            Some(ToolChoice::None) => json!({"type": "none"}),
            Some(ToolChoice::Required) => json!({"type": "any"}),
            Some(ToolChoice::Named(n)) => json!({"type": "tool", "name": n}),
        };
        if req.parallel_tool_calls == Some(false) && choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        if req.tool_choice.is_some() || req.parallel_tool_calls == Some(false) {
            out.insert("tool_choice".into(), choice);
        }
    }
    Value::Object(out)
}

/// The budget a reasoning request asks for: the client's, else one per effort level.
fn wanted_budget(r: &Reasoning) -> Option<u64> {
    r.enabled.then(|| {
        r.budget_tokens.unwrap_or(match r.effort {
            Some(Effort::Minimal) | Some(Effort::Low) => 2048,
            Some(Effort::Medium) | None => 8192,
            Some(Effort::High) => 16_384,
            Some(Effort::XHigh) => 24_576,
        })
    })
}

/// The thinking budget for a reasoning request, or None (thinking off, or no room for it).
fn thinking_budget(r: &Reasoning, max_tokens: u64) -> Option<u64> {
    let budget = wanted_budget(r)?.max(MIN_THINKING_BUDGET).min(max_tokens.saturating_sub(1));
    (budget >= MIN_THINKING_BUDGET).then_some(budget)
}

fn tool_json(t: &Tool) -> Value {
    let mut schema = match &t.parameters {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    schema.entry("type").or_insert_with(|| json!("object"));
    let mut m = Map::new();
    m.insert("name".into(), json!(t.name));
    if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
        m.insert("description".into(), json!(d));
    }
    m.insert("input_schema".into(), Value::Object(schema));
    Value::Object(m)
}

fn image_block(media_type: Option<&str>, data: &ImageData) -> Value {
    match data {
        ImageData::Base64(b) => json!({"type": "image", "source": {"type": "base64", "media_type": media_type.unwrap_or_else(|| wire::sniff_media_type(b)), "data": b}}),
        ImageData::Url(u) => json!({"type": "image", "source": {"type": "url", "url": u}}),
    }
}

/// The role a message takes on the wire: tool results travel in user turns.
fn wire_role(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User | Role::Tool => "user",
        Role::Assistant => "assistant",
    }
}

/// A tool-call id in the form the Messages API accepts (`[a-zA-Z0-9_-]+`); calls and their
/// results go through the same mapping, so they still match.
fn tool_id(id: &str) -> String {
    if id.is_empty() {
        return "toolu_none".into();
    }
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

fn encode_messages(req: &ChatRequest) -> Vec<Value> {
    // (role, blocks) turns; consecutive messages of one wire role are merged.
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in &req.messages {
        let role = wire_role(m.role);
        if turns.last().is_none_or(|(r, _)| *r != role) {
            turns.push((role, Vec::new()));
        }
        let blocks = &mut turns.last_mut().expect("pushed above").1;
        for p in &m.parts {
            match p {
                Part::Text(t) if !t.is_empty() => blocks.push(json!({"type": "text", "text": t})),
                Part::Text(_) => {}
                Part::Image { media_type, data } if m.role != Role::System => blocks.push(image_block(media_type.as_deref(), data)),
                Part::Image { .. } => {}
                Part::ToolCall { id, name, arguments } if m.role == Role::Assistant => {
                    blocks.push(json!({"type": "tool_use", "id": tool_id(id), "name": name, "input": wire::args_object(arguments)}))
                }
                Part::ToolCall { .. } => {}
                Part::ToolResult { call_id, content, is_error } => {
                    let call_id = &tool_id(call_id);
                    // One tool_result per call: a repeated id is joined to the first.
                    let same = blocks.iter_mut().find(|b| b["type"] == "tool_result" && b["tool_use_id"] == call_id.as_str());
                    match same {
                        Some(b) => {
                            let joined = format!("{}\n{}", b["content"].as_str().unwrap_or(""), content);
                            b["content"] = json!(joined);
                            if *is_error {
                                b["is_error"] = json!(true);
                            }
                        }
                        None => {
                            let mut b = json!({"type": "tool_result", "tool_use_id": call_id, "content": content});
                            if *is_error {
                                b["is_error"] = json!(true);
                            }
                            blocks.push(b);
                        }
                    }
                }
                Part::Thinking { text, signature: Some(sig) } if m.role == Role::Assistant => {
                    blocks.push(json!({"type": "thinking", "thinking": text, "signature": sig}))
                }
                Part::Thinking { .. } => {}
            }
        }
    }
    let mut out = Vec::with_capacity(turns.len());
    for (role, mut blocks) in turns {
        if role == "user" {
            // The API wants a turn's tool results before its other content.
            blocks.sort_by_key(|b| b["type"] != "tool_result");
        }
        if blocks.is_empty() {
            // A turn with nothing the API can take (e.g. only unsigned reasoning) is left out
            // rather than given invented text; the API joins the turns around it.
            continue;
        }
        if role == "system" {
            let text: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
            out.push(json!({"role": "system", "content": text.join("\n")}));
        } else {
            out.push(json!({"role": role, "content": blocks}));
        }
    }
    out
}

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
/// the cache reads and the cache writes.
fn prompt_tokens(u: &Value) -> Option<[u64; 3]> {
    let parts = ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"].map(|k| u.get(k).and_then(Value::as_u64));
    let [_, read, write] = parts.map(Option::unwrap_or_default);
    parts.iter().any(Option::is_some).then(|| [parts.iter().flatten().sum(), read, write])
}

fn usage_of(p: Option<[u64; 3]>, c: Option<u64>) -> Option<Usage> {
    let [prompt, cached, written] = p.unwrap_or_default();
    (p.is_some() || c.is_some()).then(|| Usage { prompt_tokens: prompt, completion_tokens: c.unwrap_or(0), estimated: false, cached_tokens: cached, cache_write_tokens: written })
}

/// An Anthropic `usage` object (message, or `message_delta`) as IR usage.
pub fn usage_from(u: &Value) -> Option<Usage> {
    usage_of(prompt_tokens(u), u.get("output_tokens").and_then(Value::as_u64))
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

/// What one content block of the origin's stream is, by its index.
#[derive(Clone)]
enum Block {
    Text,
    Thinking,
    /// IR tool index; whether any `input_json_delta` came; a non-empty `input` from the start.
    Tool { index: usize, args_seen: bool, initial: Option<String> },
    Other,
}

/// Stateful decoder for an Anthropic SSE stream: feed each `data:` payload. `done()` is true
/// once `message_stop` arrived (the stream's success terminator).
#[derive(Default)]
pub struct StreamDecoder {
    blocks: Vec<(u64, Block)>,
    tools: usize,
    prompt: Option<[u64; 3]>,
    done: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn done(&self) -> bool {
        self.done
    }

    fn block(&self, index: u64) -> Option<Block> {
        self.blocks.iter().find(|(i, _)| *i == index).map(|(_, b)| b.clone())
    }

    fn set_block(&mut self, index: u64, b: Block) {
        match self.blocks.iter_mut().find(|(i, _)| *i == index) {
            Some(slot) => slot.1 = b,
            None => self.blocks.push((index, b)),
        }
    }

    pub fn frame(&mut self, data: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let v: Value = serde_json::from_slice(data).map_err(|e| format!("malformed event: {e}"))?;
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match v.get("type").and_then(Value::as_str).unwrap_or("") {
            "message_start" => {
                self.prompt = v.pointer("/message/usage").and_then(prompt_tokens);
            }
            "content_block_start" => {
                let cb = v.get("content_block").cloned().unwrap_or(Value::Null);
                let text = |k: &str| cb.get(k).and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
                let block = match cb.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        out.extend(text("text").map(Chunk::Text));
                        Block::Text
                    }
                    Some("thinking") => {
                        out.extend(text("thinking").map(Chunk::Reasoning));
                        Block::Thinking
                    }
                    Some("tool_use") => {
                        let i = self.tools;
                        self.tools += 1;
                        out.push(Chunk::ToolCallStart { index: i, id: text("id").unwrap_or_default(), name: text("name").unwrap_or_default() });
                        let initial = cb.get("input").filter(|i| i.as_object().is_some_and(|o| !o.is_empty())).map(Value::to_string);
                        Block::Tool { index: i, args_seen: false, initial }
                    }
                    _ => Block::Other,
                };
                self.set_block(index, block);
            }
            "content_block_delta" => {
                let d = v.get("delta").cloned().unwrap_or(Value::Null);
                let field = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                match (self.block(index), d.get("type").and_then(Value::as_str)) {
                    (_, Some("text_delta")) => out.push(Chunk::Text(field("text"))),
                    (_, Some("thinking_delta")) => out.push(Chunk::Reasoning(field("thinking"))),
                    (Some(Block::Tool { index: i, initial, .. }), Some("input_json_delta")) => {
                        out.push(Chunk::ToolCallArgs { index: i, delta: field("partial_json") });
                        self.set_block(index, Block::Tool { index: i, args_seen: true, initial });
                    }
                    // signature_delta, citations_delta, server-tool deltas: no counterpart.
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(Block::Tool { index: i, args_seen: false, initial: Some(input) }) = self.block(index) {
                    out.push(Chunk::ToolCallArgs { index: i, delta: input });
                }
            }
            "message_delta" => {
                if let Some(s) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    out.push(Chunk::Finish(finish_from(s)));
                }
                if let Some(u) = v.get("usage") {
                    out.extend(usage_of(prompt_tokens(u).or(self.prompt), u.get("output_tokens").and_then(Value::as_u64)).map(Chunk::Usage));
                }
            }
            "message_stop" => self.done = true,
            "error" => return Err(v.get("error").map(wire::error_message).unwrap_or_else(|| "origin error".into())),
            // ping and event types added later.
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
