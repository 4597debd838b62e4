//! Ollama `/api/chat` and `/api/generate` requests: the client request decoders and the origin
//! `/api/chat` encoder.
//!
//! Deliberate drops: Ollama `logprobs`/`top_logprobs`, `keep_alive` and non-IR `options`
//! only travel to an Ollama origin (`ChatRequest::extra`); towards an OpenAI origin they have
//! no counterpart. `tool_choice` has no Ollama counterpart: `none` is honoured by not sending
//! the tools, `required`/named cannot be enforced and are dropped (the model still sees the
//! tools). Prior reasoning in history is sent as `thinking` (Ollama accepts it).

use super::super::ir::*;
use super::super::openai;
use super::super::sampling;
use super::super::wire::{self, JsonMap, Obj};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

const CHAT_KNOWN: &[&str] = &["model", "messages", "tools", "format", "options", "stream"];
const GENERATE_KNOWN: &[&str] = &["model", "prompt", "suffix", "system", "template", "context", "stream", "raw", "format", "images", "options"];
/// `options` keys that have an IR slot; the rest stay in `extra["options"]`.
const OPTIONS_KNOWN: &[&str] = &["temperature", "top_p", "stop", "num_predict", "seed", "frequency_penalty", "presence_penalty"];

// ============================================================================================
// Client request -> IR
// ============================================================================================

/// `POST /api/chat` body. `stream` defaults to true, as in Ollama.
pub fn decode_chat_request(body: &JsonMap) -> Result<ChatRequest, GatewayError> {
    let o = Obj::root(body);
    let mut req = decode_common(&o, CHAT_KNOWN)?;
    decode_messages(&o, &mut req)?;
    req.tools = openai::decode_tools(&o)?;
    Ok(req)
}

/// `POST /api/generate` body as a one-turn chat (`system` + `prompt` with `images`). Features
/// that only make sense against Ollama's own prompt handling are refused with a 400 when the
/// request has to be translated: `raw`, `template`, `context`, and a non-empty `suffix`
/// (fill-in-the-middle has no chat equivalent).
pub fn decode_generate_request(body: &JsonMap) -> Result<ChatRequest, GatewayError> {
    let o = Obj::root(body);
    if o.bool("raw")?.unwrap_or(false) {
        return Err(o.err("raw", "raw prompts cannot be sent to this model's origin (it only speaks chat)"));
    }
    if !o.str("template")?.unwrap_or("").is_empty() {
        return Err(o.err("template", "custom templates cannot be applied by this model's origin (it only speaks chat)"));
    }
    if !o.arr("context")?.unwrap_or(&[]).is_empty() {
        return Err(o.err("context", "token context from a previous answer is not supported for this model; send the conversation with /api/chat"));
    }
    if !o.str("suffix")?.unwrap_or("").is_empty() {
        return Err(o.err("suffix", "fill-in-the-middle (suffix) is not supported for this model's origin"));
    }
    let mut req = decode_common(&o, GENERATE_KNOWN)?;
    if let Some(s) = o.str("system")? {
        if !s.is_empty() {
            req.system.push(s.to_string());
        }
    }
    let mut parts = vec![Part::Text(o.str("prompt")?.unwrap_or("").to_string())];
    parts.extend(decode_images(&o)?);
    req.messages.push(Message { role: Role::User, parts });
    Ok(req)
}

/// model, stream, format, think, options and `extra` — shared by chat and generate.
fn decode_common(o: &Obj, known: &[&str]) -> Result<ChatRequest, GatewayError> {
    let mut req = ChatRequest { extra_family: Some(Family::Ollama), ..Default::default() };
    req.model = o.req_str("model")?.to_string();
    req.stream = o.bool("stream")?.unwrap_or(true);
    match o.get("format") {
        None => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) if s == "json" => req.response_format = Some(json!({"type": "json_object"})),
        Some(Value::Object(schema)) => req.response_format = Some(json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema}})),
        Some(_) => return Err(o.err("format", "must be \"json\" or a JSON schema object")),
    }
    // `think` also stays in `extra`, so an Ollama origin gets the client's exact value
    // (levels such as "max" that other dialects cannot express).
    match o.get("think") {
        None => {}
        Some(Value::Bool(b)) => req.reasoning = Some(Reasoning { enabled: *b, effort: None, budget_tokens: None }),
        Some(Value::String(s)) => req.reasoning = Some(Reasoning { enabled: true, effort: Effort::parse(s), budget_tokens: None }),
        Some(_) => return Err(o.err("think", "must be a boolean or a level such as \"high\"")),
    }
    if let Some(opts) = o.obj("options")? {
        sampling::decode(&opts, &sampling::OLLAMA_OPTIONS, &mut req)?;
        let mut rest = Map::new();
        match opts.i64("num_predict")? {
            Some(n) if n >= 0 => req.max_tokens = Some(n as u64),
            // -1 (no limit) / -2 (fill the context): no IR form, kept for an Ollama origin.
            Some(n) => {
                rest.insert("num_predict".into(), json!(n));
            }
            None => {}
        }
        for (k, v) in opts.m {
            if !OPTIONS_KNOWN.contains(&k.as_str()) {
                rest.insert(k.clone(), v.clone());
            }
        }
        if !rest.is_empty() {
            req.extra.insert("options".into(), Value::Object(rest));
        }
    }
    for (k, v) in o.m {
        if !known.contains(&k.as_str()) {
            req.extra.insert(k.clone(), v.clone());
        }
    }
    Ok(req)
}

