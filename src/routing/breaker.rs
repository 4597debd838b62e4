//! Circuit breakers per node and per (node, model) pair: a pure state machine over virtual time.
//! - Closed: requests flow; outcomes go into a rolling window (`window_ms`, ten buckets). When
//!   the window holds at least `min_requests` outcomes and at least `failure_pct` % failed, the
//!   breaker opens for `open_ms`.
//! - Open: skipped by routing until `until`. A `Retry-After` from the origin opens it at once
//!   for that long (capped at `retry_after_max_ms`): the origin said so, no vote needed.
//! - Half-open (open time over): one probe request may go; success closes (window reset),
//!   failure opens again. A probe whose outcome never came (its isolate died) is given up
//!   after `probe_stale_ms`.
//!
//! A success proves the node reachable too (node breaker closes); a pair failure also proves
//! the node reachable (the origin answered). Neutral outcomes (4xx, a client that hung up)
//! move nothing and only give back a probe. `Breakers` holds them all; the edge keeps one per
//! isolate (the fast path) and one in the Breakers Durable Object (the shared view), fed with
//! the same reports.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub min_requests: u32,
    pub failure_pct: u32,
    pub window_ms: u64,
    pub open_ms: u64,
    pub retry_after_max_ms: u64,
    pub probe_stale_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config { min_requests: 5, failure_pct: 50, window_ms: 30_000, open_ms: 30_000, retry_after_max_ms: 300_000, probe_stale_ms: 120_000 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Key {
    Node(i64),
    Pair(i64, String),
}

impl Key {
    pub fn node_id(&self) -> i64 {
        match self {
            Key::Node(n) | Key::Pair(n, _) => *n,
        }
    }
}

/// What one attempt means for a breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Success,
    Failure { reason: String, retry_after_ms: Option<u64> },
    /// Counts for nothing (the caller's 4xx, an abandoned attempt); gives back a probe.
    Neutral,
}

/// What routing may do with a breaker right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    Closed,
    /// Half-open: one request may probe.
    Probe,
    /// Open (or half-open with its probe out): skip, unless nothing else is left.
    Blocked { reason: String, failed_at_ms: u64, until_ms: Option<u64> },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed,
    Open { until: u64 },
    HalfOpen { probe_since: Option<u64> },
}

#[derive(Debug, Clone)]
struct Breaker {
    /// (bucket start, requests, failures), oldest first.
    buckets: VecDeque<(u64, u32, u32)>,
    state: State,
    failed_at_ms: u64,
    reason: String,
}

impl Breaker {
    fn new() -> Self {
        Breaker { buckets: VecDeque::new(), state: State::Closed, failed_at_ms: 0, reason: String::new() }
    }

    fn tick(&mut self, now: u64, cfg: &Config) {
        if let State::Open { until } = self.state {
            if now >= until {
                self.state = State::HalfOpen { probe_since: None };
            }
        }
        if let State::HalfOpen { probe_since: Some(t) } = self.state {
            if now.saturating_sub(t) >= cfg.probe_stale_ms {
                self.state = State::HalfOpen { probe_since: None };
            }
        }
        while self.buckets.front().is_some_and(|(start, _, _)| start + cfg.window_ms <= now) {
            self.buckets.pop_front();
        }
    }

    fn gate(&mut self, now: u64, cfg: &Config) -> Gate {
        self.tick(now, cfg);
        match self.state {
            State::Closed => Gate::Closed,
            State::HalfOpen { probe_since: None } => Gate::Probe,
            State::HalfOpen { .. } => Gate::Blocked { reason: format!("{} (a probe is under way)", self.reason), failed_at_ms: self.failed_at_ms, until_ms: None },
            State::Open { until } => Gate::Blocked { reason: self.reason.clone(), failed_at_ms: self.failed_at_ms, until_ms: Some(until) },
        }
    }

