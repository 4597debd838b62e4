//! What differs under the tool prefixes (`routes::Tool`): the handlers are the root ones, only
//! these answers and defaults are the tool's own.
//! - `/claude`: Anthropic-shaped model list (always, not only with `anthropic-version`), Claude
//!   Desktop's opaque `claude-maestro-<hash>` ids and capability list, and the `claude-` names
//!   Model Maestro listed (`claude-gpt-oss:120b` means `gpt-oss:120b`);
//! - `/cursor`: chat streams unless the body says otherwise, and Agent mode's Responses-style
//!   bodies (`input`, flat tools) are read as chat;
//! - `/codex`: the model list in the shape Codex reads (`ModelsResponse`);
//! - `/openclaw`: `GET /openclaw/` answers like Ollama.

use super::input::parse_object;
use crate::error::GatewayError;
use crate::net::{Inbound, Reply};
use crate::routes::{Op, Tool};
use crate::routing::catalog::{Entry, EntryKind};
use crate::dialect::{openai, responses};
use crate::util::jsonscan;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// `GET /` and `HEAD /` (also under a prefix). Ollama clients (the `ollama` CLI, OpenClaw, IDE
/// plugins) probe the root for the text `Ollama is running`; they do not ask for JSON. So: a
/// client whose `Accept` names `application/json` gets the gateway's JSON status, every other
/// client gets Ollama's answer (text/plain). `/openclaw/` always answers like Ollama.
pub(super) fn root(tool: Option<Tool>, req: &Inbound, version: &str) -> Reply {
    let wants_json = req.header("accept").is_some_and(|a| a.to_ascii_lowercase().contains("application/json"));
    let mut reply = if wants_json && tool != Some(Tool::OpenClaw) {
        Reply::json(200, &json!({"name": "Maestro Edge", "version": version, "status": "ok"}))
    } else {
        let mut r = if req.method == "HEAD" { Reply::empty(200) } else { Reply::json_bytes(200, b"Ollama is running".to_vec()) };
        r.set_header("content-type", "text/plain; charset=utf-8");
        r
    };
    if req.method == "HEAD" {
        reply.body = crate::net::Body::Empty;
    }
    reply
}

/// Claude Desktop announces itself with `X-Maestro-Client` (Model Maestro's convention).
pub(super) fn is_claude_desktop(req: &Inbound) -> bool {
    req.header("x-maestro-client").is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "claude-desktop" | "cowork" | "desktop"))
}

const DESKTOP_PREFIX: &str = "claude-maestro-";

/// Claude Desktop rejects ids that do not look like Claude models, so it sees every model as
/// `claude-maestro-<first 12 hex of sha256(name)>`. The id is derived from the name (the same
/// as Model Maestro's, `claude-` prefix ignored), so it resolves against the catalog itself:
/// no route table to keep or lose.
pub fn desktop_id(name: &str) -> String {
    let base = name.strip_prefix("claude-").unwrap_or(name);
    let digest = Sha256::digest(base.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{DESKTOP_PREFIX}{hex}")
}

fn supported(b: bool) -> Value {
    json!({ "supported": b })
}

/// Anthropic's `capabilities` object for an entry, from what the gateway knows of the model,
/// plus the list Claude Desktop needs to offer a model (citations, code execution, context
/// management), as Model Maestro sent it.
fn desktop_capabilities(e: &Entry) -> Value {
    let has = |c: &str| e.capabilities.iter().any(|x| x == c);
    let chat = !(e.name.contains("embed") || has("embedding"));
    let thinking = has("thinking") && chat;
    let vision = has("vision") && chat;
    let big = thinking && (e.name.contains("opus") || e.name.contains("thinking"));
    json!({
        "batch": supported(false),
        "citations": supported(chat),
        "code_execution": supported(chat),
        "context_management": {
            "supported": chat,
            "clear_thinking_20251015": supported(thinking),
            "clear_tool_uses_20250919": supported(chat),
            "compact_20260112": supported(chat),
        },
        "effort": {
            "supported": thinking,
            "low": supported(thinking),
            "medium": supported(thinking),
            "high": supported(thinking),
            "max": supported(big),
        },
        "image_input": supported(vision),
        "pdf_input": supported(false),
        "structured_outputs": supported(chat),
        "thinking": {
            "supported": thinking,
            "types": { "enabled": supported(thinking), "adaptive": supported(thinking) },
        },
    })
}

/// `GET /claude/v1/models` for Claude Desktop: Anthropic's list shape with opaque ids, the real
/// name as `display_name`. (Other clients get `listings::anthropic_models`.)
pub(super) fn claude_desktop_models(entries: &[Entry]) -> Value {
    let data: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "type": "model",
                "id": desktop_id(&e.name),
                "display_name": e.name,
                "created_at": "1970-01-01T00:00:00Z",
                "max_input_tokens": e.context_length,
                "max_tokens": 8192u32.min(e.context_length),
                "capabilities": desktop_capabilities(e),
            })
        })
        .collect();
    let first = data.first().map(|d| d["id"].clone());
    let last = data.last().map(|d| d["id"].clone());
    json!({ "data": data, "has_more": false, "first_id": first, "last_id": last })
}

