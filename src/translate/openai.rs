//! OpenAI chat completions: client request decoder, origin request encoder, origin answer
//! decoders (JSON and SSE `data:` payloads) and client answer encoders (JSON and SSE).
//!
//! Deliberate drops (no IR slot, and no meaning lost for the answer the client gets):
//! message `name`, `logprobs`/`top_logprobs`, `stream_options` (the origin encoder sets its
//! own; whether the *client* wants a usage chunk is `include_usage(body)`), custom/hosted
//! tools (`type` other than `function`), assistant reasoning in history when sending to an
//! OpenAI origin (the chat API has no input field for it). Unknown top-level fields are kept
//! in `ChatRequest::extra` and only re-emitted towards an OpenAI-family origin.

use super::ir::*;
use super::wire::{self, sse_data, write_json, JsonMap, Obj};
use super::StreamEncoder as StreamEncoderTrait;
use crate::error::GatewayError;
use crate::types::{FinishReason, Usage};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// Top-level request keys that have an IR slot (everything else goes to `extra`).
const KNOWN: &[&str] = &[
    "model",
    "stream",
    "stream_options",
    "n",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "reasoning_effort",
    "response_format",
];

// ============================================================================================
// Client request -> IR
// ============================================================================================

/// Whether an OpenAI client asked for the trailing usage chunk (`stream_options.include_usage`).
pub fn include_usage(body: &JsonMap) -> bool {
    body.get("stream_options").and_then(|s| s.get("include_usage")).and_then(Value::as_bool).unwrap_or(false)
}

pub fn decode_request(body: &JsonMap) -> Result<ChatRequest, GatewayError> {
    let o = Obj::root(body);
    let mut req = ChatRequest { extra_family: Some(Family::OpenAi), ..Default::default() };
    req.model = o.req_str("model")?.to_string();
    req.stream = o.bool("stream")?.unwrap_or(false);
    if let Some(n) = o.u64("n")? {
        if n != 1 {
            return Err(o.err("n", "must be 1: one choice per request is supported"));
        }
    }
    for legacy in ["functions", "function_call"] {
        if o.get(legacy).is_some() {
            return Err(o.err(legacy, "belongs to the legacy functions API, which is not supported; use `tools`"));
        }
    }
    decode_messages(&o, &mut req)?;
    req.tools = decode_tools(&o)?;
    req.tool_choice = decode_tool_choice(&o, &mut req.tools)?;
    req.parallel_tool_calls = o.bool("parallel_tool_calls")?;
    // `max_completion_tokens` wins; it also stays in `extra` as a marker so an OpenAI origin
    // gets the key the client used (reasoning models reject `max_tokens`).
    req.max_tokens = match o.u64("max_completion_tokens")? {
        Some(v) => Some(v),
        None => o.u64("max_tokens")?,
    };
    req.temperature = o.f64("temperature")?;
    req.top_p = o.f64("top_p")?;
    req.stop = o.str_or_strs("stop")?;
    req.seed = o.i64("seed")?;
    req.frequency_penalty = o.f64("frequency_penalty")?;
    req.presence_penalty = o.f64("presence_penalty")?;
    if let Some(e) = o.str("reasoning_effort")? {
        req.reasoning = Some(if e == "none" {
            Reasoning { enabled: false, effort: None, budget_tokens: None }
        } else {
            let effort = Effort::parse(e)
                .ok_or_else(|| o.err("reasoning_effort", "must be one of none, minimal, low, medium, high, xhigh"))?;
            Reasoning { enabled: true, effort: Some(effort), budget_tokens: None }
        });
    }
    if let Some(rf) = o.obj("response_format")? {
        req.response_format = decode_response_format(&rf)?;
    }
    for (k, v) in body {
        if !KNOWN.contains(&k.as_str()) {
            req.extra.insert(k.clone(), v.clone());
        }
    }
    Ok(req)
}

pub(crate) fn decode_response_format(rf: &Obj) -> Result<Option<Value>, GatewayError> {
    match rf.req_str("type")? {
        "text" => Ok(None),
        "json_object" => Ok(Some(json!({"type": "json_object"}))),
        "json_schema" => {
            let js = rf.obj("json_schema")?.ok_or_else(|| rf.err("json_schema", "is required"))?;
            let schema = js.obj("schema")?.ok_or_else(|| js.err("schema", "is required"))?;
            let mut inner = Map::new();
            inner.insert("name".into(), json!(js.str("name")?.unwrap_or("response")));
            inner.insert("schema".into(), Value::Object(schema.m.clone()));
            if let Some(s) = js.bool("strict")? {
                inner.insert("strict".into(), json!(s));
            }
            if let Some(d) = js.str("description")? {
                inner.insert("description".into(), json!(d));
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": inner})))
        }
        _ => Err(rf.err("type", "must be one of text, json_object, json_schema")),
    }
}

/// Text of a `content` that may be a string or an array of text parts (joined with `\n`).
fn text_content(m: &Obj, key: &str) -> Result<String, GatewayError> {
    match m.get(key) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (i, p) in parts.iter().enumerate() {
                let p = Obj::of(p, m.item_path(key, i))?;
                match p.req_str("type")? {
                    "text" | "input_text" | "output_text" => texts.push(p.req_str("text")?.to_string()),
                    "refusal" => texts.push(p.req_str("refusal")?.to_string()),
                    // Open list: a part type this gateway does not know travels as its text, or
                    // is dropped when it has none (README, "Open lists").
                    _ => texts.extend(p.str("text")?.map(str::to_string)),
                }
            }
            Ok(texts.join("\n"))
        }
        Some(_) => Err(m.err(key, "must be a string or an array of content parts")),
    }
}

fn user_parts(m: &Obj) -> Result<Vec<Part>, GatewayError> {
    match m.get("content") {
        None => Ok(vec![Part::Text(String::new())]),
        Some(Value::String(s)) => Ok(vec![Part::Text(s.clone())]),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (i, p) in parts.iter().enumerate() {
                let p = Obj::of(p, m.item_path("content", i))?;
                match p.req_str("type")? {
                    "text" => out.push(Part::Text(p.req_str("text")?.to_string())),
                    "image_url" => {
                        let url = match p.get("image_url") {
                            Some(Value::String(u)) => u.as_str(),
                            Some(Value::Object(_)) => p.obj("image_url")?.unwrap().req_str("url")?,
                            _ => return Err(p.err("image_url", "must be an object with `url`")),
                        };
                        // `detail` has no equivalent on other origins: dropped.
                        let (media_type, data) = wire::parse_image_url(url);
                        out.push(Part::Image { media_type, data });
                    }
                    "input_audio" | "file" => {
                        return Err(p.err("type", "is not supported by this gateway (audio and file parts)"))
                    }
                    _ => out.extend(p.str("text")?.map(|t| Part::Text(t.to_string()))),
                }
            }
            Ok(out)
        }
        Some(_) => Err(m.err("content", "must be a string or an array of content parts")),
    }
}

