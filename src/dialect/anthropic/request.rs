//! Anthropic Messages requests: the client request decoder (`decode_inner` also serves
//! `count_tokens`, see `tokens`) and the
//! origin request encoder (IR -> `POST /v1/messages` body).
//!
//! The decoder serves translated legs only (a same-dialect leg forwards the client's bytes and
//! never decodes them), so it reads the open Anthropic list the way a translating origin can:
//! - mapped: text, images (base64, url), plain-text documents, thinking (with signature),
//!   tool_use / tool_result, `search_result` blocks (as text), `system` as a string or text
//!   blocks, and `role: "system"` messages anywhere in `messages` (a leading one joins the
//!   system prompt, a later one stays a system message at its place — OpenAI and Ollama take
//!   system messages anywhere);
//! - dropped, because no OpenAI-chat or Ollama origin can express them (README "Anthropic
//!   open list"): `cache_control` everywhere, `context_management`, `container`, `mcp_servers`,
//!   `metadata`, `service_tier`, `top_k`, `output_config` (except `effort`, mapped to the
//!   reasoning level), tool `defer_loading` / `strict` / `cache_control` / `input_examples`,
//!   Anthropic-defined and server tools (`type` other than `custom`), `tool_reference` and
//!   `container_upload` blocks, `redacted_thinking` (encrypted), server-tool blocks
//!   (`server_tool_use`, `*_tool_result`, `mcp_tool_*`), `citations`, and any block type not
//!   known here that carries no `text` (one that does becomes text);
//! - refused with a 400, because dropping would change what the model is asked: PDF/base64 or
//!   file documents, file-id images, a role other than user/assistant/system.
//!
//! Tool results become `Role::Tool` messages placed before the rest of their user turn; images
//! inside a tool result follow as user content (OpenAI tool messages carry text only).
//!
//! The origin side is the leg for OpenAI chat, Responses and Ollama clients on an `anthropic`
//! node (Anthropic clients there are forwarded untouched, never translated).
//!
//! Mapping rules (README "Any dialect on an anthropic node"):
//! - leading system text -> top-level `system`; a system message later in the conversation
//!   stays a `role: "system"` message at its place (the Messages API accepts them);
//! - consecutive messages of one role are merged into one turn; tool results become
//!   `tool_result` blocks in the user turn that follows the call, one per call id (repeated
//!   results for one id are joined), before that turn's other content;
//! - tool-call arguments become an `input` object (text that is not an object is kept under
//!   `_raw_arguments`, never lost); tool parameters become `input_schema` (an object schema);
//! - thinking from an earlier turn is sent back only with its signature (unsigned reasoning from
//!   another origin family would be rejected), and a request whose last assistant turn made tool
//!   calls without signed thinking goes without thinking (the API requires it in an open tool
//!   loop), as does one that forces a tool (`tool_choice` required or named); otherwise
//!   reasoning controls become `thinking` with a
//!   budget of at least 1024 tokens and below `max_tokens` (else no thinking), and then no
//!   `temperature`/`top_p`, which the API refuses with thinking on;
//! - `max_tokens` is required by Anthropic: when the client set none, `DEFAULT_MAX_TOKENS` plus
//!   the thinking budget (at most `MAX_DEFAULT_TOKENS`); whitespace-only stop sequences (which
//!   the API refuses) are left out; `temperature` is capped at 1 and `top_p` sent only without
//!   it (recent models refuse both);
//! - dropped (no Messages counterpart): `seed`, penalties, `response_format`, and the other
//!   dialect's extra fields.

use super::super::ir::*;
use super::super::sampling;
use super::super::wire::{self, JsonMap, Obj};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

// ============================================================================================
// Client request -> IR
// ============================================================================================

