//! Limits as fixed windows: requests and tokens per UTC day (per user) and per minute (per
//! model config). The state lives in a Durable Object per scope, which serialises every call, or
//! (`backend.limits = redis`) in Redis, where one Lua script checks and counts (`redis`); either
//! way the store never grants more requests than a limit allows, under any concurrency.
//!
//! Isolates do not call the store per request: they lease requests from it (`lease`) and admit
//! locally while the lease lasts, giving back what they did not use. A grant is counted at once
//! (all rules of the scope or none); tokens are added when answers complete; a request that
//! never reached an origin goes back to the lease.
//!
//! Budgets (`costs::budget`) are rules of the same kind: their "tokens" are millionths of the
//! currency, and each request admitted under them reserves `reserve` of it until the request is
//! settled, so concurrent requests cannot all pass a nearly spent budget.

pub mod lease;
pub mod scopes;
pub mod redis;

use serde::{Deserialize, Serialize};

pub const DAY_MS: u64 = 86_400_000;
pub const MINUTE_MS: u64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Minute,
    /// A UTC calendar month.
    Month,
}

impl Period {
    /// Start of the window containing `now` (UTC days start at midnight, months on the 1st).
    pub fn start(self, now_ms: u64) -> u64 {
        match self {
            Period::Day => now_ms - now_ms % DAY_MS,
            Period::Minute => now_ms - now_ms % MINUTE_MS,
            Period::Month => month_bounds(now_ms).0,
        }
    }
    /// End of the window containing `now` (the next one's start).
    pub fn end(self, now_ms: u64) -> u64 {
        match self {
            Period::Day => self.start(now_ms) + DAY_MS,
            Period::Minute => self.start(now_ms) + MINUTE_MS,
            Period::Month => month_bounds(now_ms).1,
        }
    }
}

/// The UTC month containing `now_ms`: its first instant and the next month's.
fn month_bounds(now_ms: u64) -> (u64, u64) {
    use chrono::{Datelike, NaiveDate};
    let day = NaiveDate::from_num_days_from_ce_opt(719_163 + (now_ms / DAY_MS) as i32).unwrap_or_default();
    let first = NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap_or(day);
    let next = if day.month() == 12 { NaiveDate::from_ymd_opt(day.year() + 1, 1, 1) } else { NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1) }.unwrap_or(first);
    let ms = |d: NaiveDate| (d.num_days_from_ce() - 719_163).max(0) as u64 * DAY_MS;
    (ms(first), ms(next))
}

/// What a refusal names: the limit of the scope (`user:`, `team:`, `key:`, `model:`) and rule
/// that blocked.
pub fn describe(scope: &str, blocked_by: Option<&str>, model: &str) -> String {
    match (scope.split_once(':').map(|(k, _)| k), blocked_by) {
        (_, Some("minute")) | (Some("model"), _) => format!("the per-minute limit of model '{model}'"),
        (Some("team"), _) => "your team's daily limit".to_string(),
        (Some("key"), _) => "this API key's daily limit".to_string(),
        _ => "your daily limit".to_string(),
    }
}

/// One limit to enforce in an admission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    pub period: Period,
    pub max_requests: Option<u64>,
    pub max_tokens: Option<u64>,
    /// Tokens each granted request holds until it is settled or given back (budgets; 0 for
    /// limits): the store counts them with the grant, so grants stop when spent plus what
    /// admitted requests hold reaches `max_tokens`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reserve: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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

/// When plenty is left, an isolate may lease up to `want` requests at once; near a limit a
/// lease shrinks to this fraction of what is left (at least one), so one isolate cannot sit on
/// the last requests of a limit while another is refused.
pub const FAIR_SHARE: u64 = 8;

/// Requests an earlier lease reserved and did not use, given back in the window that counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub granted_ms: u64,
    pub units: u64,
}

/// One call from an isolate to the scope's store (see `lease`): give back what earlier leases
/// did not use, add the tokens of answers finished since the last call, and take up to `want`
/// requests to admit locally (0: only settle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncMsg {
    pub rules: Vec<Rule>,
    pub now_ms: u64,
    pub want: u64,
    #[serde(default)]
    pub returns: Vec<Return>,
    #[serde(default)]
    pub tokens: u64,
}

/// The store's answer: how many requests were granted (counted at once, all rules or none),
/// and the rules' states after the grant (`admitted` = something was granted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub granted: u64,
    pub decision: Decision,
}

