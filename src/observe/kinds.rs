//! The alert kinds (a leaf: settings, alerts and the admin routes all name them).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    NodeDown,
    NodeUp,
    BreakerOpen,
    BudgetSoft,
    BudgetHard,
    Digest,
    /// `POST /admin/alerts/test`: checks a receiver and its signature verification.
    Test,
}

impl AlertKind {
    pub const ALL: &'static [AlertKind] = &[AlertKind::NodeDown, AlertKind::NodeUp, AlertKind::BreakerOpen, AlertKind::BudgetSoft, AlertKind::BudgetHard, AlertKind::Digest, AlertKind::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NodeDown => "node_down",
            AlertKind::NodeUp => "node_up",
            AlertKind::BreakerOpen => "breaker_open",
            AlertKind::BudgetSoft => "budget_soft",
            AlertKind::BudgetHard => "budget_hard",
            AlertKind::Digest => "digest",
            AlertKind::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<AlertKind> {
        AlertKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    pub(crate) fn icon(self) -> &'static str {
        match self {
            AlertKind::NodeDown | AlertKind::BudgetHard => ":red_circle:",
            AlertKind::BreakerOpen | AlertKind::BudgetSoft => ":warning:",
            AlertKind::NodeUp => ":large_green_circle:",
            AlertKind::Digest | AlertKind::Test => ":bar_chart:",
        }
    }
}
