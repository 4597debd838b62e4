//! (method, path) -> Endpoint. A pure table: which dialect a path speaks and which operation it
//! is. Unknown paths are 404 and known paths with the wrong method are 405 with `Allow`.

use crate::error::GatewayError;
use crate::types::Dialect;
use std::borrow::Cow;

/// The tool prefixes Model Maestro served and users configured in their IDEs. Each prefix maps
/// onto the root table (same handlers, auth, limits and usage); the few tool-specific answers
/// (model list shapes, defaults) are in `app::tools`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `ANTHROPIC_BASE_URL=https://host/claude` (Claude Code, Claude Desktop).
    Claude,
    /// Cursor's base URL `https://host/cursor`.
    Cursor,
    /// Codex's provider `base_url = "https://host/codex"`.
    Codex,
    /// OpenClaw's Ollama/OpenAI provider `baseUrl = "https://host/openclaw"`.
    OpenClaw,
}

const TOOLS: &[(&str, Tool)] = &[("/claude", Tool::Claude), ("/cursor", Tool::Cursor), ("/codex", Tool::Codex), ("/openclaw", Tool::OpenClaw)];

/// A path without its tool prefix: the tool and the root path it stands for. `/api/*` and
/// `/v1/*` keep their path, the bare prefix is `/`, anything else is an OpenAI path the tool
/// sends without `/v1` (`/codex/responses` -> `/v1/responses`, `/cursor/chat/completions`).
pub fn untool(path: &str) -> (Option<Tool>, Cow<'_, str>) {
    for (prefix, tool) in TOOLS {
        let Some(rest) = path.strip_prefix(prefix) else { continue };
        if rest.is_empty() || rest == "/" {
            return (Some(*tool), Cow::Borrowed("/"));
        }
        if !rest.starts_with('/') {
            continue; // "/claudex" is not under "/claude"
        }
        if rest.starts_with("/api/") || rest.starts_with("/v1/") || rest == "/v1" {
            return (Some(*tool), Cow::Borrowed(rest));
        }
        return (Some(*tool), Cow::Owned(format!("/v1{rest}")));
    }
    (None, Cow::Borrowed(path))
}

/// The tool whose prefix a path carries, if any.
pub fn tool_of(path: &str) -> Option<Tool> {
    untool(path).0
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    // system (no auth)
    Root,
    Health,
    Ready,
    /// `GET`/`HEAD /api/hello`: Claude Code's connection-warming probe.
    Hello,
    // Ollama-native
    OllamaChat,
    OllamaGenerate,
    OllamaEmbed,
    OllamaEmbeddings,
    OllamaTags,
    OllamaShow,
    OllamaPs,
    OllamaVersion,
    // OpenAI
    ChatCompletions,
    Completions,
    Embeddings,
    Models,
    Model(String),
    // Anthropic Messages (Claude Code) and OpenAI Responses (Codex)
    Messages,
    CountTokens,
    Responses,
    /// A stored response: `GET` / `DELETE /v1/responses/{id}`, `GET .../{id}/input_items`.
    ResponseGet(String),
    ResponseDelete(String),
    ResponseInputItems(String),
    // Ollama model management (needs the user's model-management grant)
    OllamaPull,
    OllamaPush,
    OllamaCopy,
    OllamaDelete,
    OllamaCreate,
    /// `GET /v1/me`: the caller's own view (answered by the edge, which reads usage).
    Me,
    // admin API: the admin router matches the rest of the path itself
    Admin,
    /// CORS preflight for any path.
    Preflight,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub dialect: Dialect,
    pub op: Op,
}

