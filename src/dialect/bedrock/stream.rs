//! ConverseStream events -> IR chunks. The bytes are framed here (AWS event-stream,
//! `origins::bedrock::eventstream`), so the relay hands them over raw.

use super::response::{finish_from, usage_from};
use crate::dialect::ir::Chunk;
use crate::origins::bedrock::eventstream::{self, classify, Event};
use serde_json::Value;

#[derive(Default)]
struct State {
    /// contentBlockIndex -> IR tool index.
    tools: Vec<(u64, usize)>,
    next_tool: usize,
    done: bool,
}

impl State {
    fn tool(&mut self, block: u64, id: &str, name: &str, out: &mut Vec<Chunk>) -> usize {
        if let Some((_, i)) = self.tools.iter().find(|(b, _)| *b == block) {
            return *i;
        }
        let i = self.next_tool;
        self.next_tool += 1;
        self.tools.push((block, i));
        out.push(Chunk::ToolCallStart { index: i, id: id.to_string(), name: name.to_string() });
        i
    }

    fn event(&mut self, kind: &str, payload: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        let v: Value = serde_json::from_slice(payload).map_err(|e| format!("malformed {kind} event: {e}"))?;
        let block = v.get("contentBlockIndex").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "contentBlockStart" => {
                if let Some(tu) = v.pointer("/start/toolUse") {
                    let s = |k: &str| tu.get(k).and_then(Value::as_str).unwrap_or("");
                    self.tool(block, s("toolUseId"), s("name"), out);
                }
            }
            "contentBlockDelta" => {
                let d = v.get("delta").unwrap_or(&Value::Null);
                if let Some(t) = d.get("text").and_then(Value::as_str) {
                    out.push(Chunk::Text(t.to_string()));
                } else if let Some(t) = d.pointer("/reasoningContent/text").and_then(Value::as_str) {
                    out.push(Chunk::Reasoning(t.to_string()));
                } else if let Some(input) = d.pointer("/toolUse/input").and_then(Value::as_str) {
                    let index = self.tool(block, "", "", out);
                    out.push(Chunk::ToolCallArgs { index, delta: input.to_string() });
                }
                // Reasoning signatures and redacted reasoning: no counterpart in the IR.
            }
            "messageStop" => {
                if let Some(s) = v.get("stopReason").and_then(Value::as_str) {
                    out.push(Chunk::Finish(finish_from(s)));
                }
            }
            "metadata" => {
                if let Some(u) = v.get("usage").and_then(usage_from) {
                    out.push(Chunk::Usage(u));
                }
                // The last event of a ConverseStream answer.
                self.done = true;
            }
            // messageStart, contentBlockStop, and event types added later.
            _ => {}
        }
        Ok(())
    }
}

/// Stateful decoder for a ConverseStream body: feed the raw bytes as they come (any split).
/// `done()` is true once the `metadata` event (the last one) arrived.
#[derive(Default)]
pub struct StreamDecoder {
    frames: eventstream::Decoder,
    state: State,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn done(&self) -> bool {
        self.state.done
    }

    pub fn frame(&mut self, bytes: &[u8], out: &mut Vec<Chunk>) -> Result<(), String> {
        let StreamDecoder { frames, state } = self;
        let mut err: Option<String> = None;
        frames
            .push(bytes, |m| {
                if err.is_some() || state.done {
                    return;
                }
                match classify(&m) {
                    Event::Exception { kind, message } => err = Some(format!("{kind}: {message}")),
                    Event::Event(kind) => {
                        if let Err(e) = state.event(&kind, m.payload, out) {
                            err = Some(e);
                        }
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        err.map_or(Ok(()), Err)
    }
}
