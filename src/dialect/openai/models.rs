//! OpenAI model listings (`GET /v1/models`, `/v1/models/{id}`), under the names the client may call.

use crate::routing::catalog::{Entry, EntryKind};
use serde_json::{json, Value};

pub fn model_object(e: &Entry) -> Value {
    let created = e.backing.and_then(|(_, m)| m.modified_at.as_deref()).and_then(parse_epoch).unwrap_or(0);
    let owned_by = match e.kind {
        EntryKind::Group(_) => "maestro-edge".to_string(),
        _ => e.backing.map(|(n, _)| n.kind.as_str().to_string()).unwrap_or_else(|| "maestro-edge".into()),
    };
    json!({
        "id": e.name,
        "object": "model",
        "created": created,
        "owned_by": owned_by,
        // Cursor and other IDEs read these for their context bars.
        "max_model_len": e.context_length,
        "context_length": e.context_length,
        "capabilities": e.capabilities,
    })
}

pub fn models_list(entries: &[Entry]) -> Value {
    json!({ "object": "list", "data": entries.iter().map(model_object).collect::<Vec<_>>() })
}

fn parse_epoch(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp())
}
