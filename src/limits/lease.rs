//! Admission leases: how an isolate admits requests without a store round trip per request.
//!
//! The isolate asks the scope's store (Limiter Durable Object or Redis) for a lease of up to
//! `want` requests; the store counts them at once, so the store never grants more than a limit
//! allows, whatever the number of isolates. The isolate then admits locally from the lease
//! until it is used up or `LEASE_MS` old, gives back what it did not use in the next call (or
//! in a flush when the lease expires), and carries the tokens of finished answers along.
//!
//! What this trades: a limit is never exceeded, but another isolate's unused lease can refuse a
//! request for at most `LEASE_MS` (leases shrink to a fair share of what is left near the
//! limit), and tokens reach the store up to `LEASE_MS` late, so a token limit can be overrun by
//! what other isolates finished in that time (within one isolate it is exact). Lease sizes
//! follow demand: an unused lease shrinks the next, a used-up one doubles it (up to `MAX_LEASE`).
//! A call that fails may still have been applied, so its give-backs are never sent again (they
//! stay counted) while its tokens are: every uncertainty errs on the strict side.
//!
//! One request leads each sync; concurrent requests of the isolate wait for it with short
//! sleeps of their own rather than awaiting the leader's future: on Workers a task woken by
//! another request's I/O runs in that request's context, and its own I/O would then die with
//! that request.

use super::{retry_after_s, Decision, Grant, Return, Rule, RuleState, SyncMsg};
use futures::future::LocalBoxFuture;
use futures::FutureExt;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// How long a lease admits (and a cached refusal refuses) before the store is asked again.
pub const LEASE_MS: u64 = 1_000;
/// The most requests one lease takes.
pub const MAX_LEASE: u64 = 64;
/// A flush that cannot reach the store is retried this often (spaced by `LEASE_MS`), then the
/// unsent tokens and returns are logged and dropped (returns then stay counted: never too many).
const FLUSH_ATTEMPTS: u32 = 3;

/// The isolate's view of a scope's store.
pub trait LeaseStore {
    fn sync(&self, scope: &str, msg: SyncMsg) -> LocalBoxFuture<'static, Result<Grant, String>>;
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()>;
    fn now_ms(&self) -> u64;
    fn log(&self, line: &str);
}

/// Which lease admitted a request (to give it back there if it never reaches an origin).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticket {
    pub generation: u64,
    pub granted_ms: u64,
}

/// A sync in flight this long is given up by the requests waiting for it.
const SYNC_STALE_MS: u64 = 10_000;
/// How often a request waiting for another request's sync looks again.
const WAIT_STEP_MS: u64 = 1;

/// A scope's flush. Only the request that started it awaits it (see `finish`).
pub type Flush = LocalBoxFuture<'static, ()>;

/// A flush still pending this long after it should have run belongs to a request context that
/// the runtime cancelled; the next request starts a new one.
const FLUSH_STALE_MS: u64 = 30_000 + LEASE_MS;

struct Lease {
    rules: Vec<Rule>,
    granted_ms: u64,
    size: u64,
    units: u64,
    /// The rules' states as the store reported them, including this whole grant.
    states: Vec<RuleState>,
    /// A refusal, cached for the lease's life (the rule that blocked).
    blocked: Option<String>,
}

impl Lease {
    /// Young, and still inside the windows it was granted in.
    fn live(&self, now_ms: u64) -> bool {
        now_ms < self.granted_ms + LEASE_MS && self.rules.iter().all(|r| r.period.start(now_ms) == r.period.start(self.granted_ms))
    }

    /// Admits only while live and for the same rules (an admin edit ends it).
    fn valid(&self, rules: &[Rule], now_ms: u64) -> bool {
        self.live(now_ms) && self.rules == rules
    }
}

#[derive(Default)]
struct Scope {
    lease: Option<Lease>,
    /// The rules of the latest sync (a flush after the lease is gone still needs them).
    rules: Vec<Rule>,
    generation: u64,
    returns: Vec<Return>,
    tokens: u64,
    /// The sync in flight (its sequence number and start), led by one request.
    syncing: Option<(u64, u64)>,
    seq: u64,
    /// The last sync that failed, and why: requests that waited for it fail with it, rather
    /// than each paying the store's deadline again.
    failed: Option<(u64, String)>,
    /// When the pending flush was started (it is awaited by the request that started it).
    flush: Option<u64>,
}

