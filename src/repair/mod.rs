//! Model output repair: incremental state machines that turn markup some models write into their
//! content text (`<think>` blocks, Kimi and DeepSeek raw tool calls) into typed pieces.
//!
//! Each repair is fed content text chunk by chunk and releases what it can at once; it holds back
//! only a possible partial marker or an open, unterminated block. The rules every repair keeps:
//! - text outside recognised markup is never lost or reordered, and plain text with no markup
//!   comes out byte for byte;
//! - the output does not depend on how the input was split into chunks (compare with adjacent
//!   pieces of the same kind merged, as [`repair_all`] does);
//! - unterminated or unparsable markup comes back as plain text at the latest on `finish`.
//!
//! Whitespace is trimmed only right next to removed markup, as `think.rs` and
//! `tool_calls/mod.rs` document.

mod fence;
pub mod piece;
pub mod think;
pub mod tool_calls;

pub use piece::{Piece, Repair, ToolCall};
pub use think::ThinkSplitter;
pub use tool_calls::deepseek::DeepSeekToolCalls;
pub use tool_calls::kimi::KimiToolCalls;

/// The tool-call repair a model gets, if any. An enum rather than a trait object so the
/// pipeline can hand owned text through without a copy.
#[derive(Debug)]
enum ToolRepair {
    Kimi(KimiToolCalls),
    DeepSeek(DeepSeekToolCalls),
}

impl ToolRepair {
    fn push_owned(&mut self, text: String, out: &mut Vec<Piece>) {
        match self {
            ToolRepair::Kimi(k) => k.push_owned(text, out),
            ToolRepair::DeepSeek(d) => d.push_owned(text, out),
        }
    }
    fn interrupt(&mut self, out: &mut Vec<Piece>) {
        match self {
            ToolRepair::Kimi(k) => k.interrupt(out),
            ToolRepair::DeepSeek(d) => d.interrupt(out),
        }
    }
    fn finish(&mut self, out: &mut Vec<Piece>) {
        match self {
            ToolRepair::Kimi(k) => k.finish(out),
            ToolRepair::DeepSeek(d) => d.finish(out),
        }
    }
    fn saw_tool_call(&self) -> bool {
        match self {
            ToolRepair::Kimi(k) => k.saw_tool_call(),
            ToolRepair::DeepSeek(d) => d.saw_tool_call(),
        }
    }
}

/// Think splitting, then the model's tool-call repair (if any) over the remaining content text.
///
/// Reasoning is never searched for tool calls (a model describing the call format while thinking
/// must not trigger one). A reasoning piece is a boundary for the tool-call repair: a partial
/// marker or an open, unterminated block held before it is released as text first, so text
/// keeps its exact place relative to reasoning (a call cannot straddle a `<think>` block).
#[derive(Debug)]
pub struct Pipeline {
    think: ThinkSplitter,
    tools: Option<ToolRepair>,
    /// Reused between calls so a chunk costs no extra allocation in the common case.
    scratch: Vec<Piece>,
}

/// Which repairs apply to a real model name: kimi/moonshot -> Kimi; deepseek or "ds-" -> DeepSeek; think splitting always.
///
/// Matching is case-insensitive. `ds-` counts only at the start of the name or of a path/tag
/// segment (after `/`, `:` or `.`), so names like `words-7b` are not taken for DeepSeek.
pub fn for_model(real_model: &str) -> Pipeline {
    let m = real_model.to_ascii_lowercase();
    let tools = if m.contains("kimi") || m.contains("moonshot") {
        Some(ToolRepair::Kimi(KimiToolCalls::new()))
    } else if m.contains("deepseek") || has_ds_prefix(&m) {
        Some(ToolRepair::DeepSeek(DeepSeekToolCalls::new()))
    } else {
        None
    };
    Pipeline { think: ThinkSplitter::new(), tools, scratch: Vec::new() }
}

fn has_ds_prefix(m: &str) -> bool {
    m.match_indices("ds-").any(|(i, _)| i == 0 || matches!(m.as_bytes()[i - 1], b'/' | b':' | b'.'))
}

impl Pipeline {
    /// Whether this model's output gets tool-call repair (not only think splitting).
    pub fn repairs_tools(&self) -> bool {
        self.tools.is_some()
    }

    pub fn push(&mut self, text: &str, out: &mut Vec<Piece>) {
        match &mut self.tools {
            None => self.think.push(text, out),
            Some(tools) => {
                self.think.push(text, &mut self.scratch);
                route(tools, &mut self.scratch, out);
            }
        }
    }

    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        match &mut self.tools {
            None => self.think.finish(out),
            Some(tools) => {
                self.think.finish(&mut self.scratch);
                route(tools, &mut self.scratch, out);
                tools.finish(out);
            }
        }
    }

    /// True once any tool call has been emitted (the stream's finish reason becomes `tool_calls`).
    pub fn saw_tool_call(&self) -> bool {
        self.tools.as_ref().is_some_and(ToolRepair::saw_tool_call)
    }
}

fn route(tools: &mut ToolRepair, pieces: &mut Vec<Piece>, out: &mut Vec<Piece>) {
    for piece in pieces.drain(..) {
        match piece {
            Piece::Text(t) => tools.push_owned(t, out),
            other => {
                tools.interrupt(out);
                out.push(other);
            }
        }
    }
}

/// Non-streaming convenience: push the whole text, finish, and merge adjacent Text pieces and
/// adjacent Reasoning pieces.
pub fn repair_all(p: &mut Pipeline, text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    p.push(text, &mut out);
    p.finish(&mut out);
    merge_adjacent(out)
}

/// Merge runs of Text and runs of Reasoning into single pieces.
pub fn merge_adjacent(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match (out.last_mut(), piece) {
            (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
            (Some(Piece::Reasoning(a)), Piece::Reasoning(b)) => a.push_str(&b),
            (_, piece) => out.push(piece),
        }
    }
    out
}

#[cfg(test)]
mod tests;
