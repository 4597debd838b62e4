//! OpenAI Responses API: client request decoder and client answer encoders (the `response`
//! object and the SSE event stream), for Codex-style clients.
//!
//! Stored state (`store`, `previous_response_id`, `item_reference`) is resolved before this
//! decoder runs (`state::response_store::expand`), so the body it sees is self-contained; a
//! reference still present here could not be resolved and is a 400. `conversation`, `prompt`
//! (stored prompts) and `background` are refused with a 400 rather than silently answered
//! without the context they point to. Deliberate drops: `include`,
//! `metadata`, `user`, `prompt_cache_key`, `safety_identifier`, `service_tier`, `truncation`,
//! `top_logprobs`, `max_tool_calls`, `text.verbosity`, `reasoning.summary`, hosted tools
//! (`web_search`, `file_search`, `mcp`, ...), image `detail`. Custom (freeform) and
//! `namespace` tools become function tools under origin-safe names and their calls map back
//! (`responses_tools`). Reasoning items reach an origin only if that origin produced them (the
//! gateway's `encrypted_content` tag says which; OpenAI's encrypted reasoning is dropped).
//! Local-shell history items are kept as ordinary tool calls so the conversation stays
//! coherent.
//!
//! Reasoning from an origin is raw chain of thought. By default it is sent as a reasoning
//! *summary* (`response.reasoning_summary_text.*`), which is what Codex displays; set
//! `ReasoningStyle::Text` to send it as `reasoning_text` content instead.

use super::ir::*;
use super::responses_tools::{self as tools, Kind, ToolMap};
use super::wire::{self, write_json, JsonMap, Obj};
use super::StreamEncoder as StreamEncoderTrait;
use crate::error::GatewayError;
use crate::types::{FinishReason, Usage};
use serde_json::{json, Map, Value};

// ============================================================================================
// Client request -> IR
// ============================================================================================

/// `POST /v1/responses` body.
pub fn decode_request(body: &JsonMap) -> Result<ChatRequest, GatewayError> {
    let o = Obj::root(body);
    let mut req = ChatRequest { model: o.req_str("model")?.to_string(), ..Default::default() };
    req.stream = o.bool("stream")?.unwrap_or(false);
    for stateful in ["previous_response_id", "conversation", "prompt"] {
        if o.get(stateful).is_some() {
            let why = if stateful == "previous_response_id" {
                "could not be resolved against your stored responses; send the whole conversation in `input`"
            } else {
                "is not supported: this gateway keeps no conversations or stored prompts; send the whole conversation in `input`"
            };
            return Err(o.err(stateful, why));
        }
    }
    if o.bool("background")?.unwrap_or(false) {
        return Err(o.err("background", "background responses are not supported"));
    }
    if let Some(i) = o.str("instructions")? {
        if !i.is_empty() {
            req.system.push(i.to_string());
        }
    }
    let (offered, map) = tools::decode(&o)?;
    match o.get("input") {
        None => return Err(o.err("input", "is required")),
        Some(Value::String(s)) => req.messages.push(Message::text(Role::User, s.clone())),
        Some(Value::Array(items)) => {
            let mut b = Builder { req: &mut req, leading: true, map: &map };
            for (i, it) in items.iter().enumerate() {
                b.item(&Obj::of(it, o.item_path("input", i))?)?;
            }
        }
        Some(_) => return Err(o.err("input", "must be a string or an array of items")),
    }
    req.tools = offered;
    decode_tool_choice(&o, &map, &mut req)?;
    req.parallel_tool_calls = o.bool("parallel_tool_calls")?;
    req.max_tokens = o.u64("max_output_tokens")?;
    req.temperature = o.f64("temperature")?;
    req.top_p = o.f64("top_p")?;
    if let Some(r) = o.obj("reasoning")? {
        if let Some(e) = r.str("effort")? {
            req.reasoning = Some(if e == "none" {
                Reasoning { enabled: false, effort: None, budget_tokens: None }
            } else {
                let effort = Effort::parse(e)
                    .ok_or_else(|| r.err("effort", "must be one of none, minimal, low, medium, high, xhigh"))?;
                Reasoning { enabled: true, effort: Some(effort), budget_tokens: None }
            });
        }
    }
    if let Some(t) = o.obj("text")? {
        if let Some(f) = t.obj("format")? {
            req.response_format = match f.req_str("type")? {
                "text" => None,
                "json_object" => Some(json!({"type": "json_object"})),
                "json_schema" => {
                    let schema = f.obj("schema")?.ok_or_else(|| f.err("schema", "is required"))?;
                    let mut inner = Map::new();
                    inner.insert("name".into(), json!(f.str("name")?.unwrap_or("response")));
                    inner.insert("schema".into(), Value::Object(schema.m.clone()));
                    if let Some(s) = f.bool("strict")? {
                        inner.insert("strict".into(), json!(s));
                    }
                    if let Some(d) = f.str("description")? {
                        inner.insert("description".into(), json!(d));
                    }
                    Some(json!({"type": "json_schema", "json_schema": inner}))
                }
                _ => return Err(f.err("type", "must be one of text, json_object, json_schema")),
            };
        }
    }
    Ok(req)
}

/// Collects input items into IR messages: consecutive assistant-side items (reasoning,
/// assistant messages, calls) form one assistant message; consecutive outputs one tool turn.
struct Builder<'r> {
    req: &'r mut ChatRequest,
    leading: bool,
    /// Names of namespace and custom tools as the origin knows them.
    map: &'r ToolMap,
}