impl Scope {
    /// End the current lease: what it did not use goes back with the next call.
    fn retire(&mut self) -> Option<Lease> {
        let l = self.lease.take()?;
        give_back(&mut self.returns, l.granted_ms, l.units);
        Some(l)
    }

    /// The states to report for a local decision: the store's, less what this lease still holds,
    /// plus the tokens counted here and not yet sent. Under a reserving rule (budgets) the
    /// reservations of the lease's unused units and of the settled requests waiting to go back
    /// are taken out too: the store counted them, and the settled ones' real cost is in `tokens`.
    fn states(&self, l: &Lease) -> Vec<RuleState> {
        let returned: u64 = self.returns.iter().map(|r| r.units).sum();
        l.states
            .iter()
            .zip(&l.rules)
            .map(|(s, r)| RuleState {
                used_requests: s.used_requests.saturating_sub(l.units),
                used_tokens: s.used_tokens.saturating_sub((l.units + returned).saturating_mul(r.reserve)) + self.tokens,
                ..s.clone()
            })
            .collect()
    }

    fn take_pending(&mut self) -> (Vec<Return>, u64) {
        (std::mem::take(&mut self.returns), std::mem::take(&mut self.tokens))
    }

    /// A call that failed or was abandoned may still have been applied by the store. Its tokens
    /// go again (counted twice at worst: stricter), its give-backs do not (kept counted at worst:
    /// stricter; sent twice they could let a limit be exceeded). Returns the units kept counted.
    fn after_failed_call(&mut self, msg: &SyncMsg) -> u64 {
        self.tokens += msg.tokens;
        msg.returns.iter().map(|r| r.units).sum()
    }

    fn pending(&self) -> bool {
        self.tokens > 0 || !self.returns.is_empty()
    }
}

fn give_back(returns: &mut Vec<Return>, granted_ms: u64, units: u64) {
    if units == 0 {
        return;
    }
    match returns.iter_mut().find(|r| r.granted_ms == granted_ms) {
        Some(r) => r.units += units,
        None => returns.push(Return { granted_ms, units }),
    }
}

/// The next lease's size: double a lease that was used up, else what the last one used (+1).
fn next_want(last: Option<&Lease>) -> u64 {
    match last {
        Some(l) if l.blocked.is_none() && l.units == 0 => l.size * 2,
        Some(l) if l.blocked.is_none() => l.size - l.units + 1,
        _ => 1,
    }
    .clamp(1, MAX_LEASE)
}

enum Take {
    Admitted(Decision, Ticket),
    Refused(Decision),
    /// Another request's sync is in flight.
    Busy(u64),
    /// This request leads a sync.
    Lead(LocalBoxFuture<'static, Result<(), String>>, Abandon),
}

/// Clears a sync the leader stopped awaiting (e.g. its client went away) so the next request
/// leads a new one, and keeps what it was sending for that one.
struct Abandon {
    state: Rc<RefCell<HashMap<String, Scope>>>,
    scope: String,
    seq: u64,
    msg: Option<SyncMsg>,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        let Some(msg) = self.msg.take() else { return };
        if let Ok(mut map) = self.state.try_borrow_mut() {
            if let Some(s) = map.get_mut(&self.scope).filter(|s| s.syncing.is_some_and(|(seq, _)| seq == self.seq)) {
                s.syncing = None;
                s.after_failed_call(&msg);
            }
        }
    }
}

/// One isolate's leases, per scope. Cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct Leases(Rc<RefCell<HashMap<String, Scope>>>);

