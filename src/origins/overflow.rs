//! Whether an origin's error says the prompt does not fit the model's context window. Agents
//! act on that one error (Codex compacts on `context_length_exceeded`, Claude Code on "prompt
//! is too long"), and every server words it its own way, so the wordings seen in the wild are
//! recognised here, lower-cased, as substrings.

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
];

pub fn is_overflow(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    OVERFLOW.iter().any(|w| m.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert!(is_overflow(m), "{m}");
        }
        for m in ["model 'x' not found", "invalid tool schema", "rate limit reached; retry in 3 s"] {
            assert!(!is_overflow(m), "{m}");
        }
    }
}
