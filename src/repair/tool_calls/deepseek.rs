//! DeepSeek raw tool calls (DeepSeek V3.x / R1 and models imitating them), written as XML-like
//! markup in content text. Recognised blocks, in every DSML spelling (`<|DSML|x>`, `<｜DSML｜x>`):
//!
//! - `<tool_calls>` or `<function_calls>` wrappers holding `<invoke name="X">` (or
//!   `<tool_call name="X">`) elements with `<parameter name="k">v</parameter>` children;
//! - a singular `<tool_call name="X">…</tool_call>` whose children are `<parameter name="k">`,
//!   unnamed `<parameter>` (keys `"0"`, `"1"`, …) or named elements (`<path>…</path>`);
//! - `<tool_call>NAME\n{json}</tool_call>` (or `NAME key=value …`), and the Hermes form
//!   `<tool_call>{"name": …, "arguments": …}</tool_call>`;
//! - `<CallMcpTool><serverName>s</serverName><toolName>t</toolName><arguments>…</arguments></CallMcpTool>`
//!   -> name `s_t` (`t` without a server); arguments JSON (a non-object becomes `{"input": v}`),
//!   `key=value` pairs, or any other text as `{"input": text}`.
//!
//! Parameter values: CDATA is unwrapped verbatim; `string="true"` (DSML) keeps the value verbatim,
//! `string="false"` reads it as JSON; otherwise numbers, booleans, null, arrays and objects are
//! JSON and anything else is the trimmed text. A value made only of child elements becomes an
//! object (`<item>` children: an array; repeated keys: arrays). An invoke without parameters
//! takes a JSON object, `key=value` pairs or a command line (`{"command": …}`) from its body.
//!
//! Blocks end at their own closing tag; mismatched pairs models write are accepted too
//! (`<tool_calls>…</tool_call>` when no singular call is open inside, `<tool_call …>…</tool_calls>`,
//! and `</invoke>` closing a `<tool_call name=…>` element). Markup inside fenced code blocks is
//! text, and stays verbatim.

use serde_json::{Map, Value};

use super::args::{cdata, json_object, literal, object_text, pairs, plain_text, valid_name};
use super::tags::{attr, cdata_at, cdata_end, cdata_resume, elements, find_close, scan, Cdata, Elem, Scan};
use super::{BlockRepair, Grammar, Opener};
use crate::repair::piece::{Piece, Repair, ToolCall};

const WRAPPERS: &[&str] = &["tool_calls", "function_calls"];
const SINGULAR: &str = "tool_call";
const MCP: &str = "CallMcpTool";
const OPENERS: &[&str] = &["tool_calls", "function_calls", "tool_call", "CallMcpTool"];
/// Elements that hold one call inside a wrapper.
const CALL_ELEMS: &[&str] = &["invoke", "tool_call"];
/// How deep nested parameter elements are turned into objects before we keep them as text.
const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    #[default]
    Wrapper,
    Singular,
    Mcp,
}

fn kind_of(name: &str) -> Option<Kind> {
    match name {
        _ if WRAPPERS.contains(&name) => Some(Kind::Wrapper),
        SINGULAR => Some(Kind::Singular),
        MCP => Some(Kind::Mcp),
        _ => None,
    }
}

#[derive(Debug, Default)]
struct DeepSeek {
    kind: Kind,
    /// Singular `<tool_call>` elements open inside the current wrapper.
    depth: usize,
    /// Inside an unfinished CDATA section: where to resume looking for its end. Kept so a long
    /// CDATA value streamed in small pieces is scanned once, not once per piece.
    cdata: Option<usize>,
}

impl Grammar for DeepSeek {
    const FENCE_AWARE: bool = true;

    fn opener(&self, s: &str, p: usize) -> Opener {
        match scan(s, p) {
            Scan::Tag(t) if !t.close && !t.self_closing && kind_of(t.name).is_some() => Opener::Block(t.end),
            Scan::Partial { close: false, name, name_done } => {
                let possible = if name_done {
                    kind_of(name).is_some()
                } else {
                    OPENERS.iter().any(|o| o.starts_with(name))
                };
                if possible {
                    Opener::Partial
                } else {
                    Opener::No
                }
            }
            _ => Opener::No,
        }
    }

