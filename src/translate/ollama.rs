//! Ollama native API: `/api/chat` and `/api/generate` (client request decoders, origin
//! request encoder, origin answer decoders, client answer encoders) and `/api/embed` ↔
//! `/v1/embeddings` in both directions.
//!
//! Deliberate drops: Ollama `logprobs`/`top_logprobs`, `keep_alive` and non-IR `options`
//! only travel to an Ollama origin (`ChatRequest::extra`); towards an OpenAI origin they have
//! no counterpart. `tool_choice` has no Ollama counterpart: `none` is honoured by not sending
//! the tools, `required`/named cannot be enforced and are dropped (the model still sees the
//! tools). Prior reasoning in history is sent as `thinking` (Ollama accepts it).

use super::ir::*;
use super::openai;
use super::wire::{self, ndjson, write_json, JsonMap, Obj};
use super::StreamEncoder;
use crate::error::GatewayError;
use crate::types::{FinishReason, Usage};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

const CHAT_KNOWN: &[&str] = &["model", "messages", "tools", "format", "options", "stream"];
const GENERATE_KNOWN: &[&str] =
    &["model", "prompt", "suffix", "system", "template", "context", "stream", "raw", "format", "images", "options"];
/// `options` keys that have an IR slot; the rest stay in `extra["options"]`.
const OPTIONS_KNOWN: &[&str] =
    &["temperature", "top_p", "stop", "num_predict", "seed", "frequency_penalty", "presence_penalty"];

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
        return Err(
            o.err("template", "custom templates cannot be applied by this model's origin (it only speaks chat)")
        );
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
        Some(Value::Object(schema)) => {
            req.response_format =
                Some(json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}))
        }
        Some(_) => return Err(o.err("format", "must be \"json\" or a JSON schema object")),
    }
    // `think` also stays in `extra`, so an Ollama origin gets the client's exact value
    // (levels such as "max" that other dialects cannot express).
    match o.get("think") {
        None => {}
        Some(Value::Bool(b)) => req.reasoning = Some(Reasoning { enabled: *b, effort: None, budget_tokens: None }),
        Some(Value::String(s)) => {
            req.reasoning = Some(Reasoning { enabled: true, effort: Effort::parse(s), budget_tokens: None })
        }
        Some(_) => return Err(o.err("think", "must be a boolean or a level such as \"high\"")),
    }
    if let Some(opts) = o.obj("options")? {
        req.temperature = opts.f64("temperature")?;
        req.top_p = opts.f64("top_p")?;
        req.stop = opts.str_or_strs("stop")?;
        req.seed = opts.i64("seed")?;
        req.frequency_penalty = opts.f64("frequency_penalty")?;
        req.presence_penalty = opts.f64("presence_penalty")?;
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
                req.messages.push(Message {
                    role: Role::Tool,
                    parts: vec![Part::ToolResult { call_id, content: content.to_string(), is_error: false }],
                });
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
    if let Some(n) = req.max_tokens {
        options.insert("num_predict".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        options.insert("temperature".into(), json!(t));
    }
    if let Some(t) = req.top_p {
        options.insert("top_p".into(), json!(t));
    }
    if !req.stop.is_empty() {
        options.insert("stop".into(), json!(req.stop));
    }
    if let Some(s) = req.seed {
        options.insert("seed".into(), json!(s));
    }
    if let Some(p) = req.frequency_penalty {
        options.insert("frequency_penalty".into(), json!(p));
    }
    if let Some(p) = req.presence_penalty {
        options.insert("presence_penalty".into(), json!(p));
    }
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
                Part::Image { data: ImageData::Url(_), .. } => {
                    return Err(GatewayError::bad_request(
                        "this model's origin (Ollama) only accepts images as base64 data, not URLs",
                    ))
                }
                Part::ToolCall { id, name, arguments } => {
                    names.push((id.as_str(), name.as_str()));
                    calls
                        .push(json!({"id": id, "function": {"name": name, "arguments": wire::args_object(arguments)}}));
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
        if m.role == Role::User
            && text.is_empty()
            && images.is_empty()
            && m.parts.iter().all(|p| matches!(p, Part::ToolResult { .. }))
        {
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

// ============================================================================================
// Origin answer -> IR
// ============================================================================================

fn finish_from(done_reason: Option<&str>, had_tools: bool) -> FinishReason {
    match done_reason {
        Some("length") => FinishReason::Length,
        _ if had_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

fn usage_from(prompt: Option<u64>, eval: Option<u64>) -> Option<Usage> {
    // Ollama omits a zero count (`omitempty`), so one present count means the other is 0.
    if prompt.is_none() && eval.is_none() {
        return None;
    }
    Some(Usage { prompt_tokens: prompt.unwrap_or(0), completion_tokens: eval.unwrap_or(0), estimated: false, ..Default::default() })
}

fn args_from(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// A non-streamed `/api/chat` (or `/api/generate`: `response`) answer.
pub fn decode_chat_response(v: &Value) -> Result<ChatResponse, String> {
    let m = v.as_object().ok_or("origin answer is not a JSON object")?;
    if let Some(e) = m.get("error").filter(|e| !e.is_null()) {
        return Err(wire::error_message(e));
    }
    let mut r = ChatResponse::default();
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(msg) = m.get("message") {
        r.text = s(msg.get("content"));
        r.reasoning = s(msg.get("thinking"));
        for c in msg.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let f = c.get("function");
            r.tool_calls.push(ToolCall {
                id: s(c.get("id")),
                name: s(f.and_then(|f| f.get("name"))),
                arguments: args_from(f.and_then(|f| f.get("arguments"))),
            });
        }
    } else {
        r.text = s(m.get("response"));
        r.reasoning = s(m.get("thinking"));
    }
    r.finish = finish_from(m.get("done_reason").and_then(Value::as_str), !r.tool_calls.is_empty());
    r.usage =
        usage_from(m.get("prompt_eval_count").and_then(Value::as_u64), m.get("eval_count").and_then(Value::as_u64));
    Ok(r)
}

#[derive(Deserialize)]
struct OLine<'a> {
    #[serde(default, borrow)]
    message: Option<OMessage<'a>>,
    #[serde(default, borrow)]
    response: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default)]
    done: bool,
    #[serde(default, borrow)]
    done_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct OMessage<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
}

/// Stateful decoder for an Ollama NDJSON stream (`/api/chat` or `/api/generate`): feed one
/// line at a time. Tool calls arrive whole and become `ToolCallStart` + one `ToolCallArgs`
/// with the full JSON arguments; the `done: true` line yields `Finish` (+ `Usage` when the
/// counts are present).
#[derive(Default)]
pub struct StreamDecoder {
    tools: usize,
    finished: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn frame(&mut self, line: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let l: OLine = serde_json::from_slice(line).map_err(|e| format!("malformed stream line from origin: {e}"))?;
        if let Some(e) = l.error.as_ref().filter(|e| !e.is_null()) {
            return Err(wire::error_message(e));
        }
        let (thinking, text) = match &l.message {
            Some(m) => (m.thinking.as_deref(), m.content.as_deref()),
            None => (l.thinking.as_deref(), l.response.as_deref()),
        };
        if let Some(t) = thinking.filter(|t| !t.is_empty()) {
            out.push(Chunk::Reasoning(t.to_string()));
        }
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            out.push(Chunk::Text(t.to_string()));
        }
        if let Some(calls) = l.message.as_ref().and_then(|m| m.tool_calls.as_ref()) {
            for c in calls {
                let f = c.get("function");
                let index = self.tools;
                self.tools += 1;
                out.push(Chunk::ToolCallStart {
                    index,
                    id: c.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
                    name: f.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or("").to_string(),
                });
                let args = args_from(f.and_then(|f| f.get("arguments")));
                if !args.is_empty() {
                    out.push(Chunk::ToolCallArgs { index, delta: args });
                }
            }
        }
        if l.done && !self.finished {
            self.finished = true;
            out.push(Chunk::Finish(finish_from(l.done_reason.as_deref(), self.tools > 0)));
            if let Some(u) = usage_from(l.prompt_eval_count, l.eval_count) {
                out.push(Chunk::Usage(u));
            }
        }
        Ok(())
    }
}

// ============================================================================================
// IR -> client answer
// ============================================================================================

fn done_reason(f: FinishReason) -> &'static str {
    // Ollama knows `stop` and `length`; a tool-calling turn is `stop` there.
    match f {
        FinishReason::Length => "length",
        _ => "stop",
    }
}

/// Durations of a translated answer in nanoseconds, as the gateway measured them (the origin
/// reports none): `total` from the request's arrival, `prompt_eval` until the first output,
/// `eval` the rest; a chat origin's load time is unknown and reported as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    pub total_ns: u64,
    pub load_ns: u64,
    pub prompt_eval_ns: u64,
    pub eval_ns: u64,
}

