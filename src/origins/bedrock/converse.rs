//! The Bedrock Converse API as an origin dialect: IR -> `POST /model/{id}/converse(-stream)`
//! body, and its answers (a JSON document, or ConverseStream events) -> IR. Every client
//! dialect reaches a `bedrock` node through this (README "Amazon Bedrock").
//!
//! Mapping rules:
//! - leading system text -> `system: [{text}]`; a system message later in the conversation is
//!   appended to `system` (Converse has no system role inside `messages`);
//! - consecutive messages of one role are merged into one turn; tool results become
//!   `toolResult` blocks (first in the user turn that follows the call, one per call id,
//!   repeated results joined, `status: "error"` for failed calls); tool-call arguments become
//!   an `input` object (text that is not an object is kept under `_raw_arguments`); ids are
//!   mapped to `[A-Za-z0-9_-]{1,64}` consistently, as Bedrock requires;
//! - images -> `image {format, source.bytes}` (png, jpeg, gif, webp); image URLs cannot be sent
//!   (Converse takes bytes or S3 locations only): a clear 400;
//! - tools -> `toolConfig.tools[].toolSpec` with `inputSchema.json`; `tool_choice` auto /
//!   required / named -> `auto` / `any` / `tool`; `none` sends no tools (Converse has no "none")
//!   unless the conversation already holds tool blocks, which Bedrock only accepts with a
//!   `toolConfig` (then `auto`);
//! - `max_tokens`, `temperature` (capped at 1), `top_p`, `stop` -> `inferenceConfig`
//!   (`maxTokens`, `temperature`, `topP`, `stopSequences`; whitespace-only stops left out);
//! - reasoning controls -> `additionalModelRequestFields.thinking` for Anthropic Claude models
//!   only (by model id, inference profiles included), with the Anthropic leg's rules: a budget
//!   of at least 1024 below `maxTokens`, none in an open tool loop without signed reasoning or
//!   with a forced tool, and then no `temperature`/`topP`; other models get no reasoning field;
//! - dropped (no Converse counterpart): `seed`, penalties, `response_format`,
//!   `parallel_tool_calls`, unsigned reasoning from earlier turns, other dialects' extras.
//!
//! Answers: `text`, `reasoningContent` (as the client's reasoning), `toolUse` (as tool calls),
//! `stopReason` (`tool_use`, `max_tokens`, `stop_sequence`, `guardrail_intervened`,
//! `content_filtered`, `model_context_window_exceeded`), and `usage` with prompt tokens =
//! `inputTokens` + `cacheReadInputTokens` + `cacheWriteInputTokens` (what the model processed,
//! as on the Anthropic leg).

use super::eventstream::{self, classify, Event};
use crate::translate::anthropic::origin::{DEFAULT_MAX_TOKENS, MAX_DEFAULT_TOKENS, MIN_THINKING_BUDGET};
use crate::translate::ir::*;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Map, Value};

/// Claude models (direct ids `anthropic.claude-…`, and inference profiles `us.anthropic.claude-…`
/// or their ARNs) take Anthropic's `thinking` through `additionalModelRequestFields`.
pub fn is_claude(model_id: &str) -> bool {
    model_id.contains("anthropic.claude")
}

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

/// A tool-use id as Bedrock takes it: `[a-zA-Z0-9_-]{1,64}`. Calls and their results go
/// through the same mapping, so they still match; a longer id keeps a prefix and a hash of the
/// whole (two long ids sharing a prefix stay distinct).
fn tool_id(id: &str) -> String {
    if id.is_empty() {
        return "tooluse_none".into();
    }
    let clean: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if clean.len() <= 64 {
        return clean;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id.as_bytes());
    format!("{}_{}", &clean[..47], super::sigv4::hex(&digest[..8]))
}

/// Tool-call arguments as the object Converse wants (never lost: non-objects kept as text).
fn args_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ if arguments.trim().is_empty() => json!({}),
        _ => json!({"_raw_arguments": arguments}),
    }
}

/// The `image.format` Converse wants, from a media type or the data's first bytes.
fn image_format(media_type: Option<&str>, b64: &str) -> Option<&'static str> {
    let from_type = match media_type.map(|m| m.trim().to_ascii_lowercase()) {
        Some(m) if m == "image/png" => Some("png"),
        Some(m) if m == "image/jpeg" || m == "image/jpg" => Some("jpeg"),
        Some(m) if m == "image/gif" => Some("gif"),
        Some(m) if m == "image/webp" => Some("webp"),
        _ => None,
    };
    from_type.or_else(|| [("iVBORw0KGgo", "png"), ("/9j/", "jpeg"), ("R0lGOD", "gif"), ("UklGR", "webp")].iter().find(|(p, _)| b64.starts_with(p)).map(|(_, f)| *f))
}

