//! Anthropic Messages: client request decoder, `count_tokens` estimate, and client answer
//! encoders (JSON message and the SSE event stream).
//!
//! Deliberate drops (no counterpart on OpenAI-chat or Ollama origins): `cache_control`
//! everywhere, `top_k`, `metadata`, `service_tier`, `redacted_thinking` blocks (encrypted),
//! server tools and their blocks (`web_search_*`, `bash_*`, `text_editor_*`, `code_execution_*`,
//! `server_tool_use`, `*_tool_result`), `citations`. Refused with a 400 instead (dropping would
//! change what the model sees): PDF/file documents, file-id images.
//!
//! Tool results become `Role::Tool` messages placed before the rest of their user turn; images
//! inside a tool result follow as user content (OpenAI tool messages carry text only).

use super::ir::*;
use super::wire::{self, bad, sse_event, write_json, JsonMap, Obj};
use super::StreamEncoder as StreamEncoderTrait;
use crate::error::GatewayError;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Value};

/// Tokens counted per image by `count_tokens`: Anthropic sizes images at about
/// width×height/750 tokens and scales large images down to ~1.15 megapixels, so ~1600 is the
/// cost of a typical screenshot and the upper bound.
pub const IMAGE_TOKENS: u64 = 1600;

// ============================================================================================
// Client request -> IR
// ============================================================================================

/// `POST /v1/messages` body. `max_tokens` is required, as in the Anthropic API.
pub fn decode_request(body: &JsonMap) -> Result<ChatRequest, GatewayError> {
    let o = Obj::root(body);
    let max_tokens = o.u64("max_tokens")?.ok_or_else(|| o.err("max_tokens", "is required"))?;
    let mut req = decode_inner(&o)?;
    req.max_tokens = Some(max_tokens);
    Ok(req)
}

fn decode_inner(o: &Obj) -> Result<ChatRequest, GatewayError> {
    let mut req = ChatRequest { model: o.req_str("model")?.to_string(), ..Default::default() };
    req.stream = o.bool("stream")?.unwrap_or(false);
    match o.get("system") {
        None => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) => req.system.push(s.clone()),
        Some(Value::Array(blocks)) => {
            for (i, b) in blocks.iter().enumerate() {
                let b = Obj::of(b, o.item_path("system", i))?;
                if b.req_str("type")? != "text" {
                    return Err(b.err("type", "must be `text`"));
                }
                req.system.push(b.req_str("text")?.to_string());
            }
        }
        Some(_) => return Err(o.err("system", "must be a string or an array of text blocks")),
    }
    let msgs = o.arr("messages")?.ok_or_else(|| o.err("messages", "is required"))?;
    for (i, v) in msgs.iter().enumerate() {
        let m = Obj::of(v, o.item_path("messages", i))?;
        if m.get("content").is_none() {
            return Err(m.err("content", "is required"));
        }
        match m.req_str("role")? {
            "user" => decode_user(&m, &mut req.messages)?,
            "assistant" => req.messages.push(decode_assistant(&m)?),
            _ => return Err(m.err("role", "must be `user` or `assistant`")),
        }
    }
    decode_tools(o, &mut req)?;
    if let Some(th) = o.obj("thinking")? {
        req.reasoning = Some(match th.req_str("type")? {
            "enabled" => Reasoning {
                enabled: true,
                effort: None,
                budget_tokens: Some(th.u64("budget_tokens")?.ok_or_else(|| th.err("budget_tokens", "is required"))?),
            },
            "adaptive" => Reasoning { enabled: true, effort: None, budget_tokens: None },
            "disabled" => Reasoning { enabled: false, effort: None, budget_tokens: None },
            _ => return Err(th.err("type", "must be enabled, adaptive or disabled")),
        });
    }
    // The newer effort control (`output_config.effort`) refines the level when present.
    if let Some(effort) =
        o.obj("output_config")?.map(|oc| oc.str("effort")).transpose()?.flatten().and_then(Effort::parse)
    {
        let r = req.reasoning.get_or_insert(Reasoning { enabled: true, effort: None, budget_tokens: None });
        if r.enabled {
            r.effort = Some(effort);
        }
    }
    if let Some(stops) = o.arr("stop_sequences")? {
        for (i, s) in stops.iter().enumerate() {
            req.stop
                .push(s.as_str().ok_or_else(|| bad(o.item_path("stop_sequences", i), "must be a string"))?.to_string());
        }
    }
    req.temperature = o.f64("temperature")?;
    req.top_p = o.f64("top_p")?;
    o.u64("top_k")?; // validated, then dropped: no OpenAI-chat counterpart.
    Ok(req)
}