impl Timing {
    /// From the time to the first output and the total, in milliseconds. The evaluation
    /// durations are never 0 (clients divide token counts by them).
    pub fn from_ms(first_ms: u64, total_ms: u64) -> Timing {
        let first = first_ms.min(total_ms);
        let prompt_eval_ns = (first * 1_000_000).max(1);
        let eval_ns = ((total_ms - first) * 1_000_000).max(1);
        Timing { total_ns: (total_ms * 1_000_000).max(prompt_eval_ns + eval_ns), load_ns: 0, prompt_eval_ns, eval_ns }
    }
}

/// Every metric Ollama's final answers carry, always present (clients such as
/// ollama-ai-provider-v2 require them): counts from the origin's usage, 0 when it reported none.
fn put_metrics(m: &mut Map<String, Value>, u: Option<&Usage>, t: &Timing) {
    let (p, c) = u.map_or((0, 0), |u| (u.prompt_tokens, u.completion_tokens));
    m.insert("total_duration".into(), json!(t.total_ns));
    m.insert("load_duration".into(), json!(t.load_ns));
    m.insert("prompt_eval_count".into(), json!(p));
    m.insert("prompt_eval_duration".into(), json!(t.prompt_eval_ns));
    m.insert("eval_count".into(), json!(c));
    m.insert("eval_duration".into(), json!(t.eval_ns));
}

fn tool_calls_json<'a>(calls: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Value {
    Value::Array(
        calls
            .enumerate()
            .map(|(i, (id, name, args))| {
                let mut c = Map::new();
                if !id.is_empty() {
                    c.insert("id".into(), json!(id));
                }
                c.insert("function".into(), json!({"index": i, "name": name, "arguments": wire::args_object(args)}));
                Value::Object(c)
            })
            .collect(),
    )
}

/// A non-streamed `/api/chat` answer with zero durations (see `encode_chat_response_timed`).
pub fn encode_chat_response(resp: &ChatResponse, display: &str, created_at: &str) -> Value {
    encode_chat_response_timed(resp, display, created_at, &Timing::default())
}