fn decode_messages(o: &Obj, req: &mut ChatRequest) -> Result<(), GatewayError> {
    let msgs = o.arr("messages")?.ok_or_else(|| o.err("messages", "is required"))?;
    let mut leading = true;
    let mut generated = 0usize;
    for (i, v) in msgs.iter().enumerate() {
        let m = Obj::of(v, o.item_path("messages", i))?;
        match m.req_str("role")? {
            "system" | "developer" => {
                let text = text_content(&m, "content")?;
                if leading {
                    req.system.push(text);
                } else {
                    req.messages.push(Message::text(Role::System, text));
                }
            }
            "user" => {
                leading = false;
                req.messages.push(Message { role: Role::User, parts: user_parts(&m)? });
            }
            "assistant" => {
                leading = false;
                let mut parts = Vec::new();
                let reasoning = match m.str("reasoning_content")? {
                    Some(r) => Some(r),
                    None => m.str("reasoning")?,
                };
                if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
                    parts.push(Part::Thinking { text: r.to_string(), signature: None });
                }
                let mut text = text_content(&m, "content")?;
                if text.is_empty() {
                    if let Some(r) = m.str("refusal")? {
                        text = r.to_string();
                    }
                }
                if !text.is_empty() {
                    parts.push(Part::Text(text));
                }
                if let Some(calls) = m.arr("tool_calls")? {
                    for (j, c) in calls.iter().enumerate() {
                        let c = Obj::of(c, m.item_path("tool_calls", j))?;
                        let f = c.obj("function")?.ok_or_else(|| c.err("function", "is required"))?;
                        let name = f.req_str("name")?.to_string();
                        let arguments = match f.get("arguments") {
                            None => String::new(),
                            Some(Value::String(s)) => s.clone(),
                            Some(v @ Value::Object(_)) => v.to_string(),
                            Some(_) => return Err(f.err("arguments", "must be a JSON string")),
                        };
                        let id = match c.str("id")? {
                            Some(id) if !id.is_empty() => id.to_string(),
                            _ => {
                                generated += 1;
                                format!("call_{}", generated - 1)
                            }
                        };
                        parts.push(Part::ToolCall { id, name, arguments });
                    }
                }
                req.messages.push(Message { role: Role::Assistant, parts });
            }
            "tool" => {
                leading = false;
                let call_id = m.req_str("tool_call_id")?.to_string();
                let content = text_content(&m, "content")?;
                req.messages.push(Message {
                    role: Role::Tool,
                    parts: vec![Part::ToolResult { call_id, content, is_error: false }],
                });
            }
            "function" => {
                return Err(m.err("role", "`function` messages belong to the legacy functions API; use `tool`"))
            }
            _ => return Err(m.err("role", "must be one of system, developer, user, assistant, tool")),
        }
    }
    Ok(())
}

pub(crate) fn decode_tools(o: &Obj) -> Result<Vec<Tool>, GatewayError> {
    let mut tools = Vec::new();
    let Some(arr) = o.arr("tools")? else { return Ok(tools) };
    for (i, t) in arr.iter().enumerate() {
        let t = Obj::of(t, o.item_path("tools", i))?;
        if t.str("type")?.unwrap_or("function") != "function" {
            // Custom (free-form grammar) and hosted tools have no IR form: dropped.
            continue;
        }
        let f = t.obj("function")?.ok_or_else(|| t.err("function", "is required"))?;
        tools.push(Tool {
            name: f.req_str("name")?.to_string(),
            description: f.str("description")?.map(str::to_string),
            parameters: match f.get("parameters") {
                None => json!({"type": "object", "properties": {}}),
                Some(p @ Value::Object(_)) => p.clone(),
                Some(_) => return Err(f.err("parameters", "must be a JSON schema object")),
            },
        });
    }
    Ok(tools)
}

fn decode_tool_choice(o: &Obj, tools: &mut Vec<Tool>) -> Result<Option<ToolChoice>, GatewayError> {
    match o.get("tool_choice") {
        None => Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Ok(Some(ToolChoice::Auto)),
            "none" => Ok(Some(ToolChoice::None)),
            "required" => Ok(Some(ToolChoice::Required)),
            _ => Err(o.err("tool_choice", "must be auto, none, required or an object")),
        },
        Some(Value::Object(_)) => {
            let tc = o.obj("tool_choice")?.unwrap();
            match tc.req_str("type")? {
                "function" => {
                    let f = tc.obj("function")?.ok_or_else(|| tc.err("function", "is required"))?;
                    Ok(Some(ToolChoice::Named(f.req_str("name")?.to_string())))
                }
                "allowed_tools" => {
                    // Restricting to a subset is expressed by filtering the tool list: same
                    // meaning for the model, portable to every origin.
                    let at = tc.obj("allowed_tools")?.ok_or_else(|| tc.err("allowed_tools", "is required"))?;
                    let mut names = Vec::new();
                    for (i, t) in at.arr("tools")?.unwrap_or(&[]).iter().enumerate() {
                        let t = Obj::of(t, at.item_path("tools", i))?;
                        if let Some(f) = t.obj("function")? {
                            names.push(f.req_str("name")?.to_string());
                        }
                    }
                    tools.retain(|t| names.contains(&t.name));
                    match at.str("mode")?.unwrap_or("auto") {
                        "auto" => Ok(Some(ToolChoice::Auto)),
                        "required" => Ok(Some(ToolChoice::Required)),
                        _ => Err(at.err("mode", "must be auto or required")),
                    }
                }
                _ => Err(tc.err("type", "must be `function` or `allowed_tools`")),
            }
        }
        Some(_) => Err(o.err("tool_choice", "must be a string or an object")),
    }
}

// ============================================================================================
// IR -> origin request
// ============================================================================================

