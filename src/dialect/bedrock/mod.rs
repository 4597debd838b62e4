//! Amazon Bedrock's Converse API as an origin dialect: IR -> `POST /model/{id}/converse(-stream)`
//! body, and its answers (a JSON document, or ConverseStream events) -> IR. Every client
//! dialect reaches a `bedrock` node through this (README "Amazon Bedrock").
//!
//! Mapping rules:
//! - leading system text -> `system: [{text}]`; a system message later in the conversation is
//!   appended to `system` (Converse has no system role inside `messages`);
//! - consecutive messages of one role are merged into one turn; tool results become
//!   `toolResult` blocks (first in the user turn that follows the call, one per call id,
//!   repeated results joined, `status: "error"` for failed calls); tool-call arguments become
//!   an `input` object (text that is not an object is kept under `_raw_arguments`); ids are
//!   mapped to `[A-Za-z0-9_-]{1,64}` consistently, as Bedrock requires;
//! - images -> `image {format, source.bytes}` (png, jpeg, gif, webp); image URLs cannot be sent
//!   (Converse takes bytes or S3 locations only): a clear 400;
//! - tools -> `toolConfig.tools[].toolSpec` with `inputSchema.json`; `tool_choice` auto /
//!   required / named -> `auto` / `any` / `tool`; `none` sends no tools (Converse has no "none")
//!   unless the conversation already holds tool blocks, which Bedrock only accepts with a
//!   `toolConfig` (then `auto`);
//! - `max_tokens`, `temperature` (capped at 1), `top_p`, `stop` -> `inferenceConfig`
//!   (`maxTokens`, `temperature`, `topP`, `stopSequences`; whitespace-only stops left out);
//! - reasoning controls -> `additionalModelRequestFields.thinking` for Anthropic Claude models
//!   only (by model id, inference profiles included), with the Anthropic leg's rules: a budget
//!   of at least 1024 below `maxTokens`, none in an open tool loop without signed reasoning or
//!   with a forced tool, and then no `temperature`/`topP`; other models get no reasoning field;
//! - dropped (no Converse counterpart): `seed`, penalties, `response_format`,
//!   `parallel_tool_calls`, unsigned reasoning from earlier turns, other dialects' extras.
//!
//! Answers: `text`, `reasoningContent` (as the client's reasoning), `toolUse` (as tool calls),
//! `stopReason` (`tool_use`, `max_tokens`, `stop_sequence`, `guardrail_intervened`,
//! `content_filtered`, `model_context_window_exceeded`), and `usage` with prompt tokens =
//! `inputTokens` + `cacheReadInputTokens` + `cacheWriteInputTokens` (what the model processed,
//! as on the Anthropic leg).
//!
//! Transport (endpoints, SigV4, error types, the event-stream framing) is `origins::bedrock`.

mod request;
mod response;
pub mod stream;
#[cfg(test)]
pub(crate) mod tests;

pub use request::{encode_request, is_claude};
pub use response::{decode_response, finish_from, usage_from};
pub use stream::StreamDecoder;