/// `images`: base64 strings (a `data:` URL is accepted too).
fn decode_images(m: &Obj) -> Result<Vec<Part>, GatewayError> {
    let mut out = Vec::new();
    for (i, v) in m.arr("images")?.unwrap_or(&[]).iter().enumerate() {
        let s = v.as_str().ok_or_else(|| wire::bad(m.item_path("images", i), "must be a base64 string"))?;
        out.push(if s.starts_with("data:") {
            let (media_type, data) = wire::parse_image_url(s);
            Part::Image { media_type, data }
        } else {
            Part::Image { media_type: None, data: ImageData::Base64(s.to_string()) }
        });
    }
    Ok(out)
}

fn decode_messages(o: &Obj, req: &mut ChatRequest) -> Result<(), GatewayError> {
    let msgs = o.arr("messages")?.ok_or_else(|| o.err("messages", "is required"))?;
    let mut leading = true;
    // Ollama tool calls often carry no id and results name the tool instead: ids are
    // generated (`call_<n>`) and results matched to the oldest unanswered call of that name.
    let mut generated = 0usize;
    let mut unanswered: Vec<(String, String)> = Vec::new();
    for (i, v) in msgs.iter().enumerate() {
        let m = Obj::of(v, o.item_path("messages", i))?;
        let content = m.str("content")?.unwrap_or("");
        match m.req_str("role")? {
            "system" | "developer" => {
                if leading {
                    req.system.push(content.to_string());
                } else {
                    req.messages.push(Message::text(Role::System, content));
                }
            }
            "user" => {
                leading = false;
                let mut parts = vec![Part::Text(content.to_string())];
                parts.extend(decode_images(&m)?);
                req.messages.push(Message { role: Role::User, parts });
            }
            "assistant" => {
                leading = false;
                let mut parts = Vec::new();
                if let Some(t) = m.str("thinking")?.filter(|t| !t.is_empty()) {
                    parts.push(Part::Thinking { text: t.to_string(), signature: None });
                }
                if !content.is_empty() {
                    parts.push(Part::Text(content.to_string()));
                }
                for (j, c) in m.arr("tool_calls")?.unwrap_or(&[]).iter().enumerate() {
                    let c = Obj::of(c, m.item_path("tool_calls", j))?;
                    let f = c.obj("function")?.ok_or_else(|| c.err("function", "is required"))?;
                    let name = f.req_str("name")?.to_string();
                    let arguments = match f.get("arguments") {
                        None => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(v @ Value::Object(_)) => v.to_string(),
                        Some(_) => return Err(f.err("arguments", "must be an object")),
                    };
                    let id = match c.str("id")? {
                        Some(id) if !id.is_empty() => id.to_string(),
                        _ => {
                            generated += 1;
                            format!("call_{}", generated - 1)
                        }
                    };
                    unanswered.push((id.clone(), name.clone()));
                    parts.push(Part::ToolCall { id, name, arguments });
                }
                // Images on assistant messages have no meaning for any origin: dropped.
                req.messages.push(Message { role: Role::Assistant, parts });
            }
            "tool" => {
                leading = false;
                let by_id = m.str("tool_call_id")?.filter(|s| !s.is_empty());
                let by_name = m.str("tool_name")?.or(m.str("name")?).filter(|s| !s.is_empty());
                let pos = match (by_id, by_name) {
                    (Some(id), _) => unanswered.iter().position(|(i, _)| i == id),
                    (None, Some(n)) => unanswered.iter().position(|(_, name)| name == n),
                    (None, None) => (!unanswered.is_empty()).then_some(0),
                };
                let call_id = match (pos, by_id) {
                    (Some(p), _) => unanswered.remove(p).0,
                    (None, Some(id)) => id.to_string(),
                    // A result for no known call: keep it, under the tool's name.
                    (None, None) => by_name.unwrap_or("call_unknown").to_string(),
                };
                req.messages.push(Message { role: Role::Tool, parts: vec![Part::ToolResult { call_id, content: content.to_string(), is_error: false }] });
                let images = decode_images(&m)?;
                if !images.is_empty() {
                    req.messages.push(Message { role: Role::User, parts: images });
                }
            }
            _ => return Err(m.err("role", "must be one of system, user, assistant, tool")),
        }
    }
    Ok(())
}

