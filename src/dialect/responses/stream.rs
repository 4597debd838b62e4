//! OpenAI Responses streams: `Chunk`s -> the client's SSE event stream (`response.created` …
//! `response.completed`).

use super::super::ir::*;
use super::super::wire::{self, write_json};
use super::super::encoder::StreamEncoder as StreamEncoderTrait;
use super::response::*;
use super::tools::{InputStream, ToolMap};
use crate::types::{FinishReason, Usage};
use serde_json::{json, Map, Value};

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
    /// A custom tool: its raw input streamed out of the origin's JSON arguments
    /// (`tools::InputStream`), and what was sent of it so far.
    custom: Option<(InputStream, String)>,
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

    /// The request's tool map (`tools::map_of`): custom and namespace calls.
    pub fn with_tools(mut self, tools: ToolMap) -> Self {
        self.tools = tools;
        self
    }

    /// The origin the reasoning comes from (`tools::origin_tag`).
    pub fn with_origin_tag(mut self, tag: String) -> Self {
        self.origin_tag = Some(tag);
        self
    }

    /// `response.completed` always carries usage (Codex reads it as the turn's token count);
    /// when the origin reports none, it is this prompt estimate plus ~4 characters a token of
    /// what was sent.
    pub fn with_prompt_estimate(mut self, tokens: u64) -> Self {
        self.prompt_estimate = tokens;
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
    fn delta_ev(&mut self, name: &str, item_id: &str, output_index: usize, index_key: &str, delta: &str, out: &mut Vec<u8>) {
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
                self.ev("response.reasoning_summary_text.done", Self::obj(json!({"item_id": r.id, "output_index": r.output_index, "summary_index": 0, "text": r.text})), out);
                self.ev(
                    "response.reasoning_summary_part.done",
                    Self::obj(json!({"item_id": r.id, "output_index": r.output_index, "summary_index": 0, "part": {"type": "summary_text", "text": r.text}})),
                    out,
                );
            }
            ReasoningStyle::Text => {
                self.ev("response.reasoning_text.done", Self::obj(json!({"item_id": r.id, "output_index": r.output_index, "content_index": 0, "text": r.text})), out);
                self.ev("response.content_part.done", Self::obj(json!({"item_id": r.id, "output_index": r.output_index, "content_index": 0, "part": {"type": "reasoning_text", "text": r.text}})), out);
            }
        }
        let item = reasoning_item(&r.id, &r.text, self.style, self.origin_tag.as_deref());
        self.ev("response.output_item.done", Self::obj(json!({"output_index": r.output_index, "item": item.clone()})), out);
        self.items.push(item);
    }

    fn close_message(&mut self, status: &str, out: &mut Vec<u8>) {
        let Some(m) = self.message.take() else { return };
        let part = json!({"type": "output_text", "text": m.text, "annotations": []});
        self.ev("response.output_text.done", Self::obj(json!({"item_id": m.id, "output_index": m.output_index, "content_index": 0, "text": m.text, "logprobs": []})), out);
        self.ev("response.content_part.done", Self::obj(json!({"item_id": m.id, "output_index": m.output_index, "content_index": 0, "part": part})), out);
        let item = message_item(&m.id, &m.text, status);
        self.ev("response.output_item.done", Self::obj(json!({"output_index": m.output_index, "item": item.clone()})), out);
        self.items.push(item);
    }

    fn close_calls(&mut self, out: &mut Vec<u8>) {
        for c in std::mem::take(&mut self.calls) {
            let item = if let Some((_, sent)) = &c.custom {
                let item = tool_item(&self.tools, &c.id, &c.call_id, &c.name, &c.args, "completed");
                let input = item["input"].as_str().unwrap_or("").to_string();
                // The rest of the input (all of it when the arguments had another shape).
                let rest = input.strip_prefix(sent.as_str()).unwrap_or(if sent.is_empty() { &input } else { "" });
                if !rest.is_empty() {
                    self.delta_ev("response.custom_tool_call_input.delta", &c.id, c.output_index, "", rest, out);
                }
                self.ev("response.custom_tool_call_input.done", Self::obj(json!({"item_id": c.id, "output_index": c.output_index, "input": input})), out);
                item
            } else {
                let args = wire::args_text(&c.args).to_string();
                let item = tool_item(&self.tools, &c.id, &c.call_id, &c.name, &args, "completed");
                self.ev("response.function_call_arguments.done", Self::obj(json!({"item_id": c.id, "output_index": c.output_index, "name": item["name"], "arguments": args})), out);
                item
            };
            self.ev("response.output_item.done", Self::obj(json!({"output_index": c.output_index, "item": item.clone()})), out);
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
        if let Chunk::Text(t) | Chunk::Reasoning(t) | Chunk::ToolCallArgs { delta: t, .. } = c {
            self.out_chars += t.chars().count();
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
                        ReasoningStyle::Summary => self.ev(
                            "response.reasoning_summary_part.added",
                            Self::obj(json!({"item_id": id, "output_index": output_index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}})),
                            out,
                        ),
                        ReasoningStyle::Text => self.ev(
                            "response.content_part.added",
                            Self::obj(json!({"item_id": id, "output_index": output_index, "content_index": 0, "part": {"type": "reasoning_text", "text": ""}})),
                            out,
                        ),
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
                    self.ev(
                        "response.output_item.added",
                        Self::obj(json!({"output_index": output_index,
                        "item": {"id": id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}})),
                        out,
                    );
                    self.ev(
                        "response.content_part.added",
                        Self::obj(json!({"item_id": id, "output_index": output_index, "content_index": 0,
                        "part": {"type": "output_text", "text": "", "annotations": []}})),
                        out,
                    );
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
                let custom = is_custom(&self.tools, name).then(|| (InputStream::default(), String::new()));
                let item = item_id(if custom.is_some() { "ctc" } else { "fc" }, &self.resp_id, output_index);
                let call_id = if id.is_empty() { wire::call_id(&self.resp_id, *index) } else { id.clone() };
                self.ev(
                    "response.output_item.added",
                    Self::obj(json!({"output_index": output_index,
                    "item": tool_item(&self.tools, &item, &call_id, name, "", "in_progress")})),
                    out,
                );
                self.calls.push(OpenCall { tool_index: *index, output_index, id: item, call_id, name: name.clone(), args: String::new(), custom });
            }
            Chunk::ToolCallArgs { index, delta } => match self.tool_state.get(*index) {
                Some(1) => {
                    if delta.is_empty() {
                        return;
                    }
                    let c = self.calls.iter_mut().find(|c| c.tool_index == *index).unwrap();
                    c.args.push_str(delta);
                    if let Some((stream, sent)) = &mut c.custom {
                        let piece = stream.feed(delta);
                        if !piece.is_empty() {
                            sent.push_str(&piece);
                            let (id, oi) = (c.id.clone(), c.output_index);
                            self.delta_ev("response.custom_tool_call_input.delta", &id, oi, "", &piece, out);
                        }
                        return;
                    }
                    let (id, oi) = (c.id.clone(), c.output_index);
                    self.delta_ev("response.function_call_arguments.delta", &id, oi, "", delta, out);
                }
                Some(2) => self.error("the origin sent arguments for a tool call after other output had started; the call cannot be completed faithfully", out),
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
        let finish = finish_with_tools(self.finish, had_tools);
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
        r.insert("error".into(), super::error::stream_error_coded(code, message));
        if let Some(u) = &self.usage {
            r.insert("usage".into(), usage_json(u));
        }
        self.ev("response.failed", Self::obj(json!({"response": Value::Object(r)})), out);
        self.done = true;
    }
}