impl Op {
    /// Stable name used in usage records and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Root => "root",
            Op::Health => "health",
            Op::Hello => "api/hello",
            Op::Ready => "ready",
            Op::OllamaChat => "api/chat",
            Op::OllamaGenerate => "api/generate",
            Op::OllamaEmbed => "api/embed",
            Op::OllamaEmbeddings => "api/embeddings",
            Op::OllamaTags => "api/tags",
            Op::OllamaShow => "api/show",
            Op::OllamaPs => "api/ps",
            Op::OllamaVersion => "api/version",
            Op::ChatCompletions => "v1/chat/completions",
            Op::Completions => "v1/completions",
            Op::Embeddings => "v1/embeddings",
            Op::Models | Op::Model(_) => "v1/models",
            Op::Messages => "v1/messages",
            Op::CountTokens => "v1/messages/count_tokens",
            Op::Responses => "v1/responses",
            Op::ResponseGet(_) | Op::ResponseDelete(_) | Op::ResponseInputItems(_) => "v1/responses/{id}",
            Op::OllamaPull => "api/pull",
            Op::OllamaPush => "api/push",
            Op::OllamaCopy => "api/copy",
            Op::OllamaDelete => "api/delete",
            Op::OllamaCreate => "api/create",
            Op::Me => "v1/me",
            Op::Admin => "admin",
            Op::Preflight => "preflight",
        }
    }

    /// Operations that generate text or vectors on an origin (count against limits).
    pub fn is_inference(&self) -> bool {
        matches!(
            self,
            Op::OllamaChat
                | Op::OllamaGenerate
                | Op::OllamaEmbed
                | Op::OllamaEmbeddings
                | Op::ChatCompletions
                | Op::Completions
                | Op::Embeddings
                | Op::Messages
                | Op::Responses
        )
    }

    pub fn is_model_management(&self) -> bool {
        matches!(self, Op::OllamaPull | Op::OllamaPush | Op::OllamaCopy | Op::OllamaDelete | Op::OllamaCreate)
    }
}

/// The dialect a path speaks, even when the method is wrong (so the 405 is in its shape).
pub fn dialect_of(path: &str) -> Dialect {
    let (_, path) = untool(path);
    let path = path.as_ref();
    if path.starts_with("/api/") {
        Dialect::Ollama
    } else if path == "/v1/messages" || path.starts_with("/v1/messages/") {
        Dialect::Anthropic
    } else if path == "/v1/responses" || path.starts_with("/v1/responses/") {
        Dialect::Responses
    } else if path.starts_with("/v1/") {
        Dialect::OpenAi
    } else {
        Dialect::Admin
    }
}

