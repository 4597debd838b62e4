//! The Workers binding layer: the only code that names `worker::*`. It converts requests,
//! implements the core's ports (fetch, timers, counters, Postgres, KV) and hosts the
//! Durable Objects. Everything here is thin; logic lives in the core modules.

mod admin;
mod batch;
mod breakers;
mod durable;
mod entry;
mod env;
mod http;
mod maintenance;
mod me;
mod observe;
mod pg;
mod platform;
mod pump;
mod ready;
mod redis;
mod snapshot;
mod webcrypto;

// The Durable Object classes must be exported from the crate root for the runtime to find them.
pub use durable::{breakers::Breakers, coordinator::Coordinator, counters::Counters, limiter::Limiter, response_store::ResponseStore, streams::Streams, usage_buffer::UsageBuffer};
