//! Limits as fixed windows: requests and tokens per UTC day (per user) and per minute (per
//! model config). The state lives in a Durable Object per key, which serialises every call, or
//! (`backend.limits = redis`) in Redis, where one Lua script checks and counts (`redis`); either
//! way admission is exact under any concurrency. A request is admitted atomically (its request
//! is counted at once); its tokens are settled when the answer completes; a request that never
//! reached an origin is released again.

pub mod redis;

use serde::{Deserialize, Serialize};

pub const DAY_MS: u64 = 86_400_000;
pub const MINUTE_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Minute,
}

impl Period {
    pub fn len_ms(self) -> u64 {
        match self {
            Period::Day => DAY_MS,
            Period::Minute => MINUTE_MS,
        }
    }
    /// Start of the window containing `now` (UTC days start at midnight).
    pub fn start(self, now_ms: u64) -> u64 {
        now_ms - now_ms % self.len_ms()
    }
}

/// The scopes and rules that apply to a request: the user's daily limits and the model
/// config's per-minute limits (global for that config). Empty = no limits, no store call.
pub fn plan(user: &crate::state::snapshot::User, config: Option<&crate::state::snapshot::ModelConfig>) -> Vec<(String, Vec<Rule>)> {
    let mut out = Vec::new();
    if user.request_limit.is_some() || user.token_limit.is_some() {
        out.push((format!("user:{}", user.id), vec![Rule { name: "day".into(), period: Period::Day, max_requests: user.request_limit, max_tokens: user.token_limit }]));
    }
    if let Some(c) = config.filter(|c| c.requests_per_minute.is_some() || c.tokens_per_minute.is_some()) {
        let rule = Rule { name: "minute".into(), period: Period::Minute, max_requests: c.requests_per_minute.map(u64::from), max_tokens: c.tokens_per_minute.map(u64::from) };
        out.push((format!("model:{}", c.prefix.to_ascii_lowercase()), vec![rule]));
    }
    out
}

/// One limit to enforce in an admission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub period: Period,
    pub max_requests: Option<u64>,
    pub max_tokens: Option<u64>,
}

/// Stored per rule name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start_ms: u64,
    pub requests: u64,
    pub tokens: u64,
}