impl Leases {
    /// Admit one request into `scope`: from the lease when it can, else after one sync with the
    /// store (concurrent requests of this isolate share it). `Err`: the store is unreachable.
    pub async fn admit(&self, store: Rc<dyn LeaseStore>, scope: &str, rules: &[Rule]) -> Result<(Decision, Ticket), String> {
        // Each round admits, refuses, leads a sync, or waits a step for another request's; a
        // fresh lease is only missed when concurrent requests used it up first.
        let mut waited: Option<u64> = None;
        for _ in 0..20_000 {
            match self.take(&store, scope, rules) {
                Take::Admitted(d, t) => return Ok((d, t)),
                Take::Refused(d) => return Ok((d, Ticket::default())),
                Take::Lead(sync, mut abandon) => {
                    let res = sync.await;
                    abandon.msg = None;
                    res?;
                }
                Take::Busy(seq) => {
                    waited = Some(seq);
                    store.sleep(WAIT_STEP_MS).await;
                }
            }
            if let Some(seq) = waited.take() {
                if let Some((failed, e)) = self.0.borrow().get(scope).and_then(|s| s.failed.clone()) {
                    if failed == seq {
                        return Err(e);
                    }
                }
            }
        }
        Err(format!("no lease for {scope}: the store did not answer in time"))
    }

    fn take(&self, store: &Rc<dyn LeaseStore>, scope: &str, rules: &[Rule]) -> Take {
        let now = store.now_ms();
        let mut map = self.0.borrow_mut();
        let s = map.entry(scope.to_string()).or_default();
        if let Some(l) = s.lease.as_ref().filter(|l| l.valid(rules, now)) {
            if let Some(rule) = &l.blocked {
                return Take::Refused(refusal(s.states(l), rule, now));
            }
            // Tokens finished here since the grant count at once: within an isolate a token
            // limit is exact.
            let states = s.states(l);
            if let Some(full) = states.iter().find(|st| st.max_tokens.is_some_and(|m| st.used_tokens >= m)) {
                let name = full.name.clone();
                return Take::Refused(refusal(states, &name, now));
            }
            if l.units > 0 {
                let l = s.lease.as_mut().expect("checked above");
                l.units -= 1;
                let ticket = Ticket { generation: s.generation, granted_ms: l.granted_ms };
                let l = s.lease.as_ref().expect("checked above");
                return Take::Admitted(Decision { admitted: true, retry_after: 0, blocked_by: None, states: s.states(l) }, ticket);
            }
        }
        if let Some((seq, started)) = s.syncing {
            if now < started + SYNC_STALE_MS {
                return Take::Busy(seq);
            }
            // The leader's call never came back (the stores' own deadlines are shorter): lead a
            // new one. A late answer to the old one is still installed properly (see `sync`).
        }
        let last = s.retire();
        let want = next_want(last.as_ref());
        let (returns, tokens) = s.take_pending();
        s.rules = rules.to_vec();
        s.seq += 1;
        s.syncing = Some((s.seq, now));
        let msg = SyncMsg { rules: rules.to_vec(), now_ms: now, want, returns, tokens };
        let abandon = Abandon { state: self.0.clone(), scope: scope.to_string(), seq: s.seq, msg: Some(msg.clone()) };
        Take::Lead(self.sync(store.clone(), scope.to_string(), s.seq, msg), abandon)
    }

