//! Which limit scopes a request is admitted into. Apart from the window arithmetic in `mod.rs`
//! because it reads the snapshot's users and model configs (which themselves carry `Rule`s).

use super::{Period, Rule};
use crate::state::snapshot::{ModelConfig, User};

/// The scopes and rules that apply to a request: the user's daily limits, those of each of
/// their teams and of the key (`user.scopes`, set at authentication), and the model config's
/// per-minute limits (global for that config). Empty = no limits, no store call.
pub fn plan(user: &User, config: Option<&ModelConfig>) -> Vec<(String, Vec<Rule>)> {
    let mut out = Vec::new();
    if user.request_limit.is_some() || user.token_limit.is_some() {
        out.push((format!("user:{}", user.id), vec![Rule { name: "day".into(), period: Period::Day, max_requests: user.request_limit, max_tokens: user.token_limit, reserve: 0 }]));
    }
    out.extend(user.scopes.iter().cloned());
    if let Some(c) = config.filter(|c| c.requests_per_minute.is_some() || c.tokens_per_minute.is_some()) {
        let rule = Rule { name: "minute".into(), period: Period::Minute, max_requests: c.requests_per_minute.map(u64::from), max_tokens: c.tokens_per_minute.map(u64::from), reserve: 0 };
        out.push((format!("model:{}", c.prefix.to_ascii_lowercase()), vec![rule]));
    }
    out
}
