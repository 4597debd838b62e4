//! Context-overflow errors of non-Anthropic origins, reworded the way the Anthropic API words
//! them, for Anthropic clients on a translated leg. Claude Code recognises only Anthropic's
//! wording (`prompt is too long: N tokens > M maximum`, matched as
//! `prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)`, and `input length and `max_tokens`
//! exceed context limit: N + X > M`) and then compacts the conversation or lowers `max_tokens`;
//! any other wording stops the session with an error the user has to act on.
//!
//! Wordings read here (as the servers print them):
//! - vLLM ≥ 0.8: `This model's maximum context length is M tokens. However, your request has N
//!   input tokens. Please reduce the length of the input messages.` (also `maximum prompt
//!   length is M tokens. However, your request has N prompt tokens`);
//! - vLLM, when `max_tokens` is what overflows: `'max_tokens' or 'max_completion_tokens' is too
//!   large: X. This model's maximum context length is M tokens and your request has N input
//!   tokens (X > M - N).`;
//! - older vLLM, OpenAI, DeepSeek: `This model's maximum context length is M tokens. However,
//!   you requested T tokens (N in the messages, X in the completion).` and OpenAI's `However,
//!   your messages resulted in N tokens.`;
//! - llama.cpp server and Ollama with `truncate: false`: `request (N tokens) exceeds the
//!   available context size (M tokens)` (Ollama nests llama.cpp's JSON inside its `error`);
//! - LM Studio: `Trying to keep the first N tokens when context the overflows. However, the
//!   model is loaded with context length of only M tokens, ...`;
//! - Ollama without counts: `the input length exceeds the context length`, `the prompt is longer
//!   than the context length ...`: reworded with the gateway's estimate of the prompt and the
//!   model's configured context length (only when that is known).
//!
//! The origin's own text follows the reworded message after ` (origin: ...)`, so nothing the
//! origin said is lost.

/// Anthropic's wording for an overflow in `message`, or None when it is not one.
/// `estimate`: the gateway's prompt estimate; `context`: the model's context length, if known.
pub fn anthropic_wording(message: &str, estimate: u64, context: Option<u64>) -> Option<String> {
    let m = message;
    let reworded = parse(m).or_else(|| countless(m, estimate, context))?;
    let text = match reworded {
        Overflow::Prompt { tokens, max } => format!("prompt is too long: {tokens} tokens > {max} maximum"),
        Overflow::WithMaxTokens { input, max_tokens, max } => {
            format!("input length and `max_tokens` exceed context limit: {input} + {max_tokens} > {max}, decrease input length or `max_tokens` and try again")
        }
    };
    Some(format!("{text} (origin: {})", m.trim()))
}

#[derive(Debug, PartialEq, Eq)]
enum Overflow {
    Prompt { tokens: u64, max: u64 },
    WithMaxTokens { input: u64, max_tokens: u64, max: u64 },
}

/// The first unsigned integer at or after `from` in `s`, and where it ends.
fn number(s: &str, from: usize) -> Option<(u64, usize)> {
    let b = s.as_bytes();
    let start = from + b.get(from..)?.iter().position(u8::is_ascii_digit)?;
    let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    Some((s[start..end].parse().ok()?, end))
}

/// The integer right after `anchor` (within a few characters), and where it ends.
fn after(s: &str, anchor: &str) -> Option<(u64, usize)> {
    let at = s.find(anchor)? + anchor.len();
    let (n, end) = number(s, at)?;
    // Only spacing or punctuation between the anchor and the number.
    (s[at..end].chars().filter(|c| c.is_alphabetic()).count() == 0).then_some((n, end))
}

fn parse(m: &str) -> Option<Overflow> {
    // llama.cpp / Ollama truncate:false.
    if let (Some(n), Some(max)) = (after(m, "request ("), after(m, "exceeds the available context size (")) {
        return Some(Overflow::Prompt { tokens: n.0, max: max.0 });
    }
    // LM Studio.
    if let (Some(n), Some(max)) = (after(m, "Trying to keep the first "), after(m, "context length of only ")) {
        return Some(Overflow::Prompt { tokens: n.0, max: max.0 });
    }
    // vLLM: max_tokens too large for what is left.
    if let Some((x, _)) = after(m, "is too large: ") {
        if let (Some(max), Some(n)) = (after(m, "maximum context length is "), after(m, "your request has ")) {
            return Some(if n.0 > max.0 { Overflow::Prompt { tokens: n.0, max: max.0 } } else { Overflow::WithMaxTokens { input: n.0, max_tokens: x, max: max.0 } });
        }
    }
    let max = after(m, "maximum context length is ").or_else(|| after(m, "maximum prompt length is "))?.0;
    if let Some((n, _)) = after(m, "your request has ") {
        return Some(Overflow::Prompt { tokens: n, max });
    }
    if let Some((n, _)) = after(m, "your messages resulted in ") {
        return Some(Overflow::Prompt { tokens: n, max });
    }
    if let Some((_, end)) = after(m, "you requested ") {
        let (input, end) = number(m, end)?;
        let (completion, _) = number(m, end).unwrap_or((0, end));
        return Some(if input > max || completion == 0 { Overflow::Prompt { tokens: input.max(max + 1), max } } else { Overflow::WithMaxTokens { input, max_tokens: completion, max } });
    }
    None
}