impl Builder<'_> {
    fn push(&mut self, role: Role, part: Part) {
        self.leading = false;
        match self.req.messages.last_mut() {
            Some(m) if m.role == role && role != Role::User => m.parts.push(part),
            _ => self.req.messages.push(Message { role, parts: vec![part] }),
        }
    }

    fn item(&mut self, it: &Obj) -> Result<(), GatewayError> {
        let ty = match it.str("type")? {
            Some(t) => t,
            None if it.get("role").is_some() => "message",
            None => return Err(it.err("type", "is required")),
        };
        match ty {
            "message" => self.message(it),
            "function_call" => {
                let call = Part::ToolCall {
                    id: it.req_str("call_id")?.to_string(),
                    name: self.map.origin_name(it.str("namespace")?, it.req_str("name")?),
                    arguments: it.str("arguments")?.unwrap_or("").to_string(),
                };
                self.push(Role::Assistant, call);
                Ok(())
            }
            "custom_tool_call" => {
                let input = it.str("input")?.unwrap_or("");
                let call = Part::ToolCall {
                    id: it.req_str("call_id")?.to_string(),
                    name: self.map.origin_name(it.str("namespace")?, it.req_str("name")?),
                    arguments: json!({"input": input}).to_string(),
                };
                self.push(Role::Assistant, call);
                Ok(())
            }
            "local_shell_call" => {
                let call_id = match it.str("call_id")? {
                    Some(c) => c,
                    None => it.req_str("id")?,
                };
                let args = it.get("action").map(Value::to_string).unwrap_or_else(|| "{}".into());
                self.push(
                    Role::Assistant,
                    Part::ToolCall { id: call_id.to_string(), name: "local_shell".into(), arguments: args },
                );
                Ok(())
            }
            "function_call_output" | "custom_tool_call_output" | "local_shell_call_output" => {
                let call_id = match it.str("call_id")? {
                    Some(c) => c,
                    None if ty == "local_shell_call_output" => it.req_str("id")?,
                    None => return Err(it.err("call_id", "is required")),
                };
                let mut images = Vec::new();
                let content = match it.get("output") {
                    None => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => {
                        let mut texts = Vec::new();
                        for (i, p) in parts.iter().enumerate() {
                            let p = Obj::of(p, it.item_path("output", i))?;
                            match p.req_str("type")? {
                                "input_text" | "output_text" | "text" => texts.push(p.req_str("text")?.to_string()),
                                "input_image" => images.push(image(&p)?),
                                _ => texts.extend(p.str("text")?.map(str::to_string)),
                            }
                        }
                        texts.join("\n")
                    }
                    Some(_) => return Err(it.err("output", "must be a string or an array of content parts")),
                };
                self.push(Role::Tool, Part::ToolResult { call_id: call_id.to_string(), content, is_error: false });
                if !images.is_empty() {
                    // Images returned by a tool follow as user content (tool turns carry text).
                    self.req.messages.push(Message { role: Role::User, parts: images });
                }
                Ok(())
            }
            "reasoning" => {
                let mut texts = Vec::new();
                for key in ["summary", "content"] {
                    for (i, p) in it.arr(key)?.unwrap_or(&[]).iter().enumerate() {
                        let p = Obj::of(p, it.item_path(key, i))?;
                        if let Some(t) = p.str("text")? {
                            texts.push(t.to_string());
                        }
                    }
                }
                // Only reasoning this gateway minted says where it came from (`encrypted_content`
                // = `tools::origin_tag`); it rides as the part's provenance until the leg is
                // chosen (`tools::settle_reasoning`). Anything else (OpenAI's encrypted
                // reasoning, items without a tag) was produced by no origin we can name: dropped.
                // Empty reasoning adds nothing.
                let tag = it.str("encrypted_content")?.filter(|t| tools::is_origin_tag(t));
                if let (false, Some(tag)) = (texts.is_empty(), tag) {
                    self.push(Role::Assistant, Part::Thinking { text: texts.join("\n"), signature: Some(tag.to_string()) });
                }
                Ok(())
            }
            "item_reference" => {
                Err(it.err("type", "is an item reference that could not be resolved against your stored responses"))
            }
            // Hosted-tool traffic (web/file search, computer use, image generation, code
            // interpreter, MCP): no counterpart on chat origins, dropped.
            _ => Ok(()),
        }
    }

    fn message(&mut self, it: &Obj) -> Result<(), GatewayError> {
        let role = it.req_str("role")?;
        let mut parts = Vec::new();
        match it.get("content") {
            None => {}
            Some(Value::String(s)) => parts.push(Part::Text(s.clone())),
            Some(Value::Array(a)) => {
                for (i, p) in a.iter().enumerate() {
                    let p = Obj::of(p, it.item_path("content", i))?;
                    match p.req_str("type")? {
                        "input_text" | "output_text" | "text" => parts.push(Part::Text(p.req_str("text")?.to_string())),
                        "refusal" => parts.push(Part::Text(p.req_str("refusal")?.to_string())),
                        "input_image" => parts.push(image(&p)?),
                        "input_file" | "input_audio" => {
                            return Err(p.err("type", "is not supported by this gateway (files and audio)"))
                        }
                        // Open list: unknown part types travel as their text, or are dropped.
                        _ => parts.extend(p.str("text")?.map(|t| Part::Text(t.to_string()))),
                    }
                }
            }
            Some(_) => return Err(it.err("content", "must be a string or an array of content parts")),
        }
        match role {
            "system" | "developer" => {
                let text: Vec<String> = parts
                    .into_iter()
                    .map(|p| match p {
                        Part::Text(t) => Ok(t),
                        _ => Err(it.err("content", "system and developer messages may only contain text")),
                    })
                    .collect::<Result<_, _>>()?;
                let text = text.join("\n");
                if self.leading {
                    self.req.system.push(text);
                } else {
                    self.req.messages.push(Message::text(Role::System, text));
                }
            }
            "user" => {
                self.leading = false;
                self.req.messages.push(Message { role: Role::User, parts });
            }
            "assistant" => {
                for p in parts {
                    if matches!(p, Part::Image { .. }) {
                        return Err(it.err("content", "assistant messages may only contain text"));
                    }
                    self.push(Role::Assistant, p);
                }
                self.leading = false;
            }
            _ => return Err(it.err("role", "must be one of user, assistant, system, developer")),
        }
        Ok(())
    }
}

fn image(p: &Obj) -> Result<Part, GatewayError> {
    if p.get("file_id").is_some() && p.get("image_url").is_none() {
        return Err(p.err("file_id", "file references are not supported; send `image_url`"));
    }
    let (media_type, data) = wire::parse_image_url(p.req_str("image_url")?);
    Ok(Part::Image { media_type, data })
}

fn decode_tool_choice(o: &Obj, map: &ToolMap, req: &mut ChatRequest) -> Result<(), GatewayError> {
    req.tool_choice = match o.get("tool_choice") {
        None => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => return Err(o.err("tool_choice", "must be auto, none, required or an object")),
        }),
        Some(Value::Object(_)) => {
            let tc = o.obj("tool_choice")?.unwrap();
            match tc.req_str("type")? {
                "function" | "custom" => Some(ToolChoice::Named(map.origin_name(tc.str("namespace")?, tc.req_str("name")?))),
                "allowed_tools" => {
                    let mut names = Vec::new();
                    for (i, t) in tc.arr("tools")?.unwrap_or(&[]).iter().enumerate() {
                        let t = Obj::of(t, tc.item_path("tools", i))?;
                        if let Some(n) = t.str("name")? {
                            names.push(map.origin_name(t.str("namespace")?, n));
                        }
                    }
                    // A subset restriction is the same as offering only that subset.
                    req.tools.retain(|t| names.contains(&t.name));
                    Some(match tc.str("mode")?.unwrap_or("auto") {
                        "auto" => ToolChoice::Auto,
                        "required" => ToolChoice::Required,
                        _ => return Err(tc.err("mode", "must be auto or required")),
                    })
                }
                _ => {
                    return Err(tc.err("type", "forcing a hosted tool is not supported; use a function or custom tool"))
                }
            }
        }
        Some(_) => return Err(o.err("tool_choice", "must be a string or an object")),
    };
    Ok(())
}

// ============================================================================================
// IR -> client answer
// ============================================================================================

/// How origin reasoning is presented to a Responses client (see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReasoningStyle {
    #[default]
    Summary,
    Text,
}

fn id_tail(resp_id: &str) -> &str {
    resp_id.strip_prefix("resp_").unwrap_or(resp_id)
}

fn item_id(kind: &str, resp_id: &str, output_index: usize) -> String {
    format!("{kind}_{}_{output_index}", id_tail(resp_id))
}

