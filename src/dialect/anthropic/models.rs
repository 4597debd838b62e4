//! Anthropic's model list (`GET /v1/models` with an `anthropic-version` header, and
//! `/claude/v1/models`), under the names the client may call. Claude Desktop's variant with
//! opaque ids is a tool-prefix answer (`app::tools`).

use crate::routing::catalog::Entry;
use serde_json::{json, Value};

pub fn models_list(entries: &[Entry]) -> Value {
    let data: Vec<Value> = entries.iter().map(|e| json!({"type": "model", "id": e.name, "display_name": e.name, "created_at": "1970-01-01T00:00:00Z", "max_input_tokens": e.context_length})).collect();
    json!({
        "data": data,
        "has_more": false,
        "first_id": entries.first().map(|e| e.name.clone()),
        "last_id": entries.last().map(|e| e.name.clone()),
    })
}
