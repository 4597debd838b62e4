//! Anthropic client answers: the JSON message and the SSE event stream, from the IR.

use super::super::ir::*;
use super::super::wire::{self, sse_event, write_json};
use super::super::StreamEncoder as StreamEncoderTrait;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Value};

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
        "usage": usage_json(&u),
    })
}

/// Anthropic counts input without the cache: `input_tokens` is what was neither read from nor
/// written to it, and the cache parts are fields of their own (sent only when non-zero).
fn usage_json(u: &Usage) -> Value {
    let mut v = json!({"input_tokens": u.prompt_tokens.saturating_sub(u.cached_tokens + u.cache_write_tokens), "output_tokens": u.completion_tokens});
    if u.cached_tokens > 0 {
        v["cache_read_input_tokens"] = json!(u.cached_tokens);
    }
    if u.cache_write_tokens > 0 {
        v["cache_creation_input_tokens"] = json!(u.cache_write_tokens);
    }
    v
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
            Some(u) => usage_json(u),
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
