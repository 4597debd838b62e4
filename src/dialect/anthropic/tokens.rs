//! `POST /v1/messages/count_tokens`: Anthropic's token count, a documented estimate (no origin
//! call), and the input estimate a translated stream's `message_start` carries.

use super::super::ir::*;
use super::super::wire::{JsonMap, Obj};
use super::request::decode_inner;
use crate::error::GatewayError;

/// Tokens counted per image by `count_tokens`: Anthropic sizes images at about
/// width×height/750 tokens and scales large images down to ~1.15 megapixels, so ~1600 is the
/// cost of a typical screenshot and the upper bound.
pub const IMAGE_TOKENS: u64 = 1600;

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