/// `GET /codex/models`: Codex's `ModelsResponse` (`{"models": [ModelInfo]}`); every field Codex
/// requires is present, and what it reads for its UI is real: `context_window`, input
/// modalities (vision capability), reasoning levels (thinking capability).
pub(super) fn codex_models(entries: &[Entry]) -> Value {
    let models: Vec<Value> = entries
        .iter()
        .filter(|e| !e.capabilities.iter().any(|c| c == "embedding"))
        .enumerate()
        .map(|(i, e)| {
            let has = |c: &str| e.capabilities.iter().any(|x| x == c);
            let levels: Vec<Value> = if has("thinking") {
                [("low", "Fast answers, light reasoning"), ("medium", "Balanced"), ("high", "Deep reasoning")]
                    .iter()
                    .map(|(effort, description)| json!({"effort": effort, "description": description}))
                    .collect()
            } else {
                Vec::new()
            };
            let modalities = if has("vision") { json!(["text", "image"]) } else { json!(["text"]) };
            let group = matches!(e.kind, EntryKind::Group(_));
            json!({
                "slug": e.name,
                "display_name": e.name,
                "description": if group { format!("Maestro Edge group {}", e.name) } else { format!("Maestro Edge model {}", e.name) },
                "default_reasoning_level": if has("thinking") { json!("medium") } else { Value::Null },
                "supported_reasoning_levels": levels,
                "shell_type": "default",
                "visibility": "list",
                "supported_in_api": true,
                "priority": i,
                "upgrade": null,
                "base_instructions": "You are Codex, a coding agent. Follow the user's instructions and use the tools provided.",
                "supports_reasoning_summaries": has("thinking"),
                "support_verbosity": false,
                "default_verbosity": null,
                // Codex's freeform apply_patch round-trips on every node type (`responses::tools`).
                "apply_patch_tool_type": "freeform",
                "truncation_policy": {"mode": "bytes", "limit": 10000},
                "supports_parallel_tool_calls": false,
                "context_window": e.context_length,
                "effective_context_window_percent": 95,
                "experimental_supported_tools": [],
                "input_modalities": modalities,
            })
        })
        .collect();
    json!({ "models": models })
}

/// The request as the root handler should see it: the same request, or one with its body
/// rewritten for the tool (`None`: nothing to change, the common case costs one scan).
/// `resolve` maps a Claude model name to the catalog name it stands for.
pub(super) fn rewrite(tool: Option<Tool>, op: &Op, req: &Inbound, resolve: &dyn Fn(&str) -> Option<String>) -> Result<Option<Inbound>, GatewayError> {
    match (tool, op) {
        (Some(Tool::Claude), Op::Messages | Op::CountTokens) => {
            #[derive(serde::Deserialize)]
            struct Peek {
                model: Option<String>,
            }
            let Ok(Peek { model: Some(model) }) = serde_json::from_slice::<Peek>(&req.body) else { return Ok(None) };
            let Some(name) = resolve(&model).filter(|n| *n != model) else { return Ok(None) };
            let mut body = parse_object(&req.body)?;
            body.insert("model".into(), Value::String(name));
            Ok(Some(with_body(req, &body)))
        }
        (Some(Tool::Cursor), Op::ChatCompletions) => {
            let mut body = parse_object(&req.body)?;
            if !cursor_body(&mut body)? {
                return Ok(None);
            }
            Ok(Some(with_body(req, &body)))
        }
        // Cursor configured with the root base URL sends Agent mode's Responses-shaped bodies to
        // /v1/chat/completions too. A byte scan finds them (no `messages`, an `input`), so
        // ordinary chat bodies are not parsed twice.
        (None, Op::ChatCompletions) if jsonscan::top_level_value(&req.body, "messages").is_none() && jsonscan::top_level_value(&req.body, "input").is_some() => {
            let mut body = parse_object(&req.body)?;
            let stream = body.get("stream").cloned();
            cursor_body(&mut body)?;
            // Outside /cursor the stream default is the chat API's own (off).
            match stream {
                Some(s) => body.insert("stream".into(), s),
                None => body.remove("stream"),
            };
            Ok(Some(with_body(req, &body)))
        }
        _ => Ok(None),
    }
}

fn with_body(req: &Inbound, body: &Map<String, Value>) -> Inbound {
    Inbound { body: serde_json::to_vec(body).unwrap_or_default(), ..req.clone() }
}

