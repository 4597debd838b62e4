//! One logged request and answer (a leaf: the platform port carries it to the store).

use serde::{Deserialize, Serialize};

/// What payload logging keeps of one request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PayloadEntry {
    /// The request id (also the usage record's id and the answer's `x-request-id`).
    pub id: String,
    pub created_at_ms: u64,
    pub user_id: Option<i64>,
    pub username: String,
    pub model: String,
    pub endpoint: String,
    pub status: u16,
    pub request: String,
    pub request_truncated: bool,
    pub response: String,
    pub response_truncated: bool,
}
