//! Same-dialect stream transforms: the origin already speaks the client's dialect, so each frame
//! is forwarded with the top-level `model` rewritten to the name the client asked for. Usage is
//! observed on the frames that carry it (parsed only there), and whether the origin finished
//! properly is tracked, so a cut stream ends with an in-band error instead of a fake success.

use crate::types::Usage;
use crate::util::jsonscan;
use serde_json::Value;

/// What a transform decided about the stream so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Open,
    /// The origin sent its success terminator.
    Done,
    /// The origin sent an error frame (already forwarded in-band).
    Failed(String),
}

/// One dialect's per-frame work. A frame is an SSE `data:` payload or an NDJSON line.
pub trait Transform {
    fn frame(&mut self, payload: &[u8], out: &mut Vec<u8>);
    /// The origin closed the body. Emits closing bytes if any and reports whether the answer is
    /// complete; an incomplete answer is ended here with an in-band error. By default only an
    /// explicit terminator counts as complete.
    fn end(&mut self, out: &mut Vec<u8>) -> bool {
        match self.state() {
            State::Done => true,
            State::Failed(_) => false,
            State::Open => {
                self.fail("the origin closed the stream before the answer was complete", out);
                false
            }
        }
    }
    /// End the client's stream with the dialect's error (never a success terminator).
    fn fail(&mut self, message: &str, out: &mut Vec<u8>);
    fn state(&self) -> &State;
    fn usage(&self) -> Option<Usage>;
    /// Content frames seen: the completion-token estimate when the origin reports no usage.
    fn frames(&self) -> u64;
    /// SSE payloads arrive as `data:` lines; NDJSON as whole lines.
    fn sse(&self) -> bool;
    /// The upstream bytes as they came, unframed: the transform frames them itself and owns
    /// every byte the client gets (a byte-identical passthrough).
    fn raw(&self) -> bool {
        false
    }
    /// The transcoding transform, which mid-stream recovery continues (see `relay`).
    fn as_transcode(&mut self) -> Option<&mut super::transcode::Transcode> {
        None
    }
}

pub fn openai_error_event(message: &str, code: &str) -> Vec<u8> {
    let v = serde_json::json!({"error": {"message": message, "type": "server_error", "code": code}});
    let mut out = b"data: ".to_vec();
    serde_json::to_writer(&mut out, &v).ok();
    out.extend_from_slice(b"\n\n");
    out
}

pub fn ollama_error_line(message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    serde_json::to_writer(&mut out, &serde_json::json!({ "error": message })).ok();
    out.push(b'\n');
    out
}

/// A frame must be JSON before it reaches a client: SDKs crash on garbage, so a malformed frame
/// ends the stream with a clear in-band error instead. `IgnoredAny` validates without building
/// anything, which keeps the per-chunk cost to one scan.
pub fn is_json(payload: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_ok()
}

/// The message of an `{"error": ...}` frame (string, or object with `message`).
pub fn error_message(payload: &[u8]) -> Option<String> {
    let (s, e) = jsonscan::top_level_value(payload, "error")?;
    let raw = &payload[s..e];
    if raw == b"null" {
        return None;
    }
    let v: Value = serde_json::from_slice(raw).ok()?;
    Some(match &v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("message").and_then(Value::as_str).map(String::from).unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    })
}

/// OpenAI `usage` object -> Usage.
pub fn openai_usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage")?;
    let p = u.get("prompt_tokens").and_then(Value::as_u64);
    let c = u.get("completion_tokens").and_then(Value::as_u64);
    let prompt = p.unwrap_or(0);
    (p.is_some() || c.is_some()).then(|| Usage { prompt_tokens: prompt, completion_tokens: c.unwrap_or(0), estimated: false, cached_tokens: Usage::openai_cached(u, prompt), cache_write_tokens: 0 })
}

/// Ollama's final-line counters -> Usage.
pub fn ollama_usage(v: &Value) -> Option<Usage> {
    let p = v.get("prompt_eval_count").and_then(Value::as_u64);
    let c = v.get("eval_count").and_then(Value::as_u64);
    (p.is_some() || c.is_some()).then(|| Usage { prompt_tokens: p.unwrap_or(0), completion_tokens: c.unwrap_or(0), estimated: false, ..Default::default() })
}

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
}

impl OpenAiSse {
    pub fn new(display: &str, strip_usage_chunk: bool) -> Self {
        OpenAiSse { display: display.to_string(), strip_usage_chunk, state: State::Open, finish_seen: false, usage: None, frames: 0 }
    }
}