    fn claim(&mut self, now: u64, cfg: &Config) -> bool {
        match self.gate(now, cfg) {
            Gate::Closed => true,
            Gate::Probe => {
                self.state = State::HalfOpen { probe_since: Some(now) };
                true
            }
            Gate::Blocked { .. } => false,
        }
    }

    fn count(&mut self, now: u64, cfg: &Config, failed: bool) {
        let width = (cfg.window_ms / 10).max(1);
        let start = now - now % width;
        match self.buckets.back_mut() {
            Some(b) if b.0 == start => {
                b.1 += 1;
                b.2 += failed as u32;
            }
            _ => self.buckets.push_back((start, 1, failed as u32)),
        }
    }

    fn open(&mut self, until: u64) {
        let until = match self.state {
            State::Open { until: u } => u.max(until),
            _ => until,
        };
        self.state = State::Open { until };
    }

    fn record(&mut self, now: u64, cfg: &Config, outcome: &Outcome) {
        self.tick(now, cfg);
        match outcome {
            Outcome::Neutral => {
                if let State::HalfOpen { probe_since: Some(_) } = self.state {
                    self.state = State::HalfOpen { probe_since: None };
                }
            }
            Outcome::Success => {
                if self.state != State::Closed {
                    self.state = State::Closed;
                    self.buckets.clear();
                }
                self.count(now, cfg, false);
            }
            Outcome::Failure { reason, retry_after_ms } => {
                self.count(now, cfg, true);
                self.failed_at_ms = now;
                self.reason = reason.clone();
                if let Some(ra) = retry_after_ms {
                    self.open(now + (*ra).min(cfg.retry_after_max_ms));
                    return;
                }
                match self.state {
                    State::HalfOpen { .. } => self.open(now + cfg.open_ms),
                    State::Open { .. } => {}
                    State::Closed => {
                        let (req, fail) = self.buckets.iter().fold((0u32, 0u32), |(r, f), b| (r + b.1, f + b.2));
                        if req >= cfg.min_requests.max(1) && fail as u64 * 100 >= cfg.failure_pct as u64 * req as u64 {
                            self.open(now + cfg.open_ms);
                        }
                    }
                }
            }
        }
    }

    /// Nothing worth keeping (closed, no recent outcomes).
    fn idle(&self) -> bool {
        self.state == State::Closed && self.buckets.is_empty()
    }
}

/// A breaker that is open, as the shared view hands it to isolates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenEntry {
    pub key: Key,
    pub until_ms: u64,
    pub failed_at_ms: u64,
    pub reason: String,
}

/// A breaker changing state, as an isolate tells the shared view (only these are shared, not
/// traffic: the shared view costs calls per state change, not per request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    Opened(OpenEntry),
    /// A probe (or a forced attempt) succeeded: closed as of `at_ms`.
    Closed { key: Key, at_ms: u64 },
}

/// Bound on tracked breakers (pairs come from catalogs, so this is generous).
/// How often an isolate asks the shared `Breakers` object what is open elsewhere (unless a report
/// it sent was answered more recently). It is one object for the whole deployment, so its polls
/// grow with isolates: at 15 s, 5,000 busy isolates make ~320 calls/s, below half of a Durable
/// Object's ~1,000/s (the capacity model in `sim/capacity.rs`). Each isolate's own breakers
/// still protect it at once; what waits up to this long is adopting other isolates' openings
/// and admin clears.
pub const VIEW_REFRESH_MS: u64 = 15_000;

const MAX_BREAKERS: usize = 10_000;

#[derive(Debug, Default)]
pub struct Breakers {
    pub cfg: Config,
    map: HashMap<Key, Breaker>,
}

impl Breakers {
    pub fn new(cfg: Config) -> Self {
        Breakers { cfg, map: HashMap::new() }
    }

    fn gate_of(&mut self, key: &Key, now: u64) -> Gate {
        let cfg = self.cfg;
        self.map.get_mut(key).map(|b| b.gate(now, &cfg)).unwrap_or(Gate::Closed)
    }

