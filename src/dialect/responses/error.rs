//! The Responses API's error shapes: the HTTP error body is OpenAI's (`openai::error_body`); a
//! broken stream ends with `response.failed`, whose `response.error` is built here (the event
//! itself carries the response so far, see `StreamEncoder::error`).

use serde_json::{json, Value};

/// `response.error` of a failed response.
pub fn stream_error(message: &str) -> Value {
    json!({"code": "server_error", "message": message})
}
