//! The transcoding transform: origin frames -> `Chunk`s (the origin's decoder) -> output repair
//! (think splitting, raw tool-call parsing) -> the client's encoder. Used when the client and
//! origin speak different dialects, or when a model's output needs repair. Incremental: each
//! upstream frame produces its client bytes at once; only a possible partial marker is held.

use super::required_args::RequiredArgs;
use super::transform::{Framing, State, Transform};
use crate::dialect::ir::finish_with_tools;
use crate::dialect::decoder::Decoder;
use crate::dialect::encoder::StreamEncoder;
use crate::dialect::ir::Chunk;
use crate::repair::{Piece, Pipeline};
use crate::types::{FinishReason, Usage};

pub struct Transcode {
    decoder: Decoder,
    repair: Option<Pipeline>,
    encoder: Box<dyn StreamEncoder>,
    started: bool,
    state: State,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    frames: u64,
    /// Origin tool-call index -> client index (repaired calls are numbered after them).
    tool_index: Vec<(usize, usize)>,
    next_tool: usize,
    chunks: Vec<Chunk>,
    pieces: Vec<Piece>,
    /// Mid-stream recovery (`streams.recover`): what it needs, nothing more.
    recovery: Option<Recovery>,
    /// Calls of tools that require arguments (`with_required_args`).
    required: RequiredArgs,
}

/// What a recoverable stream keeps: the text the client got (the prefill for the next
/// candidate, bounded), the failure held back while a continuation is sought, and the usage
/// of the attempts before.
#[derive(Default)]
struct Recovery {
    text: String,
    /// Reasoning, tool calls or too much text went out: a prefill could not reproduce it.
    unrecoverable: bool,
    pending: Option<String>,
    prior: Option<Usage>,
    prior_frames: u64,
    /// Prompt tokens of an attempt that broke before reporting its usage (an estimate).
    prompt_estimate: u64,
}

/// Text beyond this no longer fits a prefill worth sending: the stream is not recovered.
const RECOVERY_TEXT_MAX: usize = 64 * 1024;

impl Transcode {
    pub fn new(decoder: Decoder, repair: Option<Pipeline>, encoder: Box<dyn StreamEncoder>) -> Self {
        Transcode { decoder, repair, encoder, started: false, state: State::Open, finish: None, usage: None, frames: 0, tool_index: Vec::new(), next_tool: 0, chunks: Vec::new(), pieces: Vec::new(), recovery: None, required: RequiredArgs::default() }
    }

    /// Names of the request's tools whose schema requires arguments: a call of one of them
    /// that ends with no argument text at all ends the stream with an error instead of a call
    /// with `{}` (`stream::required_args`).
    pub fn with_required_args(mut self, names: Vec<String>) -> Self {
        self.required = RequiredArgs::new(names);
        self
    }

    /// Keep what recovery needs, and hold failures back (`broken`) instead of ending the stream.
    /// `prompt_estimate`: what an attempt that breaks before its usage arrives is counted for.
    pub fn recoverable(mut self, prompt_estimate: u64) -> Self {
        self.recovery = Some(Recovery { prompt_estimate, ..Default::default() });
        self
    }

    /// The failure held back, while the stream can still be continued elsewhere.
    pub fn broken(&self) -> Option<&str> {
        self.recovery.as_ref().and_then(|r| r.pending.as_deref())
    }

    /// The answer's text so far, when a prefill can reproduce everything the client got.
    pub fn partial_text(&self) -> Option<&str> {
        self.recovery.as_ref().filter(|r| !r.unrecoverable).map(|r| r.text.as_str())
    }

    /// No continuation: end the client's stream with the failure held back.
    pub fn give_up(&mut self, out: &mut Vec<u8>) {
        if let Some(msg) = self.recovery.as_mut().and_then(|r| r.pending.take()) {
            self.encoder.error(&msg, out);
        }
    }

