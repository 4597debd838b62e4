//! Origins: how to address a node for an operation, and how to classify what it answered.
//! Client credentials are never forwarded; a node's own API key and custom headers are.

pub mod bedrock;
pub mod call;
pub mod failure;
pub mod overflow;

use crate::routes::Op;
use crate::state::snapshot::{Node, NodeKind};
use serde_json::{Map, Value};

/// An upstream API: what the origin is asked to speak for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAiChat,
    OpenAiCompletions,
    OpenAiEmbeddings,
    OllamaChat,
    OllamaGenerate,
    OllamaEmbed,
    OllamaEmbeddings,
    AnthropicMessages,
    /// Bedrock Converse / ConverseStream (the model id is in the path: `bedrock::converse_url`).
    BedrockConverse,
}

impl Api {
    pub fn path(self) -> &'static str {
        match self {
            Api::OpenAiChat => "/v1/chat/completions",
            Api::OpenAiCompletions => "/v1/completions",
            Api::OpenAiEmbeddings => "/v1/embeddings",
            Api::OllamaChat => "/api/chat",
            Api::OllamaGenerate => "/api/generate",
            Api::OllamaEmbed => "/api/embed",
            Api::OllamaEmbeddings => "/api/embeddings",
            Api::AnthropicMessages => "/v1/messages",
            Api::BedrockConverse => "/model/{modelId}/converse",
        }
    }
}

/// How one attempt reaches a node: the upstream API, and whether the client's dialect must be
/// translated to it (one IR in between, see `dialect/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    pub api: Api,
    pub translate: bool,
}

/// The leg for a client operation on a node kind; None = this node cannot serve it.
pub fn leg(op: &Op, kind: NodeKind) -> Option<Leg> {
    use NodeKind::*;
    let (api, translate) = match (op, kind) {
        (Op::OllamaChat, Ollama) => (Api::OllamaChat, false),
        (Op::OllamaGenerate, Ollama) => (Api::OllamaGenerate, false),
        (Op::OllamaEmbed, Ollama) => (Api::OllamaEmbed, false),
        (Op::OllamaEmbeddings, Ollama) => (Api::OllamaEmbeddings, false),
        (Op::OllamaChat | Op::OllamaGenerate, Openai) => (Api::OpenAiChat, true),
        (Op::OllamaEmbed | Op::OllamaEmbeddings, Openai) => (Api::OpenAiEmbeddings, true),
        (Op::ChatCompletions, Ollama | Openai) => (Api::OpenAiChat, false),
        (Op::Completions, Ollama | Openai) => (Api::OpenAiCompletions, false),
        (Op::Embeddings, Ollama | Openai) => (Api::OpenAiEmbeddings, false),
        (Op::Messages, Anthropic) => (Api::AnthropicMessages, false),
        // Every other chat dialect reaches an Anthropic node through the IR.
        (Op::ChatCompletions | Op::Responses | Op::OllamaChat | Op::OllamaGenerate, Anthropic) => (Api::AnthropicMessages, true),
        (Op::Messages | Op::Responses, Openai) => (Api::OpenAiChat, true),
        // Native /api/chat (not Ollama's /v1) so context length, keep-alive and thinking work.
        (Op::Messages | Op::Responses, Ollama) => (Api::OllamaChat, true),
        // Bedrock speaks only Converse: every chat dialect is translated to it.
        (Op::ChatCompletions | Op::Responses | Op::OllamaChat | Op::OllamaGenerate | Op::Messages, Bedrock) => (Api::BedrockConverse, true),
        _ => return None,
    };
    Some(Leg { api, translate })
}

/// Node kinds that can serve an operation (with or without translation).
pub fn kinds_for(op: &Op) -> Vec<NodeKind> {
    [NodeKind::Ollama, NodeKind::Openai, NodeKind::Anthropic, NodeKind::Bedrock].into_iter().filter(|k| leg(op, *k).is_some()).collect()
}

