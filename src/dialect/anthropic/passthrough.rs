//! Same-dialect Anthropic streams: an `anthropic` node's SSE forwarded byte for byte to an
//! Anthropic client.

use super::error::stream_error;
use crate::stream::lines;
use crate::stream::transform::{error_message, is_json, Framing, State, Transform};
use crate::types::Usage;
use crate::util::jsonscan;

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
        let Some(payload) = lines::sse_data(body) else {
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
/// (what the origin processed), then the cache reads and writes; None when it reports none.
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
        if self.partial.len() > lines::DEFAULT_MAX_LINE {
            self.fail(&format!("the origin sent a line longer than {} bytes", lines::DEFAULT_MAX_LINE), out);
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
        stream_error("api_error", message, out);
        self.state = State::Failed(message.to_string());
    }

    fn state(&self) -> &State {
        &self.state
    }
    fn usage(&self) -> Option<Usage> {
        let [prompt, cached, written] = self.prompt.unwrap_or_default();
        (self.prompt.is_some() || self.completion.is_some()).then(|| Usage { prompt_tokens: prompt, completion_tokens: self.completion.unwrap_or(0), estimated: false, cached_tokens: cached, cache_write_tokens: written, reasoning_tokens: 0 })
    }
    fn frames(&self) -> u64 {
        self.frames
    }
    fn framing(&self) -> Framing {
        Framing::Raw
    }
}
