//! Upstash Redis over its REST protocol, hand-written because the `upstash-redis-rs` crate does
//! not build for this Worker (nightly-only features, futures that are not usable on wasm32;
//! see the README). Plain Rust: `protocol` is the wire format, `client` the typed calls over a
//! `Transport`; the edge supplies the transport (`worker::Fetch` with a deadline).

pub mod client;
pub mod protocol;

pub use client::{Client, Config, Expiry, Script, Transport};
pub use protocol::{Cmd, Encoding, Error, Value};
