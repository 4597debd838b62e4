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
/// `prompt_tokens` is all input the origin processed; the cache counts are parts of it (priced
/// differently, see `costs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub estimated: bool,
    /// Input tokens read from the origin's prompt cache.
    #[serde(default)]
    pub cached_tokens: u64,
    /// Input tokens written to the origin's prompt cache (Anthropic's cache creation).
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Output tokens the origin spent reasoning (part of `completion_tokens`; OpenAI's
    /// `completion_tokens_details.reasoning_tokens`). Reported back, not priced apart.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// Two attempts' usage together (a recovered stream).
    pub fn plus(self, o: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens + o.prompt_tokens,
            completion_tokens: self.completion_tokens + o.completion_tokens,
            estimated: self.estimated || o.estimated,
            cached_tokens: self.cached_tokens + o.cached_tokens,
            cache_write_tokens: self.cache_write_tokens + o.cache_write_tokens,
            reasoning_tokens: self.reasoning_tokens + o.reasoning_tokens,
        }
    }

    /// The cached part of an OpenAI-style `usage` object: Chat Completions'
    /// `prompt_tokens_details.cached_tokens`, Responses' `input_tokens_details.cached_tokens`,
    /// or DeepSeek's `prompt_cache_hit_tokens`; 0 when none is given. Never above the prompt.
    pub fn openai_cached(u: &serde_json::Value, prompt: u64) -> u64 {
        let n = |p: &str| u.pointer(p).and_then(serde_json::Value::as_u64);
        n("/prompt_tokens_details/cached_tokens").or_else(|| n("/input_tokens_details/cached_tokens")).or_else(|| n("/prompt_cache_hit_tokens")).unwrap_or(0).min(prompt)
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
