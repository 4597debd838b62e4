//! Durable Objects: thin shells that decode a typed message, run core logic, encode the answer.

pub mod breakers;
pub mod coordinator;
pub mod counters;
pub mod limiter;
pub mod response_store;
pub mod streams;
pub mod usage_buffer;