/// The store's side of a sync, on its stored windows (`get` by rule name). Returns the grant and
/// the windows to store (empty when nothing changed).
pub fn sync(m: &SyncMsg, get: impl Fn(&str) -> Window) -> (Grant, Vec<(String, Window)>) {
    let windows: Vec<Window> = m
        .rules
        .iter()
        .map(|r| {
            let mut w = get(&r.name).current(r.period, m.now_ms);
            // Only units counted in this very window go back: a rolled-over window never saw them.
            let back: u64 = m.returns.iter().filter(|x| r.period.start(x.granted_ms) == w.start_ms).map(|x| x.units).sum();
            w.requests = w.requests.saturating_sub(back);
            w.tokens = w.tokens.saturating_sub(back.saturating_mul(r.reserve)) + m.tokens;
            w
        })
        .collect();
    let changed = m.tokens > 0 || m.returns.iter().any(|x| x.units > 0);
    let (g, after) = grant(&m.rules, m.now_ms, m.want, &windows);
    let store = if changed || g.granted > 0 { m.rules.iter().map(|r| r.name.clone()).zip(after).collect() } else { Vec::new() };
    (g, store)
}

/// Grant up to `want` requests on windows that already hold this sync's returns and tokens (the
/// Redis script applies those itself and calls back here with what it read): blocked if any
/// rule is at its request or token limit; otherwise the smallest of `want` and each request
/// rule's fair share of what is left.
pub fn grant(rules: &[Rule], now_ms: u64, want: u64, windows: &[Window]) -> (Grant, Vec<Window>) {
    let blocked = rules.iter().zip(windows).find(|(r, w)| r.max_requests.is_some_and(|m| w.requests >= m) || r.max_tokens.is_some_and(|m| w.tokens >= m));
    let share = |r: &Rule, w: &Window| {
        let by_requests = r.max_requests.map(|m| ((m - w.requests) / FAIR_SHARE).max(1));
        let by_reserve = r.max_tokens.filter(|_| r.reserve > 0).map(|m| ((m - w.tokens) / r.reserve / FAIR_SHARE).max(1));
        by_requests.into_iter().chain(by_reserve).min()
    };
    let granted = if blocked.is_some() { 0 } else { rules.iter().zip(windows).filter_map(|(r, w)| share(r, w)).fold(want, u64::min) };
    let updated: Vec<Window> = rules.iter().zip(windows).map(|(r, w)| Window { requests: w.requests + granted, tokens: w.tokens + granted.saturating_mul(r.reserve), ..*w }).collect();
    let states = rules
        .iter()
        .zip(&updated)
        .map(|(r, w)| RuleState {
            name: r.name.clone(),
            max_requests: r.max_requests,
            max_tokens: r.max_tokens,
            used_requests: w.requests,
            used_tokens: w.tokens,
            reset_ms: r.period.end(w.start_ms),
        })
        .collect();
    let (retry_after, blocked_by) = match blocked {
        Some((r, w)) if want > 0 => (retry_after_s(r.period.end(w.start_ms), now_ms), Some(r.name.clone())),
        _ => (0, None),
    };
    (Grant { granted, decision: Decision { admitted: granted > 0, retry_after, blocked_by, states } }, updated)
}

