//! Streaming: framing of upstream bodies, what a transform is to the relay (`transform`), the
//! transcoding transform (`transcode`; the same-dialect ones are in `dialect::<name>::passthrough`),
//! and the relay that drives them with deadlines.

pub mod bytes;
pub mod lines;
pub mod progress;
pub mod relay;
pub mod required_args;
pub mod transcode;
pub mod transform;