/// The body for an OpenAI-compatible `/v1/chat/completions` origin.
pub fn encode_request(req: &ChatRequest, real_model: &str) -> Value {
    let same_family = req.extra_family == Some(Family::OpenAi);
    let mut out = Map::new();
    if same_family {
        for (k, v) in &req.extra {
            out.insert(k.clone(), v.clone());
        }
    }
    out.insert("model".into(), json!(real_model));
    out.insert("messages".into(), Value::Array(encode_messages(req)));
    out.insert("stream".into(), json!(req.stream));
    if req.stream {
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    out.remove("max_completion_tokens");
    if let Some(mt) = req.max_tokens {
        let key = if same_family && req.extra.contains_key("max_completion_tokens") {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        out.insert(key.into(), json!(mt));
    }
    if let Some(t) = req.temperature {
        out.insert("temperature".into(), json!(t));
    }
    if let Some(t) = req.top_p {
        out.insert("top_p".into(), json!(t));
    }
    if !req.stop.is_empty() {
        out.insert("stop".into(), json!(req.stop));
    }
    if let Some(s) = req.seed {
        out.insert("seed".into(), json!(s));
    }
    if let Some(p) = req.frequency_penalty {
        out.insert("frequency_penalty".into(), json!(p));
    }
    if let Some(p) = req.presence_penalty {
        out.insert("presence_penalty".into(), json!(p));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req.tools.iter().map(tool_json).collect();
        out.insert("tools".into(), Value::Array(tools));
        if let Some(p) = req.parallel_tool_calls {
            // OpenAI rejects `parallel_tool_calls` without tools.
            out.insert("parallel_tool_calls".into(), json!(p));
        }
    }
    if let Some(tc) = &req.tool_choice {
        out.insert(
            "tool_choice".into(),
            match tc {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Named(n) => json!({"type": "function", "function": {"name": n}}),
            },
        );
    }
    if let Some(r) = &req.reasoning {
        if same_family {
            // The client spoke OpenAI: forward its level verbatim (it knows its origin).
            match (r.enabled, r.effort) {
                (false, _) => {
                    out.insert("reasoning_effort".into(), json!("none"));
                }
                (true, Some(e)) => {
                    out.insert("reasoning_effort".into(), json!(e.as_str()));
                }
                _ => {}
            }
        } else if let Some(e) = r.effective_effort() {
            // Across dialects only the three levels every server accepts (vLLM validates
            // low|medium|high). Thinking *off* has no portable OpenAI-chat switch: omitted.
            let level = match e {
                Effort::Minimal | Effort::Low => "low",
                Effort::Medium => "medium",
                Effort::High | Effort::XHigh => "high",
            };
            out.insert("reasoning_effort".into(), json!(level));
        }
    }
    if let Some(rf) = &req.response_format {
        out.insert("response_format".into(), rf.clone());
    }
    Value::Object(out)
}

pub(crate) fn tool_json(t: &Tool) -> Value {
    let mut f = Map::new();
    f.insert("name".into(), json!(t.name));
    if let Some(d) = &t.description {
        f.insert("description".into(), json!(d));
    }
    f.insert("parameters".into(), t.parameters.clone());
    json!({"type": "function", "function": f})
}

/// A tool result's text as OpenAI sees it: the chat API has no error flag, so an error result
/// is marked in the text instead of silently looking like a success.
pub(crate) fn tool_result_text(content: &str, is_error: bool) -> String {
    if is_error {
        format!("Error: {content}")
    } else {
        content.to_string()
    }
}

fn encode_messages(req: &ChatRequest) -> Vec<Value> {
    let mut msgs = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        msgs.push(json!({"role": "system", "content": req.system.join("\n\n")}));
    }
    for m in &req.messages {
        match m.role {
            Role::System => {
                let text: Vec<&str> = m
                    .parts
                    .iter()
                    .filter_map(|p| if let Part::Text(t) = p { Some(t.as_str()) } else { None })
                    .collect();
                msgs.push(json!({"role": "system", "content": text.join("\n")}));
            }
            Role::User | Role::Tool => {
                // Tool results first (as `tool` messages), then whatever else the turn holds
                // (text, and images that came inside tool results) as one user message.
                for p in &m.parts {
                    if let Part::ToolResult { call_id, content, is_error } = p {
                        msgs.push(json!({"role": "tool", "tool_call_id": call_id, "content": tool_result_text(content, *is_error)}));
                    }
                }
                if let Some(u) = user_message(&m.parts) {
                    msgs.push(u);
                }
            }
            Role::Assistant => {
                let mut text = String::new();
                let mut calls = Vec::new();
                for p in &m.parts {
                    match p {
                        Part::Text(t) => {
                            if !text.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(t);
                        }
                        Part::ToolCall { id, name, arguments } => calls.push(json!({
                            "id": id, "type": "function",
                            "function": {"name": name, "arguments": wire::args_text(arguments)}
                        })),
                        // Prior reasoning has no input field in OpenAI chat; images cannot be
                        // assistant content. Both dropped.
                        _ => {}
                    }
                }
                let mut am = Map::new();
                am.insert("role".into(), json!("assistant"));
                am.insert(
                    "content".into(),
                    if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
                );
                if !calls.is_empty() {
                    am.insert("tool_calls".into(), Value::Array(calls));
                }
                msgs.push(Value::Object(am));
            }
        }
    }
    msgs
}

/// The user message for the non-tool-result parts of a turn; `None` if there are none.
fn user_message(parts: &[Part]) -> Option<Value> {
    let rest: Vec<&Part> = parts.iter().filter(|p| matches!(p, Part::Text(_) | Part::Image { .. })).collect();
    if rest.is_empty() {
        return None;
    }
    if rest.iter().all(|p| matches!(p, Part::Text(_))) {
        let text: Vec<&str> =
            rest.iter().filter_map(|p| if let Part::Text(t) = p { Some(t.as_str()) } else { None }).collect();
        return Some(json!({"role": "user", "content": text.join("\n")}));
    }
    let content: Vec<Value> = rest
        .iter()
        .map(|p| match p {
            Part::Text(t) => json!({"type": "text", "text": t}),
            Part::Image { media_type, data } => {
                json!({"type": "image_url", "image_url": {"url": wire::image_url(media_type.as_deref(), data)}})
            }
            _ => Value::Null,
        })
        .collect();
    Some(json!({"role": "user", "content": content}))
}

// ============================================================================================
// Origin answer -> IR
// ============================================================================================

fn finish_from(reason: &str, stop_reason: Option<&Value>) -> FinishReason {
    let f = FinishReason::from_openai(reason);
    // vLLM reports the matched stop string in `stop_reason`.
    if f == FinishReason::Stop && matches!(stop_reason, Some(Value::String(_))) {
        FinishReason::StopSequence
    } else {
        f
    }
}

fn usage_from(u: &Value) -> Option<Usage> {
    let p = u.get("prompt_tokens").and_then(Value::as_u64);
    let c = u.get("completion_tokens").and_then(Value::as_u64);
    if p.is_none() && c.is_none() {
        return None;
    }
    Some(Usage { prompt_tokens: p.unwrap_or(0), completion_tokens: c.unwrap_or(0), estimated: false })
}

/// A non-streamed `/v1/chat/completions` answer. `Err` carries the origin's error message.
pub fn decode_response(v: &Value) -> Result<ChatResponse, String> {
    let m = v.as_object().ok_or("origin answer is not a JSON object")?;
    if let Some(e) = m.get("error").filter(|e| !e.is_null()) {
        return Err(wire::error_message(e));
    }
    let mut r =
        ChatResponse { id: m.get("id").and_then(Value::as_str).unwrap_or("").to_string(), ..Default::default() };
    let choice =
        m.get("choices").and_then(Value::as_array).and_then(|c| c.first()).ok_or("origin answer has no choices")?;
    // A `/v1/completions` answer (fill-in-the-middle, `translate::fim`).
    if let Some(t) = choice.get("text").and_then(Value::as_str) {
        r.text = t.to_string();
    }
    if let Some(msg) = choice.get("message") {
        match msg.get("content") {
            Some(Value::String(s)) => r.text = s.clone(),
            Some(Value::Array(parts)) => {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(Value::as_str) {
                        r.text.push_str(t);
                    }
                }
            }
            _ => {}
        }
        if r.text.is_empty() {
            if let Some(s) = msg.get("refusal").and_then(Value::as_str) {
                r.text = s.to_string();
            }
        }
        if let Some(s) = msg
            .get("reasoning_content")
            .and_then(Value::as_str)
            .or_else(|| msg.get("reasoning").and_then(Value::as_str))
        {
            r.reasoning = s.to_string();
        }
        if let Some(calls) = msg.get("tool_calls").and_then(Value::as_array) {
            for c in calls {
                let f = c.get("function");
                r.tool_calls.push(ToolCall {
                    id: c.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
                    name: f.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or("").to_string(),
                    arguments: match f.and_then(|f| f.get("arguments")) {
                        Some(Value::String(s)) => s.clone(),
                        Some(v @ Value::Object(_)) => v.to_string(),
                        _ => String::new(),
                    },
                });
            }
        }
    }
    if let Some(fr) = choice.get("finish_reason").and_then(Value::as_str) {
        r.finish = finish_from(fr, choice.get("stop_reason"));
    }
    r.usage = m.get("usage").and_then(usage_from);
    r.settle();
    Ok(r)
}