/// Whole seconds until `reset_ms`, at least one (a Retry-After of 0 invites a busy loop).
pub fn retry_after_s(reset_ms: u64, now_ms: u64) -> u64 {
    reset_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
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
        fn sync(&self, rules: &[Rule], now: u64, want: u64, returns: Vec<Return>, tokens: u64) -> Grant {
            let (g, w) = sync(&SyncMsg { rules: rules.to_vec(), now_ms: now, want, returns, tokens }, |k| self.get(k));
            self.0.borrow_mut().extend(w);
            g
        }
        fn admit(&self, rules: &[Rule], now: u64) -> Decision {
            self.sync(rules, now, 1, vec![], 0).decision
        }
    }

    fn day(req: Option<u64>, tok: Option<u64>) -> Vec<Rule> {
        vec![Rule { name: "day".into(), period: Period::Day, max_requests: req, max_tokens: tok, reserve: 0 }]
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
        s.sync(&rules, T0 + 5, 0, vec![], 120);
        let d = s.admit(&rules, T0 + 10);
        assert!(!d.admitted);
        assert_eq!(d.blocked_by.as_deref(), Some("day"));
    }

    #[test]
    fn all_or_nothing_across_rules_and_returns_in_the_counting_window_only() {
        let s = Store::new();
        let rules = vec![
            Rule { name: "day".into(), period: Period::Day, max_requests: Some(10), max_tokens: None, reserve: 0 },
            Rule { name: "minute".into(), period: Period::Minute, max_requests: Some(1), max_tokens: None, reserve: 0 },
        ];
        assert!(s.admit(&rules, T0).admitted);
        assert!(!s.admit(&rules, T0 + 1).admitted, "the minute rule blocks");
        assert_eq!(s.get("day").requests, 1, "a rejected request is not counted anywhere");
        s.sync(&rules, T0 + 2, 0, vec![Return { granted_ms: T0, units: 1 }], 0);
        assert_eq!(s.get("day").requests, 0, "given back: it never reached an origin");
        assert!(s.admit(&rules, T0 + 3).admitted);
        let next_minute = T0 - T0 % MINUTE_MS + MINUTE_MS;
        assert!(s.admit(&rules, next_minute).admitted, "next minute");
        s.sync(&rules, next_minute + 1, 0, vec![Return { granted_ms: T0 + 3, units: 1 }], 0);
        assert_eq!((s.get("day").requests, s.get("minute").requests), (1, 1), "the minute window that counted it is gone; the day still had it");
    }

    #[test]
    fn leases_shrink_to_a_fair_share_near_the_limit_and_never_exceed_it() {
        let s = Store::new();
        let rules = day(Some(100), None);
        assert_eq!(s.sync(&rules, T0, 64, vec![], 0).granted, 100 / FAIR_SHARE);
        let mut total = 100 / FAIR_SHARE;
        loop {
            let g = s.sync(&rules, T0, 64, vec![], 0);
            if g.granted == 0 {
                assert_eq!(g.decision.blocked_by.as_deref(), Some("day"));
                break;
            }
            total += g.granted;
        }
        assert_eq!(total, 100, "every request of the limit is granted, no more");
        assert_eq!(s.get("day").requests, 100);
        let unlimited = day(None, Some(1000));
        assert_eq!(s.sync(&unlimited, T0, 64, vec![], 0).granted, 64, "token-only rules do not shrink leases");
    }

    #[test]
    fn a_settle_only_sync_grants_nothing_and_writes_only_changes() {
        let s = Store::new();
        let rules = day(Some(5), None);
        let (g, w) = sync(&SyncMsg { rules: rules.clone(), now_ms: T0, want: 0, returns: vec![], tokens: 0 }, |k| s.get(k));
        assert_eq!((g.granted, g.decision.admitted, g.decision.blocked_by), (0, false, None));
        assert!(w.is_empty(), "nothing to store");
        assert_eq!(s.sync(&rules, T0, 0, vec![], 7).granted, 0);
        assert_eq!(s.get("day"), Window { start_ms: Period::Day.start(T0), requests: 0, tokens: 7 });
    }

    #[test]
    fn months_are_utc_calendar_months() {
        let feb15 = 1_771_156_800_000; // 2026-02-15T12:00Z
        assert_eq!((Period::Month.start(feb15), Period::Month.end(feb15)), (1_769_904_000_000, 1_772_323_200_000));
        let dec31 = 1_798_761_599_000; // 2026-12-31T23:59:59Z: the year rolls over
        assert_eq!((Period::Month.start(dec31), Period::Month.end(dec31)), (1_796_083_200_000, 1_798_761_600_000));
        assert_eq!(Period::Month.start(1_798_761_600_000), 1_798_761_600_000, "midnight starts the next month");
        assert_eq!(Period::Day.end(feb15) - Period::Day.start(feb15), DAY_MS);
    }

    #[test]
    fn a_reserving_rule_holds_each_grant_until_it_is_given_back() {
        let s = Store::new();
        let rules = vec![Rule { name: "day".into(), period: Period::Day, max_requests: None, max_tokens: Some(1000), reserve: 100 }];
        assert_eq!(s.sync(&rules, T0, 64, vec![], 0).granted, 1, "a fair share of the 10 reservations left, at least one");
        assert_eq!(s.get("day").tokens, 100, "the grant is held at once");
        let mut granted = 1;
        while s.sync(&rules, T0, 64, vec![], 0).granted > 0 {
            granted += 1;
        }
        assert_eq!((granted, s.get("day").tokens), (10, 1000));
        // Three requests settle at 60 each: their reservations go back, their cost stays.
        let g = s.sync(&rules, T0, 0, vec![Return { granted_ms: T0, units: 3 }], 180);
        assert_eq!((g.granted, s.get("day").tokens, s.get("day").requests), (0, 880, 7));
        assert_eq!(s.sync(&rules, T0, 64, vec![], 0).granted, 1, "room for one more");
        assert!(s.admit(&rules, T0).admitted, "980 is still below 1000: one more grant, which crosses it");
        assert!(!s.admit(&rules, T0).admitted, "1080 held and spent: refused");
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
