//! One usage record per gateway request, written off the hot path and flushed to Postgres in
//! batches; `id` makes every insert idempotent.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UsageRecord {
    pub id: String,
    pub created_at_ms: u64,
    pub user_id: Option<i64>,
    pub username: String,
    pub requested_model: String,
    pub resolved_model: String,
    pub real_model: String,
    pub node_id: Option<i64>,
    pub node_name: String,
    pub endpoint: String,
    pub dialect: String,
    pub client: String,
    pub stream: bool,
    pub status: u16,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub estimated: bool,
    pub duration_ms: u64,
    pub ttfb_ms: Option<u64>,
    pub error: Option<String>,
    /// Whether the request reached an origin (only those count against limits).
    pub reached_origin: bool,
}

/// Rough token estimate for text when an origin reports nothing (~4 bytes per token).
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}
