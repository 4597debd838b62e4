//! Responses tools an origin cannot take as they are: custom (freeform) tools such as Codex's
//! `apply_patch`, and `namespace` tools (MCP servers). Chat, Ollama and Anthropic origins only
//! know function tools whose names match `^[a-zA-Z0-9_-]{1,64}$`, so each offered tool gets an
//! **origin name** within those limits and a function schema, and the answer maps back:
//! - `custom` → a function taking `{"input": string}` (the description carries the tool's
//!   grammar, so the model knows the format); the origin's call comes back to the client as a
//!   `custom_tool_call` whose `input` is the raw string, and a `custom_tool_call` in the history
//!   goes to the origin as a call with `{"input": …}`.
//! - `namespace` → its function (or custom) children, each flattened to `<namespace><name>`
//!   (`mcp__server__` + `tool`, the name Codex used for MCP tools before namespaces; a separator
//!   `__` when the namespace does not end in `_`); calls come back with `name` and `namespace`
//!   apart.
//! - Names outside the charset are sanitised (`_` for each other character); a name longer
//!   than 64 or colliding with another keeps 55 characters plus `_` and 8 hex digits of the
//!   SHA-256 of the full name. The map is a pure function of the request's `tools`, rebuilt on
//!   every turn (clients resend their tools), so nothing is stored and a history item names the
//!   same origin tool as the offer.
//!
//! Names the origin invents (not in the map) reach the client unchanged as function calls.

use super::super::ir::Tool;
use super::super::wire::Obj;
use crate::error::GatewayError;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The longest tool name chat origins accept (OpenAI, vLLM, most templates).
pub const MAX_NAME: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Function,
    /// Freeform input (`type: "custom"`), answered as `custom_tool_call`.
    Custom,
}

/// One offered tool as the client knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The name the origin sees.
    pub origin: String,
    /// The name the client gave (a namespace child's own name).
    pub name: String,
    pub namespace: Option<String>,
    pub kind: Kind,
}

/// The client's tools ↔ the origin's (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolMap {
    pub entries: Vec<Entry>,
}

fn valid(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn joined(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        None => name.to_string(),
        Some(ns) if ns.ends_with('_') => format!("{ns}{name}"),
        Some(ns) => format!("{ns}__{name}"),
    }
}

fn hashed(full: &str, clean: &str) -> String {
    let digest = Sha256::digest(full.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let head: String = clean.chars().take(MAX_NAME - 9).collect();
    format!("{head}_{hex}")
}

/// The origin name of `name` in `namespace`, ignoring collisions (what a history item that is
/// not among the offered tools is sent as).
pub fn flatten(namespace: Option<&str>, name: &str) -> String {
    let full = joined(namespace, name);
    if valid(&full) {
        return full;
    }
    let clean: String = full.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if valid(&clean) {
        clean
    } else {
        hashed(&full, &clean)
    }
}

impl ToolMap {
    fn add(&mut self, namespace: Option<&str>, name: &str, kind: Kind) -> String {
        if let Some(e) = self.entries.iter().find(|e| e.name == name && e.namespace.as_deref() == namespace) {
            return e.origin.clone();
        }
        let mut origin = flatten(namespace, name);
        if self.entries.iter().any(|e| e.origin == origin) {
            let full = joined(namespace, name);
            origin = hashed(&full, &origin);
            let mut n = 2;
            while self.entries.iter().any(|e| e.origin == origin) {
                origin = hashed(&format!("{full}#{n}"), &origin);
                n += 1;
            }
        }
        self.entries.push(Entry { origin: origin.clone(), name: name.to_string(), namespace: namespace.map(str::to_string), kind });
        origin
    }

    /// The origin name for a call in the history (offered or not).
    pub fn origin_name(&self, namespace: Option<&str>, name: &str) -> String {
        self.entries.iter().find(|e| e.name == name && e.namespace.as_deref() == namespace).map(|e| e.origin.clone()).unwrap_or_else(|| flatten(namespace, name))
    }

    /// What the client calls the origin's `origin` tool; `None` for a name it never offered.
    pub fn client(&self, origin: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.origin == origin)
    }

    /// Whether every name maps to itself and nothing is custom (the map changes nothing).
    pub fn is_identity(&self) -> bool {
        self.entries.iter().all(|e| e.kind == Kind::Function && e.namespace.is_none() && e.origin == e.name)
    }
}

