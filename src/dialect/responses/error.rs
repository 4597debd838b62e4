//! The Responses API's error shapes: the HTTP error body is OpenAI's (`openai::error_body`); a
//! broken stream ends with `response.failed`, whose `response.error` is built here (the event
//! itself carries the response so far, see `StreamEncoder::error`).

use serde_json::{json, Value};

/// `response.error` of a failed response.
pub fn stream_error(message: &str) -> Value {
    stream_error_coded("server_error", message)
}

/// `response.error` with the code a client acts on (`context_length_exceeded`,
/// `rate_limit_exceeded`, see `StreamEncoder::fail`).
pub fn stream_error_coded(code: &str, message: &str) -> Value {
    json!({"code": code, "message": message})
}