fn image_part(b: &Obj) -> Result<Part, GatewayError> {
    let src = b.obj("source")?.ok_or_else(|| b.err("source", "is required"))?;
    match src.req_str("type")? {
        "base64" => Ok(Part::Image {
            media_type: src.str("media_type")?.map(str::to_string),
            data: ImageData::Base64(src.req_str("data")?.to_string()),
        }),
        "url" => {
            let (media_type, data) = wire::parse_image_url(src.req_str("url")?);
            Ok(Part::Image { media_type, data })
        }
        _ => Err(src.err("type", "must be base64 or url (file references are not supported)")),
    }
}

/// Blocks of a `content` field (a string is one text block).
fn blocks<'a>(m: &Obj<'a>, key: &str) -> Result<Vec<Obj<'a>>, GatewayError> {
    match m.get(key) {
        None => Ok(Vec::new()),
        Some(Value::String(_)) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().enumerate().map(|(i, b)| Obj::of(b, m.item_path(key, i))).collect(),
        Some(_) => Err(m.err(key, "must be a string or an array of content blocks")),
    }
}

fn decode_user(m: &Obj, out: &mut Vec<Message>) -> Result<(), GatewayError> {
    let mut results = Vec::new();
    let mut rest = Vec::new();
    if let Some(Value::String(s)) = m.get("content") {
        rest.push(Part::Text(s.clone()));
    }
    for b in blocks(m, "content")? {
        match b.req_str("type")? {
            "text" => rest.push(Part::Text(b.req_str("text")?.to_string())),
            "image" => rest.push(image_part(&b)?),
            "document" => {
                let src = b.obj("source")?.ok_or_else(|| b.err("source", "is required"))?;
                match src.req_str("type")? {
                    "text" => rest.push(Part::Text(src.req_str("data")?.to_string())),
                    _ => {
                        return Err(
                            src.err("type", "only plain-text documents are supported (PDF and file documents are not)")
                        )
                    }
                }
            }
            "tool_result" => {
                let call_id = b.req_str("tool_use_id")?.to_string();
                let is_error = b.bool("is_error")?.unwrap_or(false);
                let mut texts = Vec::new();
                if let Some(Value::String(s)) = b.get("content") {
                    texts.push(s.clone());
                }
                for c in blocks(&b, "content")? {
                    match c.req_str("type")? {
                        "text" => texts.push(c.req_str("text")?.to_string()),
                        // Images in results follow as user content (see module docs).
                        "image" => rest.push(image_part(&c)?),
                        "document" | "search_result" => {
                            return Err(c.err("type", "is not supported inside tool results (text and images are)"))
                        }
                        _ => return Err(c.err("type", "must be text or image")),
                    }
                }
                results.push(Part::ToolResult { call_id, content: texts.join("\n"), is_error });
            }
            // Thinking blocks only belong to assistant turns; ignored if a client echoes them.
            "thinking" | "redacted_thinking" => {}
            "search_result" => return Err(b.err("type", "search_result blocks are not supported")),
            _ => return Err(b.err("type", "must be one of text, image, document, tool_result")),
        }
    }
    if !results.is_empty() {
        out.push(Message { role: Role::Tool, parts: results });
    }
    if !rest.is_empty() {
        out.push(Message { role: Role::User, parts: rest });
    }
    Ok(())
}

fn decode_assistant(m: &Obj) -> Result<Message, GatewayError> {
    let mut parts = Vec::new();
    if let Some(Value::String(s)) = m.get("content") {
        if !s.is_empty() {
            parts.push(Part::Text(s.clone()));
        }
    }
    for b in blocks(m, "content")? {
        match b.req_str("type")? {
            "text" => parts.push(Part::Text(b.req_str("text")?.to_string())),
            "thinking" => parts.push(Part::Thinking {
                text: b.req_str("thinking")?.to_string(),
                signature: b.str("signature")?.filter(|s| !s.is_empty()).map(str::to_string),
            }),
            "tool_use" => {
                let input = match b.get("input") {
                    None => "{}".to_string(),
                    Some(v @ Value::Object(_)) => v.to_string(),
                    Some(_) => return Err(b.err("input", "must be an object")),
                };
                parts.push(Part::ToolCall {
                    id: b.req_str("id")?.to_string(),
                    name: b.req_str("name")?.to_string(),
                    arguments: input,
                });
            }
            // Encrypted reasoning and server-tool traffic: no counterpart (module docs).
            "redacted_thinking"
            | "server_tool_use"
            | "web_search_tool_result"
            | "web_fetch_tool_result"
            | "code_execution_tool_result"
            | "bash_code_execution_tool_result"
            | "text_editor_code_execution_tool_result"
            | "mcp_tool_use"
            | "mcp_tool_result" => {}
            _ => return Err(b.err("type", "must be one of text, thinking, tool_use")),
        }
    }
    Ok(Message { role: Role::Assistant, parts })
}

