//! Streaming: framing of upstream bodies and the per-dialect transforms applied chunk by chunk.

pub mod lines;
