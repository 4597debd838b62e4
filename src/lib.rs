//! Maestro Edge: a unified LLM gateway as a Cloudflare Worker.
//!
//! One request's path (read `app.rs` first; it calls these in order):
//! 1. `edge::entry` (wasm only) converts the Worker request and calls `app::handle`.
//! 2. `routes::resolve` -> dialect + operation; from here every error renders in that dialect
//!    (`dialect::render_error`, one place per dialect).
//! 3. `auth::authenticate` -> the user, from the routing snapshot (`state::snapshot`).
//! 4. `routing::catalog` -> does the name exist, may this user call it.
//! 5. `routing::plan` -> ordered attempts: group member, node, real model name.
//! 6. `origins` builds each upstream request (translated by `dialect` when the origin speaks
//!    another dialect); failover happens before the first byte.
//! 7. `stream` relays the answer chunk by chunk in the client's dialect, rewriting model names,
//!    observing usage and ending broken streams with an in-band error.

pub mod admin;
pub mod app;
pub mod auth;
pub mod costs;
#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(target_arch = "wasm32")]
pub use edge::{Breakers, Coordinator, Counters, Limiter, ResponseStore, Streams, UsageBuffer};
pub mod dialect;
pub mod error;
pub mod limits;
pub mod log;
pub mod maintenance;
pub mod net;
pub mod observe;
pub mod origins;
pub mod platform;
pub mod policy;
pub mod redis;
pub mod routes;
pub mod routing;
pub mod repair;
pub mod settings;
#[cfg(test)]
pub mod sim;
pub mod state;
pub mod stream;
pub mod types;
pub mod usage;
pub mod util;
