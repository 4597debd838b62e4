//! OpenAI chat completions streams: the origin's SSE `data:` payloads -> `Chunk`s, and `Chunk`s
//! -> the client's `chat.completion.chunk` events.

use super::super::ir::*;
use super::super::wire::{self, sse_data, write_json};
use super::super::encoder::StreamEncoder as StreamEncoderTrait;
use super::response::*;
use crate::types::{FinishReason, Usage};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::borrow::Cow;

#[derive(Deserialize)]
struct WChunk<'a> {
    #[serde(default, borrow)]
    choices: Option<Vec<WChoice<'a>>>,
    #[serde(default)]
    usage: Option<WUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WChoice<'a> {
    #[serde(default)]
    index: u64,
    #[serde(default, borrow)]
    delta: Option<WDelta<'a>>,
    /// `/v1/completions` chunks (fill-in-the-middle, `ollama::fim`) carry text here.
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    stop_reason: Option<Value>,
}

#[derive(Deserialize)]
struct WDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<WToolDelta<'a>>>,
}

#[derive(Deserialize)]
struct WToolDelta<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<WFunction<'a>>,
}

#[derive(Deserialize)]
struct WFunction<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    /// A JSON string normally; some servers send an object.
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    /// `cached_tokens` in here is the cached part of the prompt (priced apart).
    #[serde(default)]
    prompt_tokens_details: Option<WTokenDetails>,
    /// DeepSeek's name for the same.
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens_details: Option<WOutputDetails>,
}

#[derive(Deserialize)]
struct WOutputDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct WTokenDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

struct ToolSlot {
    /// The origin's `index`.
    origin: u64,
    id: String,
    name: String,
    /// Our sequential index once started.
    out: Option<usize>,
    /// Arguments that arrived before the name.
    pending: String,
}

/// Stateful decoder for an OpenAI SSE stream: feed each `data:` payload (not `[DONE]`).
/// All entries of `delta.tool_calls` are handled and merged by `index`; only choice 0 is read
/// (we never ask for more than one).
#[derive(Default)]
pub struct StreamDecoder {
    slots: Vec<ToolSlot>,
    started: usize,
    finished: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn frame(&mut self, data: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let chunk: WChunk = match serde_json::from_slice(data) {
            Ok(c) => c,
            Err(e) => {
                if let Ok(v) = serde_json::from_slice::<Value>(data) {
                    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
                        return Err(wire::error_message(err));
                    }
                }
                return Err(format!("malformed stream chunk from origin: {e}"));
            }
        };
        if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            return Err(wire::error_message(err));
        }
        for choice in chunk.choices.iter().flatten() {
            if choice.index != 0 {
                continue;
            }
            if let Some(t) = choice.text.as_deref().filter(|t| !t.is_empty()) {
                out.push(Chunk::Text(t.to_string()));
            }
            if let Some(d) = &choice.delta {
                let reasoning = d.reasoning_content.as_deref().or(d.reasoning.as_deref());
                if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
                    out.push(Chunk::Reasoning(r.to_string()));
                }
                if let Some(t) = d.content.as_deref().filter(|t| !t.is_empty()) {
                    out.push(Chunk::Text(t.to_string()));
                }
                if let Some(t) = d.refusal.as_deref().filter(|t| !t.is_empty()) {
                    out.push(Chunk::Text(t.to_string()));
                }
                for tc in d.tool_calls.iter().flatten() {
                    self.tool_delta(tc, out);
                }
            }
            if let Some(fr) = choice.finish_reason.as_deref() {
                if !self.finished {
                    self.flush_unnamed(out);
                    let f = finish_with_tools(Some(finish_from(fr, choice.stop_reason.as_ref())), self.started > 0);
                    out.push(Chunk::Finish(f));
                    self.finished = true;
                }
            }
        }
        if let Some(u) = &chunk.usage {
            if u.prompt_tokens.is_some() || u.completion_tokens.is_some() {
                let prompt = u.prompt_tokens.unwrap_or(0);
                let cached = u.prompt_tokens_details.as_ref().and_then(|d| d.cached_tokens).or(u.prompt_cache_hit_tokens).unwrap_or(0).min(prompt);
                out.push(Chunk::Usage(Usage { prompt_tokens: prompt, completion_tokens: u.completion_tokens.unwrap_or(0), estimated: false, cached_tokens: cached, cache_write_tokens: 0, reasoning_tokens: u.completion_tokens_details.as_ref().and_then(|d| d.reasoning_tokens).unwrap_or(0) }));
            }
        }
        Ok(())
    }

    fn tool_delta(&mut self, tc: &WToolDelta, out: &mut Vec<Chunk>) {
        let id = tc.id.as_deref().unwrap_or("");
        // Find the slot: by `index`; servers that omit it are matched by a new id, else the
        // latest call continues.
        let pos = match tc.index {
            Some(ix) => self.slots.iter().position(|s| s.origin == ix),
            None if !id.is_empty() => self.slots.iter().position(|s| s.id == id),
            None => self.slots.len().checked_sub(1),
        };
        let pos = match pos {
            Some(p) => p,
            None => {
                let origin = tc.index.unwrap_or(self.slots.len() as u64);
                self.slots.push(ToolSlot { origin, id: String::new(), name: String::new(), out: None, pending: String::new() });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[pos];
        if slot.id.is_empty() && !id.is_empty() {
            slot.id = id.to_string();
        }
        let (name, args) = match &tc.function {
            Some(f) => (f.name.as_deref().unwrap_or(""), f.arguments.map(raw_args)),
            None => ("", None),
        };
        if slot.out.is_none() && !name.is_empty() {
            slot.name.push_str(name);
        }
        let args = args.unwrap_or_default();
        match slot.out {
            Some(ix) => {
                if !args.is_empty() {
                    out.push(Chunk::ToolCallArgs { index: ix, delta: args.into_owned() });
                }
            }
            None => {
                slot.pending.push_str(&args);
                if !slot.name.is_empty() {
                    let ix = self.started;
                    self.started += 1;
                    slot.out = Some(ix);
                    out.push(Chunk::ToolCallStart { index: ix, id: slot.id.clone(), name: slot.name.clone() });
                    if !slot.pending.is_empty() {
                        out.push(Chunk::ToolCallArgs { index: ix, delta: std::mem::take(&mut slot.pending) });
                    }
                }
            }
        }
    }

    /// Calls that never got a name are still reported (with an empty name) rather than lost.
    fn flush_unnamed(&mut self, out: &mut Vec<Chunk>) {
        for slot in &mut self.slots {
            if slot.out.is_none() {
                let ix = self.started;
                self.started += 1;
                slot.out = Some(ix);
                out.push(Chunk::ToolCallStart { index: ix, id: slot.id.clone(), name: String::new() });
                if !slot.pending.is_empty() {
                    out.push(Chunk::ToolCallArgs { index: ix, delta: std::mem::take(&mut slot.pending) });
                }
            }
        }
    }
}

fn raw_args(raw: &RawValue) -> Cow<'_, str> {
    let s = raw.get();
    if s.starts_with('"') {
        serde_json::from_str::<Cow<str>>(s).unwrap_or(Cow::Borrowed(""))
    } else if s == "null" {
        Cow::Borrowed("")
    } else {
        Cow::Borrowed(s)
    }
}

