//! OpenAI chat completions requests: the client request decoder and the origin request encoder.
//!
//! Deliberate drops (no IR slot, and no meaning lost for the answer the client gets):
//! message `name`, `logprobs`/`top_logprobs`, `stream_options` (the origin encoder sets its
//! own; whether the *client* wants a usage chunk is `include_usage(body)`), custom/hosted
//! tools (`type` other than `function`), assistant reasoning in history when sending to an
//! OpenAI origin (the chat API has no input field for it). Unknown top-level fields are kept
//! in `ChatRequest::extra` and only re-emitted towards an OpenAI-family origin.

use super::super::ir::*;
use super::super::sampling;
use super::super::wire::{self, JsonMap, Obj};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

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
    sampling::decode(&o, &sampling::OPENAI, &mut req)?;
    if let Some(e) = o.str("reasoning_effort")? {
        req.reasoning = Some(if e == "none" {
            Reasoning { enabled: false, effort: None, budget_tokens: None }
        } else {
            let effort = Effort::parse(e).ok_or_else(|| o.err("reasoning_effort", "must be one of none, minimal, low, medium, high, xhigh"))?;
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
                    "input_audio" | "file" => return Err(p.err("type", "is not supported by this gateway (audio and file parts)")),
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
                req.messages.push(Message { role: Role::Tool, parts: vec![Part::ToolResult { call_id, content, is_error: false }] });
            }
            "function" => return Err(m.err("role", "`function` messages belong to the legacy functions API; use `tool`")),
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
    out.insert("messages".into(), Value::Array(encode_messages(req, replays_reasoning(real_model))));
    out.insert("stream".into(), json!(req.stream));
    if req.stream {
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    out.remove("max_completion_tokens");
    let max_key = if same_family && req.extra.contains_key("max_completion_tokens") { "max_completion_tokens" } else { "max_tokens" };
    sampling::encode(req, &sampling::OPENAI, max_key, &mut out);
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

/// Models that refuse a replayed tool-call turn without the reasoning they produced for it
/// (DeepSeek's thinking mode: "400 ... reasoning_content ... must be passed back"; Kimi K2
/// thinking likewise). Other OpenAI-compatible origins are not sent earlier reasoning.
pub fn replays_reasoning(real_model: &str) -> bool {
    let m = real_model.to_ascii_lowercase();
    m.contains("deepseek") || m.contains("kimi-k2")
}

fn encode_messages(req: &ChatRequest, replay_reasoning: bool) -> Vec<Value> {
    let mut msgs = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        msgs.push(json!({"role": "system", "content": req.system.join("\n\n")}));
    }
    for m in &req.messages {
        match m.role {
            Role::System => {
                let text: Vec<&str> = m.parts.iter().filter_map(|p| if let Part::Text(t) = p { Some(t.as_str()) } else { None }).collect();
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
                let mut reasoning = String::new();
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
                        // The origin family's own reasoning (unsigned: not Anthropic's), for
                        // the models that want it back (`replays_reasoning`).
                        Part::Thinking { text: t, signature } if replay_reasoning && anthropic_signature(signature.as_deref()).is_none() => {
                            reasoning.push_str(t);
                        }
                        // Prior reasoning has no input field in OpenAI chat otherwise; images
                        // cannot be assistant content. Both dropped.
                        _ => {}
                    }
                }
                let mut am = Map::new();
                am.insert("role".into(), json!("assistant"));
                am.insert("content".into(), if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) });
                if !calls.is_empty() {
                    am.insert("tool_calls".into(), Value::Array(calls));
                    // Only tool-call turns need it (DeepSeek ignores it elsewhere).
                    if !reasoning.is_empty() {
                        am.insert("reasoning_content".into(), json!(reasoning));
                    }
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
        let text: Vec<&str> = rest.iter().filter_map(|p| if let Part::Text(t) = p { Some(t.as_str()) } else { None }).collect();
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
