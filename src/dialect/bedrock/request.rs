//! IR -> Converse request body (the mapping rules are in the module doc).

use crate::dialect::ir::*;
use serde_json::{json, Map, Value};

// Claude's thinking rules on Bedrock are Anthropic's (the same numbers as the `anthropic` leg,
// kept here so this dialect does not depend on another one).
/// `maxTokens` when thinking is on and the client set none: room for an answer...
const DEFAULT_MAX_TOKENS: u64 = 8192;
/// ...up to this much in all.
const MAX_DEFAULT_TOKENS: u64 = 32_000;
/// The smallest thinking budget Claude accepts.
const MIN_THINKING_BUDGET: u64 = 1024;

/// Claude models (direct ids `anthropic.claude-…`, and inference profiles `us.anthropic.claude-…`
/// or their ARNs) take Anthropic's `thinking` through `additionalModelRequestFields`.
pub fn is_claude(model_id: &str) -> bool {
    model_id.contains("anthropic.claude")
}

fn wanted_budget(r: &Reasoning) -> Option<u64> {
    r.enabled.then(|| {
        r.budget_tokens.unwrap_or(match r.effort {
            Some(Effort::Minimal) | Some(Effort::Low) => 2048,
            Some(Effort::Medium) | None => 8192,
            Some(Effort::High) => 16_384,
            Some(Effort::XHigh) => 24_576,
        })
    })
}

/// A tool-use id as Bedrock takes it: `[a-zA-Z0-9_-]{1,64}`. Calls and their results go
/// through the same mapping, so they still match; a longer id keeps a prefix and a hash of the
/// whole (two long ids sharing a prefix stay distinct).
pub(super) fn tool_id(id: &str) -> String {
    if id.is_empty() {
        return "tooluse_none".into();
    }
    let clean: String = id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if clean.len() <= 64 {
        return clean;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id.as_bytes());
    format!("{}_{}", &clean[..47], crate::origins::bedrock::sigv4::hex(&digest[..8]))
}

/// Tool-call arguments as the object Converse wants (never lost: non-objects kept as text).
fn args_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ if arguments.trim().is_empty() => json!({}),
        _ => json!({"_raw_arguments": arguments}),
    }
}

/// The `image.format` Converse wants, from a media type or the data's first bytes.
fn image_format(media_type: Option<&str>, b64: &str) -> Option<&'static str> {
    let from_type = match media_type.map(|m| m.trim().to_ascii_lowercase()) {
        Some(m) if m == "image/png" => Some("png"),
        Some(m) if m == "image/jpeg" || m == "image/jpg" => Some("jpeg"),
        Some(m) if m == "image/gif" => Some("gif"),
        Some(m) if m == "image/webp" => Some("webp"),
        _ => None,
    };
    from_type.or_else(|| [("iVBORw0KGgo", "png"), ("/9j/", "jpeg"), ("R0lGOD", "gif"), ("UklGR", "webp")].iter().find(|(p, _)| b64.starts_with(p)).map(|(_, f)| *f))
}

