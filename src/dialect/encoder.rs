//! The client-side stream encoder every dialect implements (a leaf below the dialect folders,
//! so their `stream.rs` files do not depend on the table in `mod.rs` that names them).

use super::ir::Chunk;

/// Turns `Chunk`s into the bytes one client dialect expects on a streamed response.
///
/// Call order: `start` once, `chunk` for each chunk, then exactly one of `finish` (the origin
/// ended properly) or `error` (the stream broke after bytes went out). `chunk` starts the
/// stream itself if `start` was not called; every call after `finish`/`error` writes nothing.
pub trait StreamEncoder {
    /// Bytes to send before the first chunk (e.g. Anthropic message_start + ping, Responses
    /// response.created + response.in_progress). OpenAI: the role chunk. Ollama: nothing.
    fn start(&mut self, out: &mut Vec<u8>);
    fn chunk(&mut self, c: &Chunk, out: &mut Vec<u8>);
    /// Close open blocks/items and emit the dialect's success terminator.
    fn finish(&mut self, out: &mut Vec<u8>);
    /// End with the dialect's in-band error (`<dialect>::stream_error`) and never a success
    /// terminator.
    fn error(&mut self, message: &str, out: &mut Vec<u8>);
    /// A keep-alive the client reads as one, sent while the origin is silent (Anthropic:
    /// `event: ping`); nothing by default. Only between events, never after the end.
    fn keepalive(&mut self, _out: &mut Vec<u8>) {}
}