/// Headers for an Anthropic-type node: its key as `x-api-key`, and every `anthropic-*` header
/// the client sent (`anthropic-version`, `anthropic-beta`, and whatever comes next) forwarded
/// unchanged: Claude Code relies on betas, and the origin is the judge of what it accepts.
/// Clients of other dialects send none; they get the default `anthropic-version`.
pub fn anthropic_headers(node: &Node, api_key: Option<&str>, client: &[(String, String)]) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = headers(node, None);
    if let Some(k) = api_key.filter(|k| !k.is_empty() && header_safe(k)) {
        h.retain(|(k, _)| k != "x-api-key");
        h.push(("x-api-key".into(), k.to_string()));
    }
    for (k, v) in client {
        let lk = k.to_ascii_lowercase();
        if lk.starts_with("anthropic-") && header_safe(&lk) && header_safe(v) {
            h.retain(|(n, _)| *n != lk);
            h.push((lk, v.clone()));
        }
    }
    if !h.iter().any(|(k, _)| k == "anthropic-version") {
        h.push(("anthropic-version".into(), "2023-06-01".into()));
    }
    h
}

/// The client's query string, for a same-dialect Anthropic leg only (`?beta=true` from Claude
/// Code): the origin decides what it means. Never for translated legs, whose query belonged to
/// another API.
pub fn forwarded_query(leg: Leg, query: &str) -> Option<&str> {
    (leg.api == Api::AnthropicMessages && !leg.translate && !query.is_empty() && header_safe(query) && !query.contains(['#', ' '])).then_some(query)
}

/// The bytes of a same-dialect upstream body: the client's own bytes with only what the gateway
/// changed (the model name, policy edits) spliced in (`jsonscan::splice_object`), so unknown
/// fields, thinking signatures and `cache_control` reach the origin byte for byte. Falls back
/// to serialising `shaped` when the client's bytes cannot be matched. `client` must be the parse
/// of `client_raw` (edits belong in `shaped`), or an edit made to `client` would be lost.
pub fn wire_body(client_raw: &[u8], client: &Map<String, Value>, shaped: &Map<String, Value>) -> Vec<u8> {
    debug_assert!(serde_json::from_slice::<Map<String, Value>>(client_raw).is_ok_and(|m| m == *client), "wire_body: the client body was edited after parsing");
    crate::util::jsonscan::splice_object(client_raw, client, shaped).unwrap_or_else(|| serde_json::to_vec(shaped).unwrap_or_default())
}

/// Path on the origin for an operation served without translation.
pub fn path(op: &Op, kind: NodeKind) -> Option<&'static str> {
    Some(match (op, kind) {
        (Op::OllamaChat, NodeKind::Ollama) => "/api/chat",
        (Op::OllamaGenerate, NodeKind::Ollama) => "/api/generate",
        (Op::OllamaEmbed, NodeKind::Ollama) => "/api/embed",
        (Op::OllamaEmbeddings, NodeKind::Ollama) => "/api/embeddings",
        (Op::OllamaShow, NodeKind::Ollama) => "/api/show",
        (Op::OllamaPs, NodeKind::Ollama) => "/api/ps",
        (Op::ChatCompletions, NodeKind::Ollama | NodeKind::Openai) => "/v1/chat/completions",
        (Op::Completions, NodeKind::Ollama | NodeKind::Openai) => "/v1/completions",
        (Op::Embeddings, NodeKind::Ollama | NodeKind::Openai) => "/v1/embeddings",
        _ => return None,
    })
}

/// `base_url` + path; a base that already ends in `/v1` is not doubled.
pub fn url(node: &Node, path: &str) -> String {
    let base = node.base_url.trim_end_matches('/');
    match (base.strip_suffix("/v1"), path.strip_prefix("/v1")) {
        (Some(b), Some(p)) => format!("{b}/v1{p}"),
        _ => format!("{base}{path}"),
    }
}

/// Upstream headers: JSON content type, the node's custom headers, its API key as Bearer.
/// Header names/values with control characters are dropped (they would split the request).
pub fn headers(node: &Node, api_key: Option<&str>) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = vec![("content-type".into(), "application/json".into())];
    for (k, v) in &node.headers {
        let lk = k.to_ascii_lowercase();
        if matches!(lk.as_str(), "host" | "content-length" | "transfer-encoding" | "connection" | "content-type") || !header_safe(k) || !header_safe(v) {
            continue;
        }
        h.push((lk, v.clone()));
    }
    if let Some(key) = api_key.filter(|k| !k.is_empty() && header_safe(k)) {
        h.retain(|(k, _)| k != "authorization");
        h.push(("authorization".into(), format!("Bearer {key}")));
    }
    h
}

