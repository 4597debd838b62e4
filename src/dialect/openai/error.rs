//! OpenAI's error shapes, used by the chat, completions, embeddings and Responses endpoints:
//! the HTTP error body, and the one in-band error that ends a broken stream (passthrough and
//! transcoded alike).

use super::super::wire::sse_data;
use crate::error::GatewayError;
use serde_json::{json, Value};

/// `{"error":{"message","type","param","code"}}` for a `GatewayError`.
pub fn error_body(err: &GatewayError) -> Value {
    let (kind, code) = error_type(err);
    json!({
        "error": {
            "message": err.message(),
            "type": kind,
            "param": err.field(),
            "code": code,
        }
    })
}

/// An OpenAI-shaped 4xx body with an explicit `param` and `code` (for answers that are not a
/// `GatewayError`, such as a stored response that does not exist).
pub fn invalid_request_body(message: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})
}

/// OpenAI's `type` and `code` strings for an error (the SDKs switch on the HTTP status,
/// but tools and logs read these).
pub fn error_type(err: &GatewayError) -> (&'static str, &'static str) {
    match err {
        GatewayError::BadRequest { .. } | GatewayError::Conflict { .. } => ("invalid_request_error", "invalid_request"),
        GatewayError::PayloadTooLarge { .. } => ("invalid_request_error", "request_too_large"),
        GatewayError::NotFound(_) => ("invalid_request_error", "model_not_found"),
        GatewayError::MethodNotAllowed { .. } => ("invalid_request_error", "method_not_allowed"),
        GatewayError::Unauthorized(_) => ("authentication_error", "invalid_api_key"),
        GatewayError::Forbidden(_) => ("permission_error", "model_not_allowed"),
        GatewayError::RateLimited { .. } => ("rate_limit_error", "rate_limit_exceeded"),
        // OpenAI's own answer when a quota (not a rate) is exhausted.
        GatewayError::BudgetExceeded { .. } => ("insufficient_quota", "budget_exceeded"),
        GatewayError::Upstream { status: 429, .. } => ("rate_limit_error", "rate_limit_exceeded"),
        // OpenAI's own code for an overflow, whatever the origin's wording (agents compact on it).
        GatewayError::Upstream { status, message } if *status < 500 && crate::origins::failure::is_context_overflow(message) => ("invalid_request_error", "context_length_exceeded"),
        GatewayError::Upstream { status, .. } if *status < 500 => ("invalid_request_error", "upstream_error"),
        GatewayError::Maintenance(_) => ("server_error", "model_maintenance"),
        GatewayError::NoHealthyNode(_) => ("server_error", "no_healthy_node"),
        GatewayError::UpstreamTimeout(_) => ("server_error", "upstream_timeout"),
        GatewayError::UpstreamUnavailable(_) | GatewayError::Upstream { .. } => ("server_error", "upstream_error"),
        GatewayError::DatabaseUnavailable(_) | GatewayError::Dependency(_) => ("server_error", "dependency_unavailable"),
        GatewayError::Internal(_) => ("server_error", "internal_error"),
    }
}

/// The in-band error that ends a broken OpenAI stream, whatever broke it (an origin error
/// frame, a cut, a stall, a malformed chunk) and whether the stream was passed through or
/// transcoded: one `data:` event in the HTTP error body's shape, with the code of a 502
/// (`upstream_error`), and never a `[DONE]` after it.
pub fn stream_error(message: &str, out: &mut Vec<u8>) {
    sse_data(out, &json!({"error": {"message": message, "type": "server_error", "param": null, "code": "upstream_error"}}));
}
