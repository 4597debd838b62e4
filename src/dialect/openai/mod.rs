//! OpenAI chat completions (`/v1/chat/completions`; `/v1/completions` and `/v1/embeddings` pass
//! through as JSON): client request decoder, origin request encoder, origin answer decoders (JSON
//! and SSE `data:` payloads), client answer encoders (JSON and SSE), the same-dialect stream
//! passthrough, error shapes and model listings.
//!
//! Deliberate drops (no IR slot, and no meaning lost for the answer the client gets):
//! message `name`, `logprobs`/`top_logprobs`, `stream_options` (the origin encoder sets its
//! own; whether the *client* wants a usage chunk is `include_usage(body)`), custom/hosted
//! tools (`type` other than `function`), assistant reasoning in history when sending to an
//! OpenAI origin (the chat API has no input field for it). Unknown top-level fields are kept
//! in `ChatRequest::extra` and only re-emitted towards an OpenAI-family origin.

mod error;
mod models;
mod passthrough;
mod request;
mod response;
pub(super) mod stream;
#[cfg(test)]
mod tests;

pub use error::{error_body, error_type, invalid_request_body, stream_error};
pub use models::{model_object, models_list};
pub use passthrough::OpenAiSse;
pub use request::{decode_request, encode_request, include_usage};
pub(crate) use request::{decode_tools, tool_json, tool_result_text};
pub use response::{decode_response, encode_response, usage_from};
pub use stream::{StreamDecoder, StreamEncoder};

/// What an answer's id starts with (`chatcmpl-<request id>`).
pub const ID_PREFIX: &str = "chatcmpl-";
