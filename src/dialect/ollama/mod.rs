//! Ollama native API: `/api/chat` and `/api/generate` (client request decoders, origin request
//! encoder, origin answer decoders, client answer encoders), `/api/embed` ↔ `/v1/embeddings` in
//! both directions, the same-dialect stream passthrough (and model-operation progress), error
//! shapes and listings (`/api/tags`, `/api/show`, `/api/ps`).
//!
//! Ollama answers translated from another origin carry every metric Ollama's do (`Timing`).

mod embed;
mod error;
pub mod fim;
mod models;
mod passthrough;
mod request;
mod response;
pub(super) mod stream;
#[cfg(test)]
mod tests;

pub use embed::{embed_request_to_openai, embed_response_from_openai, embed_response_to_openai, embeddings_response_from_openai, openai_embeddings_to_embed_request};
pub use error::{error_body, stream_error};
pub use models::{digest, ps_entry, show, show_capabilities, synthetic_details, tag, tags};
pub use passthrough::OllamaNdjson;
pub use request::{decode_chat_request, decode_generate_request, encode_chat_request};
pub use response::{decode_chat_response, encode_chat_response, encode_chat_response_timed, encode_generate_response, encode_generate_response_timed, now_rfc3339, usage_of, Timing};
pub use stream::{ChatStreamEncoder, GenerateStreamEncoder, NdjsonStreamEncoder, StreamDecoder};