    /// Ask the store for a lease; install it (or the refusal) when it answers.
    fn sync(&self, store: Rc<dyn LeaseStore>, scope: String, seq: u64, msg: SyncMsg) -> LocalBoxFuture<'static, Result<(), String>> {
        let state = self.0.clone();
        async move {
            let res = store.sync(&scope, msg.clone()).await;
            let mut map = state.borrow_mut();
            let s = map.entry(scope.clone()).or_default();
            if s.syncing.is_some_and(|(current, _)| current == seq) {
                s.syncing = None;
            }
            if let Err(e) = &res {
                s.failed = Some((seq, e.clone()));
            }
            match res {
                Ok(g) => {
                    // Normally no lease is live here; after a stale takeover one may be.
                    s.retire();
                    s.generation += 1;
                    s.lease = Some(Lease {
                        rules: msg.rules,
                        granted_ms: msg.now_ms,
                        size: g.granted,
                        units: g.granted,
                        states: g.decision.states,
                        blocked: if g.granted == 0 { g.decision.blocked_by } else { None },
                    });
                    Ok(())
                }
                Err(e) => {
                    let kept = s.after_failed_call(&msg);
                    if kept > 0 {
                        store.log(&format!("limits: {kept} unused requests of {scope} stay counted until their window ends (the store call failed and may have applied them): {e}"));
                    }
                    Err(e)
                }
            }
        }
        .boxed_local()
    }

    /// A request admitted with `ticket` is over: count its tokens, give it back if it never
    /// reached an origin. When no flush is pending for the scope, returns a new one for the
    /// caller to keep alive (the Worker's `wait_until`): it sends leftovers and tokens when the
    /// lease ends. Later requests add to the same flush without awaiting it, because a task woken
    /// by another request's timer would run in that request's context.
    pub fn finish(&self, store: Rc<dyn LeaseStore>, scope: &str, ticket: Ticket, tokens: u64, release: bool) -> Option<Flush> {
        let now = store.now_ms();
        let mut map = self.0.borrow_mut();
        let s = map.entry(scope.to_string()).or_default();
        s.tokens += tokens;
        if release {
            let generation = s.generation;
            // A reserving rule's unit is never reused: its reservation must go back to the store
            // with the cost that replaces it, or other isolates would not see that cost.
            match s.lease.as_mut().filter(|l| generation == ticket.generation && l.blocked.is_none() && l.live(now) && l.rules.iter().all(|r| r.reserve == 0)) {
                Some(l) => l.units += 1,
                None => give_back(&mut s.returns, ticket.granted_ms, 1),
            }
        }
        let due = s.lease.as_ref().map(|l| l.granted_ms + LEASE_MS).unwrap_or(now);
        if s.flush.is_some_and(|started| now < started.max(due) + FLUSH_STALE_MS) {
            return None;
        }
        s.flush = Some(now);
        Some(self.flush(store, scope.to_string()))
    }

    /// Wait for the lease to end, then send its leftovers and the pending tokens (want = 0).
    fn flush(&self, store: Rc<dyn LeaseStore>, scope: String) -> Flush {
        let state = self.0.clone();
        async move {
            let mut failures = 0;
            loop {
                let wait = {
                    let map = state.borrow();
                    let s = &map[&scope];
                    s.lease.as_ref().map(|l| (l.granted_ms + LEASE_MS).saturating_sub(store.now_ms())).unwrap_or(0)
                };
                store.sleep(wait.max(1) + if failures > 0 { LEASE_MS } else { 0 }).await;
                if state.borrow()[&scope].syncing.is_some() {
                    store.sleep(WAIT_STEP_MS).await; // that sync carries the pending work
                    continue;
                }
                let now = store.now_ms();
                let msg = {
                    let mut map = state.borrow_mut();
                    let s = map.get_mut(&scope).expect("scopes are never removed");
                    let live = s.lease.as_ref().is_some_and(|l| l.live(now));
                    if live && s.lease.as_ref().is_some_and(|l| l.units > 0) {
                        continue; // renewed meanwhile: wait for this lease to end
                    }
                    if !live {
                        s.retire();
                    }
                    if !s.pending() {
                        s.flush = None;
                        return;
                    }
                    let rules = s.rules.clone();
                    let (returns, tokens) = s.take_pending();
                    SyncMsg { rules, now_ms: now, want: 0, returns, tokens }
                };
                match store.sync(&scope, msg.clone()).await {
                    Ok(_) => failures = 0,
                    Err(e) => {
                        failures += 1;
                        let mut map = state.borrow_mut();
                        let s = map.get_mut(&scope).expect("scopes are never removed");
                        let kept = s.after_failed_call(&msg);
                        if kept > 0 {
                            store.log(&format!("limits: {kept} unused requests of {scope} stay counted until their window ends (the store call failed and may have applied them): {e}"));
                        }
                        if failures >= FLUSH_ATTEMPTS {
                            s.tokens -= msg.tokens;
                            store.log(&format!("limits: {} tokens of {scope} not settled after {failures} attempts: {e}", msg.tokens));
                            s.flush = None;
                            return;
                        }
                    }
                }
            }
        }
        .boxed_local()
    }
}

