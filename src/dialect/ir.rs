//! The internal representation every dialect decodes into and encodes from.
//!
//! Requests: `ChatRequest` (one conversation, typed). Answers: `ChatResponse` (whole) or a
//! sequence of `Chunk`s (streamed). Decoders validate client input and fail with a 400 that
//! names the offending field; encoders never fail on IR input except where an origin cannot
//! carry a part at all (see `ollama::encode_chat_request`).
//!
//! Stream contract between origin decoders and client encoders:
//! - `ToolCallStart.index` counts 0, 1, 2... in order of first appearance within one answer;
//!   `ToolCallArgs` for an index always follows its `ToolCallStart`.
//! - `ToolCallStart.id` is empty when the origin gave no id; client encoders then generate a
//!   deterministic one (`call_<owner>_<n>`).
//! - `Finish` arrives at most once; `Usage` may arrive before or after it, possibly repeatedly
//!   (the last one wins). Neither is required: the encoder's `finish()` closes the stream with
//!   what it has (`Stop`, or `ToolCalls` when tool calls were streamed; no usage).

use crate::types::{FinishReason, Usage};
use serde_json::{Map, Value};

/// One chat request in dialect-neutral form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The model name as the client sent it (display name); origin encoders take the real one.
    pub model: String,
    pub stream: bool,
    /// Leading system/developer text blocks, in order. Encoders join them with a blank line
    /// into one system message (many chat templates accept only one, at the start).
    pub system: Vec<String>,
    /// The conversation. A system/developer message that appears *after* the first
    /// non-system message keeps its place as `Role::System`.
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub seed: Option<i64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub reasoning: Option<Reasoning>,
    /// Structured output, always in OpenAI chat shape: `{"type":"json_object"}` or
    /// `{"type":"json_schema","json_schema":{"name","schema","strict"?}}` (never `text`).
    pub response_format: Option<Value>,
    /// Fields of the client body that have no IR slot, kept verbatim for an origin of the same
    /// family (`extra_family`): e.g. OpenAI `user`/`logit_bias`, Ollama `keep_alive` and the
    /// remaining `options` (under the key `options`). Encoders of another family ignore them.
    pub extra: Map<String, Value>,
    pub extra_family: Option<Family>,
}

/// Which origin family `ChatRequest::extra` belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    OpenAi,
    Ollama,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Only for system/developer messages in the middle of a conversation.
    System,
    User,
    Assistant,
    /// Holds only `Part::ToolResult`s.
    Tool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