/// A non-streamed `/api/chat` answer with every field Ollama's carries (`put_metrics`).
pub fn encode_chat_response_timed(resp: &ChatResponse, display: &str, created_at: &str, t: &Timing) -> Value {
    let mut msg = Map::new();
    msg.insert("role".into(), json!("assistant"));
    msg.insert("content".into(), json!(resp.text));
    if !resp.reasoning.is_empty() {
        msg.insert("thinking".into(), json!(resp.reasoning));
    }
    if !resp.tool_calls.is_empty() {
        msg.insert(
            "tool_calls".into(),
            tool_calls_json(resp.tool_calls.iter().map(|t| (t.id.as_str(), t.name.as_str(), t.arguments.as_str()))),
        );
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(display));
    out.insert("created_at".into(), json!(created_at));
    out.insert("message".into(), Value::Object(msg));
    out.insert("done".into(), json!(true));
    out.insert("done_reason".into(), json!(done_reason(resp.finish)));
    put_metrics(&mut out, resp.usage.as_ref(), t);
    Value::Object(out)
}

pub fn encode_generate_response(resp: &ChatResponse, display: &str, created_at: &str) -> Value {
    encode_generate_response_timed(resp, display, created_at, &Timing::default())
}

/// A non-streamed `/api/generate` answer. `context` (Ollama token ids) cannot be produced for
/// a chat origin and is omitted (Ollama omits it too when empty); tool calls do not exist on
/// /api/generate.
pub fn encode_generate_response_timed(resp: &ChatResponse, display: &str, created_at: &str, t: &Timing) -> Value {
    let mut out = Map::new();
    out.insert("model".into(), json!(display));
    out.insert("created_at".into(), json!(created_at));
    out.insert("response".into(), json!(resp.text));
    if !resp.reasoning.is_empty() {
        out.insert("thinking".into(), json!(resp.reasoning));
    }
    out.insert("done".into(), json!(true));
    out.insert("done_reason".into(), json!(done_reason(resp.finish)));
    put_metrics(&mut out, resp.usage.as_ref(), t);
    Value::Object(out)
}

/// The current time as Ollama writes `created_at` (RFC 3339, nanoseconds, UTC).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// NDJSON encoder for Ollama clients; `GENERATE` selects the `/api/generate` line shape
/// (`response`) over the `/api/chat` one (`message`). Use the aliases below.
pub struct NdjsonStreamEncoder<const GENERATE: bool> {
    display: String,
    created_at: String,
    /// `{"model":…,"created_at":…,`
    head: Vec<u8>,
    tools: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    done: bool,
    /// Wall clock (ms) at construction and at the first output; `before_ms` is what had
    /// elapsed since the request arrived when the encoder was made.
    t0_ms: i64,
    first_ms: Option<i64>,
    before_ms: u64,
}

fn wall_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub type ChatStreamEncoder = NdjsonStreamEncoder<false>;
pub type GenerateStreamEncoder = NdjsonStreamEncoder<true>;

impl<const GENERATE: bool> NdjsonStreamEncoder<GENERATE> {
    /// Lines carry the time of construction as `created_at`; see `set_created_at`.
    pub fn new(display: &str) -> Self {
        let mut e = NdjsonStreamEncoder {
            display: display.to_string(),
            created_at: String::new(),
            head: Vec::new(),
            tools: Vec::new(),
            finish: None,
            usage: None,
            done: false,
            t0_ms: wall_ms(),
            first_ms: None,
            before_ms: 0,
        };
        e.set_created_at(&now_rfc3339());
        e
    }

    /// Count this much time (since the request arrived) into the reported durations.
    pub fn with_elapsed_ms(mut self, ms: u64) -> Self {
        self.before_ms = ms;
        self
    }

    fn timing(&self) -> Timing {
        let now = wall_ms();
        let since = |t: i64| (t - self.t0_ms).max(0) as u64;
        let total = self.before_ms + since(now);
        let first = self.first_ms.map_or(total, |f| self.before_ms + since(f));
        Timing::from_ms(first, total)
    }

    /// Stamp following lines with this time (callers may refresh it per chunk; tests pin it).
    pub fn set_created_at(&mut self, created_at: &str) {
        self.created_at = created_at.to_string();
        self.head.clear();
        self.head.extend_from_slice(b"{\"model\":");
        write_json(&mut self.head, &self.display);
        self.head.extend_from_slice(b",\"created_at\":");
        write_json(&mut self.head, &self.created_at);
        self.head.push(b',');
    }

    fn line(&self, out: &mut Vec<u8>, content: &str, thinking: Option<&str>) {
        out.extend_from_slice(&self.head);
        if GENERATE {
            out.extend_from_slice(b"\"response\":");
            write_json(out, content);
            if let Some(t) = thinking {
                out.extend_from_slice(b",\"thinking\":");
                write_json(out, t);
            }
        } else {
            out.extend_from_slice(b"\"message\":{\"role\":\"assistant\",\"content\":");
            write_json(out, content);
            if let Some(t) = thinking {
                out.extend_from_slice(b",\"thinking\":");
                write_json(out, t);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b",\"done\":false}\n");
    }
}

impl<const GENERATE: bool> StreamEncoder for NdjsonStreamEncoder<GENERATE> {
    fn start(&mut self, _out: &mut Vec<u8>) {}

