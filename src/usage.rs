//! One usage record per gateway request, written off the hot path and flushed to Postgres in
//! batches; `id` makes every insert idempotent.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UsageRecord {
    pub id: String,
    pub created_at_ms: u64,
    pub user_id: Option<i64>,
    /// The API key the request came with (a key's last use is derived from these).
    #[serde(default)]
    pub key_id: Option<i64>,
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

/// Insert a batch of records (a JSON array of `UsageRecord`); `ON CONFLICT (id) DO NOTHING`
/// makes a retried flush harmless.
pub const INSERT_SQL: &str = "
    INSERT INTO usage_records (id, created_at, user_id, key_id, username, requested_model, resolved_model, real_model, node_id, node_name,
                               endpoint, dialect, client, stream, status, prompt_tokens, completion_tokens, total_tokens, estimated,
                               duration_ms, ttfb_ms, error)
    SELECT r.id, to_timestamp(r.created_at_ms / 1000.0), u.id, r.key_id, r.username, r.requested_model, r.resolved_model, r.real_model, r.node_id, r.node_name,
           r.endpoint, r.dialect, r.client, r.stream, r.status, r.prompt_tokens, r.completion_tokens, r.prompt_tokens + r.completion_tokens, r.estimated,
           LEAST(r.duration_ms, 2147483647), LEAST(r.ttfb_ms, 2147483647), r.error
    FROM jsonb_to_recordset($1::jsonb) AS r(id text, created_at_ms bigint, user_id bigint, key_id bigint, username text, requested_model text, resolved_model text,
         real_model text, node_id bigint, node_name text, endpoint text, dialect text, client text, stream boolean, status integer,
         prompt_tokens bigint, completion_tokens bigint, estimated boolean, duration_ms bigint, ttfb_ms bigint, error text)
    LEFT JOIN users u ON u.id = r.user_id
    ON CONFLICT (id) DO NOTHING";

/// Retention: delete at most a bounded batch per run so one cron invocation stays short.
pub const RETENTION_USAGE_SQL: &str = "DELETE FROM usage_records WHERE id IN (SELECT id FROM usage_records WHERE created_at < now() - make_interval(days => ($1::bigint)::int) LIMIT 5000)";
pub const RETENTION_AUDIT_SQL: &str = "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE created_at < now() - make_interval(days => ($1::bigint)::int) LIMIT 5000)";