impl Message {
    pub fn text(role: Role, text: impl Into<String>) -> Message {
        Message { role, parts: vec![Part::Text(text.into())] }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageData {
    /// Raw base64 (no `data:` prefix).
    Base64(String),
    /// A remote URL the origin has to fetch.
    Url(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Image {
        media_type: Option<String>,
        data: ImageData,
    },
    /// `arguments` is JSON text (possibly empty or invalid when a model produced it so).
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    ToolResult {
        call_id: String,
        content: String,
        is_error: bool,
    },
    Thinking {
        text: String,
        signature: Option<String>,
    },
}

/// The `signature` the gateway gives thinking it translated for an Anthropic client from a
/// non-Anthropic origin (`<think>`, `reasoning_content`, Ollama `thinking`): Anthropic clients
/// need one to replay the block, and this one says that it is not Anthropic's. Such thinking
/// never reaches an Anthropic origin (`anthropic_signature`, `anthropic::replay`).
pub const UNSIGNED_THINKING: &str = "maestro-edge:unsigned";

/// A thinking block's signature when it is Anthropic's own (not empty, not the gateway's
/// `UNSIGNED_THINKING`): only such thinking may be sent to an Anthropic origin.
pub fn anthropic_signature(signature: Option<&str>) -> Option<&str> {
    signature.filter(|s| !s.is_empty() && !s.starts_with(UNSIGNED_THINKING))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON schema of the arguments object.
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    Named(String),
}

/// Reasoning ("thinking") control. `enabled: false` means the client asked for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reasoning {
    pub enabled: bool,
    pub effort: Option<Effort>,
    pub budget_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
}

impl Effort {
    pub fn parse(s: &str) -> Option<Effort> {
        Some(match s {
            "minimal" => Effort::Minimal,
            "low" => Effort::Low,
            "medium" => Effort::Medium,
            "high" => Effort::High,
            "xhigh" | "max" => Effort::XHigh,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::XHigh => "xhigh",
        }
    }
}

impl Reasoning {
    /// The effort to send to an origin that only understands effort levels: the explicit
    /// effort, else one derived from a thinking budget (>= 12000 high, >= 4000 medium, else
    /// low — the same thresholds the reference used).
    pub fn effective_effort(&self) -> Option<Effort> {
        if !self.enabled {
            return None;
        }
        self.effort.or(self.budget_tokens.map(|b| {
            if b >= 12_000 {
                Effort::High
            } else if b >= 4_000 {
                Effort::Medium
            } else {
                Effort::Low
            }
        }))
    }
}

/// One streamed event between origin decoders and client encoders.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Text(String),
    Reasoning(String),
    ToolCallStart { index: usize, id: String, name: String },
    ToolCallArgs { index: usize, delta: String },
    Finish(FinishReason),
    Usage(Usage),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCall {
    /// Empty when the origin gave none; client encoders generate one.
    pub id: String,
    pub name: String,
    /// JSON text.
    pub arguments: String,
}

/// A whole non-streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The origin's id, or empty (Ollama gives none). Client encoders put it on the wire as is,
    /// so the caller sets the id it wants clients to see (`chatcmpl-…`, `msg_…`, `resp_…`).
    pub id: String,
    pub text: String,
    pub reasoning: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish: FinishReason,
    /// `None` when the origin reported no token counts.
    pub usage: Option<Usage>,
}

impl Default for ChatResponse {
    fn default() -> Self {
        ChatResponse { id: String::new(), text: String::new(), reasoning: String::new(), tool_calls: Vec::new(), finish: FinishReason::Stop, usage: None }
    }
}

impl ChatResponse {
    /// Fold one streamed chunk into a whole answer (serving a non-streaming client from a
    /// streaming origin). A stream without a `Finish` keeps `Stop`, or `ToolCalls` when it
    /// produced tool calls (see `settle`).
    pub fn push_chunk(&mut self, c: &Chunk) {
        match c {
            Chunk::Text(t) => self.text.push_str(t),
            Chunk::Reasoning(t) => self.reasoning.push_str(t),
            Chunk::ToolCallStart { index, id, name } => {
                if self.tool_calls.len() <= *index {
                    self.tool_calls.resize_with(index + 1, ToolCall::default);
                }
                let tc = &mut self.tool_calls[*index];
                tc.id = id.clone();
                tc.name = name.clone();
            }
            Chunk::ToolCallArgs { index, delta } => {
                if self.tool_calls.len() <= *index {
                    self.tool_calls.resize_with(index + 1, ToolCall::default);
                }
                self.tool_calls[*index].arguments.push_str(delta);
            }
            Chunk::Finish(f) => self.finish = *f,
            Chunk::Usage(u) => self.usage = Some(*u),
        }
    }

    /// After the last chunk (or a repair): `finish_with_tools`.
    pub fn settle(&mut self) {
        self.finish = finish_with_tools(Some(self.finish), !self.tool_calls.is_empty());
    }
}

/// How an answer ended, the one rule every decoder, encoder and repair applies: an answer that
/// ended normally (`Stop`, or no reason at all) but made tool calls is a tool-call turn. Ollama
/// reports `stop` for tool-calling turns, streams may end without a reason, and a repaired
/// answer (tool calls parsed out of its text) carries the origin's `stop`.
pub fn finish_with_tools(reason: Option<FinishReason>, had_tools: bool) -> FinishReason {
    match reason.unwrap_or(FinishReason::Stop) {
        FinishReason::Stop if had_tools => FinishReason::ToolCalls,
        f => f,
    }
}