fn usage_json(u: &Usage) -> Value {
    json!({"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens, "total_tokens": u.total()})
}

/// (status, incomplete_details) for a finish reason.
fn status_of(f: FinishReason) -> (&'static str, Value) {
    match f {
        FinishReason::Length => ("incomplete", json!({"reason": "max_output_tokens"})),
        FinishReason::ContentFilter => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// `tag` (`responses_tools::origin_tag`) names the origin that produced the reasoning, as the
/// item's `encrypted_content`: a next turn sends it back, and only that origin gets it again.
fn reasoning_item(id: &str, text: &str, style: ReasoningStyle, tag: Option<&str>) -> Value {
    let mut item = match style {
        ReasoningStyle::Summary => {
            json!({"id": id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]})
        }
        ReasoningStyle::Text => {
            json!({"id": id, "type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": text}]})
        }
    };
    if let Some(t) = tag {
        item["encrypted_content"] = json!(t);
    }
    item
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"id": id, "type": "message", "status": status, "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

fn call_item(id: &str, call_id: &str, name: &str, args: &str, status: &str) -> Value {
    json!({"id": id, "type": "function_call", "status": status, "call_id": call_id, "name": name, "arguments": args})
}

/// The output item of a call of the origin's tool `origin` (see `responses_tools`): a
/// `function_call` under the client's name (with its `namespace`), or a `custom_tool_call`
/// carrying the raw `input` (`args` are the origin's JSON arguments; an item just opened
/// passes empty ones).
fn tool_item(map: &ToolMap, id: &str, call_id: &str, origin: &str, args: &str, status: &str) -> Value {
    let Some(e) = map.client(origin) else { return call_item(id, call_id, origin, args, status) };
    match e.kind {
        Kind::Custom => {
            let input = if args.is_empty() { String::new() } else { tools::custom_input(args) };
            let mut item = json!({"id": id, "type": "custom_tool_call", "status": status, "call_id": call_id, "name": e.name, "input": input});
            if let Some(ns) = &e.namespace {
                item["namespace"] = json!(ns);
            }
            item
        }
        Kind::Function => {
            let mut item = call_item(id, call_id, &e.name, args, status);
            if let Some(ns) = &e.namespace {
                item["namespace"] = json!(ns);
            }
            item
        }
    }
}

fn is_custom(map: &ToolMap, origin: &str) -> bool {
    map.client(origin).is_some_and(|e| e.kind == Kind::Custom)
}

fn response_obj(id: &str, display: &str, created: i64, status: &str, output: Vec<Value>) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("id".into(), json!(id));
    r.insert("object".into(), json!("response"));
    r.insert("created_at".into(), json!(created));
    r.insert("status".into(), json!(status));
    r.insert("error".into(), Value::Null);
    r.insert("incomplete_details".into(), Value::Null);
    r.insert("model".into(), json!(display));
    r.insert("output".into(), Value::Array(output));
    r
}

/// A non-streamed `response` object: output items reasoning, message (`output_text`),
/// function_call (with `call_id`); `status` completed, or incomplete with
/// `incomplete_details` for a length/content-filter stop. `usage` only when the origin
/// reported it — omitted otherwise, never invented.
pub fn encode_response(resp: &ChatResponse, display: &str, created: i64) -> Value {
    encode_response_styled(resp, display, created, ReasoningStyle::Summary)
}

pub fn encode_response_styled(resp: &ChatResponse, display: &str, created: i64, style: ReasoningStyle) -> Value {
    encode_response_with(resp, display, created, style, &ToolMap::default(), None)
}

/// `encode_response_styled` with the request's tool map: calls of custom and namespace tools
/// come back under the client's names and types; `tag` marks the reasoning's origin.
pub fn encode_response_with(resp: &ChatResponse, display: &str, created: i64, style: ReasoningStyle, map: &ToolMap, tag: Option<&str>) -> Value {
    let (status, incomplete) = status_of(resp.finish);
    let mut output = Vec::new();
    if !resp.reasoning.is_empty() {
        output.push(reasoning_item(&item_id("rs", &resp.id, output.len()), &resp.reasoning, style, tag));
    }
    if !resp.text.is_empty() || resp.tool_calls.is_empty() {
        output.push(message_item(&item_id("msg", &resp.id, output.len()), &resp.text, status));
    }
    for (i, tc) in resp.tool_calls.iter().enumerate() {
        let call_id = if tc.id.is_empty() { wire::call_id(&resp.id, i) } else { tc.id.clone() };
        let kind = if is_custom(map, &tc.name) { "ctc" } else { "fc" };
        let args = if is_custom(map, &tc.name) { tc.arguments.as_str() } else { wire::args_text(&tc.arguments) };
        output.push(tool_item(map, &item_id(kind, &resp.id, output.len()), &call_id, &tc.name, args, "completed"));
    }
    let mut r = response_obj(&resp.id, display, created, status, output);
    r.insert("incomplete_details".into(), incomplete);
    if let Some(u) = &resp.usage {
        r.insert("usage".into(), usage_json(u));
    }
    Value::Object(r)
}

struct OpenText {
    output_index: usize,
    id: String,
    text: String,
}

struct OpenCall {
    tool_index: usize,
    output_index: usize,
    id: String,
    call_id: String,
    /// The origin's tool name (`tool_item` maps it back).
    name: String,
    args: String,
    /// A custom tool: its input is JSON-wrapped at the origin, so it is sent whole at the end.
    custom: bool,
}

/// SSE encoder for Responses clients: `response.created`, `response.in_progress`, then per
/// output item `response.output_item.added` … `response.output_item.done` with its content
/// events (reasoning summary/text, `content_part.*` + `output_text.*`, or
/// `function_call_arguments.*`), and finally `response.completed` (or `response.incomplete`
/// for a length/content-filter stop) carrying the full response object and the origin's usage.
/// Every event has a strictly increasing `sequence_number`; each item has its own
/// `output_index`.
///
/// Consecutive tool calls stay open together (arguments may interleave); a tool call is
/// closed when text or reasoning starts or at the end. Arguments arriving for a call already
/// closed end the stream with `response.failed`.
pub struct StreamEncoder {
    display: String,
    resp_id: String,
    created: i64,
    style: ReasoningStyle,
    seq: u64,
    started: bool,
    done: bool,
    /// Output items already closed, in `output_index` order.
    items: Vec<Value>,
    next_output: usize,
    reasoning: Option<OpenText>,
    message: Option<OpenText>,
    calls: Vec<OpenCall>,
    /// Per IR tool index: 0 unseen, 1 open, 2 closed.
    tool_state: Vec<u8>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    /// Extra top-level fields of every response object (`store`, `previous_response_id`).
    meta: Map<String, Value>,
    /// Called with the final response object of a completed or incomplete stream (storing it).
    on_done: Option<OnDone>,
    tools: ToolMap,
    origin_tag: Option<String>,
    /// Prompt tokens to report when the origin reports no usage (`with_prompt_estimate`).
    prompt_estimate: u64,
    /// Characters of output so far (the completion estimate when the origin reports none).
    out_chars: usize,
}

/// Receives the final response object of a finished stream.
pub type OnDone = Box<dyn FnOnce(&Value)>;

impl StreamEncoder {
    pub fn new(display: &str, response_id: &str, created: i64) -> Self {
        StreamEncoder {
            display: display.to_string(),
            resp_id: response_id.to_string(),
            created,
            style: ReasoningStyle::Summary,
            seq: 0,
            started: false,
            done: false,
            items: Vec::new(),
            next_output: 0,
            reasoning: None,
            message: None,
            calls: Vec::new(),
            tool_state: Vec::new(),
            finish: None,
            usage: None,
            meta: Map::new(),
            on_done: None,
            tools: ToolMap::default(),
            origin_tag: None,
            prompt_estimate: 0,
            out_chars: 0,
        }
    }

    /// `response.completed` always carries usage (Codex reads it as the turn's token count);
    /// when the origin reports none, it is this prompt estimate plus ~4 characters a token of
    /// what was sent.
    pub fn with_prompt_estimate(mut self, tokens: u64) -> Self {
        self.prompt_estimate = tokens;
        self
    }

    /// The origin the reasoning comes from (`responses_tools::origin_tag`).
    pub fn with_origin_tag(mut self, tag: String) -> Self {
        self.origin_tag = Some(tag);
        self
    }

    /// The request's tool map (`responses_tools::map_of`): custom and namespace calls.
    pub fn with_tools(mut self, tools: ToolMap) -> Self {
        self.tools = tools;
        self
    }

    pub fn with_meta(mut self, meta: Map<String, Value>) -> Self {
        self.meta = meta;
        self
    }

    pub fn on_done(mut self, f: OnDone) -> Self {
        self.on_done = Some(f);
        self
    }

    pub fn with_reasoning_style(mut self, style: ReasoningStyle) -> Self {
        self.style = style;
        self
    }

    /// One event: `data` gets `type` and the next `sequence_number`.
    fn ev(&mut self, name: &str, mut data: Map<String, Value>, out: &mut Vec<u8>) {
        data.insert("type".into(), json!(name));
        data.insert("sequence_number".into(), json!(self.seq));
        self.seq += 1;
        wire::sse_event(out, name, &Value::Object(data));
    }

    /// Hot path: a delta event written without building a `Value`.
    fn delta_ev(
        &mut self,
        name: &str,
        item_id: &str,
        output_index: usize,
        index_key: &str,
        delta: &str,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\ndata: {\"type\":\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\",\"sequence_number\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        self.seq += 1;
        out.extend_from_slice(b",\"item_id\":");
        write_json(out, item_id);
        out.extend_from_slice(b",\"output_index\":");
        out.extend_from_slice(output_index.to_string().as_bytes());
        if !index_key.is_empty() {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(index_key.as_bytes());
            out.extend_from_slice(b"\":0");
        }
        out.extend_from_slice(b",\"delta\":");
        write_json(out, delta);
        if name == "response.output_text.delta" {
            out.extend_from_slice(b",\"logprobs\":[]");
        }
        out.extend_from_slice(b"}\n\n");
    }

    fn obj(pairs: Value) -> Map<String, Value> {
        match pairs {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn alloc_output(&mut self) -> usize {
        self.next_output += 1;
        self.next_output - 1
    }

    fn close_reasoning(&mut self, out: &mut Vec<u8>) {
        let Some(r) = self.reasoning.take() else { return };
        match self.style {
            ReasoningStyle::Summary => {
                self.ev(
                    "response.reasoning_summary_text.done",
                    Self::obj(
                        json!({"item_id": r.id, "output_index": r.output_index, "summary_index": 0, "text": r.text}),
                    ),
                    out,
                );
                self.ev("response.reasoning_summary_part.done", Self::obj(json!({"item_id": r.id, "output_index": r.output_index, "summary_index": 0, "part": {"type": "summary_text", "text": r.text}})), out);
            }
            ReasoningStyle::Text => {
                self.ev(
                    "response.reasoning_text.done",
                    Self::obj(
                        json!({"item_id": r.id, "output_index": r.output_index, "content_index": 0, "text": r.text}),
                    ),
                    out,
                );
                self.ev("response.content_part.done", Self::obj(json!({"item_id": r.id, "output_index": r.output_index, "content_index": 0, "part": {"type": "reasoning_text", "text": r.text}})), out);
            }
        }
        let item = reasoning_item(&r.id, &r.text, self.style, self.origin_tag.as_deref());
        self.ev(
            "response.output_item.done",
            Self::obj(json!({"output_index": r.output_index, "item": item.clone()})),
            out,
        );
        self.items.push(item);
    }

    fn close_message(&mut self, status: &str, out: &mut Vec<u8>) {
        let Some(m) = self.message.take() else { return };
        let part = json!({"type": "output_text", "text": m.text, "annotations": []});
        self.ev("response.output_text.done", Self::obj(json!({"item_id": m.id, "output_index": m.output_index, "content_index": 0, "text": m.text, "logprobs": []})), out);
        self.ev(
            "response.content_part.done",
            Self::obj(json!({"item_id": m.id, "output_index": m.output_index, "content_index": 0, "part": part})),
            out,
        );
        let item = message_item(&m.id, &m.text, status);
        self.ev(
            "response.output_item.done",
            Self::obj(json!({"output_index": m.output_index, "item": item.clone()})),
            out,
        );
        self.items.push(item);
    }

    fn close_calls(&mut self, out: &mut Vec<u8>) {
        for c in std::mem::take(&mut self.calls) {
            let item = if c.custom {
                let item = tool_item(&self.tools, &c.id, &c.call_id, &c.name, &c.args, "completed");
                let input = item["input"].as_str().unwrap_or("").to_string();
                if !input.is_empty() {
                    self.delta_ev("response.custom_tool_call_input.delta", &c.id, c.output_index, "", &input, out);
                }
                self.ev("response.custom_tool_call_input.done", Self::obj(json!({"item_id": c.id, "output_index": c.output_index, "input": input})), out);
                item
            } else {
                let args = wire::args_text(&c.args).to_string();
                let item = tool_item(&self.tools, &c.id, &c.call_id, &c.name, &args, "completed");
                self.ev(
                    "response.function_call_arguments.done",
                    Self::obj(json!({"item_id": c.id, "output_index": c.output_index, "name": item["name"], "arguments": args})),
                    out,
                );
                item
            };
            self.ev(
                "response.output_item.done",
                Self::obj(json!({"output_index": c.output_index, "item": item.clone()})),
                out,
            );
            self.items.push(item);
            self.tool_state[c.tool_index] = 2;
        }
    }

    fn base_response(&self, status: &str, output: Vec<Value>) -> Map<String, Value> {
        let mut r = response_obj(&self.resp_id, &self.display, self.created, status, output);
        r.extend(self.meta.iter().map(|(k, v)| (k.clone(), v.clone())));
        r
    }
}

impl StreamEncoderTrait for StreamEncoder {
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started || self.done {
            return;
        }
        self.started = true;
        let r = Value::Object(self.base_response("in_progress", Vec::new()));
        self.ev("response.created", Self::obj(json!({"response": r.clone()})), out);
        self.ev("response.in_progress", Self::obj(json!({"response": r})), out);
    }

    fn chunk(&mut self, c: &Chunk, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if !self.started {
            self.start(out);
        }
        match c {
            Chunk::Text(t) | Chunk::Reasoning(t) | Chunk::ToolCallArgs { delta: t, .. } => self.out_chars += t.chars().count(),
            _ => {}
        }
        match c {
            Chunk::Reasoning(t) => {
                if t.is_empty() {
                    return;
                }
                if self.reasoning.is_none() {
                    self.close_message("completed", out);
                    self.close_calls(out);
                    let output_index = self.alloc_output();
                    let id = item_id("rs", &self.resp_id, output_index);
                    let added = match self.style {
                        ReasoningStyle::Summary => json!({"id": id, "type": "reasoning", "summary": []}),
                        ReasoningStyle::Text => json!({"id": id, "type": "reasoning", "summary": [], "content": []}),
                    };
                    self.ev("response.output_item.added", Self::obj(json!({"output_index": output_index, "item": added})), out);
                    match self.style {
                        ReasoningStyle::Summary => self.ev("response.reasoning_summary_part.added", Self::obj(json!({"item_id": id, "output_index": output_index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}})), out),
                        ReasoningStyle::Text => self.ev("response.content_part.added", Self::obj(json!({"item_id": id, "output_index": output_index, "content_index": 0, "part": {"type": "reasoning_text", "text": ""}})), out),
                    }
                    self.reasoning = Some(OpenText { output_index, id, text: String::new() });
                }
                let r = self.reasoning.as_mut().unwrap();
                r.text.push_str(t);
                let (id, oi) = (r.id.clone(), r.output_index);
                match self.style {
                    ReasoningStyle::Summary => self.delta_ev("response.reasoning_summary_text.delta", &id, oi, "summary_index", t, out),
                    ReasoningStyle::Text => self.delta_ev("response.reasoning_text.delta", &id, oi, "content_index", t, out),
                }
            }
            Chunk::Text(t) => {
                if t.is_empty() {
                    return;
                }
                if self.message.is_none() {
                    self.close_reasoning(out);
                    self.close_calls(out);
                    let output_index = self.alloc_output();
                    let id = item_id("msg", &self.resp_id, output_index);
                    self.ev("response.output_item.added", Self::obj(json!({"output_index": output_index,
                        "item": {"id": id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}})), out);
                    self.ev("response.content_part.added", Self::obj(json!({"item_id": id, "output_index": output_index, "content_index": 0,
                        "part": {"type": "output_text", "text": "", "annotations": []}})), out);
                    self.message = Some(OpenText { output_index, id, text: String::new() });
                }
                let m = self.message.as_mut().unwrap();
                m.text.push_str(t);
                let (id, oi) = (m.id.clone(), m.output_index);
                self.delta_ev("response.output_text.delta", &id, oi, "content_index", t, out);
            }
            Chunk::ToolCallStart { index, id, name } => {
                self.close_reasoning(out);
                self.close_message("completed", out);
                if self.tool_state.len() <= *index {
                    self.tool_state.resize(index + 1, 0);
                }
                if self.tool_state[*index] != 0 {
                    return; // a second start for the same call breaks the IR contract: ignored
                }
                self.tool_state[*index] = 1;
                let output_index = self.alloc_output();
                let custom = is_custom(&self.tools, name);
                let item = item_id(if custom { "ctc" } else { "fc" }, &self.resp_id, output_index);
                let call_id = if id.is_empty() { wire::call_id(&self.resp_id, *index) } else { id.clone() };
                self.ev("response.output_item.added", Self::obj(json!({"output_index": output_index,
                    "item": tool_item(&self.tools, &item, &call_id, name, "", "in_progress")})), out);
                self.calls.push(OpenCall { tool_index: *index, output_index, id: item, call_id, name: name.clone(), args: String::new(), custom });
            }
            Chunk::ToolCallArgs { index, delta } => match self.tool_state.get(*index) {
                Some(1) => {
                    if delta.is_empty() {
                        return;
                    }
                    let c = self.calls.iter_mut().find(|c| c.tool_index == *index).unwrap();
                    c.args.push_str(delta);
                    if c.custom {
                        return; // sent whole when the call closes
                    }
                    let (id, oi) = (c.id.clone(), c.output_index);
                    self.delta_ev("response.function_call_arguments.delta", &id, oi, "", delta, out);
                }
                Some(2) => self.error(
                    "the origin sent arguments for a tool call after other output had started; the call cannot be completed faithfully",
                    out,
                ),
                _ => {} // arguments for a call that never started: ignored (IR contract)
            },
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
        let had_tools = !self.tool_state.is_empty();
        let finish = match self.finish {
            Some(FinishReason::Stop) | None if had_tools => FinishReason::ToolCalls,
            Some(f) => f,
            None => FinishReason::Stop,
        };
        let (status, incomplete) = status_of(finish);
        self.close_reasoning(out);
        self.close_message(status, out);
        self.close_calls(out);
        let items = std::mem::take(&mut self.items);
        let mut r = self.base_response(status, items);
        r.insert("incomplete_details".into(), incomplete);
        let usage = self.usage.unwrap_or(Usage { prompt_tokens: self.prompt_estimate, completion_tokens: self.out_chars.div_ceil(4) as u64, estimated: true, ..Default::default() });
        r.insert("usage".into(), usage_json(&usage));
        let name = if status == "incomplete" { "response.incomplete" } else { "response.completed" };
        let r = Value::Object(r);
        // Kept before the terminator leaves: a next turn may follow the moment it arrives.
        if let Some(f) = self.on_done.take() {
            f(&r);
        }
        let mut data = Map::new();
        data.insert("response".into(), r);
        self.ev(name, data, out);
        self.done = true;
    }

    fn error(&mut self, message: &str, out: &mut Vec<u8>) {
        self.fail("server_error", message, out);
    }
}

impl StreamEncoder {
    /// End with `response.failed` carrying `code`: Codex decides by the code what to do
    /// (`context_length_exceeded` compacts, `rate_limit_exceeded` waits for the "try again in
    /// Ns" of the message, other codes are retried).
    pub fn fail(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if !self.started {
            self.start(out);
        }
        let items = std::mem::take(&mut self.items);
        let mut r = self.base_response("failed", items);
        r.insert("error".into(), json!({"code": code, "message": message}));
        if let Some(u) = &self.usage {
            r.insert("usage".into(), usage_json(u));
        }
        self.ev("response.failed", Self::obj(json!({"response": Value::Object(r)})), out);
        self.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::test_support::{events, obj};
    use crate::translate::{ollama, openai};

    fn assert_sequence_increasing(ev: &[(String, Value)]) {
        let seqs: Vec<u64> = ev.iter().map(|(_, d)| d["sequence_number"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
        assert_eq!(seqs[0], 0);
    }

    fn codex_request() -> Value {
        json!({
            "model": "gpt-5-codex",
            "instructions": "You are Codex, a coding agent.",
            "input": [
                {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>workspace-write</permissions>"}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>cwd=/repo</environment_context>"}]},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "why does the build fail?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo", "detail": "auto"}
                ]},
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Check the build."}], "encrypted_content": "gAAA"},
                {"type": "function_call", "id": "fc_1", "call_id": "call_A", "name": "shell", "arguments": "{\"command\":[\"cargo\",\"build\"]}"},
                {"type": "function_call", "call_id": "call_B", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"},
                {"type": "function_call_output", "call_id": "call_A", "output": "error[E0425]"},
                {"type": "function_call_output", "call_id": "call_B", "output": [{"type": "input_text", "text": "src"}, {"type": "input_image", "image_url": "https://x/s.png"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "A name is unresolved."}]},
                {"type": "message", "role": "developer", "content": "model switched"},
                {"role": "user", "content": "fix it"},
                {"type": "web_search_call", "id": "ws_1", "status": "completed"}
            ],
            "tools": [
                {"type": "function", "name": "shell", "description": "Run a command", "strict": false,
                 "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}, "required": ["command"]}},
                {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
                {"type": "web_search"}
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": false,
            "reasoning": {"effort": "high", "summary": "auto"},
            "store": false,
            "stream": true,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "abc",
            "max_output_tokens": 4096,
            "text": {"verbosity": "low"}
        })
    }

    #[test]
    fn decodes_codex_request() {
        let r = decode_request(&obj(codex_request())).unwrap();
        assert!(r.stream);
        assert_eq!(r.system, vec!["You are Codex, a coding agent.", "<permissions>workspace-write</permissions>"]);
        assert_eq!(r.messages[0], Message::text(Role::User, "<environment_context>cwd=/repo</environment_context>"));
        assert_eq!(
            r.messages[1].parts[1],
            Part::Image { media_type: Some("image/png".into()), data: ImageData::Base64("iVBORw0KGgo".into()) }
        );
        let a = &r.messages[2];
        assert_eq!(a.role, Role::Assistant);
        assert_eq!(a.parts.len(), 2, "two calls merge into one assistant turn; OpenAI's encrypted reasoning is nobody's here");
        assert_eq!(
            a.parts[1],
            Part::ToolCall { id: "call_B".into(), name: "shell".into(), arguments: "{\"command\":[\"ls\"]}".into() }
        );
        assert_eq!(r.messages[3].role, Role::Tool);
        assert_eq!(r.messages[3].parts.len(), 2);
        assert_eq!(
            r.messages[3].parts[1],
            Part::ToolResult { call_id: "call_B".into(), content: "src".into(), is_error: false }
        );
        assert_eq!(
            r.messages[4].parts,
            vec![Part::Image { media_type: None, data: ImageData::Url("https://x/s.png".into()) }]
        );
        assert_eq!(r.messages[5], Message::text(Role::Assistant, "A name is unresolved."));
        assert_eq!(r.messages[6], Message::text(Role::System, "model switched"));
        assert_eq!(r.messages[7], Message::text(Role::User, "fix it"));
        assert_eq!(r.messages.len(), 8, "web_search_call dropped");
        assert_eq!(r.tools.len(), 2, "shell and apply_patch (custom); web_search is hosted");
        assert_eq!(r.tools[1].name, "apply_patch");
        assert_eq!(r.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert_eq!(r.max_tokens, Some(4096));
        assert_eq!(r.reasoning.unwrap().effort, Some(Effort::High));
    }

    #[test]
    fn codex_round_trip_to_origins() {
        let r = decode_request(&obj(codex_request())).unwrap();
        let b = openai::encode_request(&r, "gpt-oss-120b");
        assert_eq!(b["model"], "gpt-oss-120b");
        assert_eq!(b["max_tokens"], 4096);
        assert_eq!(b["reasoning_effort"], "high");
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert!(b.get("store").is_none() && b.get("include").is_none());
        assert_eq!(b["tools"][0]["function"]["name"], "shell");
        let m = b["messages"].as_array().unwrap();
        assert_eq!(m[0]["content"], "You are Codex, a coding agent.\n\n<permissions>workspace-write</permissions>");
        assert_eq!(m[3]["role"], "assistant");
        assert_eq!(m[3]["content"], Value::Null);
        assert_eq!(m[3]["tool_calls"][0]["id"], "call_A");
        assert_eq!(m[4], json!({"role": "tool", "tool_call_id": "call_A", "content": "error[E0425]"}));
        assert_eq!(m[5], json!({"role": "tool", "tool_call_id": "call_B", "content": "src"}));
        assert_eq!(m[6]["content"][0]["image_url"]["url"], "https://x/s.png");
        assert_eq!(m[7], json!({"role": "assistant", "content": "A name is unresolved."}));
        assert_eq!(m[8], json!({"role": "system", "content": "model switched"}));

        // To Ollama the remote screenshot cannot travel; without it the rest does.
        assert_eq!(ollama::encode_chat_request(&r, "gpt-oss:120b").unwrap_err().status(), 400);
        let mut r2 = r.clone();
        r2.messages.remove(4);
        let o = ollama::encode_chat_request(&r2, "gpt-oss:120b").unwrap();
        assert_eq!(o["think"], true);
        assert!(o["messages"][3].get("thinking").is_none(), "reasoning from another origin is not replayed");
        assert_eq!(o["messages"][3]["tool_calls"][0]["function"]["arguments"], json!({"command": ["cargo", "build"]}));
        assert_eq!(o["messages"][5]["tool_name"], "shell");
    }

    /// Codex's `apply_patch` (custom, with a grammar) and an MCP namespace, offered and called.
    fn codex_tools_request() -> Value {
        json!({
            "model": "m", "stream": true,
            "input": [
                {"role": "user", "content": "fix the typo"},
                {"type": "reasoning", "id": "rs_ab_0", "summary": [{"type": "summary_text", "text": "patch it"}], "encrypted_content": super::tools::origin_tag(7, "qwen3:8b")},
                {"type": "custom_tool_call", "id": "ctc_ab_1", "call_id": "call_P", "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch\n"},
                {"type": "custom_tool_call_output", "call_id": "call_P", "output": "Success. Updated the following files:\nM a.txt"},
                {"type": "function_call", "call_id": "call_M", "name": "search", "namespace": "mcp__wiki__", "arguments": "{\"q\":\"typo\"}"},
                {"type": "function_call_output", "call_id": "call_M", "output": "no hits"}
            ],
            "tools": [
                {"type": "custom", "name": "apply_patch", "description": "Use the `apply_patch` tool to edit files.", "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}},
                {"type": "namespace", "name": "mcp__wiki__", "description": "Wiki", "tools": [{"type": "function", "name": "search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]}
            ],
            "tool_choice": {"type": "custom", "name": "apply_patch"}
        })
    }

    #[test]
    fn custom_and_namespace_tools_reach_every_origin_as_functions() {
        let mut r = decode_request(&obj(codex_tools_request())).unwrap();
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("apply_patch".into())));
        let a = &r.messages[1];
        assert_eq!(a.parts[0], Part::Thinking { text: "patch it".into(), signature: Some(super::tools::origin_tag(7, "qwen3:8b")) });
        assert_eq!(a.parts[1], Part::ToolCall { id: "call_P".into(), name: "apply_patch".into(), arguments: "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}".into() });
        assert_eq!(r.messages[2].parts[0], Part::ToolResult { call_id: "call_P".into(), content: "Success. Updated the following files:\nM a.txt".into(), is_error: false });
        assert_eq!(r.messages[3].parts[0], Part::ToolCall { id: "call_M".into(), name: "mcp__wiki__search".into(), arguments: "{\"q\":\"typo\"}".into() });

        super::tools::settle_reasoning(&mut r, 7, "qwen3:8b");
        let b = openai::encode_request(&r, "qwen3");
        assert_eq!(b["tools"][0]["function"]["name"], "apply_patch");
        assert_eq!(b["tools"][0]["function"]["parameters"]["properties"]["input"]["type"], "string");
        assert_eq!(b["tools"][1]["function"]["name"], "mcp__wiki__search");
        assert_eq!(b["tool_choice"], json!({"type": "function", "function": {"name": "apply_patch"}}));
        let m = b["messages"].as_array().unwrap();
        assert_eq!(m[1]["tool_calls"][0]["function"], json!({"name": "apply_patch", "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}));
        assert_eq!(m[2], json!({"role": "tool", "tool_call_id": "call_P", "content": "Success. Updated the following files:\nM a.txt"}));
        let o = ollama::encode_chat_request(&r, "qwen3:8b").unwrap();
        assert_eq!(o["messages"][1]["thinking"], "patch it", "the origin that produced the reasoning gets it back");
        assert_eq!(o["messages"][1]["tool_calls"][0]["function"]["arguments"], json!({"input": "*** Begin Patch\n*** End Patch\n"}));
        assert_eq!(o["messages"][2]["tool_name"], "apply_patch");
        assert_eq!(o["tools"][1]["function"]["name"], "mcp__wiki__search");
        let an = crate::translate::anthropic::encode_request(&r, "claude");
        assert_eq!(an["tools"][0]["name"], "apply_patch");
        assert_eq!(an["tools"][0]["input_schema"]["required"], json!(["input"]));
    }

    #[test]
    fn origin_calls_come_back_as_custom_and_namespaced_items() {
        let map = super::tools::map_of(&obj(codex_tools_request()));
        let tag = super::tools::origin_tag(7, "qwen3:8b");
        let resp = ChatResponse {
            id: "resp_ab".into(),
            reasoning: "patch".into(),
            tool_calls: vec![
                ToolCall { id: "call_1".into(), name: "apply_patch".into(), arguments: "{\"input\":\"*** Begin Patch\\n+x\\n*** End Patch\"}".into() },
                ToolCall { id: "call_2".into(), name: "mcp__wiki__search".into(), arguments: "{\"q\":1}".into() },
                ToolCall { id: "call_3".into(), name: "invented".into(), arguments: "{}".into() },
            ],
            finish: FinishReason::ToolCalls,
            usage: Some(Usage { prompt_tokens: 5, completion_tokens: 2, estimated: false, ..Default::default() }),
            ..Default::default()
        };
        let v = encode_response_with(&resp, "m", 1, ReasoningStyle::Summary, &map, Some(&tag));
        let o = v["output"].as_array().unwrap();
        assert_eq!(o[0]["encrypted_content"], json!(tag));
        assert_eq!(o[1], json!({"id": "ctc_ab_1", "type": "custom_tool_call", "status": "completed", "call_id": "call_1", "name": "apply_patch", "input": "*** Begin Patch\n+x\n*** End Patch"}));
        assert_eq!(o[2], json!({"id": "fc_ab_2", "type": "function_call", "status": "completed", "call_id": "call_2", "name": "search", "namespace": "mcp__wiki__", "arguments": "{\"q\":1}"}));
        assert_eq!(o[3]["name"], "invented");

        // Streamed: the custom input arrives whole when the call closes.
        let mut e = StreamEncoder::new("m", "resp_ab", 1).with_tools(map).with_origin_tag(tag.clone());
        let mut out = Vec::new();
        for c in [
            Chunk::Reasoning("patch".into()),
            Chunk::ToolCallStart { index: 0, id: "call_1".into(), name: "apply_patch".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"input\":\"*** Begin".into() },
            Chunk::ToolCallArgs { index: 0, delta: " Patch\\n*** End Patch\"}".into() },
            Chunk::ToolCallStart { index: 1, id: "call_2".into(), name: "mcp__wiki__search".into() },
            Chunk::ToolCallArgs { index: 1, delta: "{}".into() },
            Chunk::Finish(FinishReason::ToolCalls),
        ] {
            e.chunk(&c, &mut out);
        }
        e.finish(&mut out);
        let ev = events(&out);
        assert_sequence_increasing(&ev);
        let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
        assert!(!names.contains(&"response.function_call_arguments.delta") || ev.iter().filter(|(n, _)| n == "response.function_call_arguments.delta").all(|(_, d)| d["item_id"] == "fc_ab_2"));
        let added = ev.iter().find(|(n, d)| n == "response.output_item.added" && d["item"]["type"] == "custom_tool_call").unwrap();
        assert_eq!(added.1["item"]["input"], "");
        let delta = ev.iter().find(|(n, _)| n == "response.custom_tool_call_input.delta").unwrap();
        assert_eq!(delta.1["delta"], "*** Begin Patch\n*** End Patch");
        assert_eq!(delta.1["item_id"], "ctc_ab_1");
        let done = ev.iter().find(|(n, _)| n == "response.custom_tool_call_input.done").unwrap();
        assert_eq!(done.1["input"], "*** Begin Patch\n*** End Patch");
        let (last, d) = ev.last().unwrap();
        assert_eq!(last, "response.completed");
        let outs = d["response"]["output"].as_array().unwrap();
        assert_eq!(outs[0]["encrypted_content"], json!(tag));
        assert_eq!(outs[1]["type"], "custom_tool_call");
        assert_eq!(outs[1]["input"], "*** Begin Patch\n*** End Patch");
        assert_eq!((outs[2]["name"].as_str(), outs[2]["namespace"].as_str()), (Some("search"), Some("mcp__wiki__")));
        // No usage from the origin: an estimate, never none (Codex reads it every turn).
        assert_eq!(d["response"]["usage"]["total_tokens"], d["response"]["usage"]["input_tokens"].as_u64().unwrap() + d["response"]["usage"]["output_tokens"].as_u64().unwrap());
        assert!(d["response"]["usage"]["output_tokens"].as_u64().unwrap() > 0);
        assert_eq!(d["response"]["id"], "resp_ab");
    }

    #[test]
    fn request_variants_and_errors() {
        let r = decode_request(&obj(json!({"model": "m", "input": "hi", "reasoning": {"effort": "none"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
            "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}],
            "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "a"}]}})))
        .unwrap();
        assert_eq!(r.messages, vec![Message::text(Role::User, "hi")]);
        assert_eq!(r.reasoning, Some(Reasoning { enabled: false, effort: None, budget_tokens: None }));
        assert_eq!(
            r.response_format.unwrap()["json_schema"],
            json!({"name": "out", "schema": {"type": "object"}, "strict": true})
        );
        assert_eq!(r.tools.len(), 1);
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        let r = decode_request(&obj(json!({"model": "m", "input": [{"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": "*** Begin"}, {"type": "custom_tool_call_output", "call_id": "c", "output": "ok"}], "tool_choice": {"type": "function", "name": "x"}}))).unwrap();
        assert_eq!(
            r.messages[0].parts[0],
            Part::ToolCall {
                id: "c".into(),
                name: "apply_patch".into(),
                arguments: "{\"input\":\"*** Begin\"}".into()
            }
        );
        assert_eq!(r.tool_choice, Some(ToolChoice::Named("x".into())));

        for (body, field) in [
            (json!({"input": "x"}), "model"),
            (json!({"model": "m"}), "input"),
            (json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}), "previous_response_id"),
            (json!({"model": "m", "input": "x", "background": true}), "background"),
            (json!({"model": "m", "input": 5}), "input"),
            (json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}), "input[0].call_id"),
            (json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}), "input[0].type"),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
                "input[0].content[0].type",
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}),
                "input[0].content[0].file_id",
            ),
            (json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}), "input[0].role"),
            (json!({"model": "m", "input": [{"foo": 1}]}), "input[0].type"),
            (json!({"model": "m", "input": "x", "reasoning": {"effort": "extreme"}}), "reasoning.effort"),
            (json!({"model": "m", "input": "x", "max_output_tokens": -1}), "max_output_tokens"),
            (json!({"model": "m", "input": "x", "tool_choice": {"type": "web_search_preview"}}), "tool_choice.type"),
            (json!({"model": "m", "input": "x", "tools": [{"type": "custom"}]}), "tools[0].name"),
            (json!({"model": "m", "input": "x", "tools": [{"type": "namespace", "name": "n", "tools": [{"type": "function"}]}]}), "tools[0].tools[0].name"),
            (json!({"model": "m", "input": "x", "tools": [{"type": "function"}]}), "tools[0].name"),
            (json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}}), "text.format.schema"),
        ] {
            let e = decode_request(&obj(body.clone())).unwrap_err();
            assert_eq!(e.field(), Some(field), "{body}");
        }
    }

    #[test]
    fn non_stream_response_object() {
        let resp = ChatResponse {
            id: "resp_9".into(),
            text: "Here.".into(),
            reasoning: "thought".into(),
            tool_calls: vec![
                ToolCall { id: "call_1".into(), name: "shell".into(), arguments: "{}".into() },
                ToolCall { id: String::new(), name: "x".into(), arguments: String::new() },
            ],
            finish: FinishReason::ToolCalls,
            usage: Some(Usage { prompt_tokens: 100, completion_tokens: 20, estimated: false }),
        };
        let v = encode_response(&resp, "codex-model", 1700);
        assert_eq!(v["id"], "resp_9");
        assert_eq!(v["object"], "response");
        assert_eq!(v["created_at"], 1700);
        assert_eq!(v["model"], "codex-model");
        assert_eq!(v["status"], "completed");
        let o = v["output"].as_array().unwrap();
        assert_eq!(
            o[0],
            json!({"id": "rs_9_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "thought"}]})
        );
        assert_eq!(o[1]["content"][0], json!({"type": "output_text", "text": "Here.", "annotations": []}));
        assert_eq!(
            o[2],
            json!({"id": "fc_9_2", "type": "function_call", "status": "completed", "call_id": "call_1", "name": "shell", "arguments": "{}"})
        );
        assert_eq!(o[3]["call_id"], "call_9_1");
        assert_eq!(o[3]["arguments"], "{}");
        assert_eq!(v["usage"], json!({"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}));

        let v = encode_response(
            &ChatResponse {
                finish: FinishReason::Length,
                usage: None,
                tool_calls: vec![],
                reasoning: String::new(),
                ..resp.clone()
            },
            "m",
            1,
        );
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"], json!({"reason": "max_output_tokens"}));
        assert_eq!(v["output"][0]["status"], "incomplete");
        assert!(v.get("usage").is_none(), "no usage reported, none invented");
        let v = encode_response_styled(&resp, "m", 1, ReasoningStyle::Text);
        assert_eq!(v["output"][0]["content"], json!([{"type": "reasoning_text", "text": "thought"}]));
    }

    #[test]
    fn golden_stream_sequence() {
        let mut e = StreamEncoder::new("codex-model", "resp_42", 1700);
        let mut out = Vec::new();
        e.start(&mut out);
        for c in [
            Chunk::Reasoning("Look at ".into()),
            Chunk::Reasoning("files.".into()),
            Chunk::Text("Running ".into()),
            Chunk::Text("tools.".into()),
            Chunk::ToolCallStart { index: 0, id: "call_A".into(), name: "shell".into() },
            Chunk::ToolCallStart { index: 1, id: String::new(), name: "read".into() },
            Chunk::ToolCallArgs { index: 0, delta: "{\"command\":".into() },
            Chunk::ToolCallArgs { index: 1, delta: "{\"path\":\"a\"}".into() },
            Chunk::ToolCallArgs { index: 0, delta: "[\"ls\"]}".into() },
            Chunk::Finish(FinishReason::ToolCalls),
            Chunk::Usage(Usage { prompt_tokens: 900, completion_tokens: 60, estimated: false }),
        ] {
            e.chunk(&c, &mut out);
        }
        e.finish(&mut out);
        e.chunk(&Chunk::Text("late".into()), &mut out);
        e.error("late", &mut out);
        let ev = events(&out);
        let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_sequence_increasing(&ev);
        assert_eq!(ev[0].1["response"]["status"], "in_progress");
        assert_eq!(ev[0].1["response"]["model"], "codex-model");
        // Output indexes: reasoning 0, message 1, calls 2 and 3.
        assert_eq!(ev[2].1["output_index"], 0);
        assert_eq!(ev[4].1["delta"], "Look at ");
        assert_eq!(ev[6].1["text"], "Look at files.");
        assert_eq!(ev[9].1["output_index"], 1);
        assert_eq!(ev[11].1["item_id"], "msg_42_1");
        assert_eq!(ev[11].1["content_index"], 0);
        assert_eq!(ev[13].1["text"], "Running tools.");
        assert_eq!(ev[16].1["item"]["call_id"], "call_A");
        assert_eq!(ev[16].1["output_index"], 2);
        assert_eq!(ev[17].1["output_index"], 3);
        assert_eq!(ev[17].1["item"]["call_id"], "call_42_1");
        assert_eq!(ev[19].1["item_id"], "fc_42_3");
        assert_eq!(ev[21].1["arguments"], "{\"command\":[\"ls\"]}");
        assert_eq!(ev[23].1["arguments"], "{\"path\":\"a\"}");
        let done = &ev[25].1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["usage"], json!({"input_tokens": 900, "output_tokens": 60, "total_tokens": 960}));
        let outs = done["output"].as_array().unwrap();
        assert_eq!(outs.len(), 4);
        assert_eq!(
            outs.iter().map(|o| o["type"].as_str().unwrap()).collect::<Vec<_>>(),
            ["reasoning", "message", "function_call", "function_call"]
        );
        assert_eq!(outs[1]["content"][0]["text"], "Running tools.");
        assert_eq!(outs[2]["arguments"], "{\"command\":[\"ls\"]}");
        // Every item-scoped event points at an item announced with the same output_index.
        for (_, d) in &ev {
            if let Some(id) = d.get("item_id").and_then(Value::as_str) {
                let oi = d["output_index"].as_u64().unwrap() as usize;
                assert_eq!(outs[oi]["id"], id);
            }
        }
    }

    #[test]
    fn stream_incomplete_raw_reasoning_and_failures() {
        let mut e = StreamEncoder::new("m", "resp_1", 1).with_reasoning_style(ReasoningStyle::Text);
        let mut out = Vec::new();
        e.chunk(&Chunk::Reasoning("r".into()), &mut out);
        e.chunk(&Chunk::Text("trunc".into()), &mut out);
        e.chunk(&Chunk::Finish(FinishReason::Length), &mut out);
        e.finish(&mut out);
        let ev = events(&out);
        assert_sequence_increasing(&ev);
        let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            &names[2..8],
            [
                "response.output_item.added",
                "response.content_part.added",
                "response.reasoning_text.delta",
                "response.reasoning_text.done",
                "response.content_part.done",
                "response.output_item.done"
            ]
        );
        let (last, d) = ev.last().unwrap();
        assert_eq!(last, "response.incomplete");
        assert_eq!(d["response"]["status"], "incomplete");
        assert_eq!(d["response"]["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(d["response"]["output"][1]["status"], "incomplete");
        assert_eq!(d["response"]["usage"]["output_tokens"], 2, "no usage from the origin: estimated from 6 characters");

        let mut e = StreamEncoder::new("m", "resp_1", 1);
        let mut out = Vec::new();
        e.start(&mut out);
        e.chunk(&Chunk::Text("part".into()), &mut out);
        e.error("origin dropped the connection", &mut out);
        e.finish(&mut out);
        let ev = events(&out);
        assert_sequence_increasing(&ev);
        let (last, d) = ev.last().unwrap();
        assert_eq!(last, "response.failed");
        assert_eq!(d["response"]["status"], "failed");
        assert_eq!(d["response"]["error"]["message"], "origin dropped the connection");
        assert!(!ev.iter().any(|(n, _)| n == "response.completed"));

        // Arguments for a call already closed by later text: failed, not corrupted.
        let mut e = StreamEncoder::new("m", "resp_1", 1);
        let mut out = Vec::new();
        e.chunk(&Chunk::ToolCallStart { index: 0, id: "c".into(), name: "f".into() }, &mut out);
        e.chunk(&Chunk::Text("x".into()), &mut out);
        e.chunk(&Chunk::ToolCallArgs { index: 0, delta: "{}".into() }, &mut out);
        e.finish(&mut out);
        assert_eq!(events(&out).last().unwrap().0, "response.failed");

        // Empty stream: still a well-formed completed response.
        let mut e = StreamEncoder::new("m", "resp_1", 1);
        let mut out = Vec::new();
        e.finish(&mut out);
        let names: Vec<String> = events(&out).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["response.created", "response.in_progress", "response.completed"]);
    }

    #[test]
    fn stream_meta_and_completion_hook() {
        use std::cell::RefCell;
        use std::rc::Rc;
        let kept: Rc<RefCell<Option<Value>>> = Rc::default();
        let k = kept.clone();
        let mut meta = Map::new();
        meta.insert("store".into(), json!(true));
        meta.insert("previous_response_id".into(), json!("resp_0"));
        let mut e = StreamEncoder::new("m", "resp_7", 1).with_meta(meta).on_done(Box::new(move |r: &Value| *k.borrow_mut() = Some(r.clone())));
        let mut out = Vec::new();
        e.chunk(&Chunk::Text("hi".into()), &mut out);
        assert!(kept.borrow().is_none());
        e.finish(&mut out);
        let ev = events(&out);
        assert_eq!(ev[0].1["response"]["store"], true);
        assert_eq!(ev[0].1["response"]["previous_response_id"], "resp_0");
        let done = &ev.last().unwrap().1["response"];
        assert_eq!(kept.borrow().as_ref(), Some(done), "the stored object is exactly what the client got");
        assert_eq!(done["output"][0]["id"], "msg_7_0");
        // A failed stream is not kept.
        let kept2: Rc<RefCell<bool>> = Rc::default();
        let k2 = kept2.clone();
        let mut e = StreamEncoder::new("m", "resp_8", 1).on_done(Box::new(move |_| *k2.borrow_mut() = true));
        e.chunk(&Chunk::Text("hi".into()), &mut out);
        e.error("cut", &mut out);
        assert!(!*kept2.borrow());
    }

    #[test]
    fn no_panic_on_type_confusion() {
        for v in wire::type_confusions(&codex_request()) {
            if let Value::Object(m) = &v {
                match decode_request(m) {
                    Err(e) => assert!(e.status() == 400 && e.field().is_some(), "{e}"),
                    Ok(r) => {
                        let _ = openai::encode_request(&r, "x");
                        let _ = ollama::encode_chat_request(&r, "x");
                    }
                }
            }
        }
    }
}
