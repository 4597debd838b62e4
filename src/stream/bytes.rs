//! The byte-stream types an origin body travels in, below both `net` (which carries them in
//! `Body`) and the relay (which drives them): a leaf, so neither depends on the other's file.

use futures::stream::LocalBoxStream;

/// A body chunk stream. Errors are strings because the core only reports them, it never
/// recovers from a specific transport error type.
pub type ByteStream = LocalBoxStream<'static, Result<Vec<u8>, String>>;

/// The platform's own handle on an origin body, next to the `ByteStream` reading the same body
/// (on Workers: the JS stream reader). Opaque to the core, which only hands it to the relay, so
/// the edge can pump a relayed stream without a Rust future per chunk.
pub struct NativeBody(pub Box<dyn std::any::Any>);
