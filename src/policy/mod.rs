//! Request shaping, applied to the body each attempt sends upstream (so everything scoped to a
//! node or member is recomputed on failover): maintenance, allowed tools and `tool_choice`,
//! unsupported parameters, context length and keep-alive for Ollama origins, images for models
//! without vision, and system prompts by scope. Pure functions over the snapshot.

use crate::origins::Api;
use crate::state::snapshot::{same_model, ModelConfig, Node, NodeKind, Snapshot, User};
use serde_json::{json, Map, Value};

/// Which API's body the policy edits: the upstream body, after any translation (where the
/// system prompt goes, how tools are written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamBody {
    /// `messages` (OpenAI chat or Ollama `/api/chat`).
    Chat,
    /// Ollama `/api/generate`: `prompt` + `system`.
    Generate,
    /// Anthropic Messages: top-level `system`, content blocks, tools with `input_schema`.
    Anthropic,
    /// Completions, embeddings: only parameter and context rules apply.
    Other,
}

impl UpstreamBody {
    pub fn of(api: Api) -> UpstreamBody {
        match api {
            Api::OpenAiChat | Api::OllamaChat => UpstreamBody::Chat,
            Api::OllamaGenerate => UpstreamBody::Generate,
            Api::AnthropicMessages => UpstreamBody::Anthropic,
            _ => UpstreamBody::Other,
        }
    }
}

/// Everything shaping needs to know about one attempt.
pub struct Target<'a> {
    pub snap: &'a Snapshot,
    pub user: &'a User,
    pub group: Option<&'a str>,
    /// The member's display name (or the requested name without a group).
    pub model: &'a str,
    pub real: &'a str,
    pub node: &'a Node,
    pub upstream: UpstreamBody,
}

impl Target<'_> {
    /// Model config for this attempt: by display name first, then the real name.
    pub fn config(&self) -> Option<&ModelConfig> {
        self.snap.model_config(self.model).or_else(|| self.snap.model_config(self.real))
    }

    pub fn capabilities(&self) -> Vec<String> {
        if let Some(m) = self.snap.mapping(self.model).filter(|m| !m.capabilities.is_empty()) {
            return m.capabilities.clone();
        }
        self.node.models.iter().find(|m| same_model(&m.name, self.real)).map(|m| m.capabilities.clone()).unwrap_or_default()
    }

    /// The context length to allocate: mapping, then model config default, then the discovered
    /// catalog value, then the setting, capped by the config's maximum.
    pub fn context_length(&self) -> u32 {
        let cfg = self.config();
        let n = self
            .snap
            .mapping(self.model)
            .and_then(|m| m.context_length)
            .or_else(|| cfg.and_then(|c| c.default_context_length))
            .or_else(|| self.node.models.iter().find(|m| same_model(&m.name, self.real)).and_then(|m| m.context_length))
            .unwrap_or(self.snap.settings.default_context_length);
        match cfg.and_then(|c| c.max_context_length) {
            Some(max) => n.min(max),
            None => n,
        }
    }
}

/// The model (or member) is switched to maintenance by an admin.
pub fn in_maintenance(t: &Target) -> bool {
    t.config().is_some_and(|c| c.maintenance)
}

pub fn apply(body: &mut Map<String, Value>, t: &Target) {
    let cfg = t.config();
    if let Some(allowed) = cfg.and_then(|c| c.allowed_tools.as_ref()) {
        filter_tools(body, allowed, t.upstream == UpstreamBody::Anthropic);
    }
    if let Some(c) = cfg {
        for p in &c.unsupported_params {
            body.remove(p);
        }
    }
    // Clients such as Kilo Code send 0 or -1 for "no limit", which origins reject.
    for k in ["max_tokens", "max_completion_tokens"] {
        if body.get(k).and_then(Value::as_i64).is_some_and(|v| v <= 0) {
            body.remove(k);
        }
    }
    match t.node.kind {
        NodeKind::Ollama => {
            for p in &t.snap.settings.ollama_unsupported_params {
                body.remove(p);
            }
            ollama_context(body, t);
        }
        // Ollama-only fields would be rejected (or silently misread) by other origins.
        NodeKind::Openai | NodeKind::Anthropic => {
            body.remove("options");
            body.remove("keep_alive");
        }
    }
    let caps = t.capabilities();
    if !caps.is_empty() && !caps.iter().any(|c| c == "vision") {
        strip_images(body);
    }
    let block = system_block(t);
    if !block.is_empty() {
        merge_system(body, t.upstream, &block);
    }
}

