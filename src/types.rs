//! Small shared vocabulary: client dialects, operations, usage and finish reasons.
//! Request and response bodies stay `serde_json` values where we only touch a few fields;
//! cross-dialect translation has its own internal representation in `dialect/`.

use serde::{Deserialize, Serialize};

/// The API shape a client speaks. Every error from the moment the route is known renders in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Ollama,
    OpenAi,
    Anthropic,
    Responses,
    /// `/admin/*` and system routes: JSON errors `{"error": {"message", "field"?}}`.
    Admin,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Ollama => "ollama",
            Dialect::OpenAi => "openai",
            Dialect::Anthropic => "anthropic",
            Dialect::Responses => "responses",
            Dialect::Admin => "admin",
        }
    }
}

/// Token counts for one request. `estimated` is set when the origin reported nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub estimated: bool,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// Why a model stopped, in dialect-neutral terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    StopSequence,
}

impl FinishReason {
    pub fn from_openai(s: &str) -> FinishReason {
        match s {
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            _ => FinishReason::Stop,
        }
    }
    pub fn as_openai(self) -> &'static str {
        match self {
            FinishReason::Stop | FinishReason::StopSequence => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    #[default]
    Priority,
    Weighted,
    RoundRobin,
    LeastBusy,
}
