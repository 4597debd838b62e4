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
    /// Every line, blank and `event:` lines included (for SSE relayed event by event).
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
    (p.is_some() || c.is_some()).then(|| Usage { prompt_tokens: p.unwrap_or(0), completion_tokens: c.unwrap_or(0), estimated: false })
}

/// Ollama's final-line counters -> Usage.
pub fn ollama_usage(v: &Value) -> Option<Usage> {
    let p = v.get("prompt_eval_count").and_then(Value::as_u64);
    let c = v.get("eval_count").and_then(Value::as_u64);
    (p.is_some() || c.is_some()).then(|| Usage { prompt_tokens: p.unwrap_or(0), completion_tokens: c.unwrap_or(0), estimated: false })
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

/// Anthropic Messages SSE from an Anthropic-type origin, relayed line by line. The model name
/// lives inside `message_start`, the one event parsed and rewritten; usage comes from
/// `message_start` and `message_delta`; `message_stop` is the success terminator.
pub struct AnthropicSse {
    display: String,
    state: State,
    prompt: Option<u64>,
    completion: Option<u64>,
    frames: u64,
    mid_event: bool,
}

impl AnthropicSse {
    pub fn new(display: &str) -> Self {
        AnthropicSse { display: display.to_string(), state: State::Open, prompt: None, completion: None, frames: 0, mid_event: false }
    }
}

impl Transform for AnthropicSse {
    fn frame(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if self.state != State::Open {
            return;
        }
        self.mid_event = !line.is_empty();
        let Some(payload) = super::lines::sse_data(line) else {
            out.extend_from_slice(line);
            out.push(b'\n');
            return;
        };
        if !is_json(payload) {
            self.fail("the origin sent a malformed event", out);
            return;
        }
        let kind = jsonscan::top_level_str(payload, "type").unwrap_or(b"");
        let mut rewritten = None;
        match kind {
            b"message_start" => {
                if let Ok(mut v) = serde_json::from_slice::<Value>(payload) {
                    self.prompt = v["message"]["usage"]["input_tokens"].as_u64();
                    if v["message"].is_object() {
                        v["message"]["model"] = Value::String(self.display.clone());
                    }
                    rewritten = serde_json::to_vec(&v).ok();
                }
            }
            b"message_delta" => {
                if let Ok(v) = serde_json::from_slice::<Value>(payload) {
                    self.completion = v["usage"]["output_tokens"].as_u64().or(self.completion);
                    self.prompt = v["usage"]["input_tokens"].as_u64().or(self.prompt);
                }
            }
            b"message_stop" => self.state = State::Done,
            b"error" => self.state = State::Failed(error_message(payload).unwrap_or_else(|| "origin error".into())),
            b"content_block_delta" => self.frames += 1,
            _ => {}
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(rewritten.as_deref().unwrap_or(payload));
        out.push(b'\n');
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.state == State::Open {
            if self.mid_event {
                out.push(b'\n');
            }
            out.extend_from_slice(&anthropic_error_event(message));
            self.state = State::Failed(message.to_string());
        }
    }

    fn state(&self) -> &State {
        &self.state
    }
    fn usage(&self) -> Option<Usage> {
        (self.prompt.is_some() || self.completion.is_some()).then(|| Usage { prompt_tokens: self.prompt.unwrap_or(0), completion_tokens: self.completion.unwrap_or(0), estimated: false })
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
mod tests {
    use super::*;

    fn run(t: &mut dyn Transform, frames: &[&str]) -> (String, bool) {
        let mut out = Vec::new();
        for f in frames {
            t.frame(f.as_bytes(), &mut out);
        }
        let ok = t.end(&mut out);
        (String::from_utf8(out).unwrap(), ok)
    }

    #[test]
    fn openai_rewrites_model_and_strips_injected_usage_chunk() {
        let mut t = OpenAiSse::new("my-model", true);
        let (out, ok) = run(&mut t, &[
            r#"{"id":"c1","object":"chat.completion.chunk","model":"real:7b","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
            r#"{"id":"c1","model":"real:7b","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"id":"c1","model":"real:7b","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
            "[DONE]",
        ]);
        assert!(ok);
        assert!(!out.contains("real:7b"));
        assert_eq!(out.matches("\"model\":\"my-model\"").count(), 2, "{out}");
        assert!(!out.contains("total_tokens"), "usage chunk stripped: {out}");
        assert!(out.ends_with("data: [DONE]\n\n"));
        assert_eq!(t.usage(), Some(Usage { prompt_tokens: 5, completion_tokens: 2, estimated: false }));
    }

    #[test]
    fn openai_keeps_usage_chunk_when_client_asked() {
        let mut t = OpenAiSse::new("m", false);
        let (out, _) = run(&mut t, &[r#"{"model":"r","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#, "[DONE]"]);
        assert!(out.contains("usage"));
    }

    #[test]
    fn openai_cut_stream_ends_with_error_not_done() {
        let mut t = OpenAiSse::new("m", false);
        let (out, ok) = run(&mut t, &[r#"{"model":"r","choices":[{"delta":{"content":"Hel"},"finish_reason":null}]}"#]);
        assert!(!ok);
        assert!(!out.contains("[DONE]"));
        assert!(out.contains("\"error\""));
        assert!(matches!(t.state(), State::Failed(_)));
    }

    #[test]
    fn openai_finished_without_done_marker_is_complete() {
        let mut t = OpenAiSse::new("m", false);
        let (out, ok) = run(&mut t, &[r#"{"model":"r","choices":[{"delta":{},"finish_reason": "stop"}]}"#]);
        assert!(ok);
        assert!(out.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn openai_error_frame_is_forwarded_and_final() {
        let mut t = OpenAiSse::new("m", false);
        let (out, ok) = run(&mut t, &[r#"{"error":{"message":"boom"}}"#, r#"{"model":"r","choices":[]}"#, "[DONE]"]);
        assert!(!ok);
        assert!(out.contains("boom"));
        assert!(!out.contains("[DONE]"));
    }

    #[test]
    fn malformed_chunks_end_the_stream_with_an_error() {
        let mut t = OpenAiSse::new("m", false);
        let (out, ok) = run(&mut t, &[r#"{"model":"r","choices":[]}"#, "{not json", "[DONE]"]);
        assert!(!ok);
        assert!(out.contains("malformed") && !out.contains("not json") && !out.contains("[DONE]"), "{out}");
        let mut o = OllamaNdjson::new("m");
        let (out, ok) = run(&mut o, &[r#"{"model":"r","done":false}"#, "<html>", r#"{"model":"r","done":true}"#]);
        assert!(!ok);
        assert!(!out.contains("<html>") && !out.contains("\"done\":true"));
    }

    #[test]
    fn ollama_rewrites_and_reads_final_counts() {
        let mut t = OllamaNdjson::new("fav");
        let (out, ok) = run(&mut t, &[
            r#"{"model":"llama3:latest","created_at":"t","message":{"role":"assistant","content":"model"},"done":false}"#,
            r#"{"model":"llama3:latest","created_at":"t","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":11,"eval_count":3}"#,
        ]);
        assert!(ok);
        assert!(!out.contains("llama3"));
        assert_eq!(out.lines().count(), 2);
        assert_eq!(t.usage(), Some(Usage { prompt_tokens: 11, completion_tokens: 3, estimated: false }));
    }

    #[test]
    fn anthropic_relays_events_and_rewrites_the_model() {
        let mut t = AnthropicSse::new("claude-fast");
        let mut out = Vec::new();
        for l in [
            "event: message_start",
            r#"data: {"type":"message_start","message":{"id":"m","model":"claude-real-1","usage":{"input_tokens":12,"output_tokens":1}}}"#,
            "",
            "event: content_block_delta",
            r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
            "",
            "event: message_delta",
            r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}"#,
            "",
            "event: message_stop",
            r#"data: {"type":"message_stop"}"#,
            "",
        ] {
            t.frame(l.as_bytes(), &mut out);
        }
        assert!(t.end(&mut out));
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("claude-fast") && !s.contains("claude-real-1"));
        assert!(s.contains("event: content_block_delta\ndata: "));
        assert_eq!(t.usage(), Some(Usage { prompt_tokens: 12, completion_tokens: 5, estimated: false }));
    }

    #[test]
    fn anthropic_cut_mid_event_ends_with_an_error_event() {
        let mut t = AnthropicSse::new("m");
        let mut out = Vec::new();
        t.frame(b"event: content_block_delta", &mut out);
        assert!(!t.end(&mut out));
        let s = String::from_utf8(out).unwrap();
        assert!(s.ends_with("}\n\n") && s.contains("\n\nevent: error\n"), "{s:?}");
    }

    #[test]
    fn progress_needs_success() {
        let mut t = ProgressNdjson::new();
        let mut out = Vec::new();
        t.frame(br#"{"status":"pulling manifest"}"#, &mut out);
        t.frame(br#"{"status":"success"}"#, &mut out);
        assert!(t.end(&mut out));
        let mut t2 = ProgressNdjson::new();
        t2.frame(br#"{"status":"downloading","completed":5,"total":10}"#, &mut out);
        assert!(!t2.end(&mut out));
    }

    #[test]
    fn ollama_without_done_is_an_error() {
        let mut t = OllamaNdjson::new("fav");
        let (out, ok) = run(&mut t, &[r#"{"model":"x","message":{"content":"a"},"done":false}"#]);
        assert!(!ok);
        let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert!(last["error"].is_string());
    }
}