pub fn resolve(method: &str, path: &str) -> Result<Endpoint, (Dialect, GatewayError)> {
    let dialect = dialect_of(path);
    let ep = |op| Ok(Endpoint { dialect, op });
    let (_, path) = untool(path);
    let path = path.as_ref();
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    // Admin first, preflights included: the dashboard on another origin needs the admin
    // handler's CORS answer (allowed origin, methods, headers) before any call it makes.
    if path == "/admin" || path.starts_with("/admin/") {
        return Ok(Endpoint { dialect: Dialect::Admin, op: Op::Admin });
    }
    if method == "OPTIONS" {
        return ep(Op::Preflight);
    }
    // (path, allowed method, op)
    let fixed: &[(&str, &str, Op)] = &[
        ("/", "GET", Op::Root),
        ("/health", "GET", Op::Health),
        ("/api/hello", "GET", Op::Hello),
        ("/health/ready", "GET", Op::Ready),
        ("/api/chat", "POST", Op::OllamaChat),
        ("/api/generate", "POST", Op::OllamaGenerate),
        ("/api/embed", "POST", Op::OllamaEmbed),
        ("/api/embeddings", "POST", Op::OllamaEmbeddings),
        ("/api/tags", "GET", Op::OllamaTags),
        ("/api/show", "POST", Op::OllamaShow),
        ("/api/ps", "GET", Op::OllamaPs),
        ("/api/version", "GET", Op::OllamaVersion),
        ("/v1/chat/completions", "POST", Op::ChatCompletions),
        ("/v1/completions", "POST", Op::Completions),
        ("/v1/embeddings", "POST", Op::Embeddings),
        ("/v1/models", "GET", Op::Models),
        ("/v1/me", "GET", Op::Me),
        ("/v1/messages", "POST", Op::Messages),
        ("/v1/messages/count_tokens", "POST", Op::CountTokens),
        ("/v1/responses", "POST", Op::Responses),
        ("/api/pull", "POST", Op::OllamaPull),
        ("/api/push", "POST", Op::OllamaPush),
        ("/api/copy", "POST", Op::OllamaCopy),
        ("/api/delete", "DELETE", Op::OllamaDelete),
        ("/api/create", "POST", Op::OllamaCreate),
    ];
    for (p, m, op) in fixed {
        if *p == path {
            // HEAD is answered like GET (probes such as `ollama` and uptime checkers use it).
            if *m == method || (*m == "GET" && method == "HEAD") {
                return ep(op.clone());
            }
            let allow: &'static str = match *m {
                "GET" => "GET, HEAD",
                "DELETE" => "DELETE",
                _ => "POST",
            };
            return Err((dialect, GatewayError::MethodNotAllowed { allow: allow.into() }));
        }
    }
    if let Some(id) = path.strip_prefix("/v1/models/") {
        if method != "GET" && method != "HEAD" {
            return Err((dialect, GatewayError::MethodNotAllowed { allow: "GET, HEAD".into() }));
        }
        let id = urlencoding::decode(id).map(|s| s.into_owned()).unwrap_or_else(|_| id.to_string());
        return ep(Op::Model(id));
    }
    if let Some(rest) = path.strip_prefix("/v1/responses/") {
        let (id, items) = match rest.strip_suffix("/input_items") {
            Some(id) => (id, true),
            None => (rest, false),
        };
        if !id.is_empty() && !id.contains('/') {
            let id = id.to_string();
            return match (method, items) {
                ("GET" | "HEAD", false) => ep(Op::ResponseGet(id)),
                ("DELETE", false) => ep(Op::ResponseDelete(id)),
                ("GET" | "HEAD", true) => ep(Op::ResponseInputItems(id)),
                (_, false) => Err((dialect, GatewayError::MethodNotAllowed { allow: "GET, HEAD, DELETE".into() })),
                (_, true) => Err((dialect, GatewayError::MethodNotAllowed { allow: "GET, HEAD".into() })),
            };
        }
    }
    Err((dialect, GatewayError::NotFound(format!("no route for {method} {path}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(resolve("POST", "/api/chat").unwrap().op, Op::OllamaChat);
        assert_eq!(resolve("POST", "/v1/chat/completions/").unwrap().op, Op::ChatCompletions);
        assert_eq!(resolve("GET", "/v1/models/llama3%3Alatest").unwrap().op, Op::Model("llama3:latest".into()));
        assert_eq!(resolve("GET", "/v1/models/org/model").unwrap().op, Op::Model("org/model".into()));
        assert_eq!(resolve("HEAD", "/").unwrap().op, Op::Root);
        assert_eq!(resolve("HEAD", "/api/hello").unwrap().op, Op::Hello);
        assert_eq!(resolve("HEAD", "/claude/api/hello").unwrap().op, Op::Hello);
        assert_eq!(resolve("PATCH", "/admin/nodes/1/toggle").unwrap().op, Op::Admin);
        let m = resolve("POST", "/v1/messages").unwrap();
        assert_eq!((m.dialect, m.op), (Dialect::Anthropic, Op::Messages));
        assert_eq!(resolve("POST", "/v1/responses").unwrap().dialect, Dialect::Responses);
        let g = resolve("GET", "/v1/responses/resp_1").unwrap();
        assert_eq!((g.dialect, g.op), (Dialect::Responses, Op::ResponseGet("resp_1".into())));
        assert_eq!(resolve("DELETE", "/v1/responses/resp_1").unwrap().op, Op::ResponseDelete("resp_1".into()));
        assert_eq!(resolve("GET", "/v1/responses/resp_1/input_items").unwrap().op, Op::ResponseInputItems("resp_1".into()));
        assert_eq!(resolve("POST", "/v1/responses/resp_1").unwrap_err().1.status(), 405);
        assert_eq!(resolve("DELETE", "/api/delete").unwrap().op, Op::OllamaDelete);
        assert_eq!(resolve("OPTIONS", "/admin/auth/login").unwrap().op, Op::Admin);
        assert_eq!(resolve("OPTIONS", "/v1/chat/completions").unwrap().op, Op::Preflight);
    }

    #[test]
    fn tool_prefixes_map_onto_the_root_table() {
        let op = |m: &str, p: &str| resolve(m, p).map(|e| (e.dialect, e.op)).unwrap();
        assert_eq!(op("POST", "/claude/v1/messages"), (Dialect::Anthropic, Op::Messages));
        assert_eq!(op("POST", "/claude/v1/messages/count_tokens"), (Dialect::Anthropic, Op::CountTokens));
        assert_eq!(op("GET", "/claude/v1/models"), (Dialect::OpenAi, Op::Models));
        assert_eq!(op("HEAD", "/claude/"), (Dialect::Admin, Op::Root));
        assert_eq!(op("HEAD", "/claude"), (Dialect::Admin, Op::Root));
        assert_eq!(op("POST", "/cursor/chat/completions"), (Dialect::OpenAi, Op::ChatCompletions));
        assert_eq!(op("GET", "/cursor/models"), (Dialect::OpenAi, Op::Models));
        assert_eq!(op("POST", "/codex/responses"), (Dialect::Responses, Op::Responses));
        assert_eq!(op("POST", "/codex/completions"), (Dialect::OpenAi, Op::Completions));
        assert_eq!(op("POST", "/codex/embeddings"), (Dialect::OpenAi, Op::Embeddings));
        assert_eq!(op("GET", "/codex/models"), (Dialect::OpenAi, Op::Models));
        assert_eq!(op("POST", "/openclaw/api/chat"), (Dialect::Ollama, Op::OllamaChat));
        assert_eq!(op("POST", "/openclaw/api/show"), (Dialect::Ollama, Op::OllamaShow));
        assert_eq!(op("POST", "/openclaw/chat/completions"), (Dialect::OpenAi, Op::ChatCompletions));
        assert_eq!(op("POST", "/openclaw/embeddings"), (Dialect::OpenAi, Op::Embeddings));
        assert_eq!(op("GET", "/openclaw/"), (Dialect::Admin, Op::Root));
        assert_eq!(op("OPTIONS", "/claude/v1/messages"), (Dialect::Anthropic, Op::Preflight));
        assert_eq!(tool_of("/codex/models"), Some(Tool::Codex));
        assert_eq!(tool_of("/v1/models"), None);
        // Not a prefix: a longer first segment, and the admin API is never under a tool.
        assert_eq!(resolve("GET", "/claudex/v1/models").unwrap_err().1.status(), 404);
        assert_eq!(resolve("GET", "/claude/admin/nodes").unwrap_err().1.status(), 404);
        assert_eq!(resolve("GET", "/codex/responses").unwrap_err().1.status(), 405);
    }

    #[test]
    fn wrong_method_is_405_in_the_paths_dialect() {
        let (d, e) = resolve("GET", "/api/chat").unwrap_err();
        assert_eq!(d, Dialect::Ollama);
        assert_eq!(e, GatewayError::MethodNotAllowed { allow: "POST".into() });
        let (d, e) = resolve("DELETE", "/v1/models").unwrap_err();
        assert_eq!(d, Dialect::OpenAi);
        assert_eq!(e.status(), 405);
        let (_, e) = resolve("GET", "/nope").unwrap_err();
        assert_eq!(e.status(), 404);
    }
}