fn filter_tools(body: &mut Map<String, Value>, allowed: &[String], anthropic: bool) {
    let Some(Value::Array(tools)) = body.get_mut("tools") else { return };
    tools.retain(|tool| {
        let is_fn = tool.get("type").and_then(Value::as_str).is_none_or(|t| t == "function");
        let name = tool.get("function").and_then(|f| f.get("name")).or_else(|| tool.get("name")).and_then(Value::as_str);
        !is_fn || name.is_some_and(|n| allowed.iter().any(|a| a == n))
    });
    let remaining: Vec<String> = tools
        .iter()
        .filter_map(|t| t.get("function").and_then(|f| f.get("name")).or_else(|| t.get("name")).and_then(Value::as_str).map(String::from))
        .collect();
    if tools.is_empty() {
        // An empty list is rejected by several origins; no tools means no tool_choice either.
        body.remove("tools");
        body.remove("tool_choice");
        return;
    }
    // OpenAI names the function under `function.name`, Anthropic under `name` (type "tool").
    let choice = body.get("tool_choice");
    let named = choice.and_then(|c| c.get("function")).and_then(|f| f.get("name")).or_else(|| choice.filter(|c| c.get("type").and_then(Value::as_str) == Some("tool")).and_then(|c| c.get("name"))).and_then(Value::as_str).map(String::from);
    if let Some(n) = named {
        if !remaining.contains(&n) {
            body.insert("tool_choice".into(), if anthropic { json!({"type": "auto"}) } else { json!("auto") });
        }
    }
}

fn ollama_context(body: &mut Map<String, Value>, t: &Target) {
    let ctx = t.context_length();
    let max = t.config().and_then(|c| c.max_context_length);
    let opts = body.entry("options").or_insert_with(|| json!({}));
    if !opts.is_object() {
        *opts = json!({});
    }
    if let Some(o) = opts.as_object_mut() {
        match o.get("num_ctx").and_then(Value::as_u64) {
            // The client's own value stands, within the admin's maximum.
            Some(n) => {
                if let Some(m) = max.filter(|m| n > *m as u64) {
                    o.insert("num_ctx".into(), json!(m));
                }
            }
            None => {
                o.insert("num_ctx".into(), json!(ctx));
            }
        }
    }
    if let Some(k) = &t.snap.settings.ollama_keep_alive {
        body.entry("keep_alive").or_insert_with(|| k.clone());
    }
}

const IMAGE_PLACEHOLDER: &str = "[image removed: this model does not accept images]";

fn strip_images(body: &mut Map<String, Value>) {
    if body.get("images").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        body.remove("images");
        append_text(body, "prompt");
    }
    let Some(Value::Array(msgs)) = body.get_mut("messages") else { return };
    for m in msgs.iter_mut() {
        let Some(obj) = m.as_object_mut() else { continue };
        if obj.get("images").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
            obj.remove("images");
            append_text(obj, "content");
        }
        if let Some(Value::Array(parts)) = obj.get_mut("content") {
            let mut removed = false;
            parts.retain(|p| {
                let img = matches!(p.get("type").and_then(Value::as_str), Some("image_url" | "input_image" | "image"));
                removed |= img;
                !img
            });
            if removed {
                parts.push(json!({"type": "text", "text": IMAGE_PLACEHOLDER}));
            }
        }
    }
}

fn append_text(obj: &mut Map<String, Value>, key: &str) {
    let cur = obj.get(key).and_then(Value::as_str).unwrap_or("");
    let next = if cur.is_empty() { IMAGE_PLACEHOLDER.to_string() } else { format!("{cur}\n{IMAGE_PLACEHOLDER}") };
    obj.insert(key.into(), Value::String(next));
}

