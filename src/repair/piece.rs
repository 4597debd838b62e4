//! What every repair speaks: the typed pieces of repaired output and the `Repair` trait. A leaf
//! below the repairs (`think`, `tool_calls`) and the pipeline that chains them (`mod.rs`).

/// One piece of repaired model output, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Reasoning(String),
    ToolCall(ToolCall),
}

/// A tool call recovered from text.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    /// A JSON object as text; always valid JSON.
    pub arguments: String,
}

pub trait Repair {
    /// Feed the next piece of model output (content text). Emit everything that can be released
    /// now into `out`; hold back only a possible partial marker (or an open, unterminated markup block).
    fn push(&mut self, text: &str, out: &mut Vec<Piece>);
    /// End of stream: release everything held back. Unterminated markup is released as plain Text, never dropped.
    fn finish(&mut self, out: &mut Vec<Piece>);
}

/// Push `s` as a Text piece unless it is empty (empty pieces would make output depend on chunking).
pub(crate) fn emit_text(out: &mut Vec<Piece>, s: &str) {
    if !s.is_empty() {
        out.push(Piece::Text(s.to_owned()));
    }
}