#[derive(Deserialize)]
struct WChunk<'a> {
    #[serde(default, borrow)]
    choices: Option<Vec<WChoice<'a>>>,
    #[serde(default)]
    usage: Option<WUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WChoice<'a> {
    #[serde(default)]
    index: u64,
    #[serde(default, borrow)]
    delta: Option<WDelta<'a>>,
    /// `/v1/completions` chunks (fill-in-the-middle, `translate::fim`) carry text here.
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    stop_reason: Option<Value>,
}

#[derive(Deserialize)]
struct WDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<WToolDelta<'a>>>,
}

#[derive(Deserialize)]
struct WToolDelta<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    function: Option<WFunction<'a>>,
}

#[derive(Deserialize)]
struct WFunction<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    /// A JSON string normally; some servers send an object.
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

struct ToolSlot {
    /// The origin's `index`.
    origin: u64,
    id: String,
    name: String,
    /// Our sequential index once started.
    out: Option<usize>,
    /// Arguments that arrived before the name.
    pending: String,
}

/// Stateful decoder for an OpenAI SSE stream: feed each `data:` payload (not `[DONE]`).
/// All entries of `delta.tool_calls` are handled and merged by `index`; only choice 0 is read
/// (we never ask for more than one).
#[derive(Default)]
pub struct StreamDecoder {
    slots: Vec<ToolSlot>,
    started: usize,
    finished: bool,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn frame(&mut self, data: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let chunk: WChunk = match serde_json::from_slice(data) {
            Ok(c) => c,
            Err(e) => {
                if let Ok(v) = serde_json::from_slice::<Value>(data) {
                    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
                        return Err(wire::error_message(err));
                    }
                }
                return Err(format!("malformed stream chunk from origin: {e}"));
            }
        };
        if let Some(err) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            return Err(wire::error_message(err));
        }
        for choice in chunk.choices.iter().flatten() {
            if choice.index != 0 {
                continue;
            }
            if let Some(t) = choice.text.as_deref().filter(|t| !t.is_empty()) {
                out.push(Chunk::Text(t.to_string()));
            }
            if let Some(d) = &choice.delta {
                let reasoning = d.reasoning_content.as_deref().or(d.reasoning.as_deref());
                if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
                    out.push(Chunk::Reasoning(r.to_string()));
                }
                if let Some(t) = d.content.as_deref().filter(|t| !t.is_empty()) {
                    out.push(Chunk::Text(t.to_string()));
                }
                if let Some(t) = d.refusal.as_deref().filter(|t| !t.is_empty()) {
                    out.push(Chunk::Text(t.to_string()));
                }
                for tc in d.tool_calls.iter().flatten() {
                    self.tool_delta(tc, out);
                }
            }
            if let Some(fr) = choice.finish_reason.as_deref() {
                if !self.finished {
                    self.flush_unnamed(out);
                    let mut f = finish_from(fr, choice.stop_reason.as_ref());
                    if f == FinishReason::Stop && self.started > 0 {
                        f = FinishReason::ToolCalls;
                    }
                    out.push(Chunk::Finish(f));
                    self.finished = true;
                }
            }
        }
        if let Some(u) = &chunk.usage {
            if u.prompt_tokens.is_some() || u.completion_tokens.is_some() {
                out.push(Chunk::Usage(Usage {
                    prompt_tokens: u.prompt_tokens.unwrap_or(0),
                    completion_tokens: u.completion_tokens.unwrap_or(0),
                    estimated: false,
                }));
            }
        }
        Ok(())
    }

    fn tool_delta(&mut self, tc: &WToolDelta, out: &mut Vec<Chunk>) {
        let id = tc.id.as_deref().unwrap_or("");
        // Find the slot: by `index`; servers that omit it are matched by a new id, else the
        // latest call continues.
        let pos = match tc.index {
            Some(ix) => self.slots.iter().position(|s| s.origin == ix),
            None if !id.is_empty() => self.slots.iter().position(|s| s.id == id),
            None => self.slots.len().checked_sub(1),
        };
        let pos = match pos {
            Some(p) => p,
            None => {
                let origin = tc.index.unwrap_or(self.slots.len() as u64);
                self.slots.push(ToolSlot {
                    origin,
                    id: String::new(),
                    name: String::new(),
                    out: None,
                    pending: String::new(),
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[pos];
        if slot.id.is_empty() && !id.is_empty() {
            slot.id = id.to_string();
        }
        let (name, args) = match &tc.function {
            Some(f) => (f.name.as_deref().unwrap_or(""), f.arguments.map(raw_args)),
            None => ("", None),
        };
        if slot.out.is_none() && !name.is_empty() {
            slot.name.push_str(name);
        }
        let args = args.unwrap_or_default();
        match slot.out {
            Some(ix) => {
                if !args.is_empty() {
                    out.push(Chunk::ToolCallArgs { index: ix, delta: args.into_owned() });
                }
            }
            None => {
                slot.pending.push_str(&args);
                if !slot.name.is_empty() {
                    let ix = self.started;
                    self.started += 1;
                    slot.out = Some(ix);
                    out.push(Chunk::ToolCallStart { index: ix, id: slot.id.clone(), name: slot.name.clone() });
                    if !slot.pending.is_empty() {
                        out.push(Chunk::ToolCallArgs { index: ix, delta: std::mem::take(&mut slot.pending) });
                    }
                }
            }
        }
    }

    /// Calls that never got a name are still reported (with an empty name) rather than lost.
    fn flush_unnamed(&mut self, out: &mut Vec<Chunk>) {
        for slot in &mut self.slots {
            if slot.out.is_none() {
                let ix = self.started;
                self.started += 1;
                slot.out = Some(ix);
                out.push(Chunk::ToolCallStart { index: ix, id: slot.id.clone(), name: String::new() });
                if !slot.pending.is_empty() {
                    out.push(Chunk::ToolCallArgs { index: ix, delta: std::mem::take(&mut slot.pending) });
                }
            }
        }
    }
}

fn raw_args(raw: &RawValue) -> Cow<'_, str> {
    let s = raw.get();
    if s.starts_with('"') {
        serde_json::from_str::<Cow<str>>(s).unwrap_or(Cow::Borrowed(""))
    } else if s == "null" {
        Cow::Borrowed("")
    } else {
        Cow::Borrowed(s)
    }
}

// ============================================================================================
// IR -> client answer
// ============================================================================================

fn usage_json(u: &Usage) -> Value {
    json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total()})
}