impl Transform for OpenAiSse {
    fn frame(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        if self.state != State::Open {
            return;
        }
        let payload = payload.trim_ascii();
        if payload == b"[DONE]" {
            self.state = State::Done;
            out.extend_from_slice(b"data: [DONE]\n\n");
            return;
        }
        if !is_json(payload) {
            self.fail("the origin sent a malformed chunk", out);
            return;
        }
        if let Some(msg) = error_message(payload) {
            out.extend_from_slice(&openai_error_event(&msg, "upstream_error"));
            self.state = State::Failed(msg);
            return;
        }
        let mut skip = false;
        if memchr::memmem::find(payload, b"\"usage\"").is_some() {
            if let Ok(v) = serde_json::from_slice::<Value>(payload) {
                if let Some(u) = openai_usage(&v) {
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
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.state = State::Done;
                true
            }
            State::Open => {
                self.fail("the origin closed the stream before the answer was complete", out);
                false
            }
        }
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.state == State::Open {
            out.extend_from_slice(&openai_error_event(message, "stream_interrupted"));
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
    fn sse(&self) -> bool {
        true
    }
}

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
            out.extend_from_slice(&ollama_error_line(&msg));
            self.state = State::Failed(msg);
            return;
        }
        if jsonscan::top_level_is(line, "done", b"true") {
            if let Ok(v) = serde_json::from_slice::<Value>(line) {
                self.usage = ollama_usage(&v);
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
            out.extend_from_slice(&ollama_error_line(message));
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
    fn sse(&self) -> bool {
        false
    }
}

pub fn anthropic_error_event(message: &str) -> Vec<u8> {
    let v = serde_json::json!({"type": "error", "error": {"type": "api_error", "message": message}});
    let mut out = b"event: error\ndata: ".to_vec();
    serde_json::to_writer(&mut out, &v).ok();
    out.extend_from_slice(b"\n\n");
    out
}

/// Anthropic Messages SSE from an Anthropic-type origin, forwarded byte for byte: the origin's
/// bytes go out as they came (line endings, blank lines, comments, unknown events), except the
/// `model` inside `message_start`, spliced in place. The transform frames lines itself, holding
/// back only an unfinished line, so a stream that ends has given the client exactly the
/// origin's bytes (with or without a final newline). Usage comes from `message_start` and
/// `message_delta`; `message_stop` is the success terminator, but the answer counts as done
/// only when the blank line closing that event went out too (or the origin ended): a client's
/// SSE parser dispatches an event on that blank line, so without it `message_stop` is never
/// seen (the @ai-sdk/anthropic "interrupted" bug).
pub struct AnthropicSse {
    display: String,
    state: State,
    /// Input tokens in total, of them read from and written to the prompt cache.
    prompt: Option<[u64; 3]>,
    completion: Option<u64>,
    frames: u64,
    /// The unfinished line (bytes after the last `\n`).
    partial: Vec<u8>,
    /// A line of the current event went out (an error must first close it).
    mid_event: bool,
    /// `message_stop` (Done) or an `error` event (Failed) went out; the state to enter once the
    /// blank line closing that event has gone out too.
    closing: Option<State>,
}

impl AnthropicSse {
    pub fn new(display: &str) -> Self {
        AnthropicSse { display: display.to_string(), state: State::Open, prompt: None, completion: None, frames: 0, partial: Vec::new(), mid_event: false, closing: None }
    }

    /// One whole line, `line` including its terminator (`\n`, `\r\n`, or none at the very end).
    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if body.is_empty() {
            out.extend_from_slice(line);
            self.mid_event = false;
            if let Some(end) = self.closing.take() {
                self.state = end;
            }
            return;
        }
        let Some(payload) = super::lines::sse_data(body) else {
            out.extend_from_slice(line);
            self.mid_event = true;
            return;
        };
        if !is_json(payload) {
            self.fail("the origin sent a malformed event", out);
            return;
        }
        self.mid_event = true;
        let kind = jsonscan::top_level_str(payload, "type").unwrap_or(b"");
        match kind {
            b"message_start" => {
                if let Some((s, e)) = jsonscan::top_level_value(payload, "message") {
                    let message = &payload[s..e];
                    self.prompt = prompt_tokens(message);
                    if let Some(renamed) = jsonscan::set_top_level_str(message, "model", &self.display) {
                        // `payload` ends `body`, which starts `line`.
                        let start = body.len() - payload.len();
                        out.extend_from_slice(&line[..start + s]);
                        out.extend_from_slice(&renamed);
                        out.extend_from_slice(&line[start + e..]);
                        return;
                    }
                }
            }
            b"message_delta" => {
                self.completion = usage_field(payload, "output_tokens").or(self.completion);
                self.prompt = prompt_tokens(payload).or(self.prompt);
            }
            b"message_stop" => self.closing = Some(State::Done),
            b"error" => self.closing = Some(State::Failed(error_message(payload).unwrap_or_else(|| "origin error".into()))),
            b"content_block_delta" => self.frames += 1,
            _ => {}
        }
        out.extend_from_slice(line);
    }
}

/// Prompt tokens of an Anthropic event or message: uncached input plus cache reads and writes
/// (what the origin processed), then the cache reads and writes, None when it reports none.
fn prompt_tokens(json: &[u8]) -> Option<[u64; 3]> {
    let parts = ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"].map(|k| usage_field(json, k));
    let [_, read, write] = parts.map(Option::unwrap_or_default);
    parts.iter().any(Option::is_some).then(|| [parts.iter().flatten().sum(), read, write])
}

/// A number in the top-level `usage` object of an Anthropic event or message.
fn usage_field(json: &[u8], key: &str) -> Option<u64> {
    let (s, e) = jsonscan::top_level_value(json, "usage")?;
    let (ks, ke) = jsonscan::top_level_value(&json[s..e], key)?;
    std::str::from_utf8(&json[s + ks..s + ke]).ok()?.parse().ok()
}

impl Transform for AnthropicSse {
    fn frame(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let mut rest = bytes;
        while self.state == State::Open {
            let Some(pos) = memchr::memchr(b'\n', rest) else { break };
            let (line, tail) = rest.split_at(pos + 1);
            rest = tail;
            if self.partial.is_empty() {
                self.line(line, out);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole, out);
            }
        }
        if self.state != State::Open {
            return;
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > super::lines::DEFAULT_MAX_LINE {
            self.fail(&format!("the origin sent a line longer than {} bytes", super::lines::DEFAULT_MAX_LINE), out);
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) -> bool {
        if self.state == State::Open && !self.partial.is_empty() {
            // The origin's last line, without a terminator: forwarded as it is.
            let last = std::mem::take(&mut self.partial);
            self.line(&last, out);
        }
        if let Some(end) = self.closing.take().filter(|_| self.state == State::Open) {
            // `message_stop` (or an error event) came and the origin ended without the blank
            // line after it: the client has had every byte the origin sent.
            self.state = end;
        }
        match self.state {
            State::Done => true,
            State::Failed(_) => false,
            State::Open => {
                self.fail("the origin closed the stream before the answer was complete", out);
                false
            }
        }
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.state != State::Open {
            return;
        }
        if let Some(end) = self.closing.take() {
            // The last event (`message_stop`, or the origin's error) went out and only its
            // closing blank line is missing: close it, so the client's parser dispatches it,
            // and add nothing else.
            self.partial.clear();
            out.push(b'\n');
            self.state = end;
            return;
        }
        if !self.partial.is_empty() {
            // An unfinished line never reaches the client: it could be half a JSON payload.
            self.partial.clear();
        }
        if self.mid_event {
            out.push(b'\n');
        }
        out.extend_from_slice(&anthropic_error_event(message));
        self.state = State::Failed(message.to_string());
    }

    fn state(&self) -> &State {
        &self.state
    }
    fn usage(&self) -> Option<Usage> {
        let [prompt, cached, written] = self.prompt.unwrap_or_default();
        (self.prompt.is_some() || self.completion.is_some()).then(|| Usage { prompt_tokens: prompt, completion_tokens: self.completion.unwrap_or(0), estimated: false, cached_tokens: cached, cache_write_tokens: written })
    }
    fn frames(&self) -> u64 {
        self.frames
    }
    fn sse(&self) -> bool {
        true
    }
    fn raw(&self) -> bool {
        true
    }
}

/// Progress NDJSON of Ollama model operations (`/api/pull`, `/api/push`, `/api/create`):
/// forwarded as is; `{"status":"success"}` is the terminator, an `error` line a failure.
pub struct ProgressNdjson {
    state: State,
    frames: u64,
}

impl ProgressNdjson {
    pub fn new() -> Self {
        ProgressNdjson { state: State::Open, frames: 0 }
    }
}

impl Default for ProgressNdjson {
    fn default() -> Self {
        Self::new()
    }
}

impl Transform for ProgressNdjson {
    fn frame(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let line = line.trim_ascii();
        if self.state != State::Open || line.is_empty() {
            return;
        }
        if let Some(msg) = error_message(line) {
            out.extend_from_slice(&ollama_error_line(&msg));
            self.state = State::Failed(msg);
            return;
        }
        if jsonscan::top_level_str(line, "status") == Some(b"success") {
            self.state = State::Done;
        }
        self.frames += 1;
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.state == State::Open {
            out.extend_from_slice(&ollama_error_line(message));
            self.state = State::Failed(message.to_string());
        }
    }
    fn state(&self) -> &State {
        &self.state
    }
    fn usage(&self) -> Option<Usage> {
        None
    }
    fn frames(&self) -> u64 {
        self.frames
    }
    fn sse(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
