//! What went wrong with one attempt, as a typed vocabulary (instead of matching message text):
//! each failure knows what routing does next, the status the client sees if it is the last
//! one, and what it counts against. The rule: blame what failed.
//! - Transport (refused, reset, no answer within `timeouts.ttfb_ms`): the node.
//! - An answer from the origin's API that is wrong for this model (5xx, 429, an empty or
//!   unreadable 200): the (node, model) pair; the node itself answered.
//! - A 5xx/429 that is not the API's own JSON (a proxy or load balancer in front of the API
//!   answered, e.g. a 503 page for the whole host), or a 200 that is an HTML page: the node.
//! - 4xx answers are about the caller's request: nothing (another user's request to the same
//!   model must not be refused because of it).
//! - Maintenance and "cannot serve this endpoint": nothing.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a failure counts against (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    Node,
    Pair,
    Nothing,
}

/// What routing does after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Another node, then another member.
    NextNode,
    /// The payload is too large for this model: another member (the 413 fallback first).
    TooLarge,
    /// The client's own error: answer it as is, no failover.
    Client,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// No response headers within the first-byte deadline.
    Timeout { ms: u64 },
    /// Connection refused or reset, DNS, TLS: the node is unreachable.
    Connect(String),
    /// An HTTP error status. `api` = the body was the API's own JSON error (not a proxy page);
    /// `retry_after_ms` as the origin sent it (capped later, by the breaker settings).
    Status { status: u16, retry_after_ms: Option<u64>, message: String, api: bool },
    /// A 200 that is an HTML page (a proxy's error or login page).
    Html,
    /// Headers arrived but no first event within the deadline.
    NoFirstByte { ms: u64 },
    /// A 200 with no body, or a stream that closed before its first event.
    Empty,
    /// The stream broke before its first event (reset after the headers).
    StreamBroke(String),
    /// A 200 whose body is not JSON.
    NotJson(String),
    /// A 200 carrying an error object, or an answer that cannot be decoded.
    OriginError(String),
    /// The model is in maintenance (model config) for this target.
    Maintenance(String),
    /// This node cannot serve the request (vanished from the snapshot, wrong kind).
    Unservable(String),
    /// The origin refused the node's own credentials (a Bedrock signature, key or token that
    /// is wrong or expired, or no access to this model): the gateway's configuration, not the
    /// caller's request, so another node is tried and the client gets a 502. `scope` is the
    /// node for credentials, the pair for a model the account may not call.
    Credentials { status: u16, message: String, scope: Scope },
}

impl Failure {
    pub fn next(&self) -> Next {
        match self {
            Failure::Status { status: 413, .. } => Next::TooLarge,
            Failure::Status { status, .. } if is_retryable(*status) => Next::NextNode,
            Failure::Status { .. } => Next::Client,
            _ => Next::NextNode,
        }
    }

    pub fn scope(&self) -> Scope {
        match self {
            Failure::Timeout { .. } | Failure::Connect(_) | Failure::Html | Failure::StreamBroke(_) => Scope::Node,
            Failure::Status { status, api, .. } if *status == 429 || *status >= 500 => {
                if *api {
                    Scope::Pair
                } else {
                    Scope::Node
                }
            }
            Failure::Status { .. } => Scope::Nothing,
            Failure::NoFirstByte { .. } | Failure::Empty | Failure::NotJson(_) | Failure::OriginError(_) => Scope::Pair,
            Failure::Maintenance(_) | Failure::Unservable(_) => Scope::Nothing,
            Failure::Credentials { scope, .. } => *scope,
        }
    }

    /// The status the client gets when this is the last failure (origin 5xx become 502: the
    /// gateway is what the client talked to).
    pub fn status(&self) -> u16 {
        match self {
            Failure::Timeout { .. } | Failure::NoFirstByte { .. } => 504,
            Failure::Status { status, .. } => *status,
            Failure::Maintenance(_) => 503,
            _ => 502,
        }
    }