    fn begin(&mut self, opener: &str) {
        self.kind = match scan(opener, 0) {
            Scan::Tag(t) => kind_of(t.name).unwrap_or_default(),
            _ => Kind::default(),
        };
        self.depth = 0;
        self.cdata = None;
    }

    fn close(&mut self, block: &str, scan_at: &mut usize) -> Option<usize> {
        let b = block.as_bytes();
        if let Some(from) = self.cdata {
            // Inside a CDATA section from an earlier chunk: only its end matters.
            match cdata_end(b, from) {
                Some(end) => {
                    self.cdata = None;
                    *scan_at = end;
                }
                None => {
                    self.cdata = Some(cdata_resume(b, from));
                    return None;
                }
            }
        }
        while let Some(off) = memchr::memchr(b'<', &b[*scan_at..]) {
            let p = *scan_at + off;
            match cdata_at(block, p) {
                Cdata::Complete(end) => {
                    *scan_at = end;
                    continue;
                }
                Cdata::Unclosed(body) => {
                    self.cdata = Some(cdata_resume(b, body));
                    return None;
                }
                Cdata::Partial => {
                    *scan_at = p;
                    return None;
                }
                Cdata::No => {}
            }
            let t = match scan(block, p) {
                Scan::Tag(t) => t,
                Scan::Partial { .. } => {
                    *scan_at = p;
                    return None;
                }
                Scan::NotTag => {
                    *scan_at = p + 1;
                    continue;
                }
            };
            *scan_at = t.end;
            let wrapper = WRAPPERS.contains(&t.name);
            match (self.kind, t.close) {
                (Kind::Mcp, true) if t.name == MCP => return Some(t.end),
                (Kind::Singular, true) if t.name == SINGULAR || wrapper => return Some(t.end),
                (Kind::Wrapper, true) if wrapper => return Some(t.end),
                (Kind::Wrapper, true) if t.name == SINGULAR => {
                    if self.depth == 0 {
                        return Some(t.end);
                    }
                    self.depth -= 1;
                }
                (Kind::Wrapper, false) if t.name == SINGULAR && !t.self_closing => self.depth += 1,
                _ => {}
            }
        }
        *scan_at = b.len();
        None
    }

    fn parse(&self, block: &str) -> Vec<Piece> {
        let Scan::Tag(open) = scan(block, 0) else { return Vec::new() };
        // The block ends with its closing tag, which holds the only `<` after its start.
        let close_start = block.rfind('<').unwrap_or(block.len()).max(open.end);
        let inner = &block[open.end..close_start];
        match kind_of(open.name) {
            Some(Kind::Mcp) => mcp_call(inner).map(Piece::ToolCall).into_iter().collect(),
            Some(Kind::Singular) if attr(open.attrs, "name").is_some() => {
                named_call(open.attrs, inner).map(Piece::ToolCall).into_iter().collect()
            }
            Some(_) => calls(inner),
            None => Vec::new(),
        }
    }
}

/// The calls in a wrapper (or unnamed singular) body: call elements in order, invalid ones and
/// stray text as Text in place. Without call elements, the body itself may be one call.
fn calls(inner: &str) -> Vec<Piece> {
    let b = inner.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut text_from, mut found) = (0, 0, false);
    while let Some(off) = memchr::memchr(b'<', &b[i..]) {
        let p = i + off;
        i = p + 1;
        match cdata_at(inner, p) {
            Cdata::Complete(end) => {
                i = end;
                continue;
            }
            Cdata::Unclosed(_) | Cdata::Partial => break,
            Cdata::No => {}
        }
        let Scan::Tag(t) = scan(inner, p) else { continue };
        i = t.end;
        if t.close || !CALL_ELEMS.contains(&t.name) {
            continue;
        }
        // `<invoke name="x"/>` is a call without arguments.
        let (cs, ce) = if t.self_closing {
            (t.end, t.end)
        } else {
            let Some(found) = find_close(inner, t.end, CALL_ELEMS) else { break };
            found
        };
        stray(&inner[text_from..p], &mut out);
        let body = &inner[t.end..cs];
        let parsed = if attr(t.attrs, "name").is_some() { named_call(t.attrs, body).map(|c| vec![c]) } else { unnamed_calls(body) };
        match parsed {
            Some(calls) => out.extend(calls.into_iter().map(Piece::ToolCall)),
            None => out.push(Piece::Text(inner[p..ce].to_owned())),
        }
        found = true;
        i = ce;
        text_from = ce;
    }
    if !found {
        return unnamed_calls(inner).unwrap_or_default().into_iter().map(Piece::ToolCall).collect();
    }
    stray(&inner[text_from..], &mut out);
    out
}