/// The body for a Converse / ConverseStream origin (the model id goes in the path, not here).
/// `Err` is a client error: something in the request Bedrock cannot take at all.
pub fn encode_request(req: &ChatRequest, model_id: &str) -> Result<Value, String> {
    let claude = is_claude(model_id);
    let mut system: Vec<Value> = req.system.iter().filter(|s| !s.is_empty()).map(|s| json!({"text": s})).collect();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    let mut tool_blocks = false;
    for m in &req.messages {
        if m.role == Role::System {
            system.extend(m.parts.iter().filter_map(|p| match p {
                Part::Text(t) if !t.is_empty() => Some(json!({"text": t})),
                _ => None,
            }));
            continue;
        }
        let role = if m.role == Role::Assistant { "assistant" } else { "user" };
        if turns.last().is_none_or(|(r, _)| *r != role) {
            turns.push((role, Vec::new()));
        }
        let blocks = &mut turns.last_mut().expect("pushed above").1;
        for p in &m.parts {
            match p {
                Part::Text(t) if !t.is_empty() => blocks.push(json!({"text": t})),
                Part::Text(_) => {}
                Part::Image { media_type, data: ImageData::Base64(b) } => {
                    let format = image_format(media_type.as_deref(), b).ok_or("Bedrock accepts png, jpeg, gif and webp images only")?;
                    blocks.push(json!({"image": {"format": format, "source": {"bytes": b}}}));
                }
                Part::Image { data: ImageData::Url(_), .. } => {
                    return Err("Bedrock takes images as inline data (base64 or data: URLs); image URLs cannot be sent to a bedrock node".into());
                }
                Part::ToolCall { id, name, arguments } if m.role == Role::Assistant => {
                    tool_blocks = true;
                    blocks.push(json!({"toolUse": {"toolUseId": tool_id(id), "name": name, "input": args_object(arguments)}}));
                }
                Part::ToolCall { .. } => {}
                Part::ToolResult { call_id, content, is_error } => {
                    tool_blocks = true;
                    let id = tool_id(call_id);
                    let same = blocks.iter_mut().find(|b| b.pointer("/toolResult/toolUseId").and_then(Value::as_str) == Some(id.as_str()));
                    match same {
                        Some(b) => {
                            let joined = format!("{}\n{}", b.pointer("/toolResult/content/0/text").and_then(Value::as_str).unwrap_or(""), content);
                            b["toolResult"]["content"] = json!([{"text": joined}]);
                            if *is_error {
                                b["toolResult"]["status"] = json!("error");
                            }
                        }
                        None => {
                            let mut b = json!({"toolResult": {"toolUseId": id, "content": [{"text": content}]}});
                            if *is_error {
                                b["toolResult"]["status"] = json!("error");
                            }
                            blocks.push(b);
                        }
                    }
                }
                // Signed reasoning goes back to Claude (it checks the signature); anything else
                // would be refused or misread.
                Part::Thinking { text, signature: Some(sig) } if claude && m.role == Role::Assistant && !sig.is_empty() => {
                    blocks.push(json!({"reasoningContent": {"reasoningText": {"text": text, "signature": sig}}}));
                }
                Part::Thinking { .. } => {}
            }
        }
    }
    let mut messages = Vec::with_capacity(turns.len());
    for (role, mut blocks) in turns {
        if role == "user" {
            blocks.sort_by_key(|b| b.get("toolResult").is_none());
        }
        if !blocks.is_empty() {
            messages.push(json!({"role": role, "content": blocks}));
        }
    }
    let loop_without_reasoning = messages.iter().rev().find(|m| m["role"] == "assistant").is_some_and(|m| {
        let blocks = m["content"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        blocks.iter().any(|b| b.get("toolUse").is_some()) && blocks.first().is_none_or(|b| b.get("reasoningContent").is_none())
    });

    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let forced = !req.tools.is_empty() && matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Named(_)));
    let budget = req.reasoning.filter(|_| claude && !loop_without_reasoning && !forced).and_then(|r| wanted_budget(&r));
    let max_tokens = req.max_tokens.filter(|m| *m > 0).or(budget.map(|b| (DEFAULT_MAX_TOKENS + b).min(MAX_DEFAULT_TOKENS)));
    let thinking = budget.zip(max_tokens).map(|(b, max)| b.max(MIN_THINKING_BUDGET).min(max.saturating_sub(1))).filter(|b| *b >= MIN_THINKING_BUDGET);

    let mut inference = Map::new();
    if let Some(m) = max_tokens {
        inference.insert("maxTokens".into(), json!(m));
    }
    if thinking.is_none() {
        match (req.temperature, req.top_p) {
            (Some(t), Some(_)) if claude => {
                // Recent Claude models refuse both together.
                inference.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
            }
            (t, p) => {
                if let Some(t) = t {
                    inference.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
                }
                if let Some(p) = p {
                    inference.insert("topP".into(), json!(p.clamp(0.0, 1.0)));
                }
            }
        }
    }
    let stops: Vec<&String> = req.stop.iter().filter(|s| !s.trim().is_empty()).collect();
    if !stops.is_empty() {
        inference.insert("stopSequences".into(), json!(stops));
    }
    if !inference.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let send_tools = !req.tools.is_empty() && (req.tool_choice != Some(ToolChoice::None) || tool_blocks);
    if send_tools {
        let tools: Vec<Value> = req.tools.iter().map(tool_spec).collect();
        let mut config = Map::new();
        config.insert("tools".into(), Value::Array(tools));
        match &req.tool_choice {
            Some(ToolChoice::Required) => {
                config.insert("toolChoice".into(), json!({"any": {}}));
            }
            Some(ToolChoice::Named(n)) => {
                config.insert("toolChoice".into(), json!({"tool": {"name": n}}));
            }
            // `auto` is Converse's default; sending it explicitly is refused by some models.
            _ => {}
        }
        out.insert("toolConfig".into(), Value::Object(config));
    }
    if let Some(b) = thinking {
        out.insert("additionalModelRequestFields".into(), json!({"thinking": {"type": "enabled", "budget_tokens": b}}));
    }
    Ok(Value::Object(out))
}

