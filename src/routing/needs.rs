//! What a request body needs from a model: images (vision) and tools. Read from the client's
//! JSON in any dialect's shape, so group routing can filter members before translation.

use super::plan::Needs;
use serde_json::Value;

pub fn of(body: &serde_json::Map<String, Value>) -> Needs {
    Needs { vision: wants_vision(body), tools: body.get("tools").and_then(Value::as_array).is_some_and(|t| !t.is_empty()) }
}

fn wants_vision(body: &serde_json::Map<String, Value>) -> bool {
    // Ollama generate: top-level images.
    if body.get("images").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        return true;
    }
    let msgs = body.get("messages").or_else(|| body.get("input")).and_then(Value::as_array);
    msgs.is_some_and(|msgs| msgs.iter().any(message_has_image))
}

fn message_has_image(m: &Value) -> bool {
    if m.get("images").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        return true;
    }
    match m.get("content") {
        Some(Value::String(s)) => s.contains("data:image/"),
        Some(Value::Array(parts)) => parts.iter().any(|p| {
            let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
            matches!(ty, "image_url" | "input_image" | "image")
                || p.get("image").is_some()
                || p.get("text").and_then(Value::as_str).is_some_and(|t| t.contains("data:image/"))
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn needs(v: Value) -> Needs {
        of(v.as_object().unwrap())
    }

    #[test]
    fn detects_images_in_every_shape() {
        assert!(needs(json!({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})).vision);
        assert!(needs(json!({"messages":[{"role":"user","content":"see data:image/png;base64,AAA"}]})).vision);
        assert!(needs(json!({"messages":[{"role":"user","content":"hi","images":["AAA"]}]})).vision);
        assert!(needs(json!({"prompt":"x","images":["AAA"]})).vision);
        assert!(needs(json!({"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]})).vision);
        assert!(!needs(json!({"messages":[{"role":"user","content":"hello"}]})).vision);
    }

    #[test]
    fn detects_tools() {
        assert!(needs(json!({"tools":[{"type":"function"}]})).tools);
        assert!(!needs(json!({"tools":[]})).tools);
    }
}