/// `POST /v1/messages` body. `max_tokens` is required, as in the Anthropic API.
pub fn decode_request(body: &JsonMap) -> Result<ChatRequest, GatewayError> {
    let o = Obj::root(body);
    let max_tokens = o.u64("max_tokens")?.ok_or_else(|| o.err("max_tokens", "is required"))?;
    let mut req = decode_inner(&o)?;
    req.max_tokens = Some(max_tokens);
    Ok(req)
}

/// Text of a system prompt or a system message: a string, or text blocks (other blocks, which
/// the API does not define for system content, are skipped).
fn system_text(o: &Obj, key: &str) -> Result<Vec<String>, GatewayError> {
    match o.get(key) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(blocks)) => {
            let mut out = Vec::new();
            for (i, b) in blocks.iter().enumerate() {
                let b = Obj::of(b, o.item_path(key, i))?;
                if let Some(t) = b.str("text")?.filter(|t| !t.is_empty()) {
                    out.push(t.to_string());
                }
            }
            Ok(out)
        }
        Some(_) => Err(o.err(key, "must be a string or an array of text blocks")),
    }
}

pub(super) fn decode_inner(o: &Obj) -> Result<ChatRequest, GatewayError> {
    let mut req = ChatRequest { model: o.req_str("model")?.to_string(), ..Default::default() };
    req.stream = o.bool("stream")?.unwrap_or(false);
    req.system = system_text(o, "system")?;
    let msgs = o.arr("messages")?.ok_or_else(|| o.err("messages", "is required"))?;
    for (i, v) in msgs.iter().enumerate() {
        let m = Obj::of(v, o.item_path("messages", i))?;
        if m.get("content").is_none() {
            return Err(m.err("content", "is required"));
        }
        match m.req_str("role")? {
            "user" => decode_user(&m, &mut req.messages)?,
            "assistant" => req.messages.push(decode_assistant(&m)?),
            // Claude Code (2.1.3xx) sends system messages between turns.
            "system" => {
                let text = system_text(&m, "content")?;
                if req.messages.is_empty() {
                    req.system.extend(text);
                } else if !text.is_empty() {
                    req.messages.push(Message::text(Role::System, text.join("\n\n")));
                }
            }
            _ => return Err(m.err("role", "must be `user`, `assistant` or `system`")),
        }
    }
    decode_tools(o, &mut req)?;
    if let Some(th) = o.obj("thinking")? {
        req.reasoning = match th.str("type")? {
            Some("enabled") => Some(Reasoning { enabled: true, effort: None, budget_tokens: th.u64("budget_tokens")? }),
            Some("adaptive") => Some(Reasoning { enabled: true, effort: None, budget_tokens: None }),
            Some("disabled") => Some(Reasoning { enabled: false, effort: None, budget_tokens: None }),
            // A mode this gateway does not know yet: no reasoning control (dropped).
            _ => None,
        };
    }
    // The newer effort control (`output_config.effort`) refines the level when present.
    if let Some(effort) = o.obj("output_config")?.map(|oc| oc.str("effort")).transpose()?.flatten().and_then(Effort::parse) {
        let r = req.reasoning.get_or_insert(Reasoning { enabled: true, effort: None, budget_tokens: None });
        if r.enabled {
            r.effort = Some(effort);
        }
    }
    sampling::decode(o, &sampling::ANTHROPIC, &mut req)?;
    o.u64("top_k")?; // validated, then dropped: no OpenAI-chat counterpart.
    Ok(req)
}

fn image_part(b: &Obj) -> Result<Part, GatewayError> {
    let src = b.obj("source")?.ok_or_else(|| b.err("source", "is required"))?;
    match src.req_str("type")? {
        "base64" => Ok(Part::Image { media_type: src.str("media_type")?.map(str::to_string), data: ImageData::Base64(src.req_str("data")?.to_string()) }),
        "url" => {
            let (media_type, data) = wire::parse_image_url(src.req_str("url")?);
            Ok(Part::Image { media_type, data })
        }
        _ => Err(src.err("type", "must be base64 or url (file references are not supported)")),
    }
}

