//! Same-dialect Ollama streams: an Ollama origin's NDJSON forwarded line by line, `model`
//! rewritten to the name the client asked for; and the progress lines of model operations.

use super::error::stream_error;
use super::response::usage_of;
use crate::stream::transform::{error_message, is_json, Framing, State, Transform};
use crate::types::Usage;
use crate::util::jsonscan;
use serde_json::Value;

/// Ollama NDJSON (`/api/chat`, `/api/generate`, pull progress) from an Ollama origin.
pub struct OllamaNdjson {
    display: String,
    state: State,
    usage: Option<Usage>,
    frames: u64,
}

impl OllamaNdjson {
    pub fn new(display: &str) -> Self {
        OllamaNdjson { display: display.to_string(), state: State::Open, usage: None, frames: 0 }
    }
}

impl Transform for OllamaNdjson {
    fn frame(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let line = line.trim_ascii();
        if self.state != State::Open || line.is_empty() {
            return;
        }
        if !is_json(line) {
            self.fail("the origin sent a malformed chunk", out);
            return;
        }
        if let Some(msg) = error_message(line) {
            stream_error(&msg, out);
            self.state = State::Failed(msg);
            return;
        }
        if jsonscan::top_level_is(line, "done", b"true") {
            if let Ok(v) = serde_json::from_slice::<Value>(line) {
                self.usage = usage_of(&v);
            }
            self.state = State::Done;
        }
        self.frames += 1;
        match jsonscan::set_top_level_str(line, "model", &self.display) {
            Some(rewritten) => out.extend_from_slice(&rewritten),
            None => out.extend_from_slice(line),
        }
        out.push(b'\n');
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
        Framing::Lines
    }
}