    /// Continue the same client stream (same encoder: one id, one model name, open blocks
    /// still open) from another origin's stream, which continues the prefill.
    pub fn resume(&mut self, decoder: Decoder, repair: Option<Pipeline>) {
        if let Some(r) = self.recovery.as_mut() {
            r.pending = None;
            // A broken attempt rarely got to its usage: count it as estimated (prompt, and a
            // token per content frame it sent), so the total adds both attempts.
            let broken = self.usage.take().unwrap_or(Usage { prompt_tokens: r.prompt_estimate, completion_tokens: self.frames, estimated: true, ..Default::default() });
            r.prior = sum(r.prior, Some(broken));
            r.prior_frames += self.frames;
        }
        self.decoder = decoder;
        self.repair = repair;
        self.state = State::Open;
        self.finish = None;
        self.frames = 0;
        self.tool_index.clear();
    }

    fn sent_text(&mut self, t: &str) {
        if let Some(r) = self.recovery.as_mut() {
            if r.text.len() + t.len() > RECOVERY_TEXT_MAX {
                r.unrecoverable = true;
            } else {
                r.text.push_str(t);
            }
        }
    }

    fn sent_other(&mut self) {
        if let Some(r) = self.recovery.as_mut() {
            r.unrecoverable = true;
        }
    }

    fn client_tool_index(&mut self, origin: usize) -> usize {
        if let Some((_, c)) = self.tool_index.iter().find(|(o, _)| *o == origin) {
            return *c;
        }
        let c = self.next_tool;
        self.next_tool += 1;
        self.tool_index.push((origin, c));
        c
    }

    fn emit_pieces(&mut self, out: &mut Vec<u8>) {
        for piece in std::mem::take(&mut self.pieces) {
            match piece {
                Piece::Text(t) => {
                    self.sent_text(&t);
                    self.encoder.chunk(&Chunk::Text(t), out)
                }
                Piece::Reasoning(t) => {
                    self.sent_other();
                    self.encoder.chunk(&Chunk::Reasoning(t), out)
                }
                Piece::ToolCall(call) => {
                    self.sent_other();
                    let index = self.next_tool;
                    self.next_tool += 1;
                    self.required.call(index, Some(&call.name), &call.arguments);
                    self.encoder.chunk(&Chunk::ToolCallStart { index, id: String::new(), name: call.name }, out);
                    self.encoder.chunk(&Chunk::ToolCallArgs { index, delta: call.arguments }, out);
                }
            }
        }
    }

    fn handle(&mut self, c: Chunk, out: &mut Vec<u8>) {
        match c {
            Chunk::Text(t) => {
                self.frames += 1;
                match self.repair.as_mut() {
                    Some(p) => {
                        p.push(&t, &mut self.pieces);
                        self.emit_pieces(out);
                    }
                    None => {
                        self.sent_text(&t);
                        self.encoder.chunk(&Chunk::Text(t), out)
                    }
                }
            }
            Chunk::Reasoning(t) => {
                self.frames += 1;
                self.sent_other();
                self.encoder.chunk(&Chunk::Reasoning(t), out)
            }
            Chunk::ToolCallStart { index, id, name } => {
                self.sent_other();
                let index = self.client_tool_index(index);
                self.required.call(index, Some(&name), "");
                self.encoder.chunk(&Chunk::ToolCallStart { index, id, name }, out)
            }
            Chunk::ToolCallArgs { index, delta } => {
                let index = self.client_tool_index(index);
                self.required.call(index, None, &delta);
                self.encoder.chunk(&Chunk::ToolCallArgs { index, delta }, out)
            }
            // Held until the end: usage may follow the finish chunk, and repair may still
            // turn the answer into tool calls.
            Chunk::Finish(f) => self.finish = Some(f),
            Chunk::Usage(u) => self.usage = Some(u),
        }
    }

    fn finalize(&mut self, out: &mut Vec<u8>) {
        if let Some(p) = self.repair.as_mut() {
            p.finish(&mut self.pieces);
            self.emit_pieces(out);
        }
        if let Some(msg) = self.required.missing() {
            self.fail(&msg, out);
            return;
        }
        let reason: FinishReason = finish_with_tools(self.finish, self.next_tool > 0);
        self.encoder.chunk(&Chunk::Finish(reason), out);
        if let Some(u) = self.usage() {
            self.encoder.chunk(&Chunk::Usage(u), out);
        }
        self.encoder.finish(out);
        self.state = State::Done;
    }
}