/// Blocks of a `content` field (a string is one text block).
fn blocks<'a>(m: &Obj<'a>, key: &str) -> Result<Vec<Obj<'a>>, GatewayError> {
    match m.get(key) {
        None => Ok(Vec::new()),
        Some(Value::String(_)) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().enumerate().map(|(i, b)| Obj::of(b, m.item_path(key, i))).collect(),
        Some(_) => Err(m.err(key, "must be a string or an array of content blocks")),
    }
}

/// Block types that carry nothing another origin could use (module docs): dropped.
fn dropped_block(ty: &str) -> bool {
    matches!(
        ty,
        "tool_reference"
            | "container_upload"
            | "redacted_thinking"
            | "server_tool_use"
            | "mcp_tool_use"
            | "mcp_tool_result"
            | "web_search_tool_result"
            | "web_fetch_tool_result"
            | "code_execution_tool_result"
            | "bash_code_execution_tool_result"
            | "text_editor_code_execution_tool_result"
            | "tool_search_tool_result"
    ) || ty.ends_with("_tool_result")
}

/// A block type this decoder does not know: its `text`, when it has one, else nothing.
fn unknown_block(b: &Obj) -> Result<Option<Part>, GatewayError> {
    Ok(b.str("text")?.filter(|t| !t.is_empty()).map(|t| Part::Text(t.to_string())))
}

/// A `search_result` block as text: title, source, then its text blocks.
fn search_result_text(b: &Obj) -> Result<String, GatewayError> {
    let mut lines = Vec::new();
    if let Some(t) = b.str("title")? {
        lines.push(t.to_string());
    }
    if let Some(s) = b.str("source")? {
        lines.push(format!("Source: {s}"));
    }
    for c in blocks(b, "content")? {
        if let Some(t) = c.str("text")? {
            lines.push(t.to_string());
        }
    }
    Ok(lines.join("\n"))
}

fn document_part(b: &Obj) -> Result<Part, GatewayError> {
    let src = b.obj("source")?.ok_or_else(|| b.err("source", "is required"))?;
    match src.req_str("type")? {
        "text" => Ok(Part::Text(src.req_str("data")?.to_string())),
        "content" => {
            let texts: Vec<String> = blocks(&src, "content")?.iter().filter_map(|c| c.str("text").ok().flatten().map(str::to_string)).collect();
            Ok(Part::Text(texts.join("\n")))
        }
        _ => Err(src.err("type", "only plain-text documents are supported (PDF and file documents are not)")),
    }
}

fn decode_user(m: &Obj, out: &mut Vec<Message>) -> Result<(), GatewayError> {
    let mut results = Vec::new();
    let mut rest = Vec::new();
    if let Some(Value::String(s)) = m.get("content") {
        rest.push(Part::Text(s.clone()));
    }
    for b in blocks(m, "content")? {
        match b.req_str("type")? {
            "text" => rest.push(Part::Text(b.req_str("text")?.to_string())),
            "image" => rest.push(image_part(&b)?),
            "document" => rest.push(document_part(&b)?),
            "search_result" => rest.push(Part::Text(search_result_text(&b)?)),
            "tool_result" => {
                let call_id = b.req_str("tool_use_id")?.to_string();
                let is_error = b.bool("is_error")?.unwrap_or(false);
                let mut texts = Vec::new();
                if let Some(Value::String(s)) = b.get("content") {
                    texts.push(s.clone());
                }
                for c in blocks(&b, "content")? {
                    match c.req_str("type")? {
                        "text" => texts.push(c.req_str("text")?.to_string()),
                        // Images in results follow as user content (see module docs).
                        "image" => rest.push(image_part(&c)?),
                        "document" => match document_part(&c)? {
                            Part::Text(t) => texts.push(t),
                            other => rest.push(other),
                        },
                        "search_result" => texts.push(search_result_text(&c)?),
                        ty if dropped_block(ty) => {}
                        _ => {
                            if let Some(Part::Text(t)) = unknown_block(&c)? {
                                texts.push(t);
                            }
                        }
                    }
                }
                results.push(Part::ToolResult { call_id, content: texts.join("\n"), is_error });
            }
            // Thinking blocks only belong to assistant turns; ignored if a client echoes them.
            "thinking" => {}
            ty if dropped_block(ty) => {}
            _ => rest.extend(unknown_block(&b)?),
        }
    }
    if !results.is_empty() {
        out.push(Message { role: Role::Tool, parts: results });
    }
    if !rest.is_empty() {
        out.push(Message { role: Role::User, parts: rest });
    }
    Ok(())
}