fn decode_tools(o: &Obj, req: &mut ChatRequest) -> Result<(), GatewayError> {
    for (i, t) in o.arr("tools")?.unwrap_or(&[]).iter().enumerate() {
        let t = Obj::of(t, o.item_path("tools", i))?;
        match t.str("type")? {
            None | Some("custom") => {}
            // Anthropic-defined and server tools (web search, bash, text editor, computer use,
            // code execution) run on Anthropic's side or need its schema: dropped.
            Some(_) => continue,
        }
        req.tools.push(Tool {
            name: t.req_str("name")?.to_string(),
            description: t.str("description")?.map(str::to_string),
            parameters: match t.get("input_schema") {
                Some(s @ Value::Object(_)) => s.clone(),
                None => return Err(t.err("input_schema", "is required")),
                Some(_) => return Err(t.err("input_schema", "must be a JSON schema object")),
            },
        });
    }
    if let Some(tc) = o.obj("tool_choice")? {
        req.tool_choice = Some(match tc.req_str("type")? {
            "auto" => ToolChoice::Auto,
            "any" => ToolChoice::Required,
            "none" => ToolChoice::None,
            "tool" => ToolChoice::Named(tc.req_str("name")?.to_string()),
            _ => return Err(tc.err("type", "must be auto, any, tool or none")),
        });
        if let Some(d) = tc.bool("disable_parallel_tool_use")? {
            req.parallel_tool_calls = Some(!d);
        }
    }
    Ok(())
}

// ============================================================================================
// count_tokens
// ============================================================================================

/// `POST /v1/messages/count_tokens`: an estimate, not a tokenizer. Characters / 4 (rounded up)
/// over the system blocks, every message's text, thinking, tool calls (name + JSON input) and
/// tool results, plus the tool definitions (name + description + schema JSON), plus
/// `IMAGE_TOKENS` per image; at least 1. The body is validated like `/v1/messages` except
/// that `max_tokens` is not required.
pub fn count_tokens(body: &JsonMap) -> Result<u64, GatewayError> {
    let req = decode_inner(&Obj::root(body))?;
    Ok(estimate_input_tokens(&req))
}

