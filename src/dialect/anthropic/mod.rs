//! Anthropic Messages: client request decoder, `count_tokens` estimate (`tokens`), origin request
//! encoder, origin answer decoders (JSON message, SSE events), client answer encoders (JSON
//! message, SSE event stream), the byte-identical same-dialect passthrough, error shapes and
//! the model list. The mapping rules of each direction are in `request`.

mod error;
mod models;
mod passthrough;
pub mod replay;
mod request;
mod response;
pub(super) mod stream;
#[cfg(test)]
mod tests;
mod tokens;

pub use error::{error_body, error_type, stream_error};
pub use models::models_list;
pub use passthrough::AnthropicSse;
pub use request::{decode_request, encode_request, DEFAULT_MAX_TOKENS, MAX_DEFAULT_TOKENS, MIN_THINKING_BUDGET};
pub use response::{decode_response, encode_response, finish_from, stop_reason, usage_from};
pub use stream::{StreamDecoder, StreamEncoder};
pub use tokens::{count_tokens, estimate_input_tokens, IMAGE_TOKENS};

/// What a message id starts with (`msg_<request id>`).
pub const ID_PREFIX: &str = "msg_";