/// Active prompts matching this attempt, ordered by priority (higher first) then scope
/// (user, node, group, model, mapping), joined by blank lines.
pub fn system_block(t: &Target) -> String {
    let rank = |s: &str| match s {
        "user" => 0,
        "node" => 1,
        "group" => 2,
        "model" => 3,
        _ => 4,
    };
    let node_id = t.node.id.to_string();
    let mut hits: Vec<_> = t
        .snap
        .system_prompts
        .iter()
        .filter(|p| {
            let v = p.value.as_str();
            !v.is_empty()
                && match p.scope.as_str() {
                    "user" => v == t.user.username,
                    "node" => v == t.node.name || t.node.code.as_deref() == Some(v) || v == node_id,
                    "group" => t.group == Some(v),
                    "model" => same_model(v, t.real),
                    "mapping" => same_model(v, t.model),
                    _ => false,
                }
        })
        .collect();
    hits.sort_by_key(|p| (-p.priority, rank(&p.scope)));
    hits.iter().map(|p| p.prompt.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n\n")
}

fn merge_system(body: &mut Map<String, Value>, upstream: UpstreamBody, block: &str) {
    match upstream {
        UpstreamBody::Chat => {
            let Some(Value::Array(msgs)) = body.get_mut("messages") else { return };
            let first_is_text_system = msgs.first().is_some_and(|m| m.get("role").and_then(Value::as_str) == Some("system") && m.get("content").is_some_and(Value::is_string));
            if first_is_text_system {
                let cur = msgs[0]["content"].as_str().unwrap_or("").to_string();
                msgs[0]["content"] = Value::String(if cur.is_empty() { block.to_string() } else { format!("{block}\n\n{cur}") });
            } else {
                msgs.insert(0, json!({"role": "system", "content": block}));
            }
        }
        UpstreamBody::Generate => {
            let cur = body.get("system").and_then(Value::as_str).unwrap_or("");
            let next = if cur.is_empty() { block.to_string() } else { format!("{block}\n\n{cur}") };
            body.insert("system".into(), Value::String(next));
        }
        // After the client's first system block, as an entry of its own: Claude Code's first
        // block is its attribution header, which api.anthropic.com strips only while it is the
        // first entry, unchanged; everything before a cache breakpoint is the cache key, so the
        // client's blocks keep their values and order and a stable prompt keeps the cache hitting.
        UpstreamBody::Anthropic => {
            let ours = json!({"type": "text", "text": block});
            let next = match body.remove("system") {
                None | Some(Value::Null) => Value::String(block.to_string()),
                Some(Value::String(cur)) if cur.is_empty() => Value::String(block.to_string()),
                Some(Value::String(cur)) => json!([{"type": "text", "text": cur}, ours]),
                Some(Value::Array(mut blocks)) => {
                    blocks.insert(blocks.len().min(1), ours);
                    Value::Array(blocks)
                }
                Some(other) => other,
            };
            body.insert("system".into(), next);
        }
        UpstreamBody::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::snapshot::{Mapping, NodeModel, SystemPrompt};

    fn snap() -> Snapshot {
        Snapshot {
            mappings: vec![Mapping { display: "fast".into(), real: "llama3:latest".into(), capabilities: vec!["completion".into(), "tools".into()], ..Default::default() }],
            model_configs: vec![ModelConfig {
                prefix: "fast".into(),
                allowed_tools: Some(vec!["Read".into()]),
                unsupported_params: vec!["top_p".into()],
                default_context_length: Some(8192),
                max_context_length: Some(16384),
                ..Default::default()
            }],
            system_prompts: vec![
                SystemPrompt { scope: "mapping".into(), value: "fast".into(), prompt: "M".into(), priority: 0 },
                SystemPrompt { scope: "user".into(), value: "alice".into(), prompt: "U".into(), priority: 0 },
                SystemPrompt { scope: "node".into(), value: "gpu-1".into(), prompt: "N".into(), priority: 5 },
                SystemPrompt { scope: "model".into(), value: "other".into(), prompt: "X".into(), priority: 9 },
            ],
            ..Default::default()
        }
        .indexed()
    }

    fn node(kind: NodeKind) -> Node {
        Node { id: 7, name: "gpu-1".into(), kind, models: vec![NodeModel { name: "llama3:latest".into(), available: true, context_length: Some(131072), ..Default::default() }], ..Default::default() }
    }

    fn run(body: Value, kind: NodeKind, upstream: UpstreamBody) -> Value {
        let s = snap();
        let user = User { username: "alice".into(), ..Default::default() };
        let n = node(kind);
        let t = Target { snap: &s, user: &user, group: None, model: "fast", real: "llama3:latest", node: &n, upstream };
        let mut m = body.as_object().unwrap().clone();
        apply(&mut m, &t);
        Value::Object(m)
    }

    #[test]
    fn tools_are_filtered_and_a_dangling_tool_choice_falls_back_to_auto() {
        let out = run(
            json!({"tools":[{"type":"function","function":{"name":"Read"}},{"type":"function","function":{"name":"Shell"}}],"tool_choice":{"type":"function","function":{"name":"Shell"}},"top_p":0.9}),
            NodeKind::Openai,
            UpstreamBody::Chat,
        );
        assert_eq!(out["tools"].as_array().unwrap().len(), 1);
        assert_eq!(out["tool_choice"], "auto");
        assert!(out.get("top_p").is_none());
        let none = run(json!({"tools":[{"type":"function","function":{"name":"Shell"}}],"tool_choice":"required"}), NodeKind::Openai, UpstreamBody::Chat);
        assert!(none.get("tools").is_none() && none.get("tool_choice").is_none());
    }

    #[test]
    fn context_for_ollama_only_and_capped() {
        let out = run(json!({"messages":[]}), NodeKind::Ollama, UpstreamBody::Chat);
        assert_eq!(out["options"]["num_ctx"], 8192, "config default beats the discovered maximum");
        let client = run(json!({"messages":[],"options":{"num_ctx":65536}}), NodeKind::Ollama, UpstreamBody::Chat);
        assert_eq!(client["options"]["num_ctx"], 16384, "the client's value is capped by the max");
        let openai = run(json!({"messages":[],"options":{"num_ctx":1},"keep_alive":"5m"}), NodeKind::Openai, UpstreamBody::Chat);
        assert!(openai.get("options").is_none() && openai.get("keep_alive").is_none());
    }

    #[test]
    fn images_are_replaced_for_models_without_vision() {
        let out = run(
            json!({"messages":[{"role":"user","content":[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA"}}]},{"role":"user","content":"x","images":["AA"]}]}),
            NodeKind::Ollama,
            UpstreamBody::Chat,
        );
        let m = &out["messages"];
        assert_eq!(m[1]["content"][1]["text"], IMAGE_PLACEHOLDER);
        assert!(m[2].get("images").is_none());
        assert!(m[2]["content"].as_str().unwrap().ends_with(IMAGE_PLACEHOLDER));
    }

    #[test]
    fn system_prompts_ordered_by_priority_then_scope_and_merged() {
        let out = run(json!({"messages":[{"role":"system","content":"S"},{"role":"user","content":"q"}]}), NodeKind::Ollama, UpstreamBody::Chat);
        assert_eq!(out["messages"][0]["content"], "N\n\nU\n\nM\n\nS");
        let gen = run(json!({"prompt":"p"}), NodeKind::Ollama, UpstreamBody::Generate);
        assert_eq!(gen["system"], "N\n\nU\n\nM");
        let anth = run(json!({"system":[{"type":"text","text":"H"},{"type":"text","text":"S","cache_control":{"type":"ephemeral"}}],"messages":[]}), NodeKind::Anthropic, UpstreamBody::Anthropic);
        assert_eq!(anth["system"], json!([{"type":"text","text":"H"},{"type":"text","text":"N\n\nU\n\nM"},{"type":"text","text":"S","cache_control":{"type":"ephemeral"}}]), "after the first block, which stays first");
        assert_eq!(anth["messages"].as_array().unwrap().len(), 0);
        let one = run(json!({"system":"S"}), NodeKind::Anthropic, UpstreamBody::Anthropic);
        assert_eq!(one["system"], json!([{"type":"text","text":"S"},{"type":"text","text":"N\n\nU\n\nM"}]));
        let empty = run(json!({"system":[]}), NodeKind::Anthropic, UpstreamBody::Anthropic);
        assert_eq!(empty["system"], json!([{"type":"text","text":"N\n\nU\n\nM"}]));
        let parts = run(json!({"messages":[{"role":"system","content":[{"type":"text","text":"S"}]}]}), NodeKind::Openai, UpstreamBody::Chat);
        assert_eq!(parts["messages"][0]["content"], "N\n\nU\n\nM");
        assert_eq!(parts["messages"].as_array().unwrap().len(), 2);
    }
}
