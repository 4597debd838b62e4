//! OpenAI Responses API (`/v1/responses`, Codex-style clients): client request decoder and
//! client answer encoders (the `response` object and the SSE event stream). Its origins are
//! chat origins (OpenAI chat, Ollama, Anthropic), so it has no origin side of its own; its HTTP
//! errors are OpenAI's (`openai::error_body`).
//!
//! Stored state (`store`, `previous_response_id`, `item_reference`) is resolved before the
//! decoder runs (`state::response_store::expand`), so the body it sees is self-contained.
//!
//! Reasoning from an origin is raw chain of thought. By default it is sent as a reasoning
//! *summary* (`response.reasoning_summary_text.*`), which is what Codex displays; set
//! `ReasoningStyle::Text` to send it as `reasoning_text` content instead.

mod error;
mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;
pub mod tools;

pub use error::stream_error;
pub use request::decode_request;
pub use response::{encode_response, encode_response_styled, encode_response_with, ReasoningStyle};
pub use stream::{OnDone, StreamEncoder};
pub use tools::ToolMap;

/// What a response id starts with (`resp_<request id>`).
pub const ID_PREFIX: &str = "resp_";
