//! Ollama listings (`/api/tags`, `/api/show`, `/api/ps`) in Ollama's
//! shape, always under the names the client may call.

use crate::routing::catalog::{Entry, EntryKind};
use crate::state::snapshot::NodeKind;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The digest a listing shows for an entry: the origin's own for a real model on an Ollama
/// node, otherwise a stable one derived from the node, the real model and the name (64 hex
/// digits, as Ollama writes them). Clients such as llm-ollama group models by digest, so two
/// names never share one unless Ollama itself says they are the same model.
pub fn digest(e: &Entry) -> String {
    if let (EntryKind::Real, Some((n, m))) = (&e.kind, e.backing) {
        if n.kind == NodeKind::Ollama {
            if let Some(d) = m.digest.as_deref().filter(|d| !d.is_empty()) {
                return d.to_string();
            }
        }
    }
    let (node, real) = match e.backing {
        Some((n, m)) => (n.id.to_string(), m.name.as_str()),
        None => (String::new(), ""),
    };
    let kind = match e.kind {
        EntryKind::Mapping(_) => "mapping",
        EntryKind::Group(_) => "group",
        EntryKind::Real => "model",
    };
    let h = Sha256::digest(format!("maestro-edge\0{kind}\0{node}\0{real}\0{}", e.name).as_bytes());
    h.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn tag(e: &Entry) -> Value {
    let (size, modified, details) = match e.backing {
        Some((n, m)) if n.kind == NodeKind::Ollama => (m.size.unwrap_or(0), m.modified_at.clone().unwrap_or_default(), complete_details(&m.details)),
        _ => (0, String::new(), synthetic_details("")),
    };
    let digest = digest(e);
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

/// The node's `details` with every key Ollama always sends filled in (strict clients read them).
fn complete_details(d: &Value) -> Value {
    let mut out = synthetic_details("");
    if let (Some(o), Some(d)) = (out.as_object_mut(), d.as_object()) {
        for (k, v) in d {
            o.insert(k.clone(), v.clone());
        }
    }
    out
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

/// Capabilities as Ollama clients read them from `/api/show` (llm-ollama and Copilot refuse
/// tools, or skip embedding models, when they are missing). Declared capabilities (a mapping's,
/// or what an Ollama node reports) are shown as they are. A model on another node type whose
/// node declares nothing would otherwise show only `completion`; it is shown as
/// `["completion", "tools"]` (what OpenAI-compatible and Anthropic chat models support), or as
/// `["embedding"]` when its real name says it is an embedding model (`embed`, `bge`).
pub fn show_capabilities(e: &Entry) -> Vec<String> {
    let declared = match e.kind {
        EntryKind::Mapping(m) if !m.capabilities.is_empty() => true,
        _ => e.backing.is_some_and(|(_, m)| !m.capabilities.is_empty()),
    };
    let Some((node, model)) = e.backing else { return e.capabilities.clone() };
    if declared || node.kind == NodeKind::Ollama {
        return e.capabilities.clone();
    }
    let real = model.name.to_ascii_lowercase();
    if real.contains("embed") || real.starts_with("bge") || real.contains("/bge") {
        return vec!["embedding".into()];
    }
    let mut caps = e.capabilities.clone();
    for c in ["completion", "tools"] {
        if !caps.iter().any(|x| x == c) {
            caps.push(c.into());
        }
    }
    caps
}

/// One `/api/ps` row from an Ollama node's, under a name the client may call, with every key
/// Ollama sends present; a mapped name gets its own digest (clients group by digest).
pub fn ps_entry(origin: &Value, e: &Entry) -> Value {
    let mut v = if origin.is_object() { origin.clone() } else { json!({}) };
    let own_digest = v.get("digest").and_then(Value::as_str).filter(|d| !d.is_empty()).is_some();
    if matches!(e.kind, EntryKind::Mapping(_)) || !own_digest {
        v["digest"] = json!(digest(e));
    }
    v["details"] = complete_details(v.get("details").unwrap_or(&Value::Null));
    for (k, d) in [("size", json!(0)), ("size_vram", json!(0)), ("expires_at", json!("0001-01-01T00:00:00Z")), ("context_length", json!(e.context_length))] {
        if v.get(k).is_none_or(Value::is_null) {
            v[k] = d;
        }
    }
    v
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
            "modified_at": "1970-01-01T00:00:00Z",
        })
    });
    if v.get("modified_at").is_none() {
        v["modified_at"] = json!(e.backing.and_then(|(_, m)| m.modified_at.clone()).unwrap_or_else(|| "1970-01-01T00:00:00Z".into()));
    }
    let arch = v.get("model_info").and_then(|mi| mi.get("general.architecture")).and_then(Value::as_str).unwrap_or("general").to_string();
    if !v.get("model_info").is_some_and(Value::is_object) {
        v["model_info"] = json!({});
    }
    // Copilot finds the context length at `model_info[general.architecture + ".context_length"]`
    // (without it, a 4k window): the architecture is always named.
    v["model_info"]["general.architecture"] = json!(arch);
    v["model_info"][format!("{arch}.context_length")] = json!(e.context_length);
    let capabilities = show_capabilities(e);
    // OpenClaw reads capabilities from model_info (Model Maestro's /openclaw/api/show enrichment).
    v["model_info"]["general.capabilities"] = json!(capabilities);
    v["capabilities"] = json!(capabilities);
    if let Some(o) = v.as_object_mut() {
        o.remove("remote_model");
        o.remove("remote_host");
    }
    v
}
