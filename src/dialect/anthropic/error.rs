//! Anthropic's error shapes: `{"type":"error","error":{"type","message"}}` as the HTTP error
//! body and, as an `event: error` SSE event, as the in-band error that ends a broken stream
//! (passthrough and transcoded alike).

use super::super::wire::sse_event;
use crate::error::GatewayError;
use serde_json::{json, Value};

pub fn error_body(err: &GatewayError) -> Value {
    json!({ "type": "error", "error": { "type": error_type(err), "message": err.message() } })
}

/// Anthropic's error `type` for a status (Claude Code and the SDKs read it).
pub fn error_type(err: &GatewayError) -> &'static str {
    match err.status() {
        400 | 405 | 409 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        s if s < 500 => "invalid_request_error",
        _ => "api_error",
    }
}

/// `event: error` with `{"type":"error","error":{"type":<error_type>,"message"}}`. A broken
/// stream is an `api_error`; an origin's own error event keeps its type (`overloaded_error`).
pub fn stream_error(error_type: &str, message: &str, out: &mut Vec<u8>) {
    sse_event(out, "error", &json!({"type": "error", "error": {"type": error_type, "message": message}}));
}