impl Transform for Transcode {
    fn frame(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        if self.state != State::Open {
            return;
        }
        // Binary frames: every byte counts (no trimming, no empty-line skipping).
        let binary = self.decoder.framing() == Framing::Raw;
        let payload = if binary { payload } else { payload.trim_ascii() };
        if payload.is_empty() {
            return;
        }
        if !self.started {
            self.encoder.start(out);
            self.started = true;
        }
        if self.decoder.is_terminator(payload) {
            self.finalize(out);
            return;
        }
        let mut chunks = std::mem::take(&mut self.chunks);
        chunks.clear();
        let res = self.decoder.frame(payload, &mut chunks);
        if let Err(msg) = res {
            // Raw bytes may carry whole events before the failing one: those go out first, so
            // the client sees the same answer however the bytes were split.
            for c in chunks.drain(..) {
                self.handle(c, out);
            }
            self.chunks = chunks;
            self.fail(&format!("the origin reported an error: {msg}"), out);
            return;
        }
        let finished_here = chunks.iter().any(|c| matches!(c, Chunk::Finish(_)));
        for c in chunks.drain(..) {
            self.handle(c, out);
        }
        self.chunks = chunks;
        if (finished_here && self.decoder.complete_at_finish()) || self.decoder.done() {
            self.finalize(out);
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) -> bool {
        match self.state {
            State::Done => true,
            State::Failed(_) => false,
            State::Open if self.finish.is_some() => {
                self.finalize(out);
                self.state == State::Done
            }
            State::Open => {
                self.fail("the origin closed the stream before the answer was complete", out);
                false
            }
        }
    }

    fn keepalive(&mut self, out: &mut Vec<u8>) {
        if self.state == State::Open && self.started {
            self.encoder.keepalive(out);
        }
    }

    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.state == State::Open {
            match self.recovery.as_mut() {
                // Held back: the relay may continue the stream on another candidate.
                Some(r) if !r.unrecoverable => r.pending = Some(message.to_string()),
                _ => self.encoder.error(message, out),
            }
            self.state = State::Failed(message.to_string());
        }
    }

    fn state(&self) -> &State {
        &self.state
    }
    fn usage(&self) -> Option<Usage> {
        match &self.recovery {
            Some(r) => sum(r.prior, self.usage),
            None => self.usage,
        }
    }
    fn frames(&self) -> u64 {
        self.frames + self.recovery.as_ref().map_or(0, |r| r.prior_frames)
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }
    fn framing(&self) -> Framing {
        self.decoder.framing()
    }
}

/// Usage of two attempts added (an estimate stays flagged as one).
fn sum(a: Option<Usage>, b: Option<Usage>) -> Option<Usage> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.plus(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{anthropic, openai};

    fn run(t: &mut Transcode, frames: &[&str]) -> (String, bool) {
        let mut out = Vec::new();
        for f in frames {
            t.frame(f.as_bytes(), &mut out);
        }
        let ok = t.end(&mut out);
        (String::from_utf8(out).unwrap(), ok)
    }

    #[test]
    fn a_required_argument_streamed_as_nothing_ends_with_an_error_not_a_call_with_empty_input() {
        let call = |args: &str| format!(r#"{{"id":"x","choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,"id":"call_1","type":"function","function":{{"name":"Read","arguments":{}}}}}]}},"finish_reason":null}}]}}"#, serde_json::to_string(args).unwrap());
        let end = r#"{"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#;
        for (args, required, completes) in [("", vec!["Read".to_string()], false), (" ", vec!["Read".to_string()], false), ("", vec![], true), ("{\"path\":\"a\"}", vec!["Read".to_string()], true)] {
            let enc = Box::new(anthropic::StreamEncoder::new("m", "msg_1", 1));
            let mut t = Transcode::new(Decoder::OpenAi(openai::StreamDecoder::new()), None, enc).with_required_args(required);
            let first = call(args);
            let (out, ok) = run(&mut t, &[first.as_str(), end, "[DONE]"]);
            assert_eq!(ok, completes, "{args:?}: {out}");
            assert_eq!(out.contains("message_stop"), completes, "{out}");
            if !completes {
                assert!(out.contains("event: error") && out.contains("without its required arguments"), "{out}");
            }
        }
    }
}
