//! The client's request body as the pipeline reads it: one JSON object, and its `model`.
//! A leaf (the admin API's input parsing uses it too).

use crate::error::GatewayError;
use serde_json::{Map, Value};

/// Parse a JSON object body; the error says what is wrong.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, GatewayError> {
    if body.is_empty() {
        return Err(GatewayError::bad_request("request body is empty; expected a JSON object"));
    }
    let text = std::str::from_utf8(body).map_err(|e| GatewayError::bad_request(format!("request body is not valid UTF-8 (byte {})", e.valid_up_to())))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(GatewayError::bad_request("request body must be a JSON object")),
        Err(e) => Err(GatewayError::bad_request(format!("invalid JSON: {e}"))),
    }
}

pub fn model_field(body: &Map<String, Value>, key: &str) -> Result<String, GatewayError> {
    match body.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None => Err(GatewayError::bad_field(key, format!("'{key}' is required"))),
        Some(_) => Err(GatewayError::bad_field(key, format!("'{key}' must be a string"))),
    }
}