/// Ollama's overflow errors carry no counts: the estimate against the configured context.
fn countless(m: &str, estimate: u64, context: Option<u64>) -> Option<Overflow> {
    let lower = m.to_ascii_lowercase();
    let known = ["input length exceeds the context length", "prompt is longer than the context length", "exceeds the context length", "context length exceeded"];
    if !known.iter().any(|k| lower.contains(k)) {
        return None;
    }
    let max = context.filter(|c| *c > 0)?;
    // The origin said it overflowed: the count says so too, even when the estimate is low.
    Some(Overflow::Prompt { tokens: estimate.max(max + 1), max })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: Option<String>) -> String {
        let s = s.expect("an overflow");
        s.split(" (origin: ").next().unwrap().to_string()
    }

    #[test]
    fn each_servers_wording_becomes_anthropics() {
        let vllm = "This model's maximum context length is 32768 tokens. However, your request has 40000 input tokens. Please reduce the length of the input messages.";
        assert_eq!(head(anthropic_wording(vllm, 1, None)), "prompt is too long: 40000 tokens > 32768 maximum");
        let vllm_max = "'max_tokens' or 'max_completion_tokens' is too large: 8000. This model's maximum context length is 4096 tokens and your request has 2778 input tokens (8000 > 4096 - 2778). None";
        assert_eq!(head(anthropic_wording(vllm_max, 1, None)), "input length and `max_tokens` exceed context limit: 2778 + 8000 > 4096, decrease input length or `max_tokens` and try again");
        let old = "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4500 in the messages, 500 in the completion). Please reduce the length of the messages or completion.";
        assert_eq!(head(anthropic_wording(old, 1, None)), "prompt is too long: 4500 tokens > 4096 maximum");
        let old_completion = "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (3000 in the messages, 2000 in the completion).";
        assert_eq!(head(anthropic_wording(old_completion, 1, None)), "input length and `max_tokens` exceed context limit: 3000 + 2000 > 4096, decrease input length or `max_tokens` and try again");
        let openai = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.";
        assert_eq!(head(anthropic_wording(openai, 1, None)), "prompt is too long: 9000 tokens > 8192 maximum");
        let llamacpp = "request (4476 tokens) exceeds the available context size (4096 tokens), try increasing it";
        assert_eq!(head(anthropic_wording(llamacpp, 1, None)), "prompt is too long: 4476 tokens > 4096 maximum");
        let ollama_nested = r#"{"error":{"code":400,"message":"request (8889 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":8889,"n_ctx":4096}}"#;
        assert_eq!(head(anthropic_wording(ollama_nested, 1, None)), "prompt is too long: 8889 tokens > 4096 maximum");
        let lm = "Trying to keep the first 6269 tokens when context the overflows. However, the model is loaded with context length of only 4096 tokens, which is not enough.";
        assert_eq!(head(anthropic_wording(lm, 1, None)), "prompt is too long: 6269 tokens > 4096 maximum");
        let prompt_len = "This model's maximum prompt length is 2048 tokens. However, your request has 3000 prompt tokens. Please reduce the length of the prompt.";
        assert_eq!(head(anthropic_wording(prompt_len, 1, None)), "prompt is too long: 3000 tokens > 2048 maximum");
    }

    #[test]
    fn ollamas_countless_wording_uses_the_estimate_and_the_context_length() {
        let m = "the input length exceeds the context length";
        assert_eq!(head(anthropic_wording(m, 9000, Some(8192))), "prompt is too long: 9000 tokens > 8192 maximum");
        assert_eq!(head(anthropic_wording(m, 10, Some(8192))), "prompt is too long: 8193 tokens > 8192 maximum", "the origin said it overflowed");
        assert_eq!(anthropic_wording(m, 9000, None), None, "no context length known: the origin's words stay");
    }

    #[test]
    fn the_origins_text_is_kept_and_other_errors_are_left_alone() {
        let m = "request (10 tokens) exceeds the available context size (5 tokens)";
        assert_eq!(anthropic_wording(m, 1, None).unwrap(), format!("prompt is too long: 10 tokens > 5 maximum (origin: {m})"));
        for other in ["model 'x' not found", "max_tokens: too large", "invalid tool schema", "the maximum context length is unknown"] {
            assert_eq!(anthropic_wording(other, 1, Some(100)), None, "{other}");
        }
        // Claude Code's own pattern matches the reworded message.
        let s = anthropic_wording("This model's maximum context length is 100 tokens. However, your request has 150 input tokens.", 1, None).unwrap();
        let rest = s.strip_prefix("prompt is too long").unwrap();
        let digits: String = rest.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
        assert_eq!(digits, "150");
    }
}
