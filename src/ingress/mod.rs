//! Client dialects. Each submodule owns one API shape: how its requests are read and how its
//! errors look. `render_error` is the one place a `GatewayError` becomes a response.

pub mod ollama;
pub mod openai;

use crate::error::GatewayError;
use crate::net::Reply;
use crate::types::Dialect;
use serde_json::json;

/// Render an error in the client's own shape, with the headers that belong to it.
pub fn render_error(dialect: Dialect, err: &GatewayError) -> Reply {
    let status = err.status();
    let message = err.message();
    let body = match dialect {
        Dialect::Ollama => json!({ "error": message }),
        Dialect::OpenAi | Dialect::Responses => openai_error_body(err),
        Dialect::Anthropic => json!({
            "type": "error",
            "error": { "type": anthropic_error_type(err), "message": message }
        }),
        Dialect::Admin => {
            let mut e = json!({ "message": message, "type": err.reason() });
            if let Some(f) = err.field() {
                e["field"] = json!(f);
            }
            json!({ "error": e })
        }
    };
    let mut reply = Reply::json(status, &body);
    match err {
        GatewayError::Unauthorized(_) => reply.set_header("www-authenticate", "Bearer"),
        GatewayError::MethodNotAllowed { allow } => reply.set_header("allow", allow.to_string()),
        GatewayError::RateLimited { retry_after, .. } => reply.set_header("retry-after", retry_after.to_string()),
        _ => {}
    }
    reply
}

pub fn openai_error_body(err: &GatewayError) -> serde_json::Value {
    let (kind, code) = openai_error_type(err);
    json!({
        "error": {
            "message": err.message(),
            "type": kind,
            "param": err.field(),
            "code": code,
        }
    })
}

/// OpenAI's `type` and `code` strings for an error (the SDKs switch on the HTTP status,
/// but tools and logs read these).
pub fn openai_error_type(err: &GatewayError) -> (&'static str, &'static str) {
    match err {
        GatewayError::BadRequest { .. } | GatewayError::Conflict { .. } => ("invalid_request_error", "invalid_request"),
        GatewayError::PayloadTooLarge { .. } => ("invalid_request_error", "request_too_large"),
        GatewayError::NotFound(_) => ("invalid_request_error", "model_not_found"),
        GatewayError::MethodNotAllowed { .. } => ("invalid_request_error", "method_not_allowed"),
        GatewayError::Unauthorized(_) => ("authentication_error", "invalid_api_key"),
        GatewayError::Forbidden(_) => ("permission_error", "model_not_allowed"),
        GatewayError::RateLimited { .. } => ("rate_limit_error", "rate_limit_exceeded"),
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

pub fn anthropic_error_type(err: &GatewayError) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Reply) -> serde_json::Value {
        match &r.body {
            crate::net::Body::Full(b) => serde_json::from_slice(b).unwrap(),
            _ => panic!("expected full body"),
        }
    }

    #[test]
    fn each_dialect_has_its_own_shape() {
        let e = GatewayError::Unauthorized("bad token".into());
        let o = render_error(Dialect::Ollama, &e);
        assert_eq!(o.status, 401);
        assert_eq!(body(&o), json!({"error": "bad token"}));
        assert_eq!(o.header("www-authenticate"), Some("Bearer"));
        let a = render_error(Dialect::OpenAi, &e);
        assert_eq!(body(&a)["error"]["type"], "authentication_error");
        let an = render_error(Dialect::Anthropic, &e);
        assert_eq!(body(&an)["type"], "error");
        assert_eq!(body(&an)["error"]["type"], "authentication_error");
    }

    #[test]
    fn rate_limit_carries_retry_after_and_405_carries_allow() {
        let r = render_error(Dialect::OpenAi, &GatewayError::RateLimited { message: "x".into(), retry_after: 42 });
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("42"));
        let m = render_error(Dialect::Ollama, &GatewayError::MethodNotAllowed { allow: "POST".into() });
        assert_eq!(m.status, 405);
        assert_eq!(m.header("allow"), Some("POST"));
    }

    #[test]
    fn admin_errors_name_the_field() {
        let r = render_error(Dialect::Admin, &GatewayError::bad_field("weight", "must be a number"));
        assert_eq!(body(&r)["error"]["field"], "weight");
    }
}