pub fn header_safe(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// The client's body re-addressed to the origin: real model name, explicit `stream`, and for
/// streamed OpenAI chat the usage chunk requested (returns whether the client did not ask for
/// it, so the relay strips it again).
pub fn body(op: &Op, client: &Map<String, Value>, real: &str, stream: bool) -> (Map<String, Value>, bool) {
    let mut b = client.clone();
    b.insert("model".into(), Value::String(real.to_string()));
    let mut strip_usage = false;
    match op {
        Op::OllamaChat | Op::OllamaGenerate => {
            b.insert("stream".into(), Value::Bool(stream));
        }
        Op::ChatCompletions | Op::Completions if stream => {
            let asked = client.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool) == Some(true);
            if !asked {
                let opts = b.entry("stream_options").or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(o) = opts {
                    o.insert("include_usage".into(), Value::Bool(true));
                } else {
                    *opts = serde_json::json!({"include_usage": true});
                }
                strip_usage = true;
            }
        }
        _ => {}
    }
    (b, strip_usage)
}

/// The client's OpenAI body for an Ollama node's `/v1`: Ollama's OpenAI-compatible API reads
/// only `max_tokens` and silently ignores `max_completion_tokens` (what opencode and the newer
/// SDKs send), so the limit is moved to the field it reads; as at OpenAI,
/// `max_completion_tokens` wins when both are set.
pub fn for_ollama_v1(body: &mut Map<String, Value>) {
    if let Some(v) = body.remove("max_completion_tokens") {
        if !v.is_null() {
            body.insert("max_tokens".into(), v);
        }
    }
}

/// `Retry-After` in ms (seconds form or HTTP date is not parsed: seconds only, capped at 1 h).
pub fn retry_after_ms(value: Option<&str>) -> Option<u64> {
    let secs: f64 = value?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| ((secs * 1000.0) as u64).min(3_600_000))
}

