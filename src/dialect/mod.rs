//! The client and origin dialects: ONE internal representation (`ir`) with a decoder and an
//! encoder per dialect, instead of N×M converters, and everything else a dialect knows (its
//! error shapes, its in-band stream error, its same-dialect passthrough, its listings, its id
//! prefix and content type). Pure functions over `serde_json` values and bytes; no networking,
//! no Workers APIs, no clock except where noted (Ollama `created_at` and durations).
//!
//! Map of the layer (client side = what the gateway's callers speak, origin side = upstream).
//! Each dialect is a folder: `request.rs` (client decode + origin encode), `response.rs` (whole
//! answers and their usage), `stream.rs` (stream decoder and encoder), `passthrough.rs` (the
//! same-dialect stream), `error.rs` (HTTP error body and the one in-band stream error),
//! `models.rs` (listings).
//!
//! | dialect      | client request decoder                   | origin request encoder        | origin answer decoders                          | client answer encoders | passthrough |
//! |--------------|------------------------------------------|-------------------------------|-------------------------------------------------|------------------------|-------------|
//! | OpenAI chat  | `openai::decode_request`                 | `openai::encode_request`      | `openai::decode_response`, `openai::StreamDecoder` (SSE data) | `openai::encode_response`, `openai::StreamEncoder` | `openai::OpenAiSse` |
//! | Ollama       | `ollama::decode_chat_request`, `ollama::decode_generate_request` | `ollama::encode_chat_request` | `ollama::decode_chat_response`, `ollama::StreamDecoder` (NDJSON line) | `ollama::encode_chat_response`, `ollama::encode_generate_response`, `ollama::ChatStreamEncoder`, `ollama::GenerateStreamEncoder` | `ollama::OllamaNdjson` (model-operation progress: `stream::progress`) |
//! | Anthropic    | `anthropic::decode_request`, `anthropic::count_tokens` | `anthropic::encode_request` | `anthropic::decode_response`, `anthropic::StreamDecoder` (SSE data) | `anthropic::encode_response`, `anthropic::StreamEncoder` | `anthropic::AnthropicSse` (byte-identical) |
//! | Bedrock (origin only) | – | `bedrock::encode_request` (Converse) | `bedrock::decode_response`, `bedrock::StreamDecoder` (raw event-stream bytes) | – | – |
//! | Responses    | `responses::decode_request`              | –                             | –                                               | `responses::encode_response`, `responses::StreamEncoder` | – |
//!
//! The dispatch by operation and origin API is written once, here: `decode_request` (client
//! body -> IR), `encode_request` (IR -> origin body), `Decoder::for_api` and `decode_response`
//! (origin answers -> IR), `encoder_for` and `encode_response` (IR -> client answers),
//! `render_error` (a `GatewayError` -> the client's error), `content_type` (of a stream).
//!
//! Embeddings (`ollama`): `/api/embed` ↔ `/v1/embeddings` in both directions, and the legacy
//! `/api/embeddings` answer from `/v1/embeddings` (`embeddings_response_from_openai`).
//! Responses state (`store`, `item_reference`, `previous_response_id`) is resolved before the
//! Responses decoder runs, in `state::response_store`.
//! Responses custom and namespace tools (origin-safe names, mapped back) and reasoning
//! provenance: `responses::tools`. Ollama fill-in-the-middle (`suffix`, `raw`) to an OpenAI
//! node's `/v1/completions`: `ollama::fim`.
//!
//! A translated request flows: client body → `decode_request` → `ChatRequest` → origin
//! `encode_request(real_model)`; the answer flows: origin bytes → `Decoder::frame` → `Chunk`s →
//! client `StreamEncoder` (or `decode_response` → `ChatResponse` → `encode_response`).
//! Display names: client encoders take the name the client asked for; only origin request
//! encoders see the real model name.

pub mod anthropic;
pub mod bedrock;
pub mod chat_blocks;
pub mod decoder;
pub mod encoder;
pub mod ir;
pub mod ollama;
pub mod openai;
#[cfg(test)]
mod passthrough_tests;
pub mod responses;
pub(crate) mod sampling;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
pub(crate) mod wire;

pub use decoder::Decoder;
pub use encoder::StreamEncoder;
pub use ir::{ChatRequest, ChatResponse, Chunk, Effort, Family, ImageData, Message, Part, Reasoning, Role, Tool, ToolCall, ToolChoice};

use crate::error::GatewayError;
use crate::net::Reply;
use crate::origins::Api;
use crate::routes::Op;
use crate::stream::transform::Transform;
use crate::types::{Dialect, Usage};
use serde_json::{json, Map, Value};

// ---- client requests -> IR -> origin requests ----------------------------------------------