    /// The combined gate of a node and its pair: blocked if either is, probe if either may probe.
    pub fn gate(&mut self, node: i64, model: &str, now: u64) -> Gate {
        let n = self.gate_of(&Key::Node(node), now);
        if matches!(n, Gate::Blocked { .. }) {
            return n;
        }
        let p = self.gate_of(&Key::Pair(node, model.to_string()), now);
        match (n, p) {
            (_, p @ Gate::Blocked { .. }) => p,
            (Gate::Probe, _) | (_, Gate::Probe) => Gate::Probe,
            _ => Gate::Closed,
        }
    }

    /// Take the way through for one attempt (claims the probe of a half-open breaker).
    /// `force` lets the all-open fallback through a blocked breaker.
    pub fn claim(&mut self, node: i64, model: &str, now: u64, force: bool) -> bool {
        let cfg = self.cfg;
        let mut ok = true;
        for key in [Key::Node(node), Key::Pair(node, model.to_string())] {
            if let Some(b) = self.map.get_mut(&key) {
                ok &= b.claim(now, &cfg) || force;
            }
        }
        ok
    }

    fn apply(&mut self, key: Key, outcome: &Outcome, now: u64) {
        let cfg = self.cfg;
        if *outcome == Outcome::Neutral && !self.map.contains_key(&key) {
            return;
        }
        if self.map.len() >= MAX_BREAKERS && !self.map.contains_key(&key) {
            self.map.retain(|_, b| !b.idle());
            if self.map.len() >= MAX_BREAKERS {
                return;
            }
        }
        self.map.entry(key).or_insert_with(Breaker::new).record(now, &cfg, outcome);
    }

    /// The outcome of an attempt on (node, model), scoped by what failed.
    pub fn record(&mut self, node: i64, model: &str, scope: crate::origins::failure::Scope, outcome: &Outcome, now: u64) {
        use crate::origins::failure::Scope;
        let pair = Key::Pair(node, model.to_string());
        let (on_node, on_pair) = match (outcome, scope) {
            (Outcome::Success, _) => (Outcome::Success, Outcome::Success),
            (Outcome::Failure { .. }, Scope::Node) => (outcome.clone(), Outcome::Neutral),
            // The origin answered: the node is reachable.
            (Outcome::Failure { .. }, Scope::Pair) => (Outcome::Success, outcome.clone()),
            _ => (Outcome::Neutral, Outcome::Neutral),
        };
        self.apply(Key::Node(node), &on_node, now);
        self.apply(pair, &on_pair, now);
    }

    /// Where a key stands: (open until, not closed).
    fn standing(&mut self, key: &Key, now: u64) -> (Option<u64>, bool) {
        let cfg = self.cfg;
        match self.map.get_mut(key) {
            Some(b) => {
                b.tick(now, &cfg);
                let until = if let State::Open { until } = b.state { Some(until) } else { None };
                (until, b.state != State::Closed)
            }
            None => (None, false),
        }
    }

    /// `record`, returning the state changes it caused (what the shared view needs to hear).
    pub fn record_changes(&mut self, node: i64, model: &str, scope: crate::origins::failure::Scope, outcome: &Outcome, now: u64) -> Vec<Change> {
        let keys = [Key::Node(node), Key::Pair(node, model.to_string())];
        let before: Vec<_> = keys.iter().map(|k| self.standing(k, now)).collect();
        self.record(node, model, scope, outcome, now);
        let mut changes = Vec::new();
        for (k, (was_until, was_troubled)) in keys.into_iter().zip(before) {
            let (until, troubled) = self.standing(&k, now);
            match until {
                Some(u) if was_until != Some(u) => {
                    let b = &self.map[&k];
                    changes.push(Change::Opened(OpenEntry { key: k, until_ms: u, failed_at_ms: b.failed_at_ms, reason: b.reason.clone() }));
                }
                None if was_troubled && !troubled => changes.push(Change::Closed { key: k, at_ms: now }),
                _ => {}
            }
        }
        changes
    }

