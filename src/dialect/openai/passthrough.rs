//! Same-dialect OpenAI streams: an OpenAI-compatible origin's SSE forwarded to an OpenAI client
//! frame by frame, `model` rewritten to the name the client asked for.

use super::error::stream_error;
use super::response::usage_from;
use crate::stream::required_args::RequiredArgs;
use crate::stream::transform::{error_message, is_json, Framing, State, Transform};
use crate::types::Usage;
use crate::util::jsonscan;
use serde_json::Value;

fn has_finish_reason(payload: &[u8]) -> bool {
    // `"finish_reason":"stop"` (any spacing) but not `"finish_reason":null`. Quotes inside
    // string values are escaped, so this byte pattern can only be a real key.
    let mut hay = payload;
    while let Some(p) = memchr::memmem::find(hay, b"\"finish_reason\"") {
        let rest = &hay[p + 15..];
        let v = rest.iter().position(|b| !matches!(b, b' ' | b':' | b'\t')).map(|i| &rest[i..]);
        if v.is_some_and(|v| v.first() == Some(&b'"')) {
            return true;
        }
        hay = rest;
    }
    false
}

/// OpenAI chat/completions SSE from an OpenAI-compatible origin.
pub struct OpenAiSse {
    display: String,
    /// The gateway asked the origin for usage; the client did not, so drop that extra chunk.
    strip_usage_chunk: bool,
    state: State,
    finish_seen: bool,
    usage: Option<Usage>,
    frames: u64,
    /// Calls of tools that require arguments (`stream::required_args`); off unless set.
    required: RequiredArgs,
}

impl OpenAiSse {
    pub fn new(display: &str, strip_usage_chunk: bool) -> Self {
        OpenAiSse { display: display.to_string(), strip_usage_chunk, state: State::Open, finish_seen: false, usage: None, frames: 0, required: RequiredArgs::default() }
    }

    /// End with an error instead of `[DONE]` when a call of one of these tools came without any
    /// argument text. Only chunks that carry `tool_calls` are parsed for it.
    pub fn with_required_args(mut self, names: Vec<String>) -> Self {
        self.required = RequiredArgs::new(names);
        self
    }

    /// The answer is complete: `[DONE]`, unless a required argument never came.
    fn done(&mut self, out: &mut Vec<u8>) {
        if let Some(msg) = self.required.missing() {
            self.fail(&msg, out);
            return;
        }
        self.state = State::Done;
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
}

impl Transform for OpenAiSse {
    fn frame(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        if self.state != State::Open {
            return;
        }
        let payload = payload.trim_ascii();
        if payload == b"[DONE]" {
            self.done(out);
            return;
        }
        if !is_json(payload) {
            self.fail("the origin sent a malformed chunk", out);
            return;
        }
        if !self.required.off() && memchr::memmem::find(payload, b"\"tool_calls\"").is_some() {
            if let Ok(v) = serde_json::from_slice::<Value>(payload) {
                self.required.openai_payload(&v);
            }
        }
        if let Some(msg) = error_message(payload) {
            stream_error(&msg, out);
            self.state = State::Failed(msg);
            return;
        }
        let mut skip = false;
        if memchr::memmem::find(payload, b"\"usage\"").is_some() {
            if let Ok(v) = serde_json::from_slice::<Value>(payload) {
                if let Some(u) = v.get("usage").and_then(usage_from) {
                    self.usage = Some(u);
                    let no_choices = v.get("choices").and_then(Value::as_array).is_none_or(|c| c.is_empty());
                    skip = self.strip_usage_chunk && no_choices;
                }
            }
        }
        if has_finish_reason(payload) {
            self.finish_seen = true;
        }
        self.frames += 1;
        if skip {
            return;
        }
        out.extend_from_slice(b"data: ");
        match jsonscan::set_top_level_str(payload, "model", &self.display) {
            Some(rewritten) => out.extend_from_slice(&rewritten),
            None => out.extend_from_slice(payload),
        }
        out.extend_from_slice(b"\n\n");
    }

    fn end(&mut self, out: &mut Vec<u8>) -> bool {
        match self.state {
            State::Done => true,
            State::Failed(_) => false,
            State::Open if self.finish_seen => {
                // Every choice finished; only the terminator was missing, so the answer is whole.
                self.done(out);
                self.state == State::Done
            }
            State::Open => {
                self.fail("the origin closed the stream before the answer was complete", out);
                false
            }
        }
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.state == State::Open {
            stream_error(message, out);
            self.state = State::Failed(message.to_string());
        }
    }

    fn state(&self) -> &State {
        &self.state
    }
    fn usage(&self) -> Option<Usage> {
        self.usage
    }
    fn frames(&self) -> u64 {
        self.frames
    }
    fn framing(&self) -> Framing {
        Framing::SseData
    }
}