/// The client's body in the IR, by operation. Errors are the client's 400s.
pub fn decode_request(op: &Op, body: &Map<String, Value>) -> Result<ChatRequest, GatewayError> {
    match op {
        Op::OllamaChat => ollama::decode_chat_request(body),
        Op::OllamaGenerate => ollama::decode_generate_request(body),
        Op::ChatCompletions => openai::decode_request(body),
        Op::Messages => anthropic::decode_request(body),
        Op::Responses => responses::decode_request(body),
        _ => Err(GatewayError::bad_request("this endpoint cannot be translated")),
    }
}

/// The origin body for a chat API from the IR (`None`: the API takes no translated chat).
pub fn encode_request(api: Api, ir: &ChatRequest, real_model: &str) -> Option<Result<Value, GatewayError>> {
    Some(match api {
        Api::OpenAiChat => Ok(openai::encode_request(ir, real_model)),
        Api::OllamaChat => ollama::encode_chat_request(ir, real_model),
        Api::AnthropicMessages => Ok(anthropic::encode_request(ir, real_model)),
        // The model id goes in the URL, the stream flag in the operation (`origins::bedrock`).
        Api::BedrockConverse => bedrock::encode_request(ir, real_model).map_err(GatewayError::bad_request),
        _ => return None,
    })
}

// ---- origin answers -> IR -------------------------------------------------------------------

/// The same-dialect stream transform for an origin API (the client speaks it too).
/// `strip_usage`: the gateway asked an OpenAI origin for the usage chunk the client did not.
pub fn passthrough_for(api: Api, display: &str, strip_usage: bool) -> Box<dyn Transform> {
    passthrough_checked(api, display, strip_usage, Vec::new())
}

/// `passthrough_for`, and `required`: the request's tools that require arguments
/// (`stream::required_args`), checked on OpenAI chat streams (Cursor on an OpenAI-compatible node).
pub fn passthrough_checked(api: Api, display: &str, strip_usage: bool, required: Vec<String>) -> Box<dyn Transform> {
    match api {
        Api::OllamaChat | Api::OllamaGenerate => Box::new(ollama::OllamaNdjson::new(display)),
        Api::AnthropicMessages => Box::new(anthropic::AnthropicSse::new(display)),
        _ => Box::new(openai::OpenAiSse::new(display, strip_usage).with_required_args(required)),
    }
}

/// The usage of a whole same-dialect answer from its top-level fields (`field(key)`, read by a
/// byte scan, so the answer is never parsed whole). Prompt tokens include cache reads and
/// writes (what the origin processed), as on every leg.
pub fn answer_usage(api: Api, field: impl Fn(&str) -> Option<Value>) -> Option<Usage> {
    match api {
        Api::OllamaChat | Api::OllamaGenerate | Api::OllamaEmbed | Api::OllamaEmbeddings => {
            let mut counters = Map::new();
            for k in ["prompt_eval_count", "eval_count"] {
                if let Some(v) = field(k) {
                    counters.insert(k.into(), v);
                }
            }
            ollama::usage_of(&Value::Object(counters))
        }
        Api::AnthropicMessages => field("usage").and_then(|u| anthropic::usage_from(&u)),
        _ => field("usage").and_then(|u| openai::usage_from(&u)),
    }
}

/// A whole origin answer in the IR (`Err`: the origin's error message or why it is unreadable).
pub fn decode_response(api: Api, v: &Value) -> Result<ChatResponse, String> {
    match api {
        Api::OllamaChat | Api::OllamaGenerate => ollama::decode_chat_response(v),
        Api::AnthropicMessages => anthropic::decode_response(v),
        Api::BedrockConverse => bedrock::decode_response(v),
        _ => openai::decode_response(v),
    }
}

// ---- IR -> client answers -------------------------------------------------------------------

/// What a client answer encoder needs to know about the request it answers.
pub struct AnswerSpec<'a> {
    /// The model name the client asked for (never the real one).
    pub display: &'a str,
    /// The request id without `req_`; each dialect adds its own prefix (`<dialect>::ID_PREFIX`).
    pub id: &'a str,
    /// Unix seconds (`created`).
    pub created: i64,
    /// What had elapsed since the request arrived (Ollama's durations).
    pub elapsed_ms: u64,
    /// OpenAI: the client asked for the trailing usage chunk (`openai::include_usage`).
    pub include_usage: bool,
    /// Anthropic: `message_start`'s input tokens, before the origin reports any.
    pub input_estimate: u64,
    /// Responses: the request's fields echoed on the response object.
    pub responses_meta: Option<Map<String, Value>>,
    /// Responses: the request's tool map (custom and namespace tools, `responses::tools`).
    pub responses_tools: Option<responses::ToolMap>,
    /// Responses: the origin answering (`responses::tools::origin_tag`), put on reasoning items.
    pub origin_tag: Option<String>,
    /// Responses: the prompt tokens reported when the origin reports none (every Responses
    /// answer carries usage).
    pub prompt_estimate: u64,
}

