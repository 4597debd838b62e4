//! Cross-dialect translation: ONE internal representation (`ir`) with a decoder and an encoder
//! per dialect, instead of N×M converters. Pure functions over `serde_json` values and bytes;
//! no networking, no Workers APIs, no clock except where noted (`ollama` stream `created_at`).
//!
//! Map of the layer (client side = what the gateway's callers speak, origin side = upstream):
//!
//! | dialect      | client request decoder                   | origin request encoder        | origin answer decoders                          | client answer encoders |
//! |--------------|------------------------------------------|-------------------------------|-------------------------------------------------|------------------------|
//! | OpenAI chat  | `openai::decode_request`                 | `openai::encode_request`      | `openai::decode_response`, `openai::StreamDecoder` (SSE data) | `openai::encode_response`, `openai::StreamEncoder` |
//! | Ollama       | `ollama::decode_chat_request`, `ollama::decode_generate_request` | `ollama::encode_chat_request` | `ollama::decode_chat_response`, `ollama::StreamDecoder` (NDJSON line) | `ollama::encode_chat_response`, `ollama::encode_generate_response`, `ollama::ChatStreamEncoder`, `ollama::GenerateStreamEncoder` |
//! | Anthropic    | `anthropic::decode_request`, `anthropic::count_tokens` | `anthropic::encode_request` | `anthropic::decode_response`, `anthropic::StreamDecoder` (SSE data) | `anthropic::encode_response`, `anthropic::StreamEncoder` |
//! | Responses    | `responses::decode_request`              | –                             | –                                               | `responses::encode_response`, `responses::StreamEncoder` |
//!
//! Embeddings (`ollama`): `/api/embed` ↔ `/v1/embeddings` in both directions, and the legacy
//! `/api/embeddings` answer from `/v1/embeddings` (`embeddings_response_from_openai`).
//! Ollama answers translated from another origin carry every metric Ollama's do (`Timing`).
//! Responses state (`store`, `item_reference`, `previous_response_id`) is resolved before the
//! Responses decoder runs, in `state::response_store`.
//!
//! A translated request flows: client body → `*::decode_request` → `ChatRequest` → origin
//! `encode_*request(real_model)`; the answer flows: origin bytes → `StreamDecoder::frame` →
//! `Chunk`s → client `StreamEncoder` (or `decode_response` → `ChatResponse` → `encode_response`).
//! Display names: client encoders take the name the client asked for; only origin request
//! encoders see the real model name.

pub mod anthropic;
pub mod fim;
pub mod ir;
pub mod ollama;
pub mod openai;
pub mod responses;
pub mod responses_tools;
#[cfg(test)]
mod test_support;
mod wire;

pub use ir::{
    ChatRequest, ChatResponse, Chunk, Effort, Family, ImageData, Message, Part, Reasoning, Role, Tool, ToolCall,
    ToolChoice,
};

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
    /// End with the dialect's in-band error and never a success terminator.
    fn error(&mut self, message: &str, out: &mut Vec<u8>);
}