    /// Forget everything about a node and its pairs (an admin health check or toggle).
    pub fn clear_node(&mut self, node: i64) {
        self.map.retain(|k, _| k.node_id() != node);
    }

    /// Breakers open right now (the shared view isolates adopt).
    pub fn open_entries(&mut self, now: u64) -> Vec<OpenEntry> {
        let cfg = self.cfg;
        let mut out = Vec::new();
        for (k, b) in self.map.iter_mut() {
            b.tick(now, &cfg);
            if let State::Open { until } = b.state {
                out.push(OpenEntry { key: k.clone(), until_ms: until, failed_at_ms: b.failed_at_ms, reason: b.reason.clone() });
            }
        }
        self.map.retain(|_, b| !b.idle());
        out
    }

    /// Another isolate's knowledge: a breaker the shared view has open is open here too.
    pub fn adopt(&mut self, e: &OpenEntry, now: u64) {
        if e.until_ms <= now {
            return;
        }
        let b = self.map.entry(e.key.clone()).or_insert_with(Breaker::new);
        let later = match b.state {
            State::Open { until } => e.until_ms > until,
            _ => true,
        };
        if later {
            b.state = State::Open { until: e.until_ms };
            b.failed_at_ms = b.failed_at_ms.max(e.failed_at_ms);
            b.reason = e.reason.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origins::failure::Scope;

    fn fail(r: &str) -> Outcome {
        Outcome::Failure { reason: r.into(), retry_after_ms: None }
    }

    fn cfg() -> Config {
        Config { min_requests: 5, failure_pct: 50, window_ms: 30_000, open_ms: 10_000, retry_after_max_ms: 60_000, probe_stale_ms: 20_000 }
    }

    #[test]
    fn opens_on_ratio_with_minimum_requests_then_probes_and_closes() {
        let mut b = Breakers::new(cfg());
        for t in 0..4 {
            b.record(1, "m", Scope::Pair, &fail("HTTP 500"), t);
            assert_eq!(b.gate(1, "m", t), Gate::Closed, "below the minimum number of requests");
        }
        b.record(1, "m", Scope::Pair, &fail("HTTP 500"), 5);
        assert!(matches!(b.gate(1, "m", 6), Gate::Blocked { until_ms: Some(10_005), .. }));
        assert_eq!(b.gate(1, "other", 6), Gate::Closed, "another model on the node is untouched");
        assert_eq!(b.gate(1, "m", 10_005), Gate::Probe);
        assert!(b.claim(1, "m", 10_005, false));
        assert!(matches!(b.gate(1, "m", 10_006), Gate::Blocked { until_ms: None, .. }), "one probe at a time");
        assert!(!b.claim(1, "m", 10_006, false));
        b.record(1, "m", Scope::Pair, &Outcome::Success, 10_010);
        assert_eq!(b.gate(1, "m", 10_011), Gate::Closed);
    }

    #[test]
    fn failed_probe_reopens_and_a_lost_probe_is_given_up() {
        let mut b = Breakers::new(Config { min_requests: 1, ..cfg() });
        b.record(2, "m", Scope::Node, &fail("connection refused"), 0);
        assert!(matches!(b.gate(2, "anything", 1), Gate::Blocked { .. }), "a node failure blocks all its models");
        assert!(b.claim(2, "m", 10_000, false));
        b.record(2, "m", Scope::Node, &fail("connection refused"), 10_001);
        assert!(matches!(b.gate(2, "m", 15_000), Gate::Blocked { until_ms: Some(20_001), .. }));
        assert!(b.claim(2, "m", 20_001, false));
        assert!(!b.claim(2, "m", 30_000, false));
        assert!(b.claim(2, "m", 40_001, false), "the stale probe is given up");
    }

    #[test]
    fn ratio_below_threshold_stays_closed_and_window_rolls() {
        let mut b = Breakers::new(cfg());
        for t in 0..6 {
            b.record(1, "m", Scope::Pair, &Outcome::Success, t);
        }
        for t in 6..11 {
            b.record(1, "m", Scope::Pair, &fail("x"), t);
        }
        assert_eq!(b.gate(1, "m", 12), Gate::Closed, "5 of 11 failed");
        // 40 s later the old outcomes are out of the window: 5 new failures open it.
        for t in 0..5 {
            b.record(1, "m", Scope::Pair, &fail("x"), 40_000 + t);
        }
        assert!(matches!(b.gate(1, "m", 40_010), Gate::Blocked { .. }));
    }

    #[test]
    fn retry_after_opens_at_once_capped() {
        let mut b = Breakers::new(cfg());
        b.record(1, "m", Scope::Pair, &Outcome::Failure { reason: "HTTP 429".into(), retry_after_ms: Some(86_400_000) }, 0);
        assert!(matches!(b.gate(1, "m", 1), Gate::Blocked { until_ms: Some(60_000), .. }), "capped");
        assert_eq!(b.gate(1, "m2", 1), Gate::Closed);
        b.clear_node(1);
        assert_eq!(b.gate(1, "m", 2), Gate::Closed, "an admin clear forgets it");
    }

    #[test]
    fn neutral_moves_nothing_and_pair_failure_proves_the_node() {
        let mut b = Breakers::new(Config { min_requests: 1, ..cfg() });
        for t in 0..20 {
            b.record(1, "m", Scope::Nothing, &fail("HTTP 400"), t);
        }
        assert_eq!(b.gate(1, "m", 21), Gate::Closed);
        b.record(1, "m", Scope::Node, &fail("reset"), 30);
        assert!(b.claim(1, "m", 10_030, false));
        b.record(1, "m", Scope::Pair, &fail("HTTP 500"), 10_031);
        assert!(matches!(b.gate(1, "m", 10_032), Gate::Blocked { .. }), "the pair is open");
        assert_eq!(b.gate(1, "m2", 10_032), Gate::Closed, "but the node answered, so it closed");
    }

    #[test]
    fn only_state_changes_are_shared() {
        let mut b = Breakers::new(Config { min_requests: 2, ..cfg() });
        for t in 0..2 {
            assert!(b.record_changes(1, "m", Scope::Pair, &Outcome::Success, t).is_empty(), "traffic is not shared");
        }
        assert!(b.record_changes(1, "m", Scope::Pair, &fail("HTTP 500"), 1).is_empty(), "1 of 3 failed: no change");
        let opened = b.record_changes(1, "m", Scope::Pair, &fail("HTTP 500"), 2);
        assert!(matches!(&opened[..], [Change::Opened(OpenEntry { key: Key::Pair(1, m), until_ms: 10_002, .. })] if m == "m"), "{opened:?}");
        assert!(b.claim(1, "m", 10_002, false));
        let closed = b.record_changes(1, "m", Scope::Pair, &Outcome::Success, 10_003);
        assert_eq!(closed, vec![Change::Closed { key: Key::Pair(1, "m".into()), at_ms: 10_003 }]);
        assert!(b.record_changes(1, "m", Scope::Pair, &Outcome::Success, 10_004).is_empty());
    }

    #[test]
    fn shared_view_is_adopted_and_forced_fallback_passes() {
        let mut shared = Breakers::new(Config { min_requests: 1, ..cfg() });
        shared.record(3, "m", Scope::Pair, &fail("HTTP 503"), 0);
        let open = shared.open_entries(1);
        assert_eq!(open.len(), 1);
        let mut local = Breakers::new(cfg());
        for e in &open {
            local.adopt(e, 1);
        }
        assert!(matches!(local.gate(3, "m", 2), Gate::Blocked { .. }));
        assert!(!local.claim(3, "m", 2, false));
        assert!(local.claim(3, "m", 2, true));
    }
}
