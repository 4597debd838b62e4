//! OpenAI Responses requests: the client request decoder (Codex-style clients).
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
//! (`tools`). Reasoning items reach an origin only if that origin produced them (the gateway's
//! `encrypted_content` tag says which; OpenAI's encrypted reasoning is dropped). Local-shell
//! history items are kept as ordinary tool calls so the conversation stays coherent.

use super::super::ir::*;
use super::super::sampling;
use super::super::wire::{self, JsonMap, Obj};
use super::tools::{self, ToolMap};
use crate::error::GatewayError;
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
    sampling::decode(&o, &sampling::RESPONSES, &mut req)?;
    if let Some(r) = o.obj("reasoning")? {
        if let Some(e) = r.str("effort")? {
            req.reasoning = Some(if e == "none" {
                Reasoning { enabled: false, effort: None, budget_tokens: None }
            } else {
                let effort = Effort::parse(e).ok_or_else(|| r.err("effort", "must be one of none, minimal, low, medium, high, xhigh"))?;
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
                let name = self.map.origin_name(it.str("namespace")?, it.req_str("name")?);
                let call = Part::ToolCall { id: it.req_str("call_id")?.to_string(), name, arguments: it.str("arguments")?.unwrap_or("").to_string() };
                self.push(Role::Assistant, call);
                Ok(())
            }
            "custom_tool_call" => {
                let input = it.str("input")?.unwrap_or("");
                let name = self.map.origin_name(it.str("namespace")?, it.req_str("name")?);
                let call = Part::ToolCall { id: it.req_str("call_id")?.to_string(), name, arguments: json!({"input": input}).to_string() };
                self.push(Role::Assistant, call);
                Ok(())
            }
            "local_shell_call" => {
                let call_id = match it.str("call_id")? {
                    Some(c) => c,
                    None => it.req_str("id")?,
                };
                let args = it.get("action").map(Value::to_string).unwrap_or_else(|| "{}".into());
                self.push(Role::Assistant, Part::ToolCall { id: call_id.to_string(), name: "local_shell".into(), arguments: args });
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
            "item_reference" => Err(it.err("type", "is an item reference that could not be resolved against your stored responses")),
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
                        "input_file" | "input_audio" => return Err(p.err("type", "is not supported by this gateway (files and audio)")),
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
                _ => return Err(tc.err("type", "forcing a hosted tool is not supported; use a function or custom tool")),
            }
        }
        Some(_) => return Err(o.err("tool_choice", "must be a string or an object")),
    };
    Ok(())
}
