//! Ollama streams: the origin's NDJSON lines -> `Chunk`s, and `Chunk`s -> the client's NDJSON
//! lines (`/api/chat` or `/api/generate` shape).

use super::super::ir::*;
use super::super::wire::{self, ndjson, write_json};
use super::super::encoder::StreamEncoder;
use super::response::*;
use crate::types::{FinishReason, Usage};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

#[derive(Deserialize)]
struct OLine<'a> {
    #[serde(default, borrow)]
    message: Option<OMessage<'a>>,
    #[serde(default, borrow)]
    response: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default)]
    done: bool,
    #[serde(default, borrow)]
    done_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct OMessage<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
}

/// Stateful decoder for an Ollama NDJSON stream (`/api/chat` or `/api/generate`): feed one
/// line at a time. Tool calls arrive whole and become `ToolCallStart` + one `ToolCallArgs`
/// with the full JSON arguments; the `done: true` line yields `Finish` (+ `Usage` when the
/// counts are present).
#[derive(Default)]
pub struct StreamDecoder {
    tools: usize,
    finished: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn frame(&mut self, line: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let l: OLine = serde_json::from_slice(line).map_err(|e| format!("malformed stream line from origin: {e}"))?;
        if let Some(e) = l.error.as_ref().filter(|e| !e.is_null()) {
            return Err(wire::error_message(e));
        }
        let (thinking, text) = match &l.message {
            Some(m) => (m.thinking.as_deref(), m.content.as_deref()),
            None => (l.thinking.as_deref(), l.response.as_deref()),
        };
        if let Some(t) = thinking.filter(|t| !t.is_empty()) {
            out.push(Chunk::Reasoning(t.to_string()));
        }
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            out.push(Chunk::Text(t.to_string()));
        }
        if let Some(calls) = l.message.as_ref().and_then(|m| m.tool_calls.as_ref()) {
            for c in calls {
                let f = c.get("function");
                let index = self.tools;
                self.tools += 1;
                out.push(Chunk::ToolCallStart {
                    index,
                    id: c.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
                    name: f.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or("").to_string(),
                });
                let args = args_from(f.and_then(|f| f.get("arguments")));
                if !args.is_empty() {
                    out.push(Chunk::ToolCallArgs { index, delta: args });
                }
            }
        }
        if l.done && !self.finished {
            self.finished = true;
            out.push(Chunk::Finish(finish_from(l.done_reason.as_deref(), self.tools > 0)));
            if let Some(u) = usage_from(l.prompt_eval_count, l.eval_count) {
                out.push(Chunk::Usage(u));
            }
        }
        Ok(())
    }
}

/// NDJSON encoder for Ollama clients; `GENERATE` selects the `/api/generate` line shape
/// (`response`) over the `/api/chat` one (`message`). Use the aliases below.
pub struct NdjsonStreamEncoder<const GENERATE: bool> {
    display: String,
    created_at: String,
    /// `{"model":…,"created_at":…,`
    head: Vec<u8>,
    tools: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    done: bool,
    /// Wall clock (ms) at construction and at the first output; `before_ms` is what had
    /// elapsed since the request arrived when the encoder was made.
    t0_ms: i64,
    first_ms: Option<i64>,
    before_ms: u64,
}

fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub type ChatStreamEncoder = NdjsonStreamEncoder<false>;
pub type GenerateStreamEncoder = NdjsonStreamEncoder<true>;

impl<const GENERATE: bool> NdjsonStreamEncoder<GENERATE> {
    /// Lines carry the time of construction as `created_at`; see `set_created_at`.
    pub fn new(display: &str) -> Self {
        let mut e = NdjsonStreamEncoder {
            display: display.to_string(),
            created_at: String::new(),
            head: Vec::new(),
            tools: Vec::new(),
            finish: None,
            usage: None,
            done: false,
            t0_ms: wall_ms(),
            first_ms: None,
            before_ms: 0,
        };
        e.set_created_at(&now_rfc3339());
        e
    }

