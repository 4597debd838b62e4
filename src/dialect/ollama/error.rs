//! Ollama's error shapes: `{"error": "..."}` as the HTTP error body and, as one NDJSON line, as
//! the in-band error that ends a broken stream (passthrough, transcoded and model-operation
//! progress alike).

use super::super::wire::ndjson;
use crate::error::GatewayError;
use serde_json::{json, Value};

pub fn error_body(err: &GatewayError) -> Value {
    json!({ "error": err.message() })
}

/// `{"error":"<message>"}\n`: what Ollama itself sends when a stream fails.
pub fn stream_error(message: &str, out: &mut Vec<u8>) {
    ndjson(out, &json!({ "error": message }));
}