/// The function schema an origin gets for a custom tool: one string, the raw input.
fn custom_parameters(t: &Obj) -> Result<Value, GatewayError> {
    let mut what = "The raw input for this tool, exactly as the tool reads it (not JSON-encoded content).".to_string();
    if let Some(f) = t.obj("format")? {
        if f.str("type")? == Some("grammar") {
            let syntax = f.str("syntax")?.unwrap_or("lark");
            if let Some(d) = f.str("definition")? {
                what.push_str(&format!(" It must match this {syntax} grammar:\n{d}"));
            }
        }
    }
    Ok(json!({"type": "object", "properties": {"input": {"type": "string", "description": what}}, "required": ["input"], "additionalProperties": false}))
}

fn function_parameters(t: &Obj) -> Result<Value, GatewayError> {
    match t.get("parameters") {
        None => Ok(json!({"type": "object", "properties": {}})),
        Some(p @ Value::Object(_)) => Ok(p.clone()),
        Some(_) => Err(t.err("parameters", "must be a JSON schema object")),
    }
}

/// One tool definition (`function` or `custom`) → the IR tool under its origin name. Other
/// types (hosted tools) give `None`.
fn one(map: &mut ToolMap, t: &Obj, namespace: Option<&str>) -> Result<Option<Tool>, GatewayError> {
    let kind = match t.req_str("type")? {
        "function" => Kind::Function,
        "custom" => Kind::Custom,
        _ => return Ok(None),
    };
    let name = t.req_str("name")?;
    let parameters = if kind == Kind::Custom { custom_parameters(t)? } else { function_parameters(t)? };
    let origin = map.add(namespace, name, kind);
    Ok(Some(Tool { name: origin, description: t.str("description")?.map(str::to_string), parameters }))
}

/// The request's `tools`: IR tools for the origin and the map back. Hosted tools (web search,
/// file search, MCP connectors the origin would run) are dropped: no chat origin runs them.
pub(crate) fn decode(o: &Obj) -> Result<(Vec<Tool>, ToolMap), GatewayError> {
    let mut map = ToolMap::default();
    let mut tools = Vec::new();
    for (i, t) in o.arr("tools")?.unwrap_or(&[]).iter().enumerate() {
        let t = Obj::of(t, o.item_path("tools", i))?;
        if t.str("type")? == Some("namespace") {
            let ns = t.req_str("name")?;
            let ns_desc = t.str("description")?;
            for (j, c) in t.arr("tools")?.unwrap_or(&[]).iter().enumerate() {
                let c = Obj::of(c, t.item_path("tools", j))?;
                if let Some(mut tool) = one(&mut map, &c, Some(ns))? {
                    // The model sees one flat list: say which server a tool belongs to.
                    if let Some(d) = ns_desc.filter(|d| !d.is_empty()) {
                        tool.description = Some(match tool.description {
                            Some(own) => format!("{own}\n\n({ns}: {d})"),
                            None => format!("({ns}: {d})"),
                        });
                    }
                    tools.push(tool);
                }
            }
        } else if let Some(tool) = one(&mut map, &t, None)? {
            tools.push(tool);
        }
    }
    Ok((tools, map))
}

/// The tool map of a Responses body (for the answer's encoder). A body whose tools do not
/// decode gives an empty map; its decoder has already refused it.
pub fn map_of(body: &Map<String, Value>) -> ToolMap {
    decode(&Obj::root(body)).map(|(_, m)| m).unwrap_or_default()
}

/// The raw input of a custom tool call from the origin's arguments: `{"input": "…"}` as asked;
/// an object with a single string field; a JSON string; or, when the model wrote the input
/// itself instead of JSON, the text as it came.
pub fn custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments.trim()) {
        Ok(Value::Object(m)) => {
            if let Some(Value::String(s)) = m.get("input") {
                return s.clone();
            }
            let mut only = m.values().filter_map(Value::as_str);
            match (only.next(), only.next(), m.len()) {
                (Some(s), None, 1) => s.to_string(),
                _ => arguments.to_string(),
            }
        }
        Ok(Value::String(s)) => s,
        _ => arguments.to_string(),
    }
}