    /// Count this much time (since the request arrived) into the reported durations.
    pub fn with_elapsed_ms(mut self, ms: u64) -> Self {
        self.before_ms = ms;
        self
    }

    pub(super) fn timing(&self) -> Timing {
        let now = wall_ms();
        let since = |t: i64| (t - self.t0_ms).max(0) as u64;
        let total = self.before_ms + since(now);
        let first = self.first_ms.map_or(total, |f| self.before_ms + since(f));
        Timing::from_ms(first, total)
    }

    /// Stamp following lines with this time (callers may refresh it per chunk; tests pin it).
    pub fn set_created_at(&mut self, created_at: &str) {
        self.created_at = created_at.to_string();
        self.head.clear();
        self.head.extend_from_slice(b"{\"model\":");
        write_json(&mut self.head, &self.display);
        self.head.extend_from_slice(b",\"created_at\":");
        write_json(&mut self.head, &self.created_at);
        self.head.push(b',');
    }

    fn line(&self, out: &mut Vec<u8>, content: &str, thinking: Option<&str>) {
        out.extend_from_slice(&self.head);
        if GENERATE {
            out.extend_from_slice(b"\"response\":");
            write_json(out, content);
            if let Some(t) = thinking {
                out.extend_from_slice(b",\"thinking\":");
                write_json(out, t);
            }
        } else {
            out.extend_from_slice(b"\"message\":{\"role\":\"assistant\",\"content\":");
            write_json(out, content);
            if let Some(t) = thinking {
                out.extend_from_slice(b",\"thinking\":");
                write_json(out, t);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b",\"done\":false}\n");
    }
}

impl<const GENERATE: bool> StreamEncoder for NdjsonStreamEncoder<GENERATE> {
    fn start(&mut self, _out: &mut Vec<u8>) {}

    fn chunk(&mut self, c: &Chunk, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if self.first_ms.is_none() && matches!(c, Chunk::Text(_) | Chunk::Reasoning(_) | Chunk::ToolCallStart { .. }) {
            self.first_ms = Some(wall_ms());
        }
        match c {
            Chunk::Text(t) => self.line(out, t, None),
            Chunk::Reasoning(t) => self.line(out, "", Some(t)),
            // Ollama sends tool calls whole: collected and written before the done line.
            // (/api/generate has no tool calls; its requests carry no tools.)
            Chunk::ToolCallStart { index, id, name } => {
                if self.tools.len() <= *index {
                    self.tools.resize_with(index + 1, Default::default);
                }
                self.tools[*index].0 = id.clone();
                self.tools[*index].1 = name.clone();
            }
            Chunk::ToolCallArgs { index, delta } => {
                if self.tools.len() <= *index {
                    self.tools.resize_with(index + 1, Default::default);
                }
                self.tools[*index].2.push_str(delta);
            }
            Chunk::Finish(f) => self.finish = Some(*f),
            Chunk::Usage(u) => self.usage = Some(*u),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        if !GENERATE && !self.tools.is_empty() {
            let mut l = Map::new();
            l.insert("model".into(), json!(self.display));
            l.insert("created_at".into(), json!(self.created_at));
            l.insert(
                "message".into(),
                json!({"role": "assistant", "content": "",
                       "tool_calls": tool_calls_json(self.tools.iter().map(|(i, n, a)| (i.as_str(), n.as_str(), a.as_str())))}),
            );
            l.insert("done".into(), json!(false));
            ndjson(out, &Value::Object(l));
        }
        let mut l = Map::new();
        l.insert("model".into(), json!(self.display));
        l.insert("created_at".into(), json!(self.created_at));
        if GENERATE {
            l.insert("response".into(), json!(""));
        } else {
            l.insert("message".into(), json!({"role": "assistant", "content": ""}));
        }
        l.insert("done".into(), json!(true));
        l.insert("done_reason".into(), json!(done_reason(self.finish.unwrap_or(FinishReason::Stop))));
        let t = self.timing();
        put_metrics(&mut l, self.usage.as_ref(), &t);
        ndjson(out, &Value::Object(l));
    }

    fn error(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        super::error::stream_error(message, out);
    }
}
