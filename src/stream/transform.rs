//! What every stream transform is to the relay: per-frame work, a state, usage, and how the
//! relay frames the upstream bytes for it. The transforms themselves are per dialect: the
//! same-dialect passthroughs in `dialect::<name>::passthrough` (each frame forwarded with the
//! top-level `model` rewritten, usage observed on the frames that carry it, a cut stream ended
//! with the dialect's in-band error instead of a fake success) and the transcoding one in
//! `transcode`.

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

/// How the relay frames the upstream body for a transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// SSE: the relay splits lines and hands over each `data:` payload.
    SseData,
    /// NDJSON: the relay splits lines and hands over each one.
    Lines,
    /// The bytes as they came, unframed: the transform frames them itself and owns every byte
    /// the client gets (a byte-identical passthrough).
    Raw,
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
    /// How the relay hands the upstream bytes over.
    fn framing(&self) -> Framing;
    /// The transform as `Any`: the relay reaches the transcoding transform, which mid-stream
    /// recovery continues (`transcode::Transcode`), by downcasting, so this trait (below the
    /// transcoder, which implements it) never names it.
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        None
    }
    /// The origin has been silent for a keep-alive interval: the client's keep-alive, if its
    /// dialect has one. Passthroughs add nothing (their bytes are the origin's, pings included).
    fn keepalive(&mut self, _out: &mut Vec<u8>) {}
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