/// A `chat.completion` object for the client. `usage` is omitted when the origin reported none.
/// Reasoning goes out as `reasoning_content` (the field most OpenAI-speaking clients read).
pub fn encode_response(resp: &ChatResponse, display: &str, created: i64) -> Value {
    let mut msg = Map::new();
    msg.insert("role".into(), json!("assistant"));
    msg.insert(
        "content".into(),
        if resp.text.is_empty() && !resp.tool_calls.is_empty() { Value::Null } else { json!(resp.text) },
    );
    if !resp.reasoning.is_empty() {
        msg.insert("reasoning_content".into(), json!(resp.reasoning));
    }
    if !resp.tool_calls.is_empty() {
        let calls: Vec<Value> = resp
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, tc)| {
                let id = if tc.id.is_empty() { wire::call_id(&resp.id, i) } else { tc.id.clone() };
                json!({"id": id, "type": "function", "function": {"name": tc.name, "arguments": wire::args_text(&tc.arguments)}})
            })
            .collect();
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    let mut out = json!({
        "id": resp.id,
        "object": "chat.completion",
        "created": created,
        "model": display,
        "choices": [{"index": 0, "message": msg, "logprobs": null, "finish_reason": resp.finish.as_openai()}],
    });
    if let Some(u) = &resp.usage {
        out["usage"] = usage_json(u);
    }
    out
}

/// SSE encoder for OpenAI chat clients (`data: {chat.completion.chunk}` lines, `data: [DONE]`).
pub struct StreamEncoder {
    /// `data: {"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":[{"index":0,"delta":`
    prefix: Vec<u8>,
    id: String,
    display: String,
    created: i64,
    include_usage: bool,
    started: bool,
    done: bool,
    tools: usize,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

impl StreamEncoder {
    /// `include_usage`: the client asked for `stream_options.include_usage`; the usage chunk is
    /// sent only when the origin reported usage (never invented).
    pub fn new(display: &str, id: &str, created: i64, include_usage: bool) -> Self {
        let mut prefix = Vec::with_capacity(96 + display.len() + id.len());
        prefix.extend_from_slice(b"data: {\"id\":");
        write_json(&mut prefix, id);
        prefix.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        prefix.extend_from_slice(created.to_string().as_bytes());
        prefix.extend_from_slice(b",\"model\":");
        write_json(&mut prefix, display);
        prefix.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":");
        StreamEncoder {
            prefix,
            id: id.to_string(),
            display: display.to_string(),
            created,
            include_usage,
            started: false,
            done: false,
            tools: 0,
            finish: None,
            usage: None,
        }
    }

    fn open(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
    }

    fn close(out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"finish_reason\":null}]}\n\n");
    }
}