/// A Claude model name -> the catalog name it denotes: Desktop's opaque id, or Model Maestro's
/// `claude-` prefixed listing name when only the bare name exists.
pub(super) fn claude_name(model: &str, names: &[String], exists: &dyn Fn(&str) -> bool) -> Option<String> {
    if model.starts_with(DESKTOP_PREFIX) {
        return names.iter().find(|n| desktop_id(n) == model).cloned();
    }
    if exists(model) {
        return None;
    }
    let bare = model.strip_prefix("claude-").or_else(|| model.strip_prefix("anthropic/"))?;
    exists(bare).then(|| bare.to_string())
}

/// Cursor's chat body: `stream` defaults to true; Agent mode sends Responses-style `input`
/// (and flat tools) to the chat path, which is read as a chat request. Returns whether the
/// body changed.
fn cursor_body(body: &mut Map<String, Value>) -> Result<bool, GatewayError> {
    let mut changed = false;
    if body.contains_key("input") && !body.contains_key("messages") {
        let ir = responses::decode_request(body)?;
        let model = body.get("model").and_then(Value::as_str).unwrap_or("").to_string();
        let Value::Object(mut chat) = openai::encode_request(&ir, &model) else {
            return Err(GatewayError::bad_request("could not read the 'input' body as a chat request"));
        };
        // Fields neither shape defines stay as the client sent them.
        for (k, v) in body.iter() {
            if !RESPONSES_ONLY.contains(&k.as_str()) && !chat.contains_key(k) {
                chat.insert(k.clone(), v.clone());
            }
        }
        chat.remove("stream");
        if let Some(s) = body.get("stream") {
            chat.insert("stream".into(), s.clone());
        }
        *body = chat;
        changed = true;
    }
    if !body.contains_key("stream") || body.get("stream").is_some_and(Value::is_null) {
        body.insert("stream".into(), Value::Bool(true));
        changed = true;
    }
    Ok(changed)
}