    /// How long the origin asked us to stay away (scoped like the failure).
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Failure::Status { status, retry_after_ms, .. } if *status == 429 || *status >= 500 => *retry_after_ms,
            _ => None,
        }
    }

    /// Mid-stream recovery stops at this failure: a 4xx (other than 404 and 429, which another
    /// node may answer differently) is the origin refusing the prefill or the request itself.
    pub fn ends_recovery(&self) -> bool {
        matches!(self, Failure::Status { status, .. } if *status < 500 && *status != 429 && *status != 404)
    }

    pub fn is_maintenance(&self) -> bool {
        matches!(self, Failure::Maintenance(_))
    }

    /// The origin's own message for a client error (returned to the client as is).
    pub fn origin_message(&self) -> String {
        match self {
            Failure::Status { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// Statuses another node may answer differently: 404 (model missing there), 408, 409, 423,
/// 425, 429 and 5xx.
fn is_retryable(status: u16) -> bool {
    matches!(status, 404 | 408 | 409 | 423 | 425 | 429) || status >= 500
}

/// Wordings of a context overflow, by server (all lower case):
const OVERFLOW: &[&str] = &[
    "context_length_exceeded",              // OpenAI's code, also in bodies of OpenAI-compatible servers
    "maximum context length",               // OpenAI, vLLM: "This model's maximum context length is N tokens"
    "prompt is too long",                   // Anthropic: "prompt is too long: N tokens > M maximum"
    "exceeds the available context",        // llama.cpp: "the request exceeds the available context size"
    "exceed_context_size",                  // llama.cpp's error type
    "exceeds the context length",           // Ollama: "the input length exceeds the context length"
    "exceeds maximum context",              // Ollama, LM Studio
    "longer than the maximum model length", // vLLM: "The decoder prompt (length N) is longer than the maximum model length of M"
    "is too long and exceeds limit",        // vLLM: "Input prompt (N tokens) is too long and exceeds limit of M"
    "context window",                       // "exceeds the context window", "context window exceeded"
    "too many tokens",                      // TGI and others
    "input is too long",                    // TGI / Bedrock-style wordings
    "maximum prompt length",                // vLLM: "This model's maximum prompt length is M tokens"
    "longer than the context length",       // Ollama: "the prompt is longer than the context length"
    "when context the overflows",           // LM Studio: "Trying to keep the first N tokens when context the overflows"
];

/// Whether an origin's error says the prompt does not fit the model's context window. Agents
/// act on that one error (Codex compacts on `context_length_exceeded`, Claude Code on "prompt
/// is too long"), and every server words it its own way, so the wordings seen in the wild are
/// recognised, lower-cased, as substrings.
pub fn is_context_overflow(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    OVERFLOW.iter().any(|w| m.contains(w))
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout { ms } => write!(f, "no response within {ms} ms"),
            Failure::Connect(e) => write!(f, "connection failed: {e}"),
            Failure::Status { status, message, .. } => write!(f, "HTTP {status}: {message}"),
            Failure::Html => write!(f, "the origin answered with an HTML page instead of the API"),
            Failure::NoFirstByte { ms } => write!(f, "no first byte within {ms} ms"),
            Failure::Empty => write!(f, "the origin answered 200 with an empty body"),
            Failure::StreamBroke(e) => write!(f, "stream failed before the first byte: {e}"),
            Failure::NotJson(t) => write!(f, "the origin answered 200 with a body that is not JSON: {t}"),
            Failure::OriginError(m) => write!(f, "{m}"),
            Failure::Maintenance(m) => write!(f, "'{m}' is in maintenance"),
            Failure::Unservable(m) => write!(f, "{m}"),
            Failure::Credentials { status, message, .. } => write!(f, "the origin refused the node's credentials (HTTP {status}): {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16, api: bool) -> Failure {
        Failure::Status { status: s, retry_after_ms: Some(1000), message: "x".into(), api }
    }

    #[test]
    fn blame_goes_to_what_failed() {
        assert_eq!(Failure::Connect("refused".into()).scope(), Scope::Node);
        assert_eq!(Failure::Timeout { ms: 1 }.scope(), Scope::Node);
        assert_eq!(status(500, true).scope(), Scope::Pair);
        assert_eq!(status(429, true).scope(), Scope::Pair);
        assert_eq!(status(503, false).scope(), Scope::Node, "a proxy's 503 page is about the whole host");
        assert_eq!(status(400, true).scope(), Scope::Nothing);
        assert_eq!(status(404, true).scope(), Scope::Nothing);
        assert_eq!(Failure::Empty.scope(), Scope::Pair);
        assert_eq!(Failure::Maintenance("m".into()).scope(), Scope::Nothing);
    }

    #[test]
    fn next_step_and_status() {
        assert_eq!(status(404, true).next(), Next::NextNode);
        assert_eq!(status(400, true).next(), Next::Client);
        assert_eq!(status(413, true).next(), Next::TooLarge);
        assert_eq!(status(503, true).next(), Next::NextNode);
        assert_eq!(Failure::Timeout { ms: 5 }.status(), 504);
        assert_eq!(Failure::Html.status(), 502);
        assert_eq!(status(429, true).retry_after_ms(), Some(1000));
        assert_eq!(status(400, true).retry_after_ms(), None, "a 4xx never cools anything down");
        let creds = Failure::Credentials { status: 403, message: "bad signature".into(), scope: Scope::Node };
        assert_eq!((creds.next(), creds.status(), creds.scope()), (Next::NextNode, 502, Scope::Node), "the node's configuration, never the caller's 403");
    }

    #[test]
    fn wordings_of_every_server() {
        for m in [
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9001 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            "prompt is too long: 210000 tokens > 200000 maximum",
            "the request exceeds the available context size, try increasing it",
            "The decoder prompt (length 40000) is longer than the maximum model length of 32768.",
            "Input prompt (40000 tokens) is too long and exceeds limit of 32768",
            "the input length exceeds the context length",
        ] {
            assert!(is_context_overflow(m), "{m}");
        }
        for m in ["model 'x' not found", "invalid tool schema", "rate limit reached; retry in 3 s"] {
            assert!(!is_context_overflow(m), "{m}");
        }
    }
}
