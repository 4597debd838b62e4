//! The cost rows the routing snapshot carries (prices, budgets): plain data, a leaf below both
//! the snapshot and the cost logic that reads the snapshot.

use crate::limits::Period;
use serde::{Deserialize, Serialize};

/// One row of `model_prices` as the snapshot carries it. Cache prices left unset are the input
/// price (what origins without a cache discount charge).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRow {
    pub model: String,
    #[serde(default)]
    pub node_id: Option<i64>,
    #[serde(default)]
    pub input: u64,
    #[serde(default)]
    pub output: u64,
    #[serde(default)]
    pub cache_read: Option<u64>,
    #[serde(default)]
    pub cache_write: Option<u64>,
}

/// Who a budget belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    #[default]
    User,
    Team,
    Key,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::User => "user",
            Owner::Team => "team",
            Owner::Key => "key",
        }
    }
}

/// One row of `budgets` as the snapshot carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub id: i64,
    pub owner: Owner,
    pub owner_id: i64,
    pub period: Period,
    pub limit_micros: u64,
    /// The soft threshold, percent of the limit: past it answers carry a warning header and
    /// the cron records a `soft` budget event.
    #[serde(default = "default_soft")]
    pub soft_pct: u32,
}

fn default_soft() -> u32 {
    80
}