fn decode_assistant(m: &Obj) -> Result<Message, GatewayError> {
    let mut parts = Vec::new();
    if let Some(Value::String(s)) = m.get("content") {
        if !s.is_empty() {
            parts.push(Part::Text(s.clone()));
        }
    }
    for b in blocks(m, "content")? {
        match b.req_str("type")? {
            "text" => parts.push(Part::Text(b.req_str("text")?.to_string())),
            "thinking" => parts.push(Part::Thinking { text: b.req_str("thinking")?.to_string(), signature: b.str("signature")?.filter(|s| !s.is_empty()).map(str::to_string) }),
            "tool_use" => {
                let input = match b.get("input") {
                    None => "{}".to_string(),
                    Some(v @ Value::Object(_)) => v.to_string(),
                    Some(_) => return Err(b.err("input", "must be an object")),
                };
                parts.push(Part::ToolCall { id: b.req_str("id")?.to_string(), name: b.req_str("name")?.to_string(), arguments: input });
            }
            // Encrypted reasoning and server-tool traffic: no counterpart (module docs).
            ty if dropped_block(ty) => {}
            _ => parts.extend(unknown_block(&b)?),
        }
    }
    Ok(Message { role: Role::Assistant, parts })
}

fn decode_tools(o: &Obj, req: &mut ChatRequest) -> Result<(), GatewayError> {
    for (i, t) in o.arr("tools")?.unwrap_or(&[]).iter().enumerate() {
        let t = Obj::of(t, o.item_path("tools", i))?;
        match t.str("type")? {
            None | Some("custom") => {}
            // Anthropic-defined and server tools (web search, bash, text editor, computer use,
            // code execution, tool search) run on Anthropic's side or need its schema: dropped.
            Some(_) => continue,
        }
        req.tools.push(Tool {
            name: t.req_str("name")?.to_string(),
            description: t.str("description")?.map(str::to_string),
            parameters: match t.get("input_schema") {
                Some(s @ Value::Object(_)) => s.clone(),
                // A tool without a schema takes no arguments; nothing is lost.
                None => json!({"type": "object", "properties": {}}),
                Some(_) => return Err(t.err("input_schema", "must be a JSON schema object")),
            },
        });
    }
    if let Some(tc) = o.obj("tool_choice")? {
        req.tool_choice = match tc.str("type")? {
            Some("auto") => Some(ToolChoice::Auto),
            Some("any") => Some(ToolChoice::Required),
            Some("none") => Some(ToolChoice::None),
            Some("tool") => Some(ToolChoice::Named(tc.req_str("name")?.to_string())),
            None => return Err(tc.err("type", "is required")),
            // A choice this gateway does not know: the origin's default (auto).
            Some(_) => None,
        };
        if let Some(d) = tc.bool("disable_parallel_tool_use")? {
            req.parallel_tool_calls = Some(!d);
        }
    }
    Ok(())
}

/// `max_tokens` for clients that sent none (OpenAI and Ollama make it optional).
pub const DEFAULT_MAX_TOKENS: u64 = 8192;
/// The smallest thinking budget the Messages API accepts.
pub const MIN_THINKING_BUDGET: u64 = 1024;
/// The largest `max_tokens` the gateway picks by itself (thinking budget plus an answer).
pub const MAX_DEFAULT_TOKENS: u64 = 32_000;