/// The same estimate over a decoded request (also a fair `input_tokens_estimate` for
/// `StreamEncoder::new`).
pub fn estimate_input_tokens(req: &ChatRequest) -> u64 {
    let mut chars = 0usize;
    let mut images = 0u64;
    for s in &req.system {
        chars += s.chars().count();
    }
    for m in &req.messages {
        for p in &m.parts {
            chars += match p {
                Part::Text(t) => t.chars().count(),
                Part::Thinking { text, .. } => text.chars().count(),
                Part::ToolCall { name, arguments, .. } => name.chars().count() + arguments.chars().count(),
                Part::ToolResult { content, .. } => content.chars().count(),
                Part::Image { .. } => {
                    images += 1;
                    0
                }
            };
        }
    }
    for t in &req.tools {
        chars += t.name.chars().count();
        chars += t.description.as_deref().map_or(0, |d| d.chars().count());
        chars += t.parameters.to_string().chars().count();
    }
    ((chars as u64).div_ceil(4) + images * IMAGE_TOKENS).max(1)
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
        content.push(json!({"type": "thinking", "thinking": resp.reasoning, "signature": ""}));
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
    let finish = if resp.finish == FinishReason::Stop && !resp.tool_calls.is_empty() {
        FinishReason::ToolCalls
    } else {
        resp.finish
    };
    let u = resp.usage.unwrap_or_default();
    json!({
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": display,
        "content": content,
        "stop_reason": stop_reason(finish),
        "stop_sequence": null,
        "usage": {"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens},
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Open {
    None,
    Text,
    Thinking,
    Tool(usize),
}

/// SSE encoder for Anthropic clients: `message_start`, `ping`, one content block per
/// text/thinking run and per tool call (`text_delta`, `thinking_delta`, `input_json_delta`),
/// `content_block_stop`, `message_delta` (stop_reason + usage), `message_stop`.
///
/// Anthropic blocks are strictly sequential. If an origin interleaves argument deltas of
/// several tool calls so that one arrives for an already-closed block, the stream cannot be
/// represented faithfully and ends with an in-band `error` event (never a silently corrupted
/// tool input). OpenAI and vLLM stream tool calls one after another, so this does not occur
/// in practice.
pub struct StreamEncoder {
    display: String,
    msg_id: String,
    input_estimate: u64,
    started: bool,
    done: bool,
    open: Open,
    /// Index of the open block; `next_block` is the next free one.
    block: usize,
    next_block: usize,
    /// Per IR tool index: has its block been opened.
    tools: Vec<bool>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

impl StreamEncoder {
    /// `input_tokens_estimate` goes into `message_start` (Anthropic reports input tokens up
    /// front, before the origin has said anything); the real count, when the origin reports
    /// one, is repeated in the final `message_delta`.
    pub fn new(display: &str, msg_id: &str, input_tokens_estimate: u64) -> Self {
        StreamEncoder {
            display: display.to_string(),
            msg_id: msg_id.to_string(),
            input_estimate: input_tokens_estimate,
            started: false,
            done: false,
            open: Open::None,
            block: 0,
            next_block: 0,
            tools: Vec::new(),
            finish: None,
            usage: None,
        }
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if self.open == Open::None {
            return;
        }
        out.extend_from_slice(b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":");
        out.extend_from_slice(self.block.to_string().as_bytes());
        out.extend_from_slice(b"}\n\n");
        self.open = Open::None;
    }

    fn open_block(&mut self, kind: Open, content_block: Value, out: &mut Vec<u8>) {
        self.close_block(out);
        self.block = self.next_block;
        self.next_block += 1;
        self.open = kind;
        sse_event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": self.block, "content_block": content_block}),
        );
    }

    /// `content_block_delta` with `{"type": kind, field: text}`.
    fn delta(&self, kind: &str, field: &str, text: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":");
        out.extend_from_slice(self.block.to_string().as_bytes());
        out.extend_from_slice(b",\"delta\":{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"");
        out.extend_from_slice(field.as_bytes());
        out.extend_from_slice(b"\":");
        write_json(out, text);
        out.extend_from_slice(b"}}\n\n");
    }

    /// End with an Anthropic `error` event of the given type (`api_error`,
    /// `overloaded_error`, ...). The trait's `error` uses `api_error`.
    pub fn error_typed(&mut self, error_type: &str, message: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        sse_event(out, "error", &json!({"type": "error", "error": {"type": error_type, "message": message}}));
    }
}

impl StreamEncoderTrait for StreamEncoder {
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started || self.done {
            return;
        }
        self.started = true;
        sse_event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": self.msg_id, "type": "message", "role": "assistant", "model": self.display,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": self.input_estimate, "output_tokens": 0}
            }}),
        );
        out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    }

    fn chunk(&mut self, c: &Chunk, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if !self.started {
            self.start(out);
        }
        match c {
            Chunk::Text(t) => {
                if t.is_empty() {
                    return;
                }
                if self.open != Open::Text {
                    self.open_block(Open::Text, json!({"type": "text", "text": ""}), out);
                }
                self.delta("text_delta", "text", t, out);
            }
            Chunk::Reasoning(t) => {
                if t.is_empty() {
                    return;
                }
                if self.open != Open::Thinking {
                    self.open_block(Open::Thinking, json!({"type": "thinking", "thinking": "", "signature": ""}), out);
                }
                self.delta("thinking_delta", "thinking", t, out);
            }
            Chunk::ToolCallStart { index, id, name } => {
                if self.tools.len() <= *index {
                    self.tools.resize(index + 1, false);
                }
                self.tools[*index] = true;
                let id = if id.is_empty() { wire::call_id(&self.msg_id, *index) } else { id.clone() };
                self.open_block(
                    Open::Tool(*index),
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    out,
                );
            }
            Chunk::ToolCallArgs { index, delta } => {
                if self.open == Open::Tool(*index) {
                    if !delta.is_empty() {
                        self.delta("input_json_delta", "partial_json", delta, out);
                    }
                } else if self.tools.get(*index).copied().unwrap_or(false) {
                    self.error_typed(
                        "api_error",
                        "the origin interleaved the arguments of several tool calls; this cannot be streamed as Anthropic content blocks",
                        out,
                    );
                }
                // Arguments for a call that never started break the IR contract: ignored.
            }
            Chunk::Finish(f) => self.finish = Some(*f),
            Chunk::Usage(u) => self.usage = Some(*u),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if !self.started {
            self.start(out);
        }
        self.close_block(out);
        if self.next_block == 0 {
            // Clients index content[0]; an empty answer is one empty text block.
            self.open_block(Open::Text, json!({"type": "text", "text": ""}), out);
            self.close_block(out);
        }
        self.done = true;
        let had_tools = !self.tools.is_empty();
        let finish = match self.finish {
            Some(FinishReason::Stop) | None if had_tools => FinishReason::ToolCalls,
            Some(f) => f,
            None => FinishReason::Stop,
        };
        let usage = match &self.usage {
            Some(u) => json!({"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens}),
            // Not reported by the origin: 0, never an invented count.
            None => json!({"output_tokens": 0}),
        };
        sse_event(
            out,
            "message_delta",
            &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(finish), "stop_sequence": null}, "usage": usage}),
        );
        out.extend_from_slice(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }

    fn error(&mut self, message: &str, out: &mut Vec<u8>) {
        self.error_typed("api_error", message, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::{ollama, openai};

    fn obj(v: Value) -> JsonMap {
        v.as_object().unwrap().clone()
    }

    /// Parse an SSE byte stream into (event, data) pairs, checking the framing.
    fn events(bytes: &[u8]) -> Vec<(String, Value)> {
        let s = std::str::from_utf8(bytes).unwrap();
        assert!(s.ends_with("\n\n"));
        s.split("\n\n")
            .filter(|b| !b.is_empty())
            .map(|b| {
                let (ev, data) = b.split_once('\n').unwrap();
                let ev = ev.strip_prefix("event: ").unwrap().to_string();
                let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(data["type"], ev.as_str(), "event name matches data.type");
                (ev, data)
            })
            .collect()
    }

    fn claude_code_request() -> Value {
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": true,
            "system": [
                {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Working directory: /repo", "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                    {"type": "text", "text": "Fix the failing test", "cache_control": {"type": "ephemeral"}}
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Need to read the test.", "signature": "sig=="},
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": "/repo/a.rs"}},
                    {"type": "tool_use", "id": "toolu_02", "name": "Bash", "input": {"command": "cargo test"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "fn main() {}"},
                    {"type": "tool_result", "tool_use_id": "toolu_02", "is_error": true,
                     "content": [{"type": "text", "text": "exit 101"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}}]},
                    {"type": "text", "text": "continue"}
                ]}
            ],
            "tools": [
                {"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}},
                {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}, "cache_control": {"type": "ephemeral"}},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
            ],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "thinking": {"type": "enabled", "budget_tokens": 16000},
            "metadata": {"user_id": "u"},
            "temperature": 1,
            "top_k": 5,
            "stop_sequences": ["</done>"]
        })
    }

    #[test]
    fn decodes_claude_code_request() {
        let r = decode_request(&obj(claude_code_request())).unwrap();
        assert_eq!(r.system.len(), 2);
        assert_eq!(r.max_tokens, Some(32000));
        assert!(r.stream);
        assert_eq!(r.messages.len(), 4);
        assert_eq!(r.messages[0].parts.len(), 2);
        assert_eq!(
            r.messages[1].parts[0],
            Part::Thinking { text: "Need to read the test.".into(), signature: Some("sig==".into()) }
        );
        assert_eq!(
            r.messages[1].parts[2],
            Part::ToolCall {
                id: "toolu_01".into(),
                name: "Read".into(),
                arguments: "{\"file_path\":\"/repo/a.rs\"}".into()
            }
        );
        assert_eq!(r.messages[2].role, Role::Tool);
        assert_eq!(
            r.messages[2].parts[1],
            Part::ToolResult { call_id: "toolu_02".into(), content: "exit 101".into(), is_error: true }
        );
        assert_eq!(r.messages[3].role, Role::User);
        assert_eq!(
            r.messages[3].parts[0],
            Part::Image { media_type: Some("image/png".into()), data: ImageData::Base64("iVBORw0K".into()) }
        );
        assert_eq!(r.messages[3].parts[1], Part::Text("continue".into()));
        assert_eq!(r.tools.len(), 2, "server tool dropped");
        assert_eq!(r.tool_choice, Some(ToolChoice::Required), "any = required, never a null name");
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(r.reasoning.unwrap().budget_tokens, Some(16000));
        assert_eq!(r.stop, vec!["</done>"]);
    }

    #[test]
    fn claude_code_round_trip_to_openai_origin() {
        let r = decode_request(&obj(claude_code_request())).unwrap();
        let b = openai::encode_request(&r, "Qwen/Qwen3-Coder");
        assert_eq!(b["model"], "Qwen/Qwen3-Coder");
        assert_eq!(b["max_tokens"], 32000);
        assert_eq!(b["tool_choice"], "required");
        assert_eq!(b["parallel_tool_calls"], false);
        assert_eq!(b["reasoning_effort"], "high");
        assert_eq!(b["stop"], json!(["</done>"]));
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert!(b.get("metadata").is_none() && b.get("top_k").is_none());
        let m = b["messages"].as_array().unwrap();
        assert_eq!(
            m[0]["content"],
            "You are Claude Code, Anthropic's official CLI for Claude.\n\nWorking directory: /repo"
        );
        assert_eq!(m[1]["content"], "<system-reminder>ctx</system-reminder>\nFix the failing test");
        assert_eq!(m[2]["content"], "Let me look.");
        assert_eq!(
            m[2]["tool_calls"][1]["function"],
            json!({"name": "Bash", "arguments": "{\"command\":\"cargo test\"}"})
        );
        assert_eq!(m[3], json!({"role": "tool", "tool_call_id": "toolu_01", "content": "fn main() {}"}));
        assert_eq!(m[4], json!({"role": "tool", "tool_call_id": "toolu_02", "content": "Error: exit 101"}));
        assert_eq!(m[5]["role"], "user");
        assert_eq!(m[5]["content"][0]["image_url"]["url"], "data:image/png;base64,iVBORw0K");
        assert_eq!(m[5]["content"][1], json!({"type": "text", "text": "continue"}));
        assert_eq!(m.len(), 6);
        assert_eq!(b["tools"][0]["function"]["parameters"]["required"], json!(["file_path"]));

        let o = ollama::encode_chat_request(&r, "qwen3-coder:30b").unwrap();
        assert_eq!(o["think"], true);
        assert_eq!(o["options"]["num_predict"], 32000);
        assert_eq!(o["messages"][2]["thinking"], "Need to read the test.");
        assert_eq!(o["messages"][4]["tool_name"], "Bash");
        assert_eq!(o["messages"][5]["images"], json!(["iVBORw0K"]));
    }

    #[test]
    fn request_errors_name_the_field() {
        let base = claude_code_request();
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("max_tokens");
                }),
                "max_tokens",
            ),
            (Box::new(|v| v["system"] = json!(3)), "system"),
            (Box::new(|v| v["messages"][0]["role"] = json!("system")), "messages[0].role"),
            (Box::new(|v| v["messages"][0]["content"][0]["type"] = json!("video")), "messages[0].content[0].type"),
            (Box::new(|v| v["messages"][1]["content"][2]["input"] = json!("x")), "messages[1].content[2].input"),
            (
                Box::new(|v| {
                    v["messages"][2]["content"][0].as_object_mut().unwrap().remove("tool_use_id");
                }),
                "messages[2].content[0].tool_use_id",
            ),
            (
                Box::new(
                    |v| v["messages"][0]["content"][0] = json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "x"}}),
                ),
                "messages[0].content[0].source.type",
            ),
            (
                Box::new(|v| {
                    v["messages"][0]["content"][0] =
                        json!({"type": "image", "source": {"type": "file", "file_id": "f"}})
                }),
                "messages[0].content[0].source.type",
            ),
            (
                Box::new(|v| {
                    v["tools"][0].as_object_mut().unwrap().remove("input_schema");
                }),
                "tools[0].input_schema",
            ),
            (Box::new(|v| v["tool_choice"] = json!({"type": "tool"})), "tool_choice.name"),
            (Box::new(|v| v["thinking"] = json!({"type": "enabled"})), "thinking.budget_tokens"),
            (Box::new(|v| v["stop_sequences"] = json!([1])), "stop_sequences[0]"),
            (Box::new(|v| v["temperature"] = json!("warm")), "temperature"),
            (
                Box::new(|v| {
                    v["messages"][1].as_object_mut().unwrap().remove("content");
                }),
                "messages[1].content",
            ),
        ];
        for (mutate, field) in cases {
            let mut v = base.clone();
            mutate(&mut v);
            let e = decode_request(&obj(v)).unwrap_err();
            assert_eq!(e.field(), Some(field));
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn url_images_and_text_documents() {
        let r = decode_request(&obj(json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://x/cat.jpg"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc body"}}
        ]}]})))
        .unwrap();
        assert_eq!(
            r.messages[0].parts[0],
            Part::Image { media_type: None, data: ImageData::Url("https://x/cat.jpg".into()) }
        );
        assert_eq!(r.messages[0].parts[1], Part::Text("doc body".into()));
        let b = openai::encode_request(&r, "m");
        assert_eq!(b["messages"][0]["content"][0]["image_url"]["url"], "https://x/cat.jpg");
    }

    #[test]
    fn count_tokens_estimate() {
        let body = json!({"model": "m", "system": "abcd", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "12345678"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}
        ]}], "tools": [{"name": "ab", "input_schema": {}}]});
        // chars: 4 + 8 + 2 + 2 ("{}") = 16 -> 4 tokens, + one image.
        assert_eq!(count_tokens(&obj(body)).unwrap(), 4 + IMAGE_TOKENS);
        assert_eq!(count_tokens(&obj(json!({"model": "m", "messages": []}))).unwrap(), 1);
        assert_eq!(count_tokens(&obj(json!({"model": "m"}))).unwrap_err().field(), Some("messages"));
    }

    #[test]
    fn non_stream_response_blocks_and_stop_reasons() {
        let resp = ChatResponse {
            id: "msg_1".into(),
            text: "Done.".into(),
            reasoning: "ok".into(),
            tool_calls: vec![ToolCall {
                id: String::new(),
                name: "Bash".into(),
                arguments: "{\"command\":\"ls\"}".into(),
            }],
            finish: FinishReason::ToolCalls,
            usage: Some(Usage { prompt_tokens: 11, completion_tokens: 22, estimated: false }),
        };
        let v = encode_response(&resp, "claude-x");
        assert_eq!(v["model"], "claude-x");
        assert_eq!(v["content"][0], json!({"type": "thinking", "thinking": "ok", "signature": ""}));
        assert_eq!(v["content"][1], json!({"type": "text", "text": "Done."}));
        assert_eq!(
            v["content"][2],
            json!({"type": "tool_use", "id": "call_1_0", "name": "Bash", "input": {"command": "ls"}})
        );
        assert_eq!(v["stop_reason"], "tool_use");
        assert_eq!(v["usage"], json!({"input_tokens": 11, "output_tokens": 22}));
        for (f, s) in [
            (FinishReason::Length, "max_tokens"),
            (FinishReason::StopSequence, "stop_sequence"),
            (FinishReason::Stop, "end_turn"),
            (FinishReason::ContentFilter, "refusal"),
        ] {
            let r = ChatResponse { finish: f, tool_calls: vec![], usage: None, ..resp.clone() };
            let v = encode_response(&r, "c");
            assert_eq!(v["stop_reason"], s);
            assert_eq!(v["usage"], json!({"input_tokens": 0, "output_tokens": 0}));
        }
        let v = encode_response(&ChatResponse::default(), "c");
        assert_eq!(v["content"], json!([{"type": "text", "text": ""}]));
    }

    #[test]
    fn golden_stream_sequence() {
        let mut e = StreamEncoder::new("claude-x", "msg_abc", 1234);
        let mut out = Vec::new();
        e.start(&mut out);
        for c in [
            Chunk::Reasoning("Let me ".into()),
            Chunk::Reasoning("think.".into()),
            Chunk::Text("I'll run ".into()),
            Chunk::Text("two tools.".into()),
            Chunk::ToolCallStart { index: 0, id: "call_1".into(), name: "Read".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"file_path\":".into() },
            Chunk::ToolCallArgs { index: 0, delta: "\"a.rs\"}".into() },
            Chunk::ToolCallStart { index: 1, id: String::new(), name: "Bash".into() },
            Chunk::ToolCallArgs { index: 1, delta: "{\"command\":\"ls\"}".into() },
            Chunk::Finish(FinishReason::ToolCalls),
            Chunk::Usage(Usage { prompt_tokens: 1500, completion_tokens: 42, estimated: false }),
        ] {
            e.chunk(&c, &mut out);
        }
        e.finish(&mut out);
        e.chunk(&Chunk::Text("after".into()), &mut out);
        let ev = events(&out);
        let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert_eq!(ev[0].1["message"]["id"], "msg_abc");
        assert_eq!(ev[0].1["message"]["model"], "claude-x");
        assert_eq!(ev[0].1["message"]["usage"]["input_tokens"], 1234);
        assert_eq!(ev[2].1["content_block"]["type"], "thinking");
        assert_eq!(ev[3].1["delta"], json!({"type": "thinking_delta", "thinking": "Let me "}));
        assert_eq!(ev[6].1["index"], 1);
        assert_eq!(ev[7].1["delta"], json!({"type": "text_delta", "text": "I'll run "}));
        assert_eq!(ev[10].1["content_block"], json!({"type": "tool_use", "id": "call_1", "name": "Read", "input": {}}));
        assert_eq!(ev[11].1["delta"], json!({"type": "input_json_delta", "partial_json": "{\"file_path\":"}));
        assert_eq!(ev[14].1["content_block"]["id"], "call_abc_1");
        assert_eq!(ev[14].1["index"], 3);
        assert_eq!(ev[16].1["index"], 3);
        assert_eq!(ev[17].1["delta"], json!({"stop_reason": "tool_use", "stop_sequence": null}));
        assert_eq!(ev[17].1["usage"], json!({"input_tokens": 1500, "output_tokens": 42}));
        // Block indexes: each start/delta/stop refers to the block that is open.
        let mut open = None;
        for (n, d) in &ev {
            match n.as_str() {
                "content_block_start" => {
                    assert!(open.is_none());
                    open = d["index"].as_u64();
                }
                "content_block_delta" => assert_eq!(d["index"].as_u64(), open),
                "content_block_stop" => {
                    assert_eq!(d["index"].as_u64(), open);
                    open = None;
                }
                _ => {}
            }
        }
    }

    #[test]
    fn stream_stop_reasons_without_usage_and_empty_answers() {
        let mut e = StreamEncoder::new("c", "msg_1", 0);
        let mut out = Vec::new();
        e.chunk(&Chunk::Text("cut".into()), &mut out);
        e.chunk(&Chunk::Finish(FinishReason::Length), &mut out);
        e.finish(&mut out);
        let ev = events(&out);
        assert_eq!(ev[0].0, "message_start", "chunk() starts the stream itself");
        let md = &ev[ev.len() - 2].1;
        assert_eq!(md["delta"]["stop_reason"], "max_tokens");
        assert_eq!(md["usage"], json!({"output_tokens": 0}));

        let mut e = StreamEncoder::new("c", "msg_1", 0);
        let mut out = Vec::new();
        e.finish(&mut out);
        let names: Vec<String> = events(&out).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["message_start", "ping", "content_block_start", "content_block_stop", "message_delta", "message_stop"]
        );
    }

    #[test]
    fn stream_error_endings() {
        let mut e = StreamEncoder::new("c", "msg_1", 0);
        let mut out = Vec::new();
        e.start(&mut out);
        e.chunk(&Chunk::Text("partial".into()), &mut out);
        e.error("upstream connection reset", &mut out);
        e.finish(&mut out);
        let ev = events(&out);
        let (n, d) = ev.last().unwrap();
        assert_eq!(n, "error");
        assert_eq!(d["error"], json!({"type": "api_error", "message": "upstream connection reset"}));
        assert!(!ev.iter().any(|(n, _)| n == "message_stop" || n == "message_delta"));

        let mut e = StreamEncoder::new("c", "msg_1", 0);
        let mut out = Vec::new();
        e.error_typed("overloaded_error", "busy", &mut out);
        assert_eq!(events(&out)[0].1["error"]["type"], "overloaded_error");

        // Interleaved tool arguments cannot be represented: in-band error, no success end.
        let mut e = StreamEncoder::new("c", "msg_1", 0);
        let mut out = Vec::new();
        e.chunk(&Chunk::ToolCallStart { index: 0, id: "a".into(), name: "f".into() }, &mut out);
        e.chunk(&Chunk::ToolCallStart { index: 1, id: "b".into(), name: "g".into() }, &mut out);
        e.chunk(&Chunk::ToolCallArgs { index: 0, delta: "{}".into() }, &mut out);
        e.finish(&mut out);
        let ev = events(&out);
        assert_eq!(ev.last().unwrap().0, "error");
        assert!(!ev.iter().any(|(n, _)| n == "message_stop"));
    }

    #[test]
    fn no_panic_on_type_confusion() {
        for v in wire::type_confusions(&claude_code_request()) {
            if let Value::Object(m) = &v {
                match decode_request(m) {
                    Err(e) => assert!(e.status() == 400 && e.field().is_some(), "{e}"),
                    Ok(r) => {
                        let _ = openai::encode_request(&r, "x");
                        let _ = ollama::encode_chat_request(&r, "x");
                    }
                }
                let _ = count_tokens(m);
            }
        }
    }
}
