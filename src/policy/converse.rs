//! Request shaping on a Bedrock Converse body (`Shape::Converse`): the same rules as the other
//! shapes, where Converse keeps each thing (tools under `toolConfig`, parameters under
//! `inferenceConfig` with their own names, blocks keyed by kind).

use serde_json::{json, Map, Value};

fn tool_name(t: &Value) -> Option<&str> {
    t.pointer("/toolSpec/name").and_then(Value::as_str)
}

/// Keep only allowed tools; no tools left means no `toolConfig` (Converse refuses an empty
/// list), and a `toolChoice` naming a removed tool falls back to Converse's default (auto).
pub fn filter_tools(body: &mut Map<String, Value>, allowed: &[String]) {
    let Some(Value::Object(config)) = body.get_mut("toolConfig") else { return };
    let Some(Value::Array(tools)) = config.get_mut("tools") else { return };
    tools.retain(|t| tool_name(t).is_some_and(|n| allowed.iter().any(|a| a == n)));
    if tools.is_empty() {
        body.remove("toolConfig");
        return;
    }
    let names: Vec<String> = tools.iter().filter_map(tool_name).map(String::from).collect();
    let named = config.get("toolChoice").and_then(|c| c.pointer("/tool/name")).and_then(Value::as_str).map(String::from);
    if named.is_some_and(|n| !names.contains(&n)) {
        config.remove("toolChoice");
    }
}

/// An unsupported parameter, named as clients name it (`max_tokens`, `temperature`, `top_p`,
/// `stop`), removed from `inferenceConfig`.
pub fn drop_param(body: &mut Map<String, Value>, name: &str) {
    let key = match name {
        "max_tokens" | "max_completion_tokens" | "max_output_tokens" | "num_predict" => "maxTokens",
        "temperature" => "temperature",
        "top_p" => "topP",
        "stop" | "stop_sequences" => "stopSequences",
        _ => return,
    };
    if let Some(Value::Object(inf)) = body.get_mut("inferenceConfig") {
        inf.remove(key);
        if inf.is_empty() {
            body.remove("inferenceConfig");
        }
    }
}

/// Images replaced by a visible placeholder (the model does not take them).
pub fn strip_images(body: &mut Map<String, Value>, placeholder: &str) {
    let Some(Value::Array(msgs)) = body.get_mut("messages") else { return };
    for m in msgs.iter_mut() {
        let Some(Value::Array(blocks)) = m.get_mut("content") else { continue };
        let before = blocks.len();
        blocks.retain(|b| b.get("image").is_none());
        if blocks.len() != before {
            blocks.push(json!({"text": placeholder}));
        }
    }
}

/// The scoped system prompts go first in `system`.
pub fn merge_system(body: &mut Map<String, Value>, block: &str) {
    let entry = body.entry("system").or_insert_with(|| json!([]));
    if !entry.is_array() {
        *entry = json!([]);
    }
    if let Value::Array(a) = entry {
        a.insert(0, json!({"text": block}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_params_images_and_system_on_a_converse_body() {
        let mut b = json!({
            "system": [{"text": "S"}],
            "messages": [{"role": "user", "content": [{"text": "look"}, {"image": {"format": "png", "source": {"bytes": "x"}}}]}],
            "inferenceConfig": {"topP": 0.5},
            "toolConfig": {"tools": [{"toolSpec": {"name": "Read"}}, {"toolSpec": {"name": "Shell"}}], "toolChoice": {"tool": {"name": "Shell"}}}
        })
        .as_object()
        .unwrap()
        .clone();
        filter_tools(&mut b, &["Read".to_string()]);
        assert_eq!(b["toolConfig"], json!({"tools": [{"toolSpec": {"name": "Read"}}]}));
        drop_param(&mut b, "top_p");
        assert!(b.get("inferenceConfig").is_none());
        strip_images(&mut b, "[image removed]");
        assert_eq!(b["messages"][0]["content"], json!([{"text": "look"}, {"text": "[image removed]"}]));
        merge_system(&mut b, "G");
        assert_eq!(b["system"], json!([{"text": "G"}, {"text": "S"}]));
        filter_tools(&mut b, &[]);
        assert!(b.get("toolConfig").is_none());
    }
}