// ============================================================================================
// IR -> origin request
// ============================================================================================

/// The body for an Anthropic `/v1/messages` origin.
pub fn encode_request(req: &ChatRequest, real_model: &str) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), json!(real_model));
    // Without a client limit, room for the thinking budget on top of the default answer.
    let wanted = req.reasoning.and_then(|r| wanted_budget(&r)).unwrap_or(0);
    let max_tokens = req.max_tokens.filter(|m| *m > 0).unwrap_or((DEFAULT_MAX_TOKENS + wanted).min(MAX_DEFAULT_TOKENS));
    out.insert("max_tokens".into(), json!(max_tokens));
    if !req.system.is_empty() {
        out.insert("system".into(), json!(req.system.join("\n\n")));
    }
    let messages = encode_messages(req);
    // With thinking on, the API wants the assistant turn of an open tool loop to start with its
    // signed thinking; another dialect's history cannot carry one, so such a turn goes without.
    let loop_without_thinking = messages.iter().rev().find(|m| m["role"] == "assistant").is_some_and(|m| {
        let blocks = m["content"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        blocks.iter().any(|b| b["type"] == "tool_use") && blocks.first().is_none_or(|b| b["type"] != "thinking")
    });
    out.insert("messages".into(), Value::Array(messages));
    if req.stream {
        out.insert("stream".into(), json!(true));
    }
    // Nor does it take thinking with a forced tool choice.
    let forced = !req.tools.is_empty() && matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Named(_)));
    let thinking = req.reasoning.filter(|_| !loop_without_thinking && !forced).and_then(|r| thinking_budget(&r, max_tokens));
    match thinking {
        Some(budget) => {
            out.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
        }
        None => {
            // OpenAI allows temperatures up to 2, Anthropic up to 1; recent Claude models refuse
            // temperature and top_p together, so top_p goes only alone.
            match (req.temperature, req.top_p) {
                (Some(t), _) => {
                    out.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
                }
                (None, Some(p)) => {
                    out.insert("top_p".into(), json!(p));
                }
                (None, None) => {}
            }
        }
    }
    // The API refuses whitespace-only stop sequences (OpenAI clients send "\n").
    let stops: Vec<&String> = req.stop.iter().filter(|s| !s.trim().is_empty()).collect();
    if !stops.is_empty() {
        out.insert("stop_sequences".into(), json!(stops));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req.tools.iter().map(tool_json).collect();
        out.insert("tools".into(), Value::Array(tools));
        let mut choice = match &req.tool_choice {
            None | Some(ToolChoice::Auto) => json!({"type": "auto"}),
            Some(ToolChoice::None) => json!({"type": "none"}),
            Some(ToolChoice::Required) => json!({"type": "any"}),
            Some(ToolChoice::Named(n)) => json!({"type": "tool", "name": n}),
        };
        if req.parallel_tool_calls == Some(false) && choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        if req.tool_choice.is_some() || req.parallel_tool_calls == Some(false) {
            out.insert("tool_choice".into(), choice);
        }
    }
    Value::Object(out)
}

/// The budget a reasoning request asks for: the client's, else one per effort level.
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

/// The thinking budget for a reasoning request, or None (thinking off, or no room for it).
pub(super) fn thinking_budget(r: &Reasoning, max_tokens: u64) -> Option<u64> {
    let budget = wanted_budget(r)?.max(MIN_THINKING_BUDGET).min(max_tokens.saturating_sub(1));
    (budget >= MIN_THINKING_BUDGET).then_some(budget)
}