/// Text between calls: dropped if only whitespace and (nested, repeated) wrapper tags, else kept.
fn stray(s: &str, out: &mut Vec<Piece>) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        match scan(s, i) {
            Scan::Tag(t) if WRAPPERS.contains(&t.name) => i = t.end,
            _ => {
                out.push(Piece::Text(s.to_owned()));
                return;
            }
        }
    }
}

/// `<invoke name="X">body` or `<tool_call name="X">body`.
fn named_call(attrs: &str, body: &str) -> Option<ToolCall> {
    let name = attr(attrs, "name")?.trim();
    if !valid_name(name) {
        return None;
    }
    Some(ToolCall { name: name.to_owned(), arguments: named_args(body)? })
}

fn named_args(body: &str) -> Option<String> {
    let t = body.trim();
    if t.is_empty() {
        return Some("{}".to_owned());
    }
    if let Some(c) = cdata(t) {
        return text_args(c);
    }
    if t.starts_with('<') {
        return Some(object_text(params(&elements(t)?, 0)));
    }
    text_args(t)
}

/// Arguments written as text: a JSON object, `key=value` pairs or a command line. Text that
/// starts like JSON must be JSON (broken JSON is not a command line).
fn text_args(t: &str) -> Option<String> {
    if t.starts_with('{') || t.starts_with('[') {
        return json_object(t);
    }
    plain_text(t, true).map(object_text)
}

/// Child elements as an argument object.
fn params(elems: &[Elem<'_>], depth: usize) -> Map<String, Value> {
    if let [only] = elems {
        // `<arguments>{json}</arguments>` is the whole argument object, not one argument.
        if matches!(only.name, "arguments" | "args") {
            if let Ok(Value::Object(m)) = serde_json::from_str(only.body.trim()) {
                return m;
            }
        }
    }
    let mut entries: Vec<(String, Vec<Value>)> = Vec::new();
    let mut unnamed = 0;
    for e in elems {
        let key = if e.name == "parameter" {
            match attr(e.attrs, "name") {
                Some(k) => k.trim().to_owned(),
                None => {
                    unnamed += 1;
                    (unnamed - 1).to_string()
                }
            }
        } else {
            e.name.to_owned()
        };
        let value = param_value(e.body, attr(e.attrs, "string"), depth);
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => entries.push((key, vec![value])),
        }
    }
    entries
        .into_iter()
        .map(|(k, mut v)| (k, if v.len() == 1 { v.pop().unwrap_or(Value::Null) } else { Value::Array(v) }))
        .collect()
}

fn param_value(raw: &str, string_attr: Option<&str>, depth: usize) -> Value {
    let t = raw.trim();
    if let Some(c) = cdata(t) {
        return Value::String(c.to_owned());
    }
    match string_attr {
        Some("true") => return Value::String(raw.to_owned()),
        Some("false") => {
            if let Ok(v) = serde_json::from_str(t) {
                return v;
            }
        }
        _ => {}
    }
    if t.starts_with('<') && depth < MAX_DEPTH {
        if let Some(children) = elements(t) {
            return nested(&children, depth + 1);
        }
    }
    literal(t)
}