/// The body for a Converse / ConverseStream origin (the model id goes in the path, not here).
/// `Err` is a client error: something in the request Bedrock cannot take at all.
pub fn encode_request(req: &ChatRequest, model_id: &str) -> Result<Value, String> {
    let claude = is_claude(model_id);
    let mut system: Vec<Value> = req.system.iter().filter(|s| !s.is_empty()).map(|s| json!({"text": s})).collect();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    let mut tool_blocks = false;
    for m in &req.messages {
        if m.role == Role::System {
            system.extend(m.parts.iter().filter_map(|p| match p {
                Part::Text(t) if !t.is_empty() => Some(json!({"text": t})),
                _ => None,
            }));
            continue;
        }
        let role = if m.role == Role::Assistant { "assistant" } else { "user" };
        if turns.last().is_none_or(|(r, _)| *r != role) {
            turns.push((role, Vec::new()));
        }
        let blocks = &mut turns.last_mut().expect("pushed above").1;
        for p in &m.parts {
            match p {
                Part::Text(t) if !t.is_empty() => blocks.push(json!({"text": t})),
                Part::Text(_) => {}
                Part::Image { media_type, data: ImageData::Base64(b) } => {
                    let format = image_format(media_type.as_deref(), b).ok_or("Bedrock accepts png, jpeg, gif and webp images only")?;
                    blocks.push(json!({"image": {"format": format, "source": {"bytes": b}}}));
                }
                Part::Image { data: ImageData::Url(_), .. } => {
                    return Err("Bedrock takes images as inline data (base64 or data: URLs); image URLs cannot be sent to a bedrock node".into());
                }
                Part::ToolCall { id, name, arguments } if m.role == Role::Assistant => {
                    tool_blocks = true;
                    blocks.push(json!({"toolUse": {"toolUseId": tool_id(id), "name": name, "input": args_object(arguments)}}));
                }
                Part::ToolCall { .. } => {}
                Part::ToolResult { call_id, content, is_error } => {
                    tool_blocks = true;
                    let id = tool_id(call_id);
                    let same = blocks.iter_mut().find(|b| b.pointer("/toolResult/toolUseId").and_then(Value::as_str) == Some(id.as_str()));
                    match same {
                        Some(b) => {
                            let joined = format!("{}\n{}", b.pointer("/toolResult/content/0/text").and_then(Value::as_str).unwrap_or(""), content);
                            b["toolResult"]["content"] = json!([{"text": joined}]);
                            if *is_error {
                                b["toolResult"]["status"] = json!("error");
                            }
                        }
                        None => {
                            let mut b = json!({"toolResult": {"toolUseId": id, "content": [{"text": content}]}});
                            if *is_error {
                                b["toolResult"]["status"] = json!("error");
                            }
                            blocks.push(b);
                        }
                    }
                }
                // Signed reasoning goes back to Claude (it checks the signature); the gateway's own
                // "unsigned" marker, or reasoning from another origin, would be refused or misread.
                Part::Thinking { text, signature } if claude && m.role == Role::Assistant && anthropic_signature(signature.as_deref()).is_some() => {
                    blocks.push(json!({"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}}));
                }
                Part::Thinking { .. } => {}
            }
        }
    }
    let mut messages = Vec::with_capacity(turns.len());
    for (role, mut blocks) in turns {
        if role == "user" {
            blocks.sort_by_key(|b| b.get("toolResult").is_none());
        }
        if !blocks.is_empty() {
            messages.push(json!({"role": role, "content": blocks}));
        }
    }
    let loop_without_reasoning = messages.iter().rev().find(|m| m["role"] == "assistant").is_some_and(|m| {
        let blocks = m["content"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        blocks.iter().any(|b| b.get("toolUse").is_some()) && blocks.first().is_none_or(|b| b.get("reasoningContent").is_none())
    });

    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let forced = !req.tools.is_empty() && matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Named(_)));
    let budget = req.reasoning.filter(|_| claude && !loop_without_reasoning && !forced).and_then(|r| wanted_budget(&r));
    let max_tokens = req.max_tokens.filter(|m| *m > 0).or(budget.map(|b| (DEFAULT_MAX_TOKENS + b).min(MAX_DEFAULT_TOKENS)));
    let thinking = budget.zip(max_tokens).map(|(b, max)| b.max(MIN_THINKING_BUDGET).min(max.saturating_sub(1))).filter(|b| *b >= MIN_THINKING_BUDGET);

    let mut inference = Map::new();
    if let Some(m) = max_tokens {
        inference.insert("maxTokens".into(), json!(m));
    }
    if thinking.is_none() {
        match (req.temperature, req.top_p) {
            (Some(t), Some(_)) if claude => {
                // Recent Claude models refuse both together.
                inference.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
            }
            (t, p) => {
                if let Some(t) = t {
                    inference.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
                }
                if let Some(p) = p {
                    inference.insert("topP".into(), json!(p.clamp(0.0, 1.0)));
                }
            }
        }
    }
    let stops: Vec<&String> = req.stop.iter().filter(|s| !s.trim().is_empty()).collect();
    if !stops.is_empty() {
        inference.insert("stopSequences".into(), json!(stops));
    }
    if !inference.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let send_tools = !req.tools.is_empty() && (req.tool_choice != Some(ToolChoice::None) || tool_blocks);
    if send_tools {
        let tools: Vec<Value> = req.tools.iter().map(tool_spec).collect();
        let mut config = Map::new();
        config.insert("tools".into(), Value::Array(tools));
        match &req.tool_choice {
            Some(ToolChoice::Required) => {
                config.insert("toolChoice".into(), json!({"any": {}}));
            }
            Some(ToolChoice::Named(n)) => {
                config.insert("toolChoice".into(), json!({"tool": {"name": n}}));
            }
            // `auto` is Converse's default; sending it explicitly is refused by some models.
            _ => {}
        }
        out.insert("toolConfig".into(), Value::Object(config));
    }
    if let Some(b) = thinking {
        out.insert("additionalModelRequestFields".into(), json!({"thinking": {"type": "enabled", "budget_tokens": b}}));
    }
    Ok(Value::Object(out))
}

fn tool_spec(t: &Tool) -> Value {
    let mut schema = match &t.parameters {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    schema.entry("type").or_insert_with(|| json!("object"));
    let mut spec = Map::new();
    spec.insert("name".into(), json!(t.name));
    if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
        spec.insert("description".into(), json!(d));
    }
    spec.insert("inputSchema".into(), json!({"json": Value::Object(schema)}));
    json!({"toolSpec": Value::Object(spec)})
}