fn tool_json(t: &Tool) -> Value {
    let mut schema = match &t.parameters {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    schema.entry("type").or_insert_with(|| json!("object"));
    let mut m = Map::new();
    m.insert("name".into(), json!(t.name));
    if let Some(d) = t.description.as_deref().filter(|d| !d.is_empty()) {
        m.insert("description".into(), json!(d));
    }
    m.insert("input_schema".into(), Value::Object(schema));
    Value::Object(m)
}

fn image_block(media_type: Option<&str>, data: &ImageData) -> Value {
    match data {
        ImageData::Base64(b) => json!({"type": "image", "source": {"type": "base64", "media_type": media_type.unwrap_or_else(|| wire::sniff_media_type(b)), "data": b}}),
        ImageData::Url(u) => json!({"type": "image", "source": {"type": "url", "url": u}}),
    }
}

/// The role a message takes on the wire: tool results travel in user turns.
fn wire_role(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User | Role::Tool => "user",
        Role::Assistant => "assistant",
    }
}

/// A tool-call id in the form the Messages API accepts (`[a-zA-Z0-9_-]+`); calls and their
/// results go through the same mapping, so they still match.
fn tool_id(id: &str) -> String {
    if id.is_empty() {
        return "toolu_none".into();
    }
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

fn encode_messages(req: &ChatRequest) -> Vec<Value> {
    // (role, blocks) turns; consecutive messages of one wire role are merged.
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in &req.messages {
        let role = wire_role(m.role);
        if turns.last().is_none_or(|(r, _)| *r != role) {
            turns.push((role, Vec::new()));
        }
        let blocks = &mut turns.last_mut().expect("pushed above").1;
        for p in &m.parts {
            match p {
                Part::Text(t) if !t.is_empty() => blocks.push(json!({"type": "text", "text": t})),
                Part::Text(_) => {}
                Part::Image { media_type, data } if m.role != Role::System => blocks.push(image_block(media_type.as_deref(), data)),
                Part::Image { .. } => {}
                Part::ToolCall { id, name, arguments } if m.role == Role::Assistant => blocks.push(json!({"type": "tool_use", "id": tool_id(id), "name": name, "input": wire::args_object(arguments)})),
                Part::ToolCall { .. } => {}
                Part::ToolResult { call_id, content, is_error } => {
                    let call_id = &tool_id(call_id);
                    // One tool_result per call: a repeated id is joined to the first.
                    let same = blocks.iter_mut().find(|b| b["type"] == "tool_result" && b["tool_use_id"] == call_id.as_str());
                    match same {
                        Some(b) => {
                            let joined = format!("{}\n{}", b["content"].as_str().unwrap_or(""), content);
                            b["content"] = json!(joined);
                            if *is_error {
                                b["is_error"] = json!(true);
                            }
                        }
                        None => {
                            let mut b = json!({"type": "tool_result", "tool_use_id": call_id, "content": content});
                            if *is_error {
                                b["is_error"] = json!(true);
                            }
                            blocks.push(b);
                        }
                    }
                }
                Part::Thinking { text, signature } if m.role == Role::Assistant => {
                    // Another origin family's reasoning, unsigned or signed by this gateway, is
                    // not Anthropic's: the API would reject it, so it stays behind.
                    if let Some(sig) = anthropic_signature(signature.as_deref()) {
                        blocks.push(json!({"type": "thinking", "thinking": text, "signature": sig}))
                    }
                }
                Part::Thinking { .. } => {}
            }
        }
    }
    let mut out = Vec::with_capacity(turns.len());
    for (role, mut blocks) in turns {
        if role == "user" {
            // The API wants a turn's tool results before its other content.
            blocks.sort_by_key(|b| b["type"] != "tool_result");
        }
        if blocks.is_empty() {
            // A turn with nothing the API can take (e.g. only unsigned reasoning) is left out
            // rather than given invented text; the API joins the turns around it.
            continue;
        }
        if role == "system" {
            let text: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
            out.push(json!({"role": "system", "content": text.join("\n")}));
        } else {
            out.push(json!({"role": role, "content": blocks}));
        }
    }
    out
}