/// The raw `input` of a custom tool call streamed out of the origin's JSON arguments as they
/// arrive (`{"input": "…"}`): the string's characters, unescaped, delta by delta, so a client
/// shows a patch while the model writes it. Arguments of any other shape stream nothing; the
/// call's final item (`custom_input` of the whole arguments) is what counts either way.
#[derive(Debug, Default)]
pub struct InputStream {
    /// Arguments before the string starts (a few bytes: `{"input": "`).
    head: String,
    /// 0: looking for the string's start, 1: inside it, 2: ended or not the expected shape.
    state: u8,
    /// An escape split across deltas (`\`, `\u00`, half a surrogate pair).
    pending: String,
}

/// How far into the arguments the string's start is looked for.
const HEAD_MAX: usize = 64;

impl InputStream {
    /// The input characters this delta of the arguments carries.
    pub fn feed(&mut self, delta: &str) -> String {
        let mut out = String::new();
        if self.state == 0 {
            self.head.push_str(delta);
            let t = self.head.trim_start();
            let start = t.strip_prefix('{').map(str::trim_start).and_then(|r| r.strip_prefix("\"input\"")).map(str::trim_start).and_then(|r| r.strip_prefix(':')).map(str::trim_start);
            match start {
                Some(r) if r.starts_with('"') => {
                    let rest = r[1..].to_string();
                    self.state = 1;
                    self.head = String::new();
                    self.unescape(&rest, &mut out);
                }
                // Still possibly a prefix of `{"input": "`: wait for more.
                _ if self.head.len() < HEAD_MAX && "{\"input\":\"".starts_with(&t.chars().filter(|c| !c.is_whitespace()).collect::<String>()) => {}
                _ => self.state = 2,
            }
        } else if self.state == 1 {
            self.unescape(delta, &mut out);
        }
        out
    }

    fn unescape(&mut self, delta: &str, out: &mut String) {
        let s = std::mem::take(&mut self.pending) + delta;
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    self.state = 2;
                    return;
                }
                b'\\' => {
                    let Some(&e) = b.get(i + 1) else { break };
                    let simple = match e {
                        b'n' => Some('\n'),
                        b't' => Some('\t'),
                        b'r' => Some('\r'),
                        b'b' => Some('\u{8}'),
                        b'f' => Some('\u{c}'),
                        b'/' => Some('/'),
                        b'\\' => Some('\\'),
                        b'"' => Some('"'),
                        _ => None,
                    };
                    if let Some(c) = simple {
                        out.push(c);
                        i += 2;
                        continue;
                    }
                    if e != b'u' {
                        self.state = 2; // not JSON: the final item will say what it was
                        return;
                    }
                    let Some(hi) = s.get(i + 2..i + 6).and_then(|h| u32::from_str_radix(h, 16).ok()) else {
                        if b.len() < i + 6 {
                            break;
                        }
                        self.state = 2;
                        return;
                    };
                    if (0xD800..0xDC00).contains(&hi) {
                        if b.len() < i + 12 {
                            break;
                        }
                        let lo = s.get(i + 6..i + 8).filter(|p| *p == "\\u").and_then(|_| s.get(i + 8..i + 12)).and_then(|h| u32::from_str_radix(h, 16).ok());
                        match lo.filter(|lo| (0xDC00..0xE000).contains(lo)) {
                            Some(lo) => out.extend(char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))),
                            None => out.push('\u{fffd}'),
                        }
                        i += 12;
                    } else {
                        out.push(char::from_u32(hi).unwrap_or('\u{fffd}'));
                        i += 6;
                    }
                }
                _ => {
                    // Copy up to the next quote or backslash (both ASCII, so a char boundary).
                    let end = b[i..].iter().position(|c| *c == b'"' || *c == b'\\').map_or(b.len(), |n| i + n);
                    out.push_str(&s[i..end]);
                    i = end;
                }
            }
        }
        self.pending = s[i..].to_string();
    }
}