impl StreamEncoderTrait for StreamEncoder {
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started || self.done {
            return;
        }
        self.started = true;
        self.open(out);
        out.extend_from_slice(b"{\"role\":\"assistant\",\"content\":\"\"}");
        Self::close(out);
    }

    fn chunk(&mut self, c: &Chunk, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if !self.started {
            self.start(out);
        }
        match c {
            Chunk::Text(t) => {
                self.open(out);
                out.extend_from_slice(b"{\"content\":");
                write_json(out, t);
                out.push(b'}');
                Self::close(out);
            }
            Chunk::Reasoning(t) => {
                self.open(out);
                out.extend_from_slice(b"{\"reasoning_content\":");
                write_json(out, t);
                out.push(b'}');
                Self::close(out);
            }
            Chunk::ToolCallStart { index, id, name } => {
                self.tools = self.tools.max(index + 1);
                let id = if id.is_empty() { wire::call_id(&self.id, *index) } else { id.clone() };
                self.open(out);
                write_json(
                    out,
                    &json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
                );
                Self::close(out);
            }
            Chunk::ToolCallArgs { index, delta } => {
                self.open(out);
                out.extend_from_slice(b"{\"tool_calls\":[{\"index\":");
                out.extend_from_slice(index.to_string().as_bytes());
                out.extend_from_slice(b",\"function\":{\"arguments\":");
                write_json(out, delta);
                out.extend_from_slice(b"}}]}");
                Self::close(out);
            }
            Chunk::Finish(f) => self.finish = Some(*f),
            Chunk::Usage(u) => self.usage = Some(*u),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if !self.started {
            self.start(out);
        }
        self.done = true;
        let f = match self.finish {
            Some(FinishReason::Stop) | None if self.tools > 0 => FinishReason::ToolCalls,
            Some(f) => f,
            None => FinishReason::Stop,
        };
        self.open(out);
        out.extend_from_slice(b"{},\"finish_reason\":");
        write_json(out, f.as_openai());
        out.extend_from_slice(b"}]}\n\n");
        if self.include_usage {
            if let Some(u) = &self.usage {
                sse_data(
                    out,
                    &json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                            "model": self.display, "choices": [], "usage": usage_json(u)}),
                );
            }
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    fn error(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        sse_data(
            out,
            &json!({"error": {"message": message, "type": "server_error", "param": null, "code": "upstream_error"}}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::translate::test_support::obj;

    fn sse_payloads(bytes: &[u8]) -> Vec<String> {
        let s = std::str::from_utf8(bytes).unwrap();
        s.split("\n\n").filter(|b| !b.is_empty()).map(|b| b.strip_prefix("data: ").unwrap().to_string()).collect()
    }

    fn full_request() -> Value {
        json!({
            "model": "qwen-display",
            "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": [{"type": "text", "text": "use tools"}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/AAAA", "detail": "high"}},
                    {"type": "image_url", "image_url": "https://example.com/cat.png"}
                ]},
                {"role": "assistant", "content": null, "reasoning_content": "let me look",
                 "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "noargs", "arguments": ""}}
                 ]},
                {"role": "tool", "tool_call_id": "call_a", "content": "a cat"},
                {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "ok"}]},
                {"role": "system", "content": "late note"},
                {"role": "user", "content": "thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "lookup", "description": "find", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
                      {"type": "function", "function": {"name": "noargs"}},
                      {"type": "custom", "custom": {"name": "free"}}],
            "tool_choice": {"type": "function", "function": {"name": "lookup"}},
            "parallel_tool_calls": false,
            "max_completion_tokens": 500,
            "temperature": 0.2,
            "stop": "END",
            "seed": 7,
            "reasoning_effort": "minimal",
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}, "strict": true}},
            "user": "u-1",
            "logit_bias": {"1": 2}
        })
    }

    #[test]
    fn decodes_a_full_request() {
        let r = decode_request(&obj(full_request())).unwrap();
        assert_eq!(r.model, "qwen-display");
        assert!(r.stream);
        assert_eq!(r.system, vec!["be brief", "use tools"]);
        assert_eq!(r.messages.len(), 6);
        assert_eq!(r.messages[0].parts.len(), 3);
        assert_eq!(
            r.messages[0].parts[1],
            Part::Image { media_type: Some("image/jpeg".into()), data: ImageData::Base64("/9j/AAAA".into()) }
        );
        assert_eq!(
            r.messages[0].parts[2],
            Part::Image { media_type: None, data: ImageData::Url("https://example.com/cat.png".into()) }
        );
        assert_eq!(r.messages[1].parts[0], Part::Thinking { text: "let me look".into(), signature: None });
        assert_eq!(r.messages[1].parts.len(), 3);
        assert_eq!(
            r.messages[3].parts[0],
            Part::ToolResult { call_id: "call_b".into(), content: "ok".into(), is_error: false }
        );
        assert_eq!(r.messages[4].role, Role::System);
        assert_eq!(r.tools.len(), 2, "custom tool dropped");
        assert_eq!(r.tools[1].parameters, json!({"type": "object", "properties": {}}));
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("lookup".into())));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(r.max_tokens, Some(500));
        assert_eq!(r.stop, vec!["END"]);
        assert_eq!(r.seed, Some(7));
        assert_eq!(r.reasoning.unwrap().effort, Some(Effort::Minimal));
        assert_eq!(r.response_format.as_ref().unwrap()["json_schema"]["strict"], true);
        assert_eq!(r.extra.get("user"), Some(&json!("u-1")));
        assert!(r.extra.contains_key("max_completion_tokens"));
        assert!(!r.extra.contains_key("stream_options"));
        assert!(include_usage(&obj(full_request())));
    }

    #[test]
    fn round_trip_to_openai_origin_keeps_meaning() {
        let r = decode_request(&obj(full_request())).unwrap();
        let b = encode_request(&r, "Qwen/Qwen3-32B");
        assert_eq!(b["model"], "Qwen/Qwen3-32B");
        assert_eq!(b["stream_options"], json!({"include_usage": true}));
        assert_eq!(b["max_completion_tokens"], 500);
        assert!(b.get("max_tokens").is_none());
        assert_eq!(b["reasoning_effort"], "minimal", "same family forwards verbatim");
        assert_eq!(b["user"], "u-1");
        assert_eq!(b["logit_bias"], json!({"1": 2}));
        assert_eq!(b["parallel_tool_calls"], false);
        assert_eq!(b["tool_choice"], json!({"type": "function", "function": {"name": "lookup"}}));
        let msgs = b["messages"].as_array().unwrap();
        assert_eq!(msgs[0], json!({"role": "system", "content": "be brief\n\nuse tools"}));
        assert_eq!(msgs[1]["content"][1]["image_url"]["url"], "data:image/jpeg;base64,/9j/AAAA");
        assert_eq!(msgs[1]["content"][2]["image_url"]["url"], "https://example.com/cat.png");
        assert_eq!(msgs[2]["content"], Value::Null);
        assert_eq!(msgs[2]["tool_calls"][1]["function"]["arguments"], "{}");
        assert!(msgs[2].get("reasoning_content").is_none());
        assert_eq!(msgs[3], json!({"role": "tool", "tool_call_id": "call_a", "content": "a cat"}));
        assert_eq!(msgs[5], json!({"role": "system", "content": "late note"}));
        assert_eq!(msgs[6], json!({"role": "user", "content": "thanks"}));
    }

    #[test]
    fn cross_family_request_maps_effort_and_drops_extra() {
        let mut r = decode_request(&obj(full_request())).unwrap();
        r.extra_family = Some(Family::Ollama);
        r.stream = false;
        r.reasoning = Some(Reasoning { enabled: true, effort: None, budget_tokens: Some(20_000) });
        r.messages.push(Message {
            role: Role::Tool,
            parts: vec![Part::ToolResult { call_id: "x".into(), content: "boom".into(), is_error: true }],
        });
        let b = encode_request(&r, "m");
        assert!(b.get("user").is_none());
        assert!(b.get("stream_options").is_none());
        assert_eq!(b["max_tokens"], 500);
        assert_eq!(b["reasoning_effort"], "high");
        let last = b["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["content"], "Error: boom");
        r.tools.clear();
        let b = encode_request(&r, "m");
        assert!(b.get("parallel_tool_calls").is_none());
    }

    #[test]
    fn bad_requests_name_the_field() {
        let cases = [
            (json!({"messages": []}), "model"),
            (json!({"model": "m"}), "messages"),
            (json!({"model": "m", "messages": [{"role": "user", "content": 5}]}), "messages[0].content"),
            (json!({"model": "m", "messages": [{"role": "wizard"}]}), "messages[0].role"),
            (json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}), "messages[0].tool_call_id"),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
                "messages[0].content[0].type",
            ),
            (
                json!({"model": "m", "messages": [], "tools": [{"type": "function", "function": {}}]}),
                "tools[0].function.name",
            ),
            (json!({"model": "m", "messages": [], "n": 3}), "n"),
            (json!({"model": "m", "messages": [], "reasoning_effort": "ultra"}), "reasoning_effort"),
            (json!({"model": "m", "messages": [], "temperature": "hot"}), "temperature"),
            (json!({"model": "m", "messages": [], "stop": [1]}), "stop[0]"),
            (json!({"model": "m", "messages": [], "functions": []}), "functions"),
            (
                json!({"model": "m", "messages": [], "response_format": {"type": "json_schema"}}),
                "response_format.json_schema",
            ),
            (json!({"model": "m", "messages": "hi"}), "messages"),
            (
                json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 3}}]}]}),
                "messages[0].tool_calls[0].function.arguments",
            ),
        ];
        for (body, field) in cases {
            let e = decode_request(&obj(body.clone())).unwrap_err();
            assert_eq!(e.status(), 400);
            assert_eq!(e.field(), Some(field), "body {body}");
        }
    }

    #[test]
    fn allowed_tools_filters_the_list() {
        let r = decode_request(&obj(json!({
            "model": "m", "messages": [],
            "tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}],
            "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "b"}}]}}
        })))
        .unwrap();
        assert_eq!(r.tools.len(), 1);
        assert_eq!(r.tools[0].name, "b");
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
    }

    #[test]
    fn decodes_non_stream_answers() {
        let r = decode_response(&json!({
            "id": "chatcmpl-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "reasoning_content": "think",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        }))
        .unwrap();
        assert_eq!(r.id, "chatcmpl-1");
        assert_eq!(r.text, "hi");
        assert_eq!(r.reasoning, "think");
        assert_eq!(r.tool_calls, vec![ToolCall { id: "c1".into(), name: "f".into(), arguments: "{\"a\":1}".into() }]);
        assert_eq!(r.finish, FinishReason::ToolCalls);
        assert_eq!(r.usage, Some(Usage { prompt_tokens: 10, completion_tokens: 5, estimated: false }));

        let r =
            decode_response(&json!({"choices": [{"message": {"content": "x"}, "finish_reason": "length"}]})).unwrap();
        assert_eq!(r.finish, FinishReason::Length);
        assert_eq!(r.usage, None);
        let r = decode_response(
            &json!({"choices": [{"message": {"content": "x"}, "finish_reason": "stop", "stop_reason": "###"}]}),
        )
        .unwrap();
        assert_eq!(r.finish, FinishReason::StopSequence);
        let r = decode_response(&json!({"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "stop"}]})).unwrap();
        assert_eq!(r.finish, FinishReason::ToolCalls, "stop with tool calls is a tool-call turn");
        assert_eq!(
            decode_response(&json!({"error": {"message": "model overloaded"}})).unwrap_err(),
            "model overloaded"
        );
        assert!(decode_response(&json!({"choices": []})).is_err());
        assert!(decode_response(&json!([1])).is_err());
    }

    fn feed(d: &mut StreamDecoder, v: Value) -> Vec<Chunk> {
        let mut out = Vec::new();
        d.frame(v.to_string().as_bytes(), &mut out).unwrap();
        out
    }

    #[test]
    fn stream_tool_calls_merge_by_index_across_entries() {
        let mut d = StreamDecoder::new();
        let mut all = Vec::new();
        all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})));
        all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"reasoning_content": "plan"}}]})));
        all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"content": "Let me check."}}]})));
        // Two calls start in one delta; arguments arrive in pieces, interleaved by index.
        all.extend(feed(
            &mut d,
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "read", "arguments": ""}},
                {"index": 1, "id": "call_2", "type": "function", "function": {"name": "grep", "arguments": "{\"pat"}}
            ]}}]}),
        ));
        all.extend(feed(
            &mut d,
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": "{\"path\":"}},
                {"index": 1, "function": {"arguments": "\":\"x\"}"}}
            ]}}]}),
        ));
        all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"a.rs\"}"}}]}}]})));
        // A third call whose name arrives after its first arguments.
        all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 2, "id": "call_3", "function": {"arguments": "{}"}}]}}]})));
        all.extend(feed(
            &mut d,
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 2, "function": {"name": "ls"}}]}}]}),
        ));
        all.extend(feed(&mut d, json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})));
        all.extend(feed(
            &mut d,
            json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}}),
        ));
        assert_eq!(
            all,
            vec![
                Chunk::Reasoning("plan".into()),
                Chunk::Text("Let me check.".into()),
                Chunk::ToolCallStart { index: 0, id: "call_1".into(), name: "read".into() },
                Chunk::ToolCallStart { index: 1, id: "call_2".into(), name: "grep".into() },
                Chunk::ToolCallArgs { index: 1, delta: "{\"pat".into() },
                Chunk::ToolCallArgs { index: 0, delta: "{\"path\":".into() },
                Chunk::ToolCallArgs { index: 1, delta: "\":\"x\"}".into() },
                Chunk::ToolCallArgs { index: 0, delta: "\"a.rs\"}".into() },
                Chunk::ToolCallStart { index: 2, id: "call_3".into(), name: "ls".into() },
                Chunk::ToolCallArgs { index: 2, delta: "{}".into() },
                Chunk::Finish(FinishReason::ToolCalls),
                Chunk::Usage(Usage { prompt_tokens: 12, completion_tokens: 34, estimated: false }),
            ]
        );
        let mut r = ChatResponse::default();
        all.iter().for_each(|c| r.push_chunk(c));
        assert_eq!(r.tool_calls[0].arguments, "{\"path\":\"a.rs\"}");
        assert_eq!(r.tool_calls[1].arguments, "{\"pat\":\"x\"}");
    }

    #[test]
    fn stream_decoder_edge_cases() {
        let mut d = StreamDecoder::new();
        // `reasoning` (Ollama/OpenRouter spelling), other choices ignored, stop upgraded.
        let c = feed(
            &mut d,
            json!({"choices": [{"index": 1, "delta": {"content": "no"}}, {"index": 0, "delta": {"reasoning": "r"}}]}),
        );
        assert_eq!(c, vec![Chunk::Reasoning("r".into())]);
        let c = feed(
            &mut d,
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"id": "x", "function": {"name": "f", "arguments": {"a": 1}}}]}}]}),
        );
        assert_eq!(c[1], Chunk::ToolCallArgs { index: 0, delta: "{\"a\":1}".into() });
        let c = feed(&mut d, json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}));
        assert_eq!(c, vec![Chunk::Finish(FinishReason::ToolCalls)]);
        // Error objects inside the stream.
        let mut out = Vec::new();
        let e = d.frame(br#"{"error":{"message":"CUDA out of memory","type":"server_error"}}"#, &mut out).unwrap_err();
        assert_eq!(e, "CUDA out of memory");
        assert!(d.frame(b"{not json", &mut out).is_err());
        assert!(d.frame(b"  ", &mut out).is_ok());
        // Length, and vLLM-style usage on a chunk with choices.
        let mut d = StreamDecoder::new();
        let c = feed(
            &mut d,
            json!({"choices": [{"index": 0, "delta": {"content": "ab"}, "finish_reason": "length"}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}),
        );
        assert_eq!(c[1], Chunk::Finish(FinishReason::Length));
        assert!(matches!(c[2], Chunk::Usage(_)));
    }

    #[test]
    fn encodes_non_stream_answers() {
        let resp = ChatResponse {
            id: "chatcmpl-9".into(),
            text: String::new(),
            reasoning: "why".into(),
            tool_calls: vec![ToolCall { id: String::new(), name: "f".into(), arguments: String::new() }],
            finish: FinishReason::ToolCalls,
            usage: None,
        };
        let v = encode_response(&resp, "display", 1700);
        assert_eq!(v["model"], "display");
        assert_eq!(v["created"], 1700);
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(v["choices"][0]["message"]["reasoning_content"], "why");
        assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["id"], "call_9_0");
        assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{}");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert!(v.get("usage").is_none(), "no invented usage");
        let resp = ChatResponse {
            text: "ok".into(),
            usage: Some(Usage { prompt_tokens: 2, completion_tokens: 3, estimated: false }),
            ..resp
        };
        let v = encode_response(&resp, "display", 1);
        assert_eq!(v["usage"], json!({"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}));
    }

    #[test]
    fn stream_encoder_full_sequence() {
        let mut e = StreamEncoder::new("disp", "chatcmpl-7", 42, true);
        let mut out = Vec::new();
        e.start(&mut out);
        for c in [
            Chunk::Reasoning("hmm".into()),
            Chunk::Text("Hi \"you\"".into()),
            Chunk::ToolCallStart { index: 0, id: String::new(), name: "f".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"a\"".into() },
            Chunk::ToolCallArgs { index: 0, delta: ":1}".into() },
            Chunk::Finish(FinishReason::Stop),
            Chunk::Usage(Usage { prompt_tokens: 5, completion_tokens: 6, estimated: false }),
        ] {
            e.chunk(&c, &mut out);
        }
        e.finish(&mut out);
        e.chunk(&Chunk::Text("late".into()), &mut out);
        e.finish(&mut out);
        let p = sse_payloads(&out);
        assert_eq!(p.len(), 9);
        assert_eq!(p[8], "[DONE]");
        let v: Vec<Value> = p[..8].iter().map(|s| serde_json::from_str(s).unwrap()).collect();
        for c in &v {
            assert_eq!(c["id"], "chatcmpl-7");
            assert_eq!(c["model"], "disp");
            assert_eq!(c["object"], "chat.completion.chunk");
        }
        assert_eq!(v[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(v[1]["choices"][0]["delta"]["reasoning_content"], "hmm");
        assert_eq!(v[2]["choices"][0]["delta"]["content"], "Hi \"you\"");
        assert_eq!(v[3]["choices"][0]["delta"]["tool_calls"][0]["id"], "call_7_0");
        assert_eq!(v[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"], "f");
        assert_eq!(v[5]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"], ":1}");
        assert_eq!(v[6]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(v[7]["choices"], json!([]));
        assert_eq!(v[7]["usage"]["total_tokens"], 11);
    }

    #[test]
    fn stream_encoder_without_usage_and_on_error() {
        let mut e = StreamEncoder::new("d", "id", 1, true);
        let mut out = Vec::new();
        e.chunk(&Chunk::Text("x".into()), &mut out);
        e.chunk(&Chunk::Finish(FinishReason::Length), &mut out);
        e.finish(&mut out);
        let p = sse_payloads(&out);
        assert_eq!(p.len(), 4, "role, text, finish, DONE — no invented usage chunk");
        assert!(p[2].contains("\"finish_reason\":\"length\""));

        let mut e = StreamEncoder::new("d", "id", 1, false);
        let mut out = Vec::new();
        e.start(&mut out);
        e.chunk(&Chunk::Text("partial".into()), &mut out);
        e.error("origin reset", &mut out);
        e.finish(&mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains("[DONE]"));
        assert!(!s.contains("finish_reason\":\"stop"));
        let last = sse_payloads(s.as_bytes()).pop().unwrap();
        let v: Value = serde_json::from_str(&last).unwrap();
        assert_eq!(v["error"]["message"], "origin reset");
    }

    #[test]
    fn no_panic_on_type_confusion() {
        for v in wire::type_confusions(&full_request()) {
            if let Value::Object(m) = &v {
                if let Err(e) = decode_request(m) {
                    assert_eq!(e.status(), 400);
                    assert!(e.field().is_some(), "error names a field: {e}");
                } else if let Ok(r) = decode_request(m) {
                    let _ = encode_request(&r, "x");
                    let _ = crate::translate::ollama::encode_chat_request(&r, "x");
                }
            }
        }
        let answer = json!({"id": "c", "choices": [{"index": 0, "message": {"content": "x", "reasoning_content": "r",
            "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "stop", "stop_reason": "s"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2}});
        for v in wire::type_confusions(&answer) {
            let _ = decode_response(&v);
        }
        let chunk = json!({"choices": [{"index": 0, "delta": {"content": "x", "reasoning_content": "r",
            "tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}]}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2}});
        let mut d = StreamDecoder::new();
        let mut out = Vec::new();
        for v in wire::type_confusions(&chunk) {
            let _ = d.frame(v.to_string().as_bytes(), &mut out);
        }
        for junk in [&b"\xff\xfe"[..], b"[]", b"null", b"\"str\"", b"{\"choices\":5}"] {
            let _ = d.frame(junk, &mut out);
        }
    }
}
