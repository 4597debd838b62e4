//! Embeddings: `/api/embed` <-> `/v1/embeddings` in both directions, and the legacy
//! `/api/embeddings` answer from `/v1/embeddings`.

use super::super::wire::{self, JsonMap, Obj};
use crate::error::GatewayError;
use base64::Engine as _;
use serde_json::{json, Value};

fn embed_inputs(o: &Obj) -> Result<Value, GatewayError> {
    match o.get("input") {
        Some(Value::String(s)) => Ok(json!(s)),
        Some(Value::Array(a)) => {
            for (i, v) in a.iter().enumerate() {
                if !v.is_string() {
                    return Err(wire::bad(o.item_path("input", i), "must be a string (token arrays are not supported)"));
                }
            }
            Ok(Value::Array(a.clone()))
        }
        None => Err(o.err("input", "is required")),
        Some(_) => Err(o.err("input", "must be a string or an array of strings")),
    }
}

/// Ollama `/api/embed` client body -> OpenAI `/v1/embeddings` origin body. `truncate`,
/// `options` and `keep_alive` have no OpenAI counterpart and are dropped (an OpenAI origin
/// rejects over-long input instead of truncating it).
pub fn embed_request_to_openai(body: &JsonMap, real_model: &str) -> Result<Value, GatewayError> {
    let o = Obj::root(body);
    o.req_str("model")?;
    // The legacy `/api/embeddings` names its single input `prompt`.
    let input = match (o.get("input"), o.str("prompt")?) {
        (None, Some(p)) => json!(p),
        _ => embed_inputs(&o)?,
    };
    let mut out = json!({"model": real_model, "input": input, "encoding_format": "float"});
    if let Some(d) = o.u64("dimensions")? {
        out["dimensions"] = json!(d);
    }
    Ok(out)
}

/// OpenAI `/v1/embeddings` origin answer -> Ollama `/api/embed` client answer.
pub fn embed_response_from_openai(v: &Value, display: &str) -> Result<Value, String> {
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        return Err(wire::error_message(e));
    }
    let data = v.get("data").and_then(Value::as_array).ok_or("origin embeddings answer has no `data`")?;
    let mut rows: Vec<(u64, &Value)> = data.iter().enumerate().map(|(i, d)| (d.get("index").and_then(Value::as_u64).unwrap_or(i as u64), d)).collect();
    rows.sort_by_key(|(i, _)| *i);
    let mut embeddings = Vec::with_capacity(rows.len());
    for (_, d) in rows {
        match d.get("embedding") {
            Some(e @ Value::Array(_)) => embeddings.push(e.clone()),
            _ => return Err("origin embedding is not a float array".into()),
        }
    }
    // Every field Ollama's answer carries; `total_duration` is set by the caller, who measured it.
    let prompt = v.get("usage").and_then(|u| u.get("prompt_tokens")).and_then(Value::as_u64).unwrap_or(0);
    Ok(json!({"model": display, "embeddings": embeddings, "total_duration": 0, "load_duration": 0, "prompt_eval_count": prompt}))
}

/// The legacy `/api/embeddings` answer (`{"embedding": [...]}`, all Ollama sends there) from
/// an OpenAI `/v1/embeddings` answer.
pub fn embeddings_response_from_openai(v: &Value) -> Result<Value, String> {
    let e = embed_response_from_openai(v, "")?;
    let first = e["embeddings"].as_array().and_then(|a| a.first()).cloned().ok_or("origin embeddings answer is empty")?;
    Ok(json!({"embedding": first}))
}

/// OpenAI `/v1/embeddings` client body -> Ollama `/api/embed` origin body. OpenAI never
/// truncates silently, so neither does the translated request (`truncate: false`). Returns
/// the body and whether the client asked for base64 output (pass it to
/// `embed_response_to_openai`).
pub fn openai_embeddings_to_embed_request(body: &JsonMap, real_model: &str) -> Result<(Value, bool), GatewayError> {
    let o = Obj::root(body);
    o.req_str("model")?;
    let base64 = match o.str("encoding_format")? {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => return Err(o.err("encoding_format", "must be float or base64")),
    };
    let mut out = json!({"model": real_model, "input": embed_inputs(&o)?, "truncate": false});
    if let Some(d) = o.u64("dimensions")? {
        out["dimensions"] = json!(d);
    }
    Ok((out, base64))
}

/// Ollama `/api/embed` origin answer -> OpenAI `/v1/embeddings` client answer. `usage` only
/// when Ollama reported `prompt_eval_count`. With `base64`, each vector is little-endian f32
/// bytes in base64, as OpenAI sends it.
pub fn embed_response_to_openai(v: &Value, display: &str, base64: bool) -> Result<Value, String> {
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        return Err(wire::error_message(e));
    }
    let embs = v.get("embeddings").and_then(Value::as_array).ok_or("origin embed answer has no `embeddings`")?;
    let mut data = Vec::with_capacity(embs.len());
    for (i, e) in embs.iter().enumerate() {
        let arr = e.as_array().ok_or("origin embedding is not a float array")?;
        let embedding = if base64 {
            let mut bytes = Vec::with_capacity(arr.len() * 4);
            for x in arr {
                let f = x.as_f64().ok_or("origin embedding is not a float array")? as f32;
                bytes.extend_from_slice(&f.to_le_bytes());
            }
            json!(base64::engine::general_purpose::STANDARD.encode(bytes))
        } else {
            e.clone()
        };
        data.push(json!({"object": "embedding", "index": i, "embedding": embedding}));
    }
    let mut out = json!({"object": "list", "data": data, "model": display});
    if let Some(p) = v.get("prompt_eval_count").and_then(Value::as_u64) {
        out["usage"] = json!({"prompt_tokens": p, "total_tokens": p});
    }
    Ok(out)
}