    fn chunk(&mut self, c: &Chunk, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if self.first_ms.is_none() && matches!(c, Chunk::Text(_) | Chunk::Reasoning(_) | Chunk::ToolCallStart { .. }) {
            self.first_ms = Some(wall_ms());
        }
        match c {
            Chunk::Text(t) => self.line(out, t, None),
            Chunk::Reasoning(t) => self.line(out, "", Some(t)),
            // Ollama sends tool calls whole: collected and written before the done line.
            // (/api/generate has no tool calls; its requests carry no tools.)
            Chunk::ToolCallStart { index, id, name } => {
                if self.tools.len() <= *index {
                    self.tools.resize_with(index + 1, Default::default);
                }
                self.tools[*index].0 = id.clone();
                self.tools[*index].1 = name.clone();
            }
            Chunk::ToolCallArgs { index, delta } => {
                if self.tools.len() <= *index {
                    self.tools.resize_with(index + 1, Default::default);
                }
                self.tools[*index].2.push_str(delta);
            }
            Chunk::Finish(f) => self.finish = Some(*f),
            Chunk::Usage(u) => self.usage = Some(*u),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        if !GENERATE && !self.tools.is_empty() {
            let mut l = Map::new();
            l.insert("model".into(), json!(self.display));
            l.insert("created_at".into(), json!(self.created_at));
            l.insert(
                "message".into(),
                json!({"role": "assistant", "content": "",
                       "tool_calls": tool_calls_json(self.tools.iter().map(|(i, n, a)| (i.as_str(), n.as_str(), a.as_str())))}),
            );
            l.insert("done".into(), json!(false));
            ndjson(out, &Value::Object(l));
        }
        let mut l = Map::new();
        l.insert("model".into(), json!(self.display));
        l.insert("created_at".into(), json!(self.created_at));
        if GENERATE {
            l.insert("response".into(), json!(""));
        } else {
            l.insert("message".into(), json!({"role": "assistant", "content": ""}));
        }
        l.insert("done".into(), json!(true));
        l.insert("done_reason".into(), json!(done_reason(self.finish.unwrap_or(FinishReason::Stop))));
        let t = self.timing();
        put_metrics(&mut l, self.usage.as_ref(), &t);
        ndjson(out, &Value::Object(l));
    }

    fn error(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        ndjson(out, &json!({"error": message}));
    }
}

// ============================================================================================
// Embeddings: /api/embed <-> /v1/embeddings
// ============================================================================================

fn embed_inputs(o: &Obj) -> Result<Value, GatewayError> {
    match o.get("input") {
        Some(Value::String(s)) => Ok(json!(s)),
        Some(Value::Array(a)) => {
            for (i, v) in a.iter().enumerate() {
                if !v.is_string() {
                    return Err(wire::bad(
                        o.item_path("input", i),
                        "must be a string (token arrays are not supported)",
                    ));
                }
            }
            Ok(Value::Array(a.clone()))
        }
        None => Err(o.err("input", "is required")),
        Some(_) => Err(o.err("input", "must be a string or an array of strings")),
    }
}

/// Ollama `/api/embed` client body -> OpenAI `/v1/embeddings` origin body. `truncate`,
/// `options` and `keep_alive` have no OpenAI counterpart and are dropped (an OpenAI origin
/// rejects over-long input instead of truncating it).
pub fn embed_request_to_openai(body: &JsonMap, real_model: &str) -> Result<Value, GatewayError> {
    let o = Obj::root(body);
    o.req_str("model")?;
    // The legacy `/api/embeddings` names its single input `prompt`.
    let input = match (o.get("input"), o.str("prompt")?) {
        (None, Some(p)) => json!(p),
        _ => embed_inputs(&o)?,
    };
    let mut out = json!({"model": real_model, "input": input, "encoding_format": "float"});
    if let Some(d) = o.u64("dimensions")? {
        out["dimensions"] = json!(d);
    }
    Ok(out)
}

/// OpenAI `/v1/embeddings` origin answer -> Ollama `/api/embed` client answer.
pub fn embed_response_from_openai(v: &Value, display: &str) -> Result<Value, String> {
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        return Err(wire::error_message(e));
    }
    let data = v.get("data").and_then(Value::as_array).ok_or("origin embeddings answer has no `data`")?;
    let mut rows: Vec<(u64, &Value)> =
        data.iter().enumerate().map(|(i, d)| (d.get("index").and_then(Value::as_u64).unwrap_or(i as u64), d)).collect();
    rows.sort_by_key(|(i, _)| *i);
    let mut embeddings = Vec::with_capacity(rows.len());
    for (_, d) in rows {
        match d.get("embedding") {
            Some(e @ Value::Array(_)) => embeddings.push(e.clone()),
            _ => return Err("origin embedding is not a float array".into()),
        }
    }
    // Every field Ollama's answer carries; `total_duration` is set by the caller, who measured it.
    let prompt = v.get("usage").and_then(|u| u.get("prompt_tokens")).and_then(Value::as_u64).unwrap_or(0);
    Ok(json!({"model": display, "embeddings": embeddings, "total_duration": 0, "load_duration": 0, "prompt_eval_count": prompt}))
}

/// The legacy `/api/embeddings` answer (`{"embedding": [...]}`, all Ollama sends there) from
/// an OpenAI `/v1/embeddings` answer.
pub fn embeddings_response_from_openai(v: &Value) -> Result<Value, String> {
    let e = embed_response_from_openai(v, "")?;
    let first = e["embeddings"].as_array().and_then(|a| a.first()).cloned().ok_or("origin embeddings answer is empty")?;
    Ok(json!({"embedding": first}))
}

/// OpenAI `/v1/embeddings` client body -> Ollama `/api/embed` origin body. OpenAI never
/// truncates silently, so neither does the translated request (`truncate: false`). Returns
/// the body and whether the client asked for base64 output (pass it to
/// `embed_response_to_openai`).
pub fn openai_embeddings_to_embed_request(body: &JsonMap, real_model: &str) -> Result<(Value, bool), GatewayError> {
    let o = Obj::root(body);
    o.req_str("model")?;
    let base64 = match o.str("encoding_format")? {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => return Err(o.err("encoding_format", "must be float or base64")),
    };
    let mut out = json!({"model": real_model, "input": embed_inputs(&o)?, "truncate": false});
    if let Some(d) = o.u64("dimensions")? {
        out["dimensions"] = json!(d);
    }
    Ok((out, base64))
}

/// Ollama `/api/embed` origin answer -> OpenAI `/v1/embeddings` client answer. `usage` only
/// when Ollama reported `prompt_eval_count`. With `base64`, each vector is little-endian f32
/// bytes in base64, as OpenAI sends it.
pub fn embed_response_to_openai(v: &Value, display: &str, base64: bool) -> Result<Value, String> {
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        return Err(wire::error_message(e));
    }
    let embs = v.get("embeddings").and_then(Value::as_array).ok_or("origin embed answer has no `embeddings`")?;
    let mut data = Vec::with_capacity(embs.len());
    for (i, e) in embs.iter().enumerate() {
        let arr = e.as_array().ok_or("origin embedding is not a float array")?;
        let embedding = if base64 {
            let mut bytes = Vec::with_capacity(arr.len() * 4);
            for x in arr {
                let f = x.as_f64().ok_or("origin embedding is not a float array")? as f32;
                bytes.extend_from_slice(&f.to_le_bytes());
            }
            json!(base64::engine::general_purpose::STANDARD.encode(bytes))
        } else {
            e.clone()
        };
        data.push(json!({"object": "embedding", "index": i, "embedding": embedding}));
    }
    let mut out = json!({"object": "list", "data": data, "model": display});
    if let Some(p) = v.get("prompt_eval_count").and_then(Value::as_u64) {
        out["usage"] = json!({"prompt_tokens": p, "total_tokens": p});
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::translate::test_support::obj;

    fn lines(bytes: &[u8]) -> Vec<Value> {
        std::str::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn ollama_chat() -> Value {
        json!({
            "model": "llava-display",
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "look", "images": ["iVBORw0KGgoAAA", "data:image/webp;base64,UklGRxx"]},
                {"role": "assistant", "content": "", "thinking": "hmm",
                 "tool_calls": [{"function": {"name": "weather", "arguments": {"city": "Paris"}}},
                                {"function": {"name": "time", "arguments": {}}}]},
                {"role": "tool", "tool_name": "time", "content": "12:00"},
                {"role": "tool", "tool_name": "weather", "content": "sunny"},
                {"role": "user", "content": "thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
            "think": "high",
            "format": {"type": "object"},
            "options": {"temperature": 0.1, "num_ctx": 8192, "num_predict": 256, "stop": ["x"], "top_k": 20},
            "keep_alive": -1
        })
    }

    #[test]
    fn decodes_chat_with_images_tools_and_options() {
        let r = decode_chat_request(&obj(ollama_chat())).unwrap();
        assert!(r.stream, "Ollama streams by default");
        assert_eq!(r.system, vec!["sys"]);
        assert_eq!(
            r.messages[0].parts[1],
            Part::Image { media_type: None, data: ImageData::Base64("iVBORw0KGgoAAA".into()) }
        );
        assert_eq!(
            r.messages[0].parts[2],
            Part::Image { media_type: Some("image/webp".into()), data: ImageData::Base64("UklGRxx".into()) }
        );
        assert_eq!(r.messages[1].parts[0], Part::Thinking { text: "hmm".into(), signature: None });
        assert_eq!(
            r.messages[1].parts[1],
            Part::ToolCall { id: "call_0".into(), name: "weather".into(), arguments: "{\"city\":\"Paris\"}".into() }
        );
        // Results matched by tool name, not by position.
        assert_eq!(
            r.messages[2].parts[0],
            Part::ToolResult { call_id: "call_1".into(), content: "12:00".into(), is_error: false }
        );
        assert_eq!(
            r.messages[3].parts[0],
            Part::ToolResult { call_id: "call_0".into(), content: "sunny".into(), is_error: false }
        );
        assert_eq!(r.reasoning, Some(Reasoning { enabled: true, effort: Some(Effort::High), budget_tokens: None }));
        assert_eq!(r.response_format.as_ref().unwrap()["json_schema"]["schema"], json!({"type": "object"}));
        assert_eq!(r.max_tokens, Some(256));
        assert_eq!(r.temperature, Some(0.1));
        assert_eq!(r.extra["options"], json!({"num_ctx": 8192, "top_k": 20}));
        assert_eq!(r.extra["keep_alive"], json!(-1));
        assert_eq!(r.extra["think"], json!("high"));
    }

    #[test]
    fn ollama_round_trip_keeps_native_fields() {
        let r = decode_chat_request(&obj(ollama_chat())).unwrap();
        let b = encode_chat_request(&r, "llava:13b").unwrap();
        assert_eq!(b["model"], "llava:13b");
        assert_eq!(b["think"], "high", "same family keeps the exact level");
        assert_eq!(b["keep_alive"], -1);
        assert_eq!(b["format"], json!({"type": "object"}));
        assert_eq!(
            b["options"],
            json!({"num_ctx": 8192, "top_k": 20, "num_predict": 256, "temperature": 0.1, "stop": ["x"]})
        );
        let m = b["messages"].as_array().unwrap();
        assert_eq!(m[0], json!({"role": "system", "content": "sys"}));
        assert_eq!(m[1]["images"], json!(["iVBORw0KGgoAAA", "UklGRxx"]));
        assert_eq!(m[2]["thinking"], "hmm");
        assert_eq!(m[2]["tool_calls"][0]["function"]["arguments"], json!({"city": "Paris"}));
        assert_eq!(m[3], json!({"role": "tool", "content": "12:00", "tool_name": "time", "tool_call_id": "call_1"}));
        assert_eq!(m[4]["tool_name"], "weather");
        assert_eq!(m[5], json!({"role": "user", "content": "thanks"}));
    }

    #[test]
    fn openai_client_to_ollama_origin() {
        let r = openai::decode_request(&obj(json!({
            "model": "m", "stream": true, "user": "u",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
                {"role": "assistant", "tool_calls": [{"id": "c9", "type": "function", "function": {"name": "f", "arguments": "not json"}}]},
                {"role": "tool", "tool_call_id": "c9", "content": "r"}
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": "none",
            "reasoning_effort": "medium",
            "response_format": {"type": "json_object"},
            "max_tokens": 99
        })))
        .unwrap();
        let b = encode_chat_request(&r, "qwen3:32b").unwrap();
        assert!(b.get("user").is_none(), "OpenAI extras do not leak into Ollama");
        assert!(b.get("tools").is_none(), "tool_choice none: tools withheld");
        assert_eq!(b["think"], true, "levels are not portable to non-gpt-oss models");
        assert_eq!(b["format"], "json");
        assert_eq!(b["options"], json!({"num_predict": 99}));
        let m = b["messages"].as_array().unwrap();
        assert_eq!(m[0], json!({"role": "user", "content": "see", "images": ["iVBOR"]}));
        assert_eq!(m[1]["tool_calls"][0]["function"]["arguments"], json!({"_raw_arguments": "not json"}));
        assert_eq!(m[2]["tool_name"], "f");

        let mut r = r;
        r.messages.push(Message {
            role: Role::User,
            parts: vec![Part::Image { media_type: None, data: ImageData::Url("https://x/y.png".into()) }],
        });
        let e = encode_chat_request(&r, "m").unwrap_err();
        assert_eq!(e.status(), 400);
        r.reasoning = Some(Reasoning { enabled: false, effort: None, budget_tokens: None });
        r.messages.pop();
        assert_eq!(encode_chat_request(&r, "m").unwrap()["think"], false);
    }

    #[test]
    fn generate_becomes_one_turn_chat() {
        let r = decode_generate_request(&obj(json!({
            "model": "m", "prompt": "why?", "system": "be short", "images": ["/9j/abc"], "stream": false,
            "options": {"num_predict": -1}, "suffix": ""
        })))
        .unwrap();
        assert!(!r.stream);
        assert_eq!(r.system, vec!["be short"]);
        assert_eq!(r.messages.len(), 1);
        assert_eq!(r.messages[0].parts[0], Part::Text("why?".into()));
        assert_eq!(r.max_tokens, None);
        assert_eq!(r.extra["options"], json!({"num_predict": -1}));
        let b = openai::encode_request(&r, "gpt");
        assert_eq!(b["messages"][1]["content"][1]["image_url"]["url"], "data:image/jpeg;base64,/9j/abc");
        for (body, field) in [
            (json!({"model": "m", "prompt": "x", "raw": true}), "raw"),
            (json!({"model": "m", "prompt": "x", "template": "{{ .Prompt }}"}), "template"),
            (json!({"model": "m", "prompt": "x", "context": [1, 2]}), "context"),
            (json!({"model": "m", "prompt": "x", "suffix": "}"}), "suffix"),
            (json!({"model": "m", "prompt": 5}), "prompt"),
            (json!({"model": "m", "images": [1]}), "images[0]"),
            (json!({"model": "m", "format": 3}), "format"),
            (json!({"model": "m", "think": 3}), "think"),
            (json!({"model": "m", "options": {"temperature": "x"}}), "options.temperature"),
        ] {
            assert_eq!(decode_generate_request(&obj(body)).unwrap_err().field(), Some(field));
        }
        assert_eq!(
            decode_chat_request(&obj(json!({"model": "m", "messages": [{"role": "bot"}]}))).unwrap_err().field(),
            Some("messages[0].role")
        );
        assert_eq!(
            decode_chat_request(&obj(
                json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]})
            ))
            .unwrap_err()
            .field(),
            Some("messages[0].tool_calls[0].function.name")
        );
    }

    #[test]
    fn decodes_origin_answers() {
        let r = decode_chat_response(&json!({
            "model": "x", "message": {"role": "assistant", "content": "", "thinking": "t",
            "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
            "done": true, "done_reason": "stop", "prompt_eval_count": 7, "eval_count": 3
        }))
        .unwrap();
        assert_eq!(r.reasoning, "t");
        assert_eq!(r.tool_calls[0].arguments, "{\"a\":1}");
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(r.usage, Some(Usage { prompt_tokens: 7, completion_tokens: 3, estimated: false, ..Default::default() }));
        let r = decode_chat_response(&json!({"response": "gen", "done": true, "done_reason": "length"})).unwrap();
        assert_eq!(r.text, "gen");
        assert_eq!(r.finish, FinishReason::Length);
        assert_eq!(r.usage, None);
        assert_eq!(decode_chat_response(&json!({"error": "model not found"})).unwrap_err(), "model not found");
    }

    #[test]
    fn stream_decoder_handles_thinking_tools_and_done() {
        let mut d = StreamDecoder::new();
        let mut out = Vec::new();
        for l in [
            r#"{"model":"m","created_at":"t","message":{"role":"assistant","content":"","thinking":"th"},"done":false}"#,
            r#"{"model":"m","created_at":"t","message":{"role":"assistant","content":"Hi"},"done":false}"#,
            "",
            r#"{"model":"m","created_at":"t","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_x","function":{"name":"a","arguments":{"p":1}}},{"function":{"name":"b","arguments":{}}}]},"done":false}"#,
            r#"{"model":"m","created_at":"t","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":10,"eval_count":4}"#,
        ] {
            d.frame(l.as_bytes(), &mut out).unwrap();
        }
        assert_eq!(
            out,
            vec![
                Chunk::Reasoning("th".into()),
                Chunk::Text("Hi".into()),
                Chunk::ToolCallStart { index: 0, id: "call_x".into(), name: "a".into() },
                Chunk::ToolCallArgs { index: 0, delta: "{\"p\":1}".into() },
                Chunk::ToolCallStart { index: 1, id: "".into(), name: "b".into() },
                Chunk::ToolCallArgs { index: 1, delta: "{}".into() },
                Chunk::Finish(FinishReason::ToolCalls),
                Chunk::Usage(Usage { prompt_tokens: 10, completion_tokens: 4, estimated: false, ..Default::default() }),
            ]
        );
        let mut d = StreamDecoder::new();
        let mut out = Vec::new();
        d.frame(br#"{"response":"g","thinking":"r","done":false}"#, &mut out).unwrap();
        d.frame(br#"{"response":"","done":true,"done_reason":"length"}"#, &mut out).unwrap();
        assert_eq!(
            out,
            vec![Chunk::Reasoning("r".into()), Chunk::Text("g".into()), Chunk::Finish(FinishReason::Length)]
        );
        assert_eq!(d.frame(br#"{"error":"out of memory"}"#, &mut out).unwrap_err(), "out of memory");
        assert!(d.frame(b"garbage", &mut out).is_err());
    }

    #[test]
    fn encodes_client_answers() {
        let resp = ChatResponse {
            id: String::new(),
            text: "hi".into(),
            reasoning: "r".into(),
            tool_calls: vec![ToolCall { id: "c".into(), name: "f".into(), arguments: "{\"a\":1}".into() }],
            finish: FinishReason::ToolCalls,
            usage: Some(Usage { prompt_tokens: 1, completion_tokens: 2, estimated: false, ..Default::default() }),
        };
        let v = encode_chat_response(&resp, "disp", "2025-01-01T00:00:00Z");
        assert_eq!(v["model"], "disp");
        assert_eq!(
            v["message"]["tool_calls"][0],
            json!({"id": "c", "function": {"index": 0, "name": "f", "arguments": {"a": 1}}})
        );
        assert_eq!(v["message"]["thinking"], "r");
        assert_eq!(v["done_reason"], "stop");
        assert_eq!(v["eval_count"], 2);
        let v =
            encode_generate_response(&ChatResponse { usage: None, finish: FinishReason::Length, ..resp }, "disp", "t");
        assert_eq!(v["response"], "hi");
        assert_eq!(v["done_reason"], "length");
        // Every metric Ollama sends is present, 0 when the origin reported nothing.
        for k in METRICS {
            assert!(v[k].is_u64(), "{k} in {v}");
        }
        assert_eq!(v["eval_count"], 0);
        assert!(v.get("context").is_none());
        let t = Timing::from_ms(40, 100);
        let v = encode_chat_response_timed(&ChatResponse::default(), "d", "t", &t);
        assert_eq!((v["total_duration"].as_u64(), v["prompt_eval_duration"].as_u64(), v["eval_duration"].as_u64()), (Some(100_000_000), Some(40_000_000), Some(60_000_000)));
        assert_eq!(v["load_duration"], 0);
        let z = Timing::from_ms(5, 5);
        assert!(z.eval_ns >= 1 && z.prompt_eval_ns >= 1 && z.total_ns >= z.eval_ns + z.prompt_eval_ns, "never a zero rate divisor");
    }

    const METRICS: [&str; 6] = ["total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"];

    #[test]
    fn chat_stream_encoder_lines() {
        let mut e = ChatStreamEncoder::new("disp");
        e.set_created_at("2025-01-01T00:00:00Z");
        let mut out = Vec::new();
        e.start(&mut out);
        for c in [
            Chunk::Reasoning("th".into()),
            Chunk::Text("Hello".into()),
            Chunk::ToolCallStart { index: 0, id: "".into(), name: "f".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"a\":".into() },
            Chunk::ToolCallArgs { index: 0, delta: "2}".into() },
            Chunk::Finish(FinishReason::ToolCalls),
            Chunk::Usage(Usage { prompt_tokens: 3, completion_tokens: 4, estimated: false, ..Default::default() }),
        ] {
            e.chunk(&c, &mut out);
        }
        e.finish(&mut out);
        let l = lines(&out);
        assert_eq!(l.len(), 4);
        assert_eq!(
            l[0],
            json!({"model": "disp", "created_at": "2025-01-01T00:00:00Z", "message": {"role": "assistant", "content": "", "thinking": "th"}, "done": false})
        );
        assert_eq!(l[1]["message"]["content"], "Hello");
        assert_eq!(
            l[2]["message"]["tool_calls"],
            json!([{"function": {"index": 0, "name": "f", "arguments": {"a": 2}}}])
        );
        assert_eq!(l[3]["done"], true);
        assert_eq!(l[3]["done_reason"], "stop");
        assert_eq!(l[3]["prompt_eval_count"], 3);
        assert_eq!(l[3]["eval_count"], 4);
        for k in METRICS {
            assert!(l[3][k].is_u64(), "{k} in the final chunk");
        }
        let e = ChatStreamEncoder::new("d").with_elapsed_ms(250);
        assert!(e.timing().total_ns >= 250_000_000, "time before the encoder existed counts");
    }

    #[test]
    fn generate_stream_encoder_and_errors() {
        let mut e = GenerateStreamEncoder::new("disp");
        e.set_created_at("t");
        let mut out = Vec::new();
        e.chunk(&Chunk::Text("a".into()), &mut out);
        e.chunk(&Chunk::Finish(FinishReason::Length), &mut out);
        e.finish(&mut out);
        let l = lines(&out);
        assert_eq!(l[0], json!({"model": "disp", "created_at": "t", "response": "a", "done": false}));
        let mut last = l[1].as_object().unwrap().clone();
        for k in METRICS {
            assert!(last.remove(k).is_some_and(|v| v.is_u64()), "{k}");
        }
        assert_eq!(
            Value::Object(last),
            json!({"model": "disp", "created_at": "t", "response": "", "done": true, "done_reason": "length"})
        );

        let mut e = ChatStreamEncoder::new("disp");
        let mut out = Vec::new();
        e.chunk(&Chunk::Text("a".into()), &mut out);
        e.error("origin went away", &mut out);
        e.finish(&mut out);
        let l = lines(&out);
        assert_eq!(l.len(), 2);
        assert_eq!(l[1], json!({"error": "origin went away"}));
        assert!(!String::from_utf8(out).unwrap().contains("\"done\":true"));
        assert!(now_rfc3339().ends_with('Z'));
    }

    #[test]
    fn embeddings_both_ways() {
        let b = embed_request_to_openai(
            &obj(json!({"model": "e", "input": ["a", "b"], "truncate": true, "keep_alive": "5m"})),
            "real-e",
        )
        .unwrap();
        assert_eq!(b, json!({"model": "real-e", "input": ["a", "b"], "encoding_format": "float"}));
        let r = embed_response_from_openai(
            &json!({"data": [{"index": 1, "embedding": [0.5]}, {"index": 0, "embedding": [0.25]}], "usage": {"prompt_tokens": 4}}),
            "disp",
        )
        .unwrap();
        assert_eq!(r, json!({"model": "disp", "embeddings": [[0.25], [0.5]], "total_duration": 0, "load_duration": 0, "prompt_eval_count": 4}));
        let legacy = embeddings_response_from_openai(&json!({"data": [{"embedding": [0.5]}]})).unwrap();
        assert_eq!(legacy, json!({"embedding": [0.5]}));
        let b = embed_request_to_openai(&obj(json!({"model": "e", "prompt": "one"})), "r").unwrap();
        assert_eq!(b["input"], "one");

        let (b, b64) = openai_embeddings_to_embed_request(
            &obj(json!({"model": "e", "input": "hi", "encoding_format": "base64", "dimensions": 8})),
            "real",
        )
        .unwrap();
        assert!(b64);
        assert_eq!(b, json!({"model": "real", "input": "hi", "truncate": false, "dimensions": 8}));
        let r = embed_response_to_openai(&json!({"embeddings": [[1.0, 0.0]], "prompt_eval_count": 2}), "disp", true)
            .unwrap();
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(r["data"][0]["embedding"].as_str().unwrap()).unwrap();
        assert_eq!(bytes, [1.0f32.to_le_bytes(), 0.0f32.to_le_bytes()].concat());
        assert_eq!(r["usage"]["prompt_tokens"], 2);
        let r = embed_response_to_openai(&json!({"embeddings": [[1.0]]}), "disp", false).unwrap();
        assert_eq!(r["data"][0]["embedding"], json!([1.0]));
        assert!(r.get("usage").is_none());
        assert_eq!(
            openai_embeddings_to_embed_request(&obj(json!({"model": "e", "input": [[1, 2]]})), "r")
                .unwrap_err()
                .field(),
            Some("input[0]")
        );
        assert!(embed_response_to_openai(&json!({"error": "x"}), "d", false).is_err());
    }

    #[test]
    fn no_panic_on_type_confusion() {
        for v in wire::type_confusions(&ollama_chat()) {
            if let Value::Object(m) = &v {
                match decode_chat_request(m) {
                    Err(e) => assert!(e.status() == 400 && e.field().is_some(), "{e}"),
                    Ok(r) => {
                        let _ = encode_chat_request(&r, "x");
                        let _ = openai::encode_request(&r, "x");
                    }
                }
            }
        }
        let gen = json!({"model": "m", "prompt": "p", "system": "s", "images": ["iVBOR"], "suffix": "", "raw": false,
            "template": "", "context": [], "options": {"num_predict": 5, "stop": ["a"]}, "format": "json", "think": true});
        for v in wire::type_confusions(&gen) {
            if let Value::Object(m) = &v {
                if let Err(e) = decode_generate_request(m) {
                    assert!(e.status() == 400 && e.field().is_some(), "{e}");
                }
            }
        }
        let line = json!({"message": {"content": "x", "thinking": "t", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": {"a": 1}}}]},
            "done": true, "done_reason": "length", "prompt_eval_count": 1, "eval_count": 2, "response": "r"});
        let mut d = StreamDecoder::new();
        let mut out = Vec::new();
        for v in wire::type_confusions(&line) {
            let _ = decode_chat_response(&v);
            let _ = d.frame(v.to_string().as_bytes(), &mut out);
        }
        let emb = json!({"model": "m", "input": ["a"], "dimensions": 3, "encoding_format": "float"});
        for v in wire::type_confusions(&emb) {
            if let Value::Object(m) = &v {
                let _ = embed_request_to_openai(m, "r");
                let _ = openai_embeddings_to_embed_request(m, "r");
            }
        }
        for v in wire::type_confusions(
            &json!({"data": [{"index": 0, "embedding": [0.5]}], "usage": {"prompt_tokens": 1}, "embeddings": [[1.0]], "prompt_eval_count": 1}),
        ) {
            let _ = embed_response_from_openai(&v, "d");
            let _ = embed_response_to_openai(&v, "d", true);
        }
    }
}