/// SSE encoder for OpenAI chat clients (`data: {chat.completion.chunk}` lines, `data: [DONE]`).
pub struct StreamEncoder {
    /// `data: {"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":[{"index":0,"delta":`
    prefix: Vec<u8>,
    id: String,
    display: String,
    created: i64,
    include_usage: bool,
    started: bool,
    done: bool,
    tools: usize,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

impl StreamEncoder {
    /// `include_usage`: the client asked for `stream_options.include_usage`; the usage chunk is
    /// sent only when the origin reported usage (never invented).
    pub fn new(display: &str, id: &str, created: i64, include_usage: bool) -> Self {
        let mut prefix = Vec::with_capacity(96 + display.len() + id.len());
        prefix.extend_from_slice(b"data: {\"id\":");
        write_json(&mut prefix, id);
        prefix.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        prefix.extend_from_slice(created.to_string().as_bytes());
        prefix.extend_from_slice(b",\"model\":");
        write_json(&mut prefix, display);
        prefix.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":");
        StreamEncoder { prefix, id: id.to_string(), display: display.to_string(), created, include_usage, started: false, done: false, tools: 0, finish: None, usage: None }
    }

    fn open(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
    }

    fn close(out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"finish_reason\":null}]}\n\n");
    }
}

impl StreamEncoderTrait for StreamEncoder {
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started || self.done {
            return;
        }
        self.started = true;
        self.open(out);
        out.extend_from_slice(b"{\"role\":\"assistant\",\"content\":\"\"}");
        Self::close(out);
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
                self.open(out);
                out.extend_from_slice(b"{\"content\":");
                write_json(out, t);
                out.push(b'}');
                Self::close(out);
            }
            Chunk::Reasoning(t) => {
                self.open(out);
                out.extend_from_slice(b"{\"reasoning_content\":");
                write_json(out, t);
                out.push(b'}');
                Self::close(out);
            }
            Chunk::ToolCallStart { index, id, name } => {
                self.tools = self.tools.max(index + 1);
                let id = if id.is_empty() { wire::call_id(&self.id, *index) } else { id.clone() };
                self.open(out);
                write_json(out, &json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}));
                Self::close(out);
            }
            Chunk::ToolCallArgs { index, delta } => {
                self.open(out);
                out.extend_from_slice(b"{\"tool_calls\":[{\"index\":");
                out.extend_from_slice(index.to_string().as_bytes());
                out.extend_from_slice(b",\"function\":{\"arguments\":");
                write_json(out, delta);
                out.extend_from_slice(b"}}]}");
                Self::close(out);
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
        self.done = true;
        let f = finish_with_tools(self.finish, self.tools > 0);
        self.open(out);
        out.extend_from_slice(b"{},\"finish_reason\":");
        write_json(out, f.as_openai());
        out.extend_from_slice(b"}]}\n\n");
        if self.include_usage {
            if let Some(u) = &self.usage {
                sse_data(
                    out,
                    &json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                            "model": self.display, "choices": [], "usage": usage_json(u)}),
                );
            }
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    fn error(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        super::error::stream_error(message, out);
    }
}