/// The message inside an origin's error body (OpenAI, Ollama or Anthropic shape), else the text.
pub fn error_text(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let msg = v.get("error").and_then(|e| e.as_str().map(String::from).or_else(|| e.get("message").and_then(Value::as_str).map(String::from)))
            .or_else(|| v.get("message").and_then(Value::as_str).map(String::from))
            .or_else(|| v.get("detail").and_then(Value::as_str).map(String::from));
        if let Some(m) = msg {
            return m;
        }
    }
    let text = String::from_utf8_lossy(body);
    let t = text.trim();
    if t.starts_with('<') {
        return "the origin answered with an HTML page instead of JSON".into();
    }
    t.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(base: &str) -> Node {
        Node { base_url: base.into(), ..Default::default() }
    }

    #[test]
    fn urls_do_not_double_v1() {
        assert_eq!(url(&node("http://h:8000/v1/"), "/v1/chat/completions"), "http://h:8000/v1/chat/completions");
        assert_eq!(url(&node("http://h:8000"), "/v1/models"), "http://h:8000/v1/models");
        assert_eq!(url(&node("http://h:11434/"), "/api/chat"), "http://h:11434/api/chat");
    }

    #[test]
    fn usage_is_requested_for_streams_and_stripped_later() {
        let c = json!({"model":"d","stream":true,"messages":[]});
        let (b, strip) = body(&Op::ChatCompletions, c.as_object().unwrap(), "real", true);
        assert_eq!(b["model"], "real");
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert!(strip);
        let c2 = json!({"model":"d","stream":true,"stream_options":{"include_usage":true}});
        assert!(!body(&Op::ChatCompletions, c2.as_object().unwrap(), "r", true).1);
        let (b3, _) = body(&Op::OllamaChat, json!({"model":"d"}).as_object().unwrap(), "r", true);
        assert_eq!(b3["stream"], true);
    }

    #[test]
    fn headers_never_split_and_key_wins() {
        let mut n = node("http://h");
        n.headers = vec![("X-Team".into(), "a".into()), ("X-Bad".into(), "v\r\nInjected: 1".into()), ("Authorization".into(), "Basic x".into())];
        let h = headers(&n, Some("sk-1"));
        assert!(h.contains(&("x-team".into(), "a".into())));
        assert!(!h.iter().any(|(k, _)| k == "x-bad"));
        assert_eq!(h.iter().filter(|(k, _)| k == "authorization").count(), 1);
        assert!(h.contains(&("authorization".into(), "Bearer sk-1".into())));
    }

    #[test]
    fn every_chat_dialect_has_a_leg_to_every_node_kind() {
        for op in [Op::ChatCompletions, Op::Responses, Op::OllamaChat, Op::OllamaGenerate, Op::Messages] {
            assert_eq!(kinds_for(&op).len(), 4, "{op:?}");
        }
        assert_eq!(leg(&Op::Messages, NodeKind::Anthropic), Some(Leg { api: Api::AnthropicMessages, translate: false }));
        assert_eq!(leg(&Op::ChatCompletions, NodeKind::Anthropic), Some(Leg { api: Api::AnthropicMessages, translate: true }));
        assert_eq!(leg(&Op::Embeddings, NodeKind::Anthropic), None);
        assert_eq!(leg(&Op::Messages, NodeKind::Bedrock), Some(Leg { api: Api::BedrockConverse, translate: true }));
        assert_eq!(leg(&Op::Embeddings, NodeKind::Bedrock), None);
    }

    #[test]
    fn anthropic_headers_forward_every_anthropic_header_and_never_the_client_key() {
        let n = node("http://h");
        let client = vec![
            ("x-api-key".to_string(), "client-token".to_string()),
            ("anthropic-version".to_string(), "2023-06-01".to_string()),
            ("Anthropic-Beta".to_string(), "context-management-2025-06-27,advanced-tool-use-2025-11-20".to_string()),
            ("anthropic-dangerous-direct-browser-access".to_string(), "true".to_string()),
            ("anthropic-evil".to_string(), "a\r\nx: 1".to_string()),
        ];
        let h = anthropic_headers(&n, Some("sk-node"), &client);
        let get = |k: &str| h.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(get("x-api-key"), ["sk-node"]);
        assert_eq!(get("anthropic-beta"), ["context-management-2025-06-27,advanced-tool-use-2025-11-20"]);
        assert_eq!(get("anthropic-dangerous-direct-browser-access"), ["true"]);
        assert_eq!(get("anthropic-version"), ["2023-06-01"]);
        assert!(get("anthropic-evil").is_empty());
        assert_eq!(anthropic_headers(&n, None, &[]).iter().filter(|(k, _)| k == "anthropic-version").count(), 1);
        let same = Leg { api: Api::AnthropicMessages, translate: false };
        assert_eq!(forwarded_query(same, "beta=true"), Some("beta=true"));
        assert_eq!(forwarded_query(Leg { translate: true, ..same }, "beta=true"), None);
        assert_eq!(forwarded_query(same, ""), None);
    }

    #[test]
    fn wire_body_keeps_the_clients_bytes() {
        let raw = br#"{"model":"claude","max_tokens":5,"messages":[{"role":"system","content":"x","cache_control":{"type":"ephemeral"}}],"context_management":{"edits":[]}}"#;
        let client: Map<String, Value> = serde_json::from_slice(raw).unwrap();
        let (shaped, _) = body(&Op::Messages, &client, "claude-real", false);
        let out = wire_body(raw, &client, &shaped);
        assert_eq!(out, String::from_utf8(raw.to_vec()).unwrap().replace("\"claude\"", "\"claude-real\"").into_bytes());
        let dup = b"{\"model\":1,\"model\":2}";
        let parsed: Map<String, Value> = serde_json::from_slice(dup).unwrap();
        let (renamed, _) = body(&Op::Messages, &parsed, "x", false);
        assert_eq!(wire_body(dup, &parsed, &renamed), serde_json::to_vec(&renamed).unwrap(), "duplicate keys: serialised whole");
    }

    #[test]
    fn retry_after_and_messages() {
        assert_eq!(retry_after_ms(Some("2")), Some(2000));
        assert_eq!(retry_after_ms(Some("soon")), None);
        assert_eq!(error_text(br#"{"error":{"message":"bad"}}"#), "bad");
        assert_eq!(error_text(br#"{"error":"model 'x' not found"}"#), "model 'x' not found");
        assert!(error_text(b"<html>502</html>").contains("HTML"));
    }
}