/// The client's stream encoder for its operation. `on_done` (Responses only) receives the final
/// response object (to store it).
pub fn encoder_for(op: &Op, spec: AnswerSpec<'_>, on_done: Option<responses::OnDone>) -> Box<dyn StreamEncoder> {
    let id = spec.id;
    match op {
        Op::OllamaGenerate => Box::new(ollama::GenerateStreamEncoder::new(spec.display).with_elapsed_ms(spec.elapsed_ms)),
        Op::OllamaChat => Box::new(ollama::ChatStreamEncoder::new(spec.display).with_elapsed_ms(spec.elapsed_ms)),
        Op::Messages => Box::new(anthropic::StreamEncoder::new(spec.display, &format!("{}{id}", anthropic::ID_PREFIX), spec.input_estimate)),
        Op::Responses => {
            let mut e = responses::StreamEncoder::new(spec.display, &format!("{}{id}", responses::ID_PREFIX), spec.created)
                .with_tools(spec.responses_tools.unwrap_or_default())
                .with_prompt_estimate(spec.prompt_estimate);
            if let Some(tag) = spec.origin_tag {
                e = e.with_origin_tag(tag);
            }
            if let Some(meta) = spec.responses_meta {
                e = e.with_meta(meta);
            }
            if let Some(f) = on_done {
                e = e.on_done(f);
            }
            Box::new(e)
        }
        _ => Box::new(openai::StreamEncoder::new(spec.display, &format!("{}{id}", openai::ID_PREFIX), spec.created, spec.include_usage)),
    }
}

/// A whole client answer for its operation. Sets the answer's id the client sees (the origin's
/// for OpenAI chat when it gave one). `timing`: Ollama's durations.
pub fn encode_response(op: &Op, resp: &mut ChatResponse, spec: AnswerSpec<'_>, timing: &ollama::Timing) -> Value {
    let id = spec.id;
    match op {
        Op::OllamaChat => ollama::encode_chat_response_timed(resp, spec.display, &ollama::now_rfc3339(), timing),
        Op::OllamaGenerate => ollama::encode_generate_response_timed(resp, spec.display, &ollama::now_rfc3339(), timing),
        Op::Messages => {
            resp.id = format!("{}{id}", anthropic::ID_PREFIX);
            anthropic::encode_response(resp, spec.display)
        }
        Op::Responses => {
            resp.id = format!("{}{id}", responses::ID_PREFIX);
            // Codex reads the turn's token count from every response: never without usage.
            if resp.usage.is_none() {
                let chars = resp.text.len() + resp.reasoning.len() + resp.tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>();
                resp.usage = Some(Usage { prompt_tokens: spec.prompt_estimate, completion_tokens: crate::usage::estimate_tokens(chars), estimated: true, ..Default::default() });
            }
            let map = spec.responses_tools.unwrap_or_default();
            let mut out = responses::encode_response_with(resp, spec.display, spec.created, responses::ReasoningStyle::Summary, &map, spec.origin_tag.as_deref());
            if let (Some(meta), Some(o)) = (spec.responses_meta, out.as_object_mut()) {
                o.extend(meta);
            }
            out
        }
        _ => {
            if resp.id.is_empty() {
                resp.id = format!("{}{id}", openai::ID_PREFIX);
            }
            openai::encode_response(resp, spec.display, spec.created)
        }
    }
}

/// The content type of a streamed answer in a dialect.
pub fn content_type(d: Dialect) -> &'static str {
    match d {
        Dialect::Ollama => "application/x-ndjson",
        _ => "text/event-stream",
    }
}

// ---- errors ---------------------------------------------------------------------------------

/// Render an error in the client's own shape, with the headers that belong to it: the one
/// place a `GatewayError` becomes a response.
pub fn render_error(dialect: Dialect, err: &GatewayError) -> Reply {
    let body = match dialect {
        Dialect::Ollama => ollama::error_body(err),
        Dialect::OpenAi | Dialect::Responses => openai::error_body(err),
        Dialect::Anthropic => anthropic::error_body(err),
        Dialect::Admin => {
            let mut e = json!({ "message": err.message(), "type": err.reason() });
            if let Some(f) = err.field() {
                e["field"] = json!(f);
            }
            json!({ "error": e })
        }
    };
    let mut reply = Reply::json(err.status(), &body);
    match err {
        GatewayError::Unauthorized(_) => reply.set_header("www-authenticate", "Bearer"),
        GatewayError::MethodNotAllowed { allow } => reply.set_header("allow", allow.to_string()),
        GatewayError::RateLimited { retry_after, .. } | GatewayError::BudgetExceeded { retry_after, .. } => reply.set_header("retry-after", retry_after.to_string()),
        _ => {}
    }
    reply
}
