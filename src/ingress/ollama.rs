//! Ollama-native dialect (`/api/*`): listings (`/api/tags`, `/api/show`, `/api/ps`) in Ollama's
//! shape, always under the names the client may call.

use crate::routing::catalog::{Entry, EntryKind};
use crate::state::snapshot::NodeKind;
use serde_json::{json, Value};

pub fn tag(e: &Entry) -> Value {
    let (size, digest, modified, details) = match e.backing {
        Some((n, m)) if n.kind == NodeKind::Ollama => (
            m.size.unwrap_or(0),
            m.digest.clone().unwrap_or_default(),
            m.modified_at.clone().unwrap_or_default(),
            if m.details.is_object() { m.details.clone() } else { synthetic_details("") },
        ),
        _ => (0, String::new(), String::new(), synthetic_details("")),
    };
    let details = match e.kind {
        EntryKind::Group(_) => synthetic_details("model_group"),
        _ => details,
    };
    json!({
        "name": e.name,
        "model": e.name,
        "modified_at": if modified.is_empty() { "1970-01-01T00:00:00Z".to_string() } else { modified },
        "size": size,
        "digest": digest,
        "details": details,
    })
}

pub fn synthetic_details(family: &str) -> Value {
    json!({
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": if family.is_empty() { Value::Null } else { json!([family]) },
        "parameter_size": "",
        "quantization_level": "",
    })
}

pub fn tags(entries: &[Entry]) -> Value {
    json!({ "models": entries.iter().map(tag).collect::<Vec<_>>() })
}

/// Merge the gateway's knowledge (context length, capabilities) into an origin's `/api/show`
/// answer, or build one when the origin cannot answer (OpenAI-type nodes, groups).
pub fn show(e: &Entry, origin: Option<Value>) -> Value {
    let mut v = origin.filter(Value::is_object).unwrap_or_else(|| {
        json!({
            "license": "",
            "modelfile": "",
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": synthetic_details(""),
            "model_info": {},
        })
    });
    let arch = v
        .get("model_info")
        .and_then(|mi| mi.get("general.architecture"))
        .and_then(Value::as_str)
        .unwrap_or("general")
        .to_string();
    if !v.get("model_info").is_some_and(Value::is_object) {
        v["model_info"] = json!({});
    }
    v["model_info"][format!("{arch}.context_length")] = json!(e.context_length);
    // OpenClaw reads capabilities from model_info (Model Maestro's /openclaw/api/show enrichment).
    v["model_info"]["general.capabilities"] = json!(e.capabilities);
    v["capabilities"] = json!(e.capabilities);
    if let Some(o) = v.as_object_mut() {
        o.remove("remote_model");
        o.remove("remote_host");
    }
    v
}
