//! The database port used by the admin API and maintenance. Queries return JSON built by
//! Postgres itself (`json_agg`, `row_to_json`), so no per-type row decoding lives in Rust;
//! parameters are typed so every SQL placeholder carries an explicit cast.

use crate::error::GatewayError;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Bool(Option<bool>),
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
    Json(Option<Value>),
    TextArray(Option<Vec<String>>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum DbError {
    /// Could not connect or the connection broke.
    Unavailable(String),
    /// Unique violation; carries the constraint name.
    Unique(String),
    /// Foreign key violation; carries the constraint name.
    ForeignKey(String),
    /// Check or not-null violation.
    Invalid(String),
    Other(String),
}

impl From<DbError> for GatewayError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(m) => GatewayError::DatabaseUnavailable(format!("database unavailable: {m}")),
            DbError::Unique(c) => GatewayError::Conflict { message: format!("already exists ({c})"), field: None },
            DbError::ForeignKey(c) => GatewayError::bad_request(format!("refers to something that does not exist ({c})")),
            DbError::Invalid(m) => GatewayError::bad_request(m),
            DbError::Other(m) => GatewayError::Internal(format!("database error: {m}")),
        }
    }
}

#[allow(async_fn_in_trait)]
pub trait Db {
    /// Run a query whose first column of the first row is JSON text (or json/jsonb); no rows -> Null.
    async fn json(&self, sql: &str, params: &[Param]) -> Result<Value, DbError>;
    /// Run a statement; returns affected rows.
    async fn exec(&self, sql: &str, params: &[Param]) -> Result<u64, DbError>;
    /// Run several statements (no parameters), e.g. BEGIN / COMMIT.
    async fn batch(&self, sql: &str) -> Result<(), DbError>;
}