fn nested(children: &[Elem<'_>], depth: usize) -> Value {
    if children.iter().all(|e| e.name == "item") {
        Value::Array(children.iter().map(|e| param_value(e.body, attr(e.attrs, "string"), depth)).collect())
    } else {
        Value::Object(params(children, depth))
    }
}

/// A body that names its own call: Hermes JSON (`{"name", "arguments"}` or a list of them),
/// or `NAME` followed by a JSON object or `key=value` pairs (or nothing).
fn unnamed_calls(body: &str) -> Option<Vec<ToolCall>> {
    let t = body.trim();
    let t = cdata(t).map_or(t, str::trim);
    if t.starts_with('{') || t.starts_with('[') {
        return match serde_json::from_str::<Value>(t).ok()? {
            Value::Array(items) if !items.is_empty() => items.iter().map(hermes).collect(),
            v @ Value::Object(_) => hermes(&v).map(|c| vec![c]),
            _ => None,
        };
    }
    let (name, rest) = match t.find(char::is_whitespace) {
        Some(k) => (&t[..k], t[k..].trim()),
        None => (t, ""),
    };
    if !valid_name(name) || !name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        return None;
    }
    // Prose after a word is not a call: no command-line fallback here.
    let arguments = if rest.is_empty() {
        "{}".to_owned()
    } else {
        json_object(rest).or_else(|| pairs(rest).map(object_text))?
    };
    Some(vec![ToolCall { name: name.to_owned(), arguments }])
}

/// `{"name": …, "arguments"|"parameters"|"args": {…} or "{…}"}`, or OpenAI's `{"function": {…}}`.
fn hermes(v: &Value) -> Option<ToolCall> {
    let obj = v.as_object()?;
    if let Some(f @ Value::Object(_)) = obj.get("function") {
        return hermes(f);
    }
    let name = obj.get("name")?.as_str()?.trim();
    if !valid_name(name) {
        return None;
    }
    let args = obj.get("arguments").or_else(|| obj.get("parameters")).or_else(|| obj.get("args"));
    let arguments = match args {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(a @ Value::Object(_)) => a.to_string(),
        Some(Value::String(s)) if s.trim().is_empty() => "{}".to_owned(),
        Some(Value::String(s)) => json_object(s)?,
        Some(_) => return None,
    };
    Some(ToolCall { name: name.to_owned(), arguments })
}

fn mcp_call(inner: &str) -> Option<ToolCall> {
    let children = elements(inner)?;
    let child = |n: &str| {
        children.iter().find(|e| e.name == n).map(|e| {
            let t = e.body.trim();
            cdata(t).map_or(t, str::trim)
        })
    };
    let tool = child("toolName")?;
    let server = child("serverName").unwrap_or("");
    let name = if server.is_empty() { tool.to_owned() } else { format!("{server}_{tool}") };
    if !valid_name(tool) || !valid_name(&name) {
        return None;
    }
    let arguments = match child("arguments") {
        None | Some("") => "{}".to_owned(),
        Some(a) => mcp_args(a),
    };
    Some(ToolCall { name, arguments })
}

fn mcp_args(a: &str) -> String {
    let input = |v: Value| object_text(Map::from_iter([("input".to_owned(), v)]));
    match serde_json::from_str::<Value>(a) {
        Ok(Value::Object(_)) => a.to_owned(),
        Ok(other) => input(other),
        Err(_) => pairs(a).map_or_else(|| input(Value::String(a.to_owned())), object_text),
    }
}

/// DeepSeek DSML / XML / CallMcpTool -> `Piece::ToolCall`.
#[derive(Debug)]
pub struct DeepSeekToolCalls(BlockRepair<DeepSeek>);

impl Default for DeepSeekToolCalls {
    fn default() -> Self {
        Self::new()
    }
}

impl DeepSeekToolCalls {
    pub fn new() -> Self {
        DeepSeekToolCalls(BlockRepair::new(DeepSeek::default()))
    }
    pub fn saw_tool_call(&self) -> bool {
        self.0.saw_tool_call()
    }
    pub(crate) fn push_owned(&mut self, text: String, out: &mut Vec<Piece>) {
        self.0.push_owned(text, out)
    }
    pub(crate) fn interrupt(&mut self, out: &mut Vec<Piece>) {
        self.0.interrupt(out)
    }
}

impl Repair for DeepSeekToolCalls {
    fn push(&mut self, text: &str, out: &mut Vec<Piece>) {
        self.0.push(text, out)
    }
    fn finish(&mut self, out: &mut Vec<Piece>) {
        self.0.finish(out)
    }
}

#[cfg(test)]
mod tests;