fn tool_spec(t: &Tool) -> Value {
    let mut schema = match &t.parameters {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    schema.entry("type").or_insert_with(|| json!("object"));
    let mut spec = Map::new();
    spec.insert("name".into(), json!(t.name));
    if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
        spec.insert("description".into(), json!(d));
    }
    spec.insert("inputSchema".into(), json!({"json": Value::Object(schema)}));
    json!({"toolSpec": Value::Object(spec)})
}

// ============================================================================================
// Answers -> IR
// ============================================================================================

pub fn finish_from(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "stop_sequence" => FinishReason::StopSequence,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// Converse `usage` as IR usage: prompt = input + cache reads + cache writes.
pub fn usage_from(u: &Value) -> Option<Usage> {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let (input, output, read, write) = (n("inputTokens"), n("outputTokens"), n("cacheReadInputTokens"), n("cacheWriteInputTokens"));
    if input.is_none() && output.is_none() {
        return None;
    }
    Some(Usage { prompt_tokens: input.unwrap_or(0) + read.unwrap_or(0) + write.unwrap_or(0), completion_tokens: output.unwrap_or(0), ..Default::default() })
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

#[derive(Default)]
struct State {
    /// contentBlockIndex -> IR tool index.
    tools: Vec<(u64, usize)>,
    next_tool: usize,
    done: bool,
}

impl State {
    fn tool(&mut self, block: u64, id: &str, name: &str, out: &mut Vec<Chunk>) -> usize {
        if let Some((_, i)) = self.tools.iter().find(|(b, _)| *b == block) {
            return *i;
        }
        let i = self.next_tool;
        self.next_tool += 1;
        self.tools.push((block, i));
        out.push(Chunk::ToolCallStart { index: i, id: id.to_string(), name: name.to_string() });
        i
    }

    fn event(&mut self, kind: &str, payload: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        let v: Value = serde_json::from_slice(payload).map_err(|e| format!("malformed {kind} event: {e}"))?;
        let block = v.get("contentBlockIndex").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "contentBlockStart" => {
                if let Some(tu) = v.pointer("/start/toolUse") {
                    let s = |k: &str| tu.get(k).and_then(Value::as_str).unwrap_or("");
                    self.tool(block, s("toolUseId"), s("name"), out);
                }
            }
            "contentBlockDelta" => {
                let d = v.get("delta").unwrap_or(&Value::Null);
                if let Some(t) = d.get("text").and_then(Value::as_str) {
                    out.push(Chunk::Text(t.to_string()));
                } else if let Some(t) = d.pointer("/reasoningContent/text").and_then(Value::as_str) {
                    out.push(Chunk::Reasoning(t.to_string()));
                } else if let Some(input) = d.pointer("/toolUse/input").and_then(Value::as_str) {
                    let index = self.tool(block, "", "", out);
                    out.push(Chunk::ToolCallArgs { index, delta: input.to_string() });
                }
                // Reasoning signatures and redacted reasoning: no counterpart in the IR.
            }
            "messageStop" => {
                if let Some(s) = v.get("stopReason").and_then(Value::as_str) {
                    out.push(Chunk::Finish(finish_from(s)));
                }
            }
            "metadata" => {
                if let Some(u) = v.get("usage").and_then(usage_from) {
                    out.push(Chunk::Usage(u));
                }
                // The last event of a ConverseStream answer.
                self.done = true;
            }
            // messageStart, contentBlockStop, and event types added later.
            _ => {}
        }
        Ok(())
    }
}

/// Stateful decoder for a ConverseStream body: feed the raw bytes as they come (any split).
/// `done()` is true once the `metadata` event (the last one) arrived.
#[derive(Default)]
pub struct StreamDecoder {
    frames: eventstream::Decoder,
    state: State,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn done(&self) -> bool {
        self.state.done
    }

    pub fn frame(&mut self, bytes: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        let StreamDecoder { frames, state } = self;
        let mut err: Option<String> = None;
        frames
            .push(bytes, |m| {
                if err.is_some() || state.done {
                    return;
                }
                match classify(&m) {
                    Event::Exception { kind, message } => err = Some(format!("{kind}: {message}")),
                    Event::Event(kind) => {
                        if let Err(e) = state.event(&kind, m.payload, out) {
                            err = Some(e);
                        }
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        err.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
#[path = "converse_tests.rs"]
pub(crate) mod tests;
