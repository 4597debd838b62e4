//! Anthropic Messages: client request decoder and `count_tokens` estimate here; the client
//! answer encoders (JSON message, SSE event stream) in `answer`; the origin side (IR ->
//! Anthropic request, Anthropic answers -> IR) in `origin`.
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

mod answer;
pub mod origin;
pub mod replay;

pub use answer::{encode_response, stop_reason, StreamEncoder};
pub use origin::{decode_response, encode_request, StreamDecoder};

use super::ir::*;
use super::wire::{self, bad, JsonMap, Obj};
use crate::error::GatewayError;
use serde_json::{json, Value};

/// Tokens counted per image by `count_tokens`: Anthropic sizes images at about
/// width×height/750 tokens and scales large images down to ~1.15 megapixels, so ~1600 is the
/// cost of a typical screenshot and the upper bound.
pub const IMAGE_TOKENS: u64 = 1600;

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

fn decode_inner(o: &Obj) -> Result<ChatRequest, GatewayError> {
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
    if let Some(effort) =
        o.obj("output_config")?.map(|oc| oc.str("effort")).transpose()?.flatten().and_then(Effort::parse)
    {
        let r = req.reasoning.get_or_insert(Reasoning { enabled: true, effort: None, budget_tokens: None });
        if r.enabled {
            r.effort = Some(effort);
        }
    }
    if let Some(stops) = o.arr("stop_sequences")? {
        for (i, s) in stops.iter().enumerate() {
            req.stop
                .push(s.as_str().ok_or_else(|| bad(o.item_path("stop_sequences", i), "must be a string"))?.to_string());
        }
    }
    req.temperature = o.f64("temperature")?;
    req.top_p = o.f64("top_p")?;
    o.u64("top_k")?; // validated, then dropped: no OpenAI-chat counterpart.
    Ok(req)
}

fn image_part(b: &Obj) -> Result<Part, GatewayError> {
    let src = b.obj("source")?.ok_or_else(|| b.err("source", "is required"))?;
    match src.req_str("type")? {
        "base64" => Ok(Part::Image {
            media_type: src.str("media_type")?.map(str::to_string),
            data: ImageData::Base64(src.req_str("data")?.to_string()),
        }),
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
            "thinking" => parts.push(Part::Thinking {
                text: b.req_str("thinking")?.to_string(),
                signature: b.str("signature")?.filter(|s| !s.is_empty()).map(str::to_string),
            }),
            "tool_use" => {
                let input = match b.get("input") {
                    None => "{}".to_string(),
                    Some(v @ Value::Object(_)) => v.to_string(),
                    Some(_) => return Err(b.err("input", "must be an object")),
                };
                parts.push(Part::ToolCall {
                    id: b.req_str("id")?.to_string(),
                    name: b.req_str("name")?.to_string(),
                    arguments: input,
                });
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

// ============================================================================================
// count_tokens
// ============================================================================================

/// `POST /v1/messages/count_tokens`: an estimate, not a tokenizer. Characters / 4 (rounded up)
/// over the system blocks, every message's text, thinking, tool calls (name + JSON input) and
/// tool results, plus the tool definitions (name + description + schema JSON), plus
/// `IMAGE_TOKENS` per image; at least 1. The body is validated like `/v1/messages` except
/// that `max_tokens` is not required.
pub fn count_tokens(body: &JsonMap) -> Result<u64, GatewayError> {
    match decode_inner(&Obj::root(body)) {
        Ok(req) => Ok(estimate_input_tokens(&req)),
        // Content only an Anthropic origin understands (a PDF, a file reference...) still gets
        // an estimate: characters / 4 of what the request carries. A body without messages is
        // refused, as the API does.
        Err(e) if body.get("messages").is_none_or(|m| !m.is_array()) || body.get("model").is_none_or(|m| !m.is_string()) => Err(e),
        Err(_) => {
            let chars: usize = ["system", "messages", "tools"].iter().filter_map(|k| body.get(*k)).map(|v| v.to_string().chars().count()).sum();
            Ok((chars as u64).div_ceil(4).max(1))
        }
    }
}

/// The same estimate over a decoded request (also a fair `input_tokens_estimate` for
/// `StreamEncoder::new`).
pub fn estimate_input_tokens(req: &ChatRequest) -> u64 {
    let mut chars = 0usize;
    let mut images = 0u64;
    for s in &req.system {
        chars += s.chars().count();
    }
    for m in &req.messages {
        for p in &m.parts {
            chars += match p {
                Part::Text(t) => t.chars().count(),
                Part::Thinking { text, .. } => text.chars().count(),
                Part::ToolCall { name, arguments, .. } => name.chars().count() + arguments.chars().count(),
                Part::ToolResult { content, .. } => content.chars().count(),
                Part::Image { .. } => {
                    images += 1;
                    0
                }
            };
        }
    }
    for t in &req.tools {
        chars += t.name.chars().count();
        chars += t.description.as_deref().map_or(0, |d| d.chars().count());
        chars += t.parameters.to_string().chars().count();
    }
    ((chars as u64).div_ceil(4) + images * IMAGE_TOKENS).max(1)
}

#[cfg(test)]
mod tests;