impl Window {
    fn current(self, period: Period, now_ms: u64) -> Window {
        let start = period.start(now_ms);
        if self.start_ms == start {
            self
        } else {
            Window { start_ms: start, requests: 0, tokens: 0 }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    pub name: String,
    pub max_requests: Option<u64>,
    pub max_tokens: Option<u64>,
    pub used_requests: u64,
    pub used_tokens: u64,
    pub reset_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub admitted: bool,
    /// Seconds until the blocking window resets (when not admitted).
    pub retry_after: u64,
    pub blocked_by: Option<String>,
    pub states: Vec<RuleState>,
}

/// Check every rule and, only if all pass, count one request in each (all or nothing).
/// `get` reads a stored window by rule name; the returned windows are what to store.
pub fn admit(rules: &[Rule], now_ms: u64, get: impl Fn(&str) -> Window) -> (Decision, Vec<(String, Window)>) {
    let windows: Vec<Window> = rules.iter().map(|r| get(&r.name).current(r.period, now_ms)).collect();
    let blocked = rules.iter().zip(&windows).find(|(r, w)| r.max_requests.is_some_and(|m| w.requests >= m) || r.max_tokens.is_some_and(|m| w.tokens >= m));
    let admitted = blocked.is_none();
    let updated: Vec<Window> = windows.iter().map(|w| if admitted { Window { requests: w.requests + 1, ..*w } } else { *w }).collect();
    let states = rules
        .iter()
        .zip(&updated)
        .map(|(r, w)| RuleState { name: r.name.clone(), max_requests: r.max_requests, max_tokens: r.max_tokens, used_requests: w.requests, used_tokens: w.tokens, reset_ms: w.start_ms + r.period.len_ms() })
        .collect();
    let (retry_after, blocked_by) = match blocked {
        Some((r, w)) => ((w.start_ms + r.period.len_ms()).saturating_sub(now_ms).div_ceil(1000).max(1), Some(r.name.clone())),
        None => (0, None),
    };
    let store = if admitted { rules.iter().map(|r| r.name.clone()).zip(updated).collect() } else { Vec::new() };
    (Decision { admitted, retry_after, blocked_by, states }, store)
}

/// After the answer: add its tokens; `release` gives the request back (it never reached an
/// origin). Windows that rolled over since admission are not touched for the release.
pub fn settle(rules: &[Rule], now_ms: u64, admitted_ms: u64, tokens: u64, release: bool, get: impl Fn(&str) -> Window) -> Vec<(String, Window)> {
    rules
        .iter()
        .map(|r| {
            let mut w = get(&r.name).current(r.period, now_ms);
            w.tokens += tokens;
            if release && r.period.start(admitted_ms) == w.start_ms {
                w.requests = w.requests.saturating_sub(1);
            }
            (r.name.clone(), w)
        })
        .collect()
}

/// OpenAI-style headers for the tightest request and token limits among the states.
pub fn headers(states: &[RuleState]) -> Vec<(String, String)> {
    let mut h = Vec::new();
    let req = states.iter().filter_map(|s| s.max_requests.map(|m| (m, m.saturating_sub(s.used_requests), s.reset_ms))).min_by_key(|(_, rem, _)| *rem);
    let tok = states.iter().filter_map(|s| s.max_tokens.map(|m| (m, m.saturating_sub(s.used_tokens), s.reset_ms))).min_by_key(|(_, rem, _)| *rem);
    if let Some((limit, remaining, _)) = req {
        h.push(("x-ratelimit-limit-requests".into(), limit.to_string()));
        h.push(("x-ratelimit-remaining-requests".into(), remaining.to_string()));
    }
    if let Some((limit, remaining, _)) = tok {
        h.push(("x-ratelimit-limit-tokens".into(), limit.to_string()));
        h.push(("x-ratelimit-remaining-tokens".into(), remaining.to_string()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    struct Store(RefCell<HashMap<String, Window>>);
    impl Store {
        fn new() -> Self {
            Store(RefCell::new(HashMap::new()))
        }
        fn get(&self, k: &str) -> Window {
            self.0.borrow().get(k).copied().unwrap_or_default()
        }
        fn put(&self, w: Vec<(String, Window)>) {
            self.0.borrow_mut().extend(w);
        }
        fn admit(&self, rules: &[Rule], now: u64) -> Decision {
            let (d, w) = admit(rules, now, |k| self.get(k));
            self.put(w);
            d
        }
    }

    fn day(req: Option<u64>, tok: Option<u64>) -> Vec<Rule> {
        vec![Rule { name: "day".into(), period: Period::Day, max_requests: req, max_tokens: tok }]
    }

    const T0: u64 = 1_790_000_000_000; // some UTC instant

    #[test]
    fn exact_request_limit_then_reset_at_utc_midnight() {
        let s = Store::new();
        let rules = day(Some(3), None);
        for _ in 0..3 {
            assert!(s.admit(&rules, T0).admitted);
        }
        let d = s.admit(&rules, T0);
        assert!(!d.admitted);
        let midnight = Period::Day.start(T0) + DAY_MS;
        assert_eq!(d.retry_after, (midnight - T0).div_ceil(1000));
        assert!(!s.admit(&rules, midnight - 1).admitted, "still the same UTC day");
        assert!(s.admit(&rules, midnight).admitted, "a new UTC day starts at midnight");
    }

    #[test]
    fn tokens_settle_after_the_answer_and_block_the_next_request() {
        let s = Store::new();
        let rules = day(None, Some(100));
        assert!(s.admit(&rules, T0).admitted);
        s.put(settle(&rules, T0 + 5, T0, 120, false, |k| s.get(k)));
        let d = s.admit(&rules, T0 + 10);
        assert!(!d.admitted);
        assert_eq!(d.blocked_by.as_deref(), Some("day"));
    }

    #[test]
    fn all_or_nothing_across_rules_and_release() {
        let s = Store::new();
        let rules = vec![
            Rule { name: "day".into(), period: Period::Day, max_requests: Some(10), max_tokens: None },
            Rule { name: "minute".into(), period: Period::Minute, max_requests: Some(1), max_tokens: None },
        ];
        assert!(s.admit(&rules, T0).admitted);
        assert!(!s.admit(&rules, T0 + 1).admitted, "the minute rule blocks");
        assert_eq!(s.get("day").requests, 1, "a rejected request is not counted anywhere");
        s.put(settle(&rules, T0 + 2, T0, 0, true, |k| s.get(k)));
        assert_eq!(s.get("day").requests, 0, "released: it never reached an origin");
        let d = s.admit(&rules, T0 + 3);
        assert!(d.admitted);
        assert!(s.admit(&rules, T0 - T0 % MINUTE_MS + MINUTE_MS).admitted, "next minute");
    }

    #[test]
    fn headers_report_the_tightest_limit() {
        let states = vec![
            RuleState { name: "day".into(), max_requests: Some(100), max_tokens: Some(1000), used_requests: 10, used_tokens: 900, reset_ms: 0 },
            RuleState { name: "minute".into(), max_requests: Some(5), max_tokens: None, used_requests: 4, used_tokens: 0, reset_ms: 0 },
        ];
        let h: HashMap<_, _> = headers(&states).into_iter().collect();
        assert_eq!(h["x-ratelimit-limit-requests"], "5");
        assert_eq!(h["x-ratelimit-remaining-requests"], "1");
        assert_eq!(h["x-ratelimit-remaining-tokens"], "100");
        assert!(headers(&[]).is_empty());
    }
}