/// Responses fields that the chat encoding already carried over (or that chat does not have).
const RESPONSES_ONLY: &[&str] = &["input", "instructions", "tools", "tool_choice", "max_output_tokens", "reasoning", "text", "previous_response_id", "include", "store", "truncation"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::snapshot::Snapshot;

    fn req(method: &str, accept: Option<&str>) -> Inbound {
        let mut headers = Vec::new();
        if let Some(a) = accept {
            headers.push(("accept".to_string(), a.to_string()));
        }
        Inbound { method: method.parse().unwrap(), path: "/".into(), query: String::new(), headers, body: Vec::new(), client_ip: None }
    }

    fn body_text(r: &Reply) -> String {
        match &r.body {
            crate::net::Body::Full(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    #[test]
    fn root_answers_like_ollama_unless_json_is_asked_for() {
        let r = root(None, &req("GET", None), "1");
        assert_eq!((r.status, body_text(&r).as_str()), (200, "Ollama is running"));
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        let r = root(None, &req("GET", Some("application/json")), "1");
        assert!(body_text(&r).contains("Maestro Edge"));
        let r = root(None, &req("HEAD", Some("*/*")), "1");
        assert_eq!((r.status, body_text(&r).as_str()), (200, ""));
        let r = root(Some(Tool::OpenClaw), &req("GET", Some("application/json")), "1");
        assert_eq!(body_text(&r), "Ollama is running");
    }

    #[test]
    fn desktop_ids_are_stable_hex_and_ignore_the_claude_prefix() {
        let id = desktop_id("kimi-k2.6:latest");
        assert_eq!(id, desktop_id("claude-kimi-k2.6:latest"));
        assert!(id.starts_with("claude-maestro-") && id.len() == "claude-maestro-".len() + 12);
        assert!(id["claude-maestro-".len()..].chars().all(|c| c.is_ascii_hexdigit()));
        let names = vec!["kimi-k2.6:latest".to_string(), "mock:latest".to_string()];
        let exists = |n: &str| names.iter().any(|x| x == n);
        assert_eq!(claude_name(&id, &names, &exists).as_deref(), Some("kimi-k2.6:latest"));
        assert_eq!(claude_name("claude-maestro-000000000000", &names, &exists), None);
        assert_eq!(claude_name("claude-mock:latest", &names, &exists).as_deref(), Some("mock:latest"));
        assert_eq!(claude_name("mock:latest", &names, &exists), None, "a name that exists is left alone");
    }

    fn snap() -> Snapshot {
        let v = json!({
            "nodes": [{"id": 1, "name": "a", "base_url": "http://a", "active": true, "health": "healthy", "models": [
                {"name": "think:latest", "available": true, "capabilities": ["completion", "thinking", "vision"], "context_length": 65536},
                {"name": "plain:latest", "available": true}
            ]}]
        });
        Snapshot::from_json(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn codex_models_carry_what_codex_reads() {
        let s = snap();
        let entries = crate::routing::catalog::entries(&s);
        let v = codex_models(&entries);
        let m = &v["models"][1];
        assert_eq!(m["slug"], "think:latest");
        assert_eq!(m["context_window"], 65536);
        assert_eq!(m["input_modalities"], json!(["text", "image"]));
        assert_eq!(m["supported_reasoning_levels"][2]["effort"], "high");
        assert_eq!(v["models"][0]["supported_reasoning_levels"], json!([]));
        assert_eq!(v["models"][0]["input_modalities"], json!(["text"]));
        assert_eq!(v["models"][0]["apply_patch_tool_type"], "freeform");
        // Fields Codex's ModelInfo requires (no serde default there).
        for k in [
            "slug",
            "display_name",
            "supported_reasoning_levels",
            "shell_type",
            "visibility",
            "supported_in_api",
            "priority",
            "base_instructions",
            "supports_reasoning_summaries",
            "support_verbosity",
            "truncation_policy",
            "supports_parallel_tool_calls",
            "experimental_supported_tools",
        ] {
            assert!(m.get(k).is_some(), "{k}");
        }
    }

    #[test]
    fn claude_desktop_models_use_opaque_ids() {
        let s = snap();
        let entries = crate::routing::catalog::entries(&s);
        let v = claude_desktop_models(&entries);
        assert_eq!(v["data"][1]["id"], desktop_id("think:latest"));
        assert_eq!(v["data"][1]["display_name"], "think:latest");
        assert_eq!(v["data"][1]["capabilities"]["thinking"]["supported"], true);
        assert_eq!(v["data"][1]["capabilities"]["image_input"]["supported"], true);
        assert_eq!(v["data"][0]["capabilities"]["image_input"]["supported"], false);
        assert_eq!(v["data"][0]["capabilities"]["context_management"]["supported"], true);
        assert_eq!(v["last_id"], desktop_id("think:latest"));
    }

    #[test]
    fn cursor_defaults_to_streaming_and_reads_input_bodies_as_chat() {
        let mut b = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).as_object().unwrap().clone();
        assert!(cursor_body(&mut b).unwrap());
        assert_eq!(b["stream"], true);
        let mut b = json!({"model": "m", "messages": [], "stream": false}).as_object().unwrap().clone();
        assert!(!cursor_body(&mut b).unwrap());
        let mut b = json!({
            "model": "m",
            "instructions": "be brief",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]}],
            "tools": [{"type": "function", "name": "ls", "description": "list", "parameters": {"type": "object", "properties": {}}}],
            "user": "cursor-user"
        })
        .as_object()
        .unwrap()
        .clone();
        assert!(cursor_body(&mut b).unwrap());
        assert!(b.get("input").is_none());
        assert_eq!(b["stream"], true);
        assert_eq!(b["tools"][0]["function"]["name"], "ls");
        assert_eq!(b["user"], "cursor-user");
        let msgs = b["messages"].as_array().unwrap();
        assert_eq!(msgs[0]["role"], "system");
        assert!(msgs.iter().any(|m| m["role"] == "user" && m.to_string().contains("list files")));
    }

    #[test]
    fn root_chat_path_reads_agent_bodies_and_leaves_chat_bodies_alone() {
        let inbound = |body: Value| Inbound { method: crate::net::Method::POST, path: "/v1/chat/completions".into(), query: String::new(), headers: vec![], body: body.to_string().into_bytes(), client_ip: None };
        let none = |_: &str| None;
        let chat = inbound(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "input": "ignored"}));
        assert!(rewrite(None, &Op::ChatCompletions, &chat, &none).unwrap().is_none(), "a chat body is not parsed twice");
        let agent = inbound(json!({"model": "m", "input": "fix it", "tools": [{"type": "custom", "name": "ApplyPatch"}]}));
        let r = rewrite(None, &Op::ChatCompletions, &agent, &none).unwrap().unwrap();
        let b: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(b["messages"][0], json!({"role": "user", "content": "fix it"}));
        assert_eq!(b["tools"][0]["function"]["name"], "ApplyPatch");
        assert_eq!(b["tools"][0]["function"]["parameters"]["required"], json!(["input"]));
        assert!(b.get("stream").is_none(), "outside /cursor the chat API's default (off) holds");
        let streamed = inbound(json!({"model": "m", "input": "x", "stream": true}));
        let b: Value = serde_json::from_slice(&rewrite(None, &Op::ChatCompletions, &streamed, &none).unwrap().unwrap().body).unwrap();
        assert_eq!(b["stream"], true);
    }
}