// ============================================================================================
// IR -> origin request
// ============================================================================================

/// The body for an Ollama `/api/chat` origin. Fails (400) only when a part cannot travel to
/// Ollama at all: an image given as a remote URL (Ollama takes base64 only, and this layer
/// does not fetch).
pub fn encode_chat_request(req: &ChatRequest, real_model: &str) -> Result<Value, GatewayError> {
    let same_family = req.extra_family == Some(Family::Ollama);
    let mut out = Map::new();
    let mut options = Map::new();
    if same_family {
        for (k, v) in &req.extra {
            if k == "options" {
                if let Value::Object(o) = v {
                    options = o.clone();
                }
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.insert("model".into(), json!(real_model));
    out.insert("messages".into(), Value::Array(encode_messages(req)?));
    out.insert("stream".into(), json!(req.stream));
    let tools_allowed = req.tool_choice != Some(ToolChoice::None);
    if !req.tools.is_empty() && tools_allowed {
        out.insert("tools".into(), Value::Array(req.tools.iter().map(openai::tool_json).collect()));
    }
    if let Some(r) = &req.reasoning {
        if !(same_family && out.contains_key("think")) {
            // Across dialects only on/off: level strings are rejected by every model but
            // gpt-oss ("think value \"medium\" is not supported for this model").
            out.insert("think".into(), json!(r.enabled));
        }
    }
    if let Some(rf) = &req.response_format {
        match rf.get("type").and_then(Value::as_str) {
            Some("json_object") => {
                out.insert("format".into(), json!("json"));
            }
            Some("json_schema") => {
                if let Some(s) = rf.get("json_schema").and_then(|j| j.get("schema")) {
                    out.insert("format".into(), s.clone());
                }
            }
            _ => {}
        }
    }
    sampling::encode(req, &sampling::OLLAMA_OPTIONS, "num_predict", &mut options);
    if !options.is_empty() {
        out.insert("options".into(), Value::Object(options));
    }
    Ok(Value::Object(out))
}

fn encode_messages(req: &ChatRequest) -> Result<Vec<Value>, GatewayError> {
    let mut msgs = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        msgs.push(json!({"role": "system", "content": req.system.join("\n\n")}));
    }
    // Tool results name their tool on Ollama: remember each call's name.
    let mut names: Vec<(&str, &str)> = Vec::new();
    for m in &req.messages {
        let mut text = String::new();
        let mut thinking = String::new();
        let mut images = Vec::new();
        let mut calls = Vec::new();
        for p in &m.parts {
            match p {
                Part::Text(t) => {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(t);
                }
                Part::Thinking { text: t, .. } => thinking.push_str(t),
                Part::Image { data: ImageData::Base64(b), .. } => images.push(json!(b)),
                Part::Image { data: ImageData::Url(_), .. } => return Err(GatewayError::bad_request("this model's origin (Ollama) only accepts images as base64 data, not URLs")),
                Part::ToolCall { id, name, arguments } => {
                    names.push((id.as_str(), name.as_str()));
                    calls.push(json!({"id": id, "function": {"name": name, "arguments": wire::args_object(arguments)}}));
                }
                Part::ToolResult { call_id, content, is_error } => {
                    let name = names.iter().rev().find(|(i, _)| i == call_id).map(|(_, n)| *n).unwrap_or("");
                    msgs.push(json!({
                        "role": "tool",
                        "content": openai::tool_result_text(content, *is_error),
                        "tool_name": name,
                        "tool_call_id": call_id,
                    }));
                }
            }
        }
        let role = match m.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => {
                if text.is_empty() && images.is_empty() {
                    continue;
                }
                "user"
            }
        };
        if m.role == Role::User && text.is_empty() && images.is_empty() && m.parts.iter().all(|p| matches!(p, Part::ToolResult { .. })) {
            continue;
        }
        let mut mm = Map::new();
        mm.insert("role".into(), json!(role));
        mm.insert("content".into(), json!(text));
        if !images.is_empty() {
            mm.insert("images".into(), Value::Array(images));
        }
        if m.role == Role::Assistant {
            if !thinking.is_empty() {
                mm.insert("thinking".into(), json!(thinking));
            }
            if !calls.is_empty() {
                mm.insert("tool_calls".into(), Value::Array(calls));
            }
        }
        msgs.push(Value::Object(mm));
    }
    Ok(msgs)
}
