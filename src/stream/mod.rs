//! Streaming: framing of upstream bodies, the per-dialect transforms applied frame by frame,
//! and the relay that drives them with deadlines.

pub mod bytes;
pub mod lines;
pub mod progress;
pub mod relay;
pub mod transcode;
pub mod transform;