fn refusal(states: Vec<RuleState>, rule: &str, now_ms: u64) -> Decision {
    let reset = states.iter().find(|s| s.name == rule).map(|s| s.reset_ms).unwrap_or(now_ms);
    Decision { admitted: false, retry_after: retry_after_s(reset, now_ms), blocked_by: Some(rule.to_string()), states }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{sync, Period, Window};
    use futures::executor::LocalPool;
    use futures::task::LocalSpawnExt;
    use std::cell::Cell;
    use std::task::{Poll, Waker};

    const T0: u64 = 1_790_000_000_000;

    /// One scope's store (limits::sync on windows in memory), a clock the test moves, and a
    /// switch to make it unreachable.
    #[derive(Default)]
    struct Fake {
        windows: RefCell<HashMap<String, Window>>,
        calls: Cell<u32>,
        down: Cell<bool>,
        /// Calls made while set never answer.
        hang: Cell<bool>,
        /// Calls are applied, then reported as failed (a timeout after the store did the work).
        lost_answers: Cell<bool>,
        now: Cell<u64>,
        sleepers: RefCell<Vec<Waker>>,
        logs: RefCell<Vec<String>>,
    }

    impl Fake {
        fn new() -> Rc<Fake> {
            let f = Rc::new(Fake::default());
            f.now.set(T0);
            f
        }
        fn advance(&self, ms: u64) {
            self.now.set(self.now.get() + ms);
            for w in self.sleepers.borrow_mut().drain(..) {
                w.wake();
            }
        }
        fn requests(&self) -> u64 {
            self.windows.borrow().get("day").map(|w| w.requests).unwrap_or(0)
        }
        fn tokens(&self) -> u64 {
            self.windows.borrow().get("day").map(|w| w.tokens).unwrap_or(0)
        }
    }

    struct Store(Rc<Fake>);

    impl LeaseStore for Store {
        fn sync(&self, _: &str, msg: SyncMsg) -> LocalBoxFuture<'static, Result<Grant, String>> {
            let f = self.0.clone();
            let mut yielded = false;
            let hangs = f.hang.get();
            // Answers on the next poll, so concurrent requests really overlap with the call.
            futures::future::poll_fn(move |cx| {
                if hangs {
                    return Poll::Pending;
                }
                if !yielded {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                f.calls.set(f.calls.get() + 1);
                if f.down.get() {
                    return Poll::Ready(Err("store down".into()));
                }
                let (g, w) = sync(&msg, |k| f.windows.borrow().get(k).copied().unwrap_or_default());
                f.windows.borrow_mut().extend(w);
                if f.lost_answers.get() {
                    return Poll::Ready(Err("no answer within the deadline".into()));
                }
                Poll::Ready(Ok(g))
            })
            .boxed_local()
        }
        fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
            let f = self.0.clone();
            let until = f.now.get() + ms;
            // A waiting step (1 ms) just yields: the clock only moves when a test moves it.
            let mut step = ms <= WAIT_STEP_MS;
            futures::future::poll_fn(move |cx| {
                if std::mem::take(&mut step) {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                if ms <= WAIT_STEP_MS || f.now.get() >= until {
                    Poll::Ready(())
                } else {
                    f.sleepers.borrow_mut().push(cx.waker().clone());
                    Poll::Pending
                }
            })
            .boxed_local()
        }
        fn now_ms(&self) -> u64 {
            self.0.now.get()
        }
        fn log(&self, line: &str) {
            self.0.logs.borrow_mut().push(line.to_string());
        }
    }

    fn day(req: Option<u64>, tok: Option<u64>) -> Vec<Rule> {
        vec![Rule { name: "day".into(), period: Period::Day, max_requests: req, max_tokens: tok, reserve: 0 }]
    }

    /// `n` concurrent admissions from one isolate; returns (admitted tickets, refusals).
    fn burst(pool: &mut LocalPool, leases: &Leases, fake: &Rc<Fake>, rules: &[Rule], n: usize) -> (Vec<Ticket>, Vec<Decision>) {
        let out = Rc::new(RefCell::new((Vec::new(), Vec::new())));
        for _ in 0..n {
            let (l, store, rules, out) = (leases.clone(), Rc::new(Store(fake.clone())) as Rc<dyn LeaseStore>, rules.to_vec(), out.clone());
            pool.spawner()
                .spawn_local(async move {
                    let (d, t) = l.admit(store, "user:1", &rules).await.expect("store up");
                    let mut o = out.borrow_mut();
                    if d.admitted {
                        o.0.push(t)
                    } else {
                        o.1.push(d)
                    }
                })
                .unwrap();
        }
        pool.run_until_stalled();
        Rc::try_unwrap(out).ok().unwrap().into_inner()
    }

    fn finish_all(pool: &mut LocalPool, leases: &Leases, fake: &Rc<Fake>, tickets: &[Ticket], tokens: u64, release: bool) {
        for t in tickets {
            if let Some(flush) = leases.finish(Rc::new(Store(fake.clone())), "user:1", *t, tokens, release) {
                pool.spawner().spawn_local(flush).unwrap();
            }
        }
        pool.run_until_stalled();
    }

    #[test]
    fn a_burst_admits_exactly_the_limit_with_few_store_calls() {
        let (mut pool, fake, leases) = (LocalPool::new(), Fake::new(), Leases::default());
        let (ok, refused) = burst(&mut pool, &leases, &fake, &day(Some(50), None), 200);
        assert_eq!((ok.len(), refused.len()), (50, 150));
        assert_eq!(fake.requests(), 50);
        assert!(fake.calls.get() < 30, "{} store calls for 200 requests", fake.calls.get());
        let r = &refused[0];
        assert_eq!((r.blocked_by.as_deref(), r.states[0].used_requests), (Some("day"), 50));
        assert!(r.retry_after >= 1);
    }

    #[test]
    fn isolates_share_a_limit_exactly_and_unused_leases_go_back() {
        let (mut pool, fake) = (LocalPool::new(), Fake::new());
        let (a, b) = (Leases::default(), Leases::default());
        let rules = day(Some(1000), None);
        // Warm both up so their leases grow, then interleave bursts.
        let mut admitted = Vec::new();
        for _ in 0..6 {
            admitted.extend(burst(&mut pool, &a, &fake, &rules, 30).0.into_iter().map(|t| (0, t)));
            admitted.extend(burst(&mut pool, &b, &fake, &rules, 20).0.into_iter().map(|t| (1, t)));
        }
        assert_eq!(admitted.len(), 300);
        assert!(fake.requests() >= 300, "leases hold reservations");
        for (i, t) in &admitted {
            finish_all(&mut pool, if *i == 0 { &a } else { &b }, &fake, &[*t], 10, false);
        }
        fake.advance(LEASE_MS + 1);
        pool.run_until_stalled();
        assert_eq!(fake.requests(), 300, "after the leases end, the store counts exactly what was admitted");
        assert_eq!(fake.tokens(), 3000, "and every token");
        assert!(fake.calls.get() < 40, "{} store calls for 300 requests", fake.calls.get());
    }

    #[test]
    fn near_the_limit_two_isolates_get_exactly_what_is_left() {
        let (mut pool, fake) = (LocalPool::new(), Fake::new());
        let (a, b) = (Leases::default(), Leases::default());
        let rules = day(Some(40), None);
        let mut ok = 0;
        for _ in 0..10 {
            ok += burst(&mut pool, &a, &fake, &rules, 7).0.len();
            ok += burst(&mut pool, &b, &fake, &rules, 7).0.len();
        }
        assert_eq!(ok, 40);
        assert_eq!(fake.requests(), 40);
    }

    #[test]
    fn a_release_returns_to_the_lease_and_tokens_block_locally_at_once() {
        let (mut pool, fake, leases) = (LocalPool::new(), Fake::new(), Leases::default());
        let rules = day(Some(2), Some(15));
        let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 1);
        finish_all(&mut pool, &leases, &fake, &ok, 0, true); // never reached an origin
        let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 1);
        assert_eq!(ok.len(), 1, "admitted from the given-back unit");
        assert_eq!(fake.calls.get(), 1, "without asking the store");
        finish_all(&mut pool, &leases, &fake, &ok, 20, false);
        let (ok, refused) = burst(&mut pool, &leases, &fake, &rules, 1);
        assert!(ok.is_empty());
        assert_eq!(refused[0].blocked_by.as_deref(), Some("day"));
        assert_eq!(refused[0].states[0].used_tokens, 20, "the tokens finished here count before they reach the store");
        fake.advance(LEASE_MS + 1);
        pool.run_until_stalled();
        assert_eq!((fake.requests(), fake.tokens()), (1, 20), "the store has the one request and its tokens");
    }

    #[test]
    fn a_budget_bounds_concurrent_spending_by_one_reservation_across_isolates() {
        let (mut pool, fake) = (LocalPool::new(), Fake::new());
        let (a, b) = (Leases::default(), Leases::default());
        let rules = vec![Rule { name: "day".into(), period: Period::Day, max_requests: None, max_tokens: Some(505), reserve: 10 }];
        let (ok_a, _) = burst(&mut pool, &a, &fake, &rules, 100);
        let (ok_b, refused) = burst(&mut pool, &b, &fake, &rules, 100);
        assert_eq!(ok_a.len() + ok_b.len(), 51, "505 holds 50 reservations; the 51st grant crosses it, none after");
        assert_eq!(fake.tokens(), 510);
        assert_eq!(refused[0].blocked_by.as_deref(), Some("day"));
        // They finish costing 7 each (settled with a release: the reservation goes back, the
        // cost replaces it; a unit is never reused for another request).
        finish_all(&mut pool, &a, &fake, &ok_a, 7, true);
        finish_all(&mut pool, &b, &fake, &ok_b, 7, true);
        fake.advance(LEASE_MS + 1);
        pool.run_until_stalled();
        assert_eq!(fake.tokens(), 51 * 7, "the store has exactly what was spent");
        let (more, _) = burst(&mut pool, &a, &fake, &rules, 100);
        assert_eq!(more.len(), 15, "148 left: 14 reservations and the one that crosses");
    }

    #[test]
    fn a_budget_lease_reports_what_is_spent_and_held_without_its_own_unused_units() {
        let (mut pool, fake, leases) = (LocalPool::new(), Fake::new(), Leases::default());
        let rules = vec![Rule { name: "day".into(), period: Period::Day, max_requests: None, max_tokens: Some(100_000), reserve: 10 }];
        for _ in 0..3 {
            let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 4);
            finish_all(&mut pool, &leases, &fake, &ok, 3, true);
        }
        let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 1);
        assert_eq!(ok.len(), 1);
        let (d, _) = futures::executor::block_on(leases.admit(Rc::new(Store(fake.clone())), "user:1", &rules)).unwrap();
        // 12 settled at 3 each (36), two in flight holding 10 each: 56, whatever the lease holds.
        assert_eq!(d.states[0].used_tokens, 56);
    }

    #[test]
    fn an_unreachable_store_fails_every_waiter_and_loses_nothing() {
        let (mut pool, fake, leases) = (LocalPool::new(), Fake::new(), Leases::default());
        let rules = day(Some(100), None);
        let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 1);
        finish_all(&mut pool, &leases, &fake, &ok, 7, false);
        fake.down.set(true);
        fake.advance(LEASE_MS + 1); // the lease ends; its flush fails and will retry
        pool.run_until_stalled();
        let errors = Rc::new(Cell::new(0));
        for _ in 0..5 {
            let (l, s, r, e) = (leases.clone(), Rc::new(Store(fake.clone())) as Rc<dyn LeaseStore>, rules.clone(), errors.clone());
            pool.spawner()
                .spawn_local(async move {
                    let failed = l.admit(s, "user:1", &r).await.is_err();
                    e.set(e.get() + failed as u32)
                })
                .unwrap();
        }
        pool.run_until_stalled();
        assert_eq!(errors.get(), 5);
        fake.down.set(false);
        let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 1);
        assert_eq!(ok.len(), 1);
        assert_eq!(fake.tokens(), 7, "the tokens of the failed calls arrived with the next one");
    }

    #[test]
    fn an_edited_limit_ends_the_lease_and_a_new_window_starts_fresh() {
        let (mut pool, fake, leases) = (LocalPool::new(), Fake::new(), Leases::default());
        for _ in 0..3 {
            burst(&mut pool, &leases, &fake, &day(Some(1000), None), 8);
        }
        let before = fake.calls.get();
        let (ok, _) = burst(&mut pool, &leases, &fake, &day(Some(5), None), 10);
        assert_eq!(fake.calls.get(), before + 1, "new rules: a new lease at once");
        assert!(ok.is_empty(), "24 admitted plus the old lease's reservation exceed the new limit of 5");
        // Next UTC day: the cached refusal no longer applies.
        fake.advance(Period::Day.start(T0) + crate::limits::DAY_MS - T0);
        let (ok, _) = burst(&mut pool, &leases, &fake, &day(Some(5), None), 10);
        assert_eq!(ok.len(), 5);
    }

    #[test]
    fn a_leader_that_goes_away_hands_the_sync_to_the_next_request() {
        let (mut pool, fake, leases) = (LocalPool::new(), Fake::new(), Leases::default());
        let rules = day(Some(10), None);
        let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 1);
        finish_all(&mut pool, &leases, &fake, &ok, 5, false);
        let store: Rc<dyn LeaseStore> = Rc::new(Store(fake.clone()));
        let mut leader = leases.admit(store, "user:1", &rules).boxed_local();
        let waker = futures::task::noop_waker();
        assert!(leader.as_mut().poll(&mut std::task::Context::from_waker(&waker)).is_pending(), "leading a sync");
        drop(leader); // its client went away mid-call
        let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 3);
        assert_eq!(ok.len(), 3, "the next request leads a new sync");
        fake.advance(LEASE_MS + 1);
        pool.run_until_stalled();
        assert_eq!(fake.tokens(), 5, "the abandoned call's tokens were sent with a later one");
    }

    #[test]
    fn a_store_call_that_never_answers_is_given_up_and_the_next_request_leads() {
        let (mut pool, fake, leases) = (LocalPool::new(), Fake::new(), Leases::default());
        let rules = day(Some(10), None);
        fake.hang.set(true);
        let waiting = Rc::new(Cell::new(0));
        for _ in 0..3 {
            let (l, st, r, w) = (leases.clone(), Rc::new(Store(fake.clone())) as Rc<dyn LeaseStore>, rules.clone(), waiting.clone());
            pool.spawner()
                .spawn_local(async move {
                    let _ = l.admit(st, "user:1", &r).await;
                    w.set(w.get() + 1);
                })
                .unwrap();
        }
        pool.run_until_stalled();
        fake.hang.set(false);
        fake.advance(SYNC_STALE_MS + 1);
        pool.run_until_stalled();
        assert_eq!(waiting.get(), 2, "the two waiters gave up; the hung leader still waits on its call");
        let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 2);
        assert_eq!(ok.len(), 2);
    }

    #[test]
    fn a_call_whose_answer_is_lost_never_gives_requests_back_twice() {
        let (mut pool, fake, leases) = (LocalPool::new(), Fake::new(), Leases::default());
        let rules = day(Some(1000), None);
        for _ in 0..4 {
            let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 3);
            finish_all(&mut pool, &leases, &fake, &ok, 0, false);
        }
        let counted = fake.requests();
        assert!(counted > 12, "the lease holds unused requests ({counted} counted for 12 admitted)");
        // The lease ends; its flush gives the unused requests back, but the answer is lost.
        fake.lost_answers.set(true);
        fake.advance(LEASE_MS + 1);
        pool.run_until_stalled();
        fake.lost_answers.set(false);
        fake.advance(2 * LEASE_MS + 2);
        pool.run_until_stalled();
        let (ok, _) = burst(&mut pool, &leases, &fake, &rules, 1);
        assert_eq!(ok.len(), 1);
        assert!(fake.requests() >= 13, "never fewer counted than admitted ({} for 13)", fake.requests());
        assert!(fake.logs.borrow().iter().any(|l| l.contains("stay counted")), "{:?}", fake.logs.borrow());
    }
}
