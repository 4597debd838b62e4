//! Anthropic Messages streams: the origin's SSE events -> `Chunk`s, and `Chunk`s -> the client's
//! SSE events (`message_start` … `message_stop`).

use super::super::ir::*;
use super::super::wire::{self, sse_event, write_json};
use super::super::encoder::StreamEncoder as StreamEncoderTrait;
use super::response::*;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Value};

/// What one content block of the origin's stream is, by its index.
#[derive(Clone)]
enum Block {
    Text,
    Thinking,
    /// IR tool index; whether any `input_json_delta` came; a non-empty `input` from the start.
    Tool {
        index: usize,
        args_seen: bool,
        initial: Option<String>,
    },
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
        if self.open == Open::Thinking {
            // Anthropic streams a thinking block's signature last; this one marks it as not
            // Anthropic's (see `UNSIGNED_THINKING`).
            self.delta("signature_delta", "signature", UNSIGNED_THINKING, out);
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
        sse_event(out, "content_block_start", &json!({"type": "content_block_start", "index": self.block, "content_block": content_block}));
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
        super::error::stream_error(error_type, message, out);
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
                self.open_block(Open::Tool(*index), json!({"type": "tool_use", "id": id, "name": name, "input": {}}), out);
            }
            Chunk::ToolCallArgs { index, delta } => {
                if self.open == Open::Tool(*index) {
                    if !delta.is_empty() {
                        self.delta("input_json_delta", "partial_json", delta, out);
                    }
                } else if self.tools.get(*index).copied().unwrap_or(false) {
                    self.error_typed("api_error", "the origin interleaved the arguments of several tool calls; this cannot be streamed as Anthropic content blocks", out);
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
        let finish = finish_with_tools(self.finish, had_tools);
        let usage = match &self.usage {
            Some(u) => usage_json(u),
            // Not reported by the origin: 0, never an invented count.
            None => json!({"output_tokens": 0}),
        };
        sse_event(out, "message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(finish), "stop_sequence": null}, "usage": usage}));
        out.extend_from_slice(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    }

    fn error(&mut self, message: &str, out: &mut Vec<u8>) {
        self.error_typed("api_error", message, out);
    }

    /// Claude Code aborts a stream that is silent for 300 s (long thinking on a slow origin).
    fn keepalive(&mut self, out: &mut Vec<u8>) {
        if self.started && !self.done {
            out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
        }
    }
}