// ---------------------------------------------------------------------------------------------
// Reasoning provenance
// ---------------------------------------------------------------------------------------------

const TAG_PREFIX: &str = "maestro.v1.";

/// What a reasoning item the gateway mints carries as `encrypted_content`: the node and real
/// model that produced it. Not a secret (the text travels in the item anyway); a forged tag can
/// only make an origin see reasoning text the client could have sent as a message.
pub fn origin_tag(node_id: i64, real_model: &str) -> String {
    let digest = Sha256::digest(real_model.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{TAG_PREFIX}{node_id}.{hex}")
}

pub fn is_origin_tag(s: &str) -> bool {
    s.starts_with(TAG_PREFIX)
}

/// Once the leg is chosen: reasoning a Responses client sent back reaches this origin only if
/// this origin produced it (same node, same real model), and then without the tag; any other
/// tagged reasoning is dropped. Parts without a tag (other dialects' thinking) are untouched.
pub fn settle_reasoning(req: &mut super::super::ir::ChatRequest, node_id: i64, real_model: &str) {
    use super::super::ir::Part;
    let mine = origin_tag(node_id, real_model);
    for m in &mut req.messages {
        m.parts.retain_mut(|p| match p {
            Part::Thinking { signature, .. } if signature.as_deref().is_some_and(is_origin_tag) => {
                if signature.as_deref() == Some(mine.as_str()) {
                    *signature = None;
                    true
                } else {
                    false
                }
            }
            _ => true,
        });
    }
    req.messages.retain(|m| !m.parts.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::ir::{ChatRequest, Message, Part, Role};
    use crate::dialect::test_support::obj;

    fn valid_name(n: &str) -> bool {
        valid(n)
    }

    #[test]
    fn names_flatten_within_origin_limits_and_map_back() {
        assert_eq!(flatten(None, "shell"), "shell");
        assert_eq!(flatten(Some("mcp__github__"), "create_issue"), "mcp__github__create_issue");
        assert_eq!(flatten(Some("collaboration"), "spawn_agent"), "collaboration__spawn_agent");
        assert_eq!(flatten(None, "files.read"), "files_read");
        let long = flatten(Some("mcp__a_very_long_server_name_for_the_corporate_wiki__"), "search_pages_by_title_and_body");
        assert!(valid_name(&long) && long.len() == MAX_NAME, "{long}");
        assert_ne!(long, flatten(Some("mcp__a_very_long_server_name_for_the_corporate_wiki__"), "search_pages_by_title_and_bodies"));

        let body = obj(json!({"tools": [
            {"type": "function", "name": "files.read", "parameters": {"type": "object"}},
            {"type": "function", "name": "files_read"},
            {"type": "custom", "name": "apply_patch", "description": "Edit files", "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}},
            {"type": "namespace", "name": "mcp__wiki__", "description": "The team wiki", "tools": [
                {"type": "function", "name": "search", "description": "Search pages", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
                {"type": "function", "name": "x".repeat(80)}
            ]},
            {"type": "web_search"}
        ]}));
        let (tools, map) = decode(&Obj::root(&body)).unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 5, "web_search is hosted: dropped");
        assert!(names.iter().all(|n| valid_name(n)), "{names:?}");
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), 5, "colliding names stay apart: {names:?}");
        assert_eq!(names[0], "files_read");
        assert_ne!(names[1], "files_read");
        assert_eq!(map.client(names[0]).unwrap().name, "files.read");
        assert_eq!(map.client(names[1]).unwrap().name, "files_read");
        // Custom: one string argument; the grammar is in its description.
        assert_eq!(names[2], "apply_patch");
        assert_eq!(tools[2].parameters["required"], json!(["input"]));
        assert!(tools[2].parameters["properties"]["input"]["description"].as_str().unwrap().contains("start: begin_patch"));
        assert_eq!(map.client("apply_patch").unwrap().kind, Kind::Custom);
        // Namespace children: flat names, the server's description kept.
        assert_eq!(names[3], "mcp__wiki__search");
        assert!(tools[3].description.as_deref().unwrap().contains("The team wiki"));
        let e = map.client(names[4]).unwrap();
        assert_eq!((e.name.len(), e.namespace.as_deref(), e.kind), (80, Some("mcp__wiki__"), Kind::Function));
        // A history item names the same origin tool as the offer, offered or not.
        assert_eq!(map.origin_name(Some("mcp__wiki__"), &"x".repeat(80)), names[4]);
        assert_eq!(map.origin_name(None, "files_read"), names[1]);
        assert_eq!(map.origin_name(Some("mcp__gone__"), "tool"), "mcp__gone__tool");
        assert!(map.client("invented").is_none());
        assert!(!map.is_identity());
        assert_eq!(map_of(&body), map);
    }

    #[test]
    fn custom_input_is_the_raw_string() {
        assert_eq!(custom_input(r#"{"input":"*** Begin Patch\n*** End Patch"}"#), "*** Begin Patch\n*** End Patch");
        assert_eq!(custom_input(r#"{"patch":"raw"}"#), "raw", "one string field, whatever its name");
        assert_eq!(custom_input(r#""just a string""#), "just a string");
        assert_eq!(custom_input("*** Begin Patch"), "*** Begin Patch", "a model that wrote the input itself");
        assert_eq!(custom_input(r#"{"a":"x","b":"y"}"#), r#"{"a":"x","b":"y"}"#);
    }

    #[test]
    fn custom_input_streams_as_it_arrives() {
        let args = r#"{"input": "*** Begin Patch\n+caf\u00e9 \ud83d\ude00 \"q\" \\ done\n*** End Patch"}"#;
        let whole = custom_input(args);
        // Every split of the arguments streams exactly the final input.
        for cut in 0..args.len() {
            if !args.is_char_boundary(cut) {
                continue;
            }
            let mut st = InputStream::default();
            let got = st.feed(&args[..cut]) + &st.feed(&args[cut..]);
            assert_eq!(got, whole, "cut at {cut}");
        }
        let mut st = InputStream::default();
        let got: String = args.chars().map(|c| st.feed(&c.to_string())).collect();
        assert_eq!(got, whole, "one character at a time");
        // Other shapes stream nothing (the final item still carries the input).
        for other in [r#"{"patch": "x"}"#, "*** Begin Patch", r#""raw""#] {
            let mut st = InputStream::default();
            assert_eq!(st.feed(other), "", "{other}");
        }
    }

    #[test]
    fn reasoning_reaches_only_the_origin_that_produced_it() {
        let tag = origin_tag(3, "qwen3:8b");
        assert!(is_origin_tag(&tag));
        assert_ne!(tag, origin_tag(4, "qwen3:8b"));
        assert_ne!(tag, origin_tag(3, "qwen3:14b"));
        let req = ChatRequest {
            messages: vec![
                Message::text(Role::User, "q"),
                Message { role: Role::Assistant, parts: vec![Part::Thinking { text: "mine".into(), signature: Some(tag.clone()) }, Part::Text("a".into())] },
                Message { role: Role::Assistant, parts: vec![Part::Thinking { text: "other".into(), signature: Some(origin_tag(4, "x")) }] },
                Message { role: Role::Assistant, parts: vec![Part::Thinking { text: "anthropic".into(), signature: Some("EqQBCkYIAhgC".into()) }] },
            ],
            ..Default::default()
        };
        let mut same = req.clone();
        settle_reasoning(&mut same, 3, "qwen3:8b");
        assert_eq!(same.messages[1].parts[0], Part::Thinking { text: "mine".into(), signature: None });
        assert_eq!(same.messages.len(), 3, "another origin's reasoning is dropped, and its now empty turn");
        assert_eq!(same.messages[2].parts[0], Part::Thinking { text: "anthropic".into(), signature: Some("EqQBCkYIAhgC".into()) }, "other dialects' signatures are not ours to judge");
        let mut other = req.clone();
        settle_reasoning(&mut other, 9, "qwen3:8b");
        assert_eq!(other.messages[1].parts, vec![Part::Text("a".into())]);
    }
}
