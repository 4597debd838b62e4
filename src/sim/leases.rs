//! Limit accuracy under leases: the real `limits::lease::Leases` of many isolates against one
//! store per scope (`limits::sync` on windows in memory), on a virtual clock. Requests of each
//! limited user land on random isolates; the run checks that no scope ever admits more than its
//! limit, that after the leases end the store counts exactly what was admitted, and measures the
//! store calls per scope per second (the Limiter object's load).

use super::rng::Rng;
use crate::limits::lease::{LeaseStore, Leases, LEASE_MS};
use crate::limits::{sync, Grant, Period, Rule, SyncMsg, Window};
use futures::executor::LocalPool;
use futures::future::LocalBoxFuture;
use futures::task::LocalSpawnExt;
use futures::FutureExt;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::task::{Poll, Waker};

const T0: u64 = 1_790_000_000_000;

#[derive(Default)]
struct Clock {
    now: Cell<u64>,
    sleepers: RefCell<Vec<(u64, Waker)>>,
    windows: RefCell<HashMap<String, Window>>,
    /// Store calls per scope, per virtual second.
    calls: RefCell<HashMap<(String, u64), u32>>,
}

struct Store(Rc<Clock>);

impl LeaseStore for Store {
    fn sync(&self, scope: &str, msg: SyncMsg) -> LocalBoxFuture<'static, Result<Grant, String>> {
        let c = self.0.clone();
        let scope = scope.to_string();
        let mut yielded = false;
        // Answers on the next poll, so concurrent requests really overlap with the call.
        futures::future::poll_fn(move |cx| {
            if !yielded {
                yielded = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let sec = (c.now.get() - T0) / 1000;
            *c.calls.borrow_mut().entry((scope.clone(), sec)).or_default() += 1;
            let key = |name: &str| format!("{scope}/{name}");
            let (g, w) = sync(&msg, |name| c.windows.borrow().get(&key(name)).copied().unwrap_or_default());
            let mut windows = c.windows.borrow_mut();
            for (name, win) in w {
                windows.insert(key(&name), win);
            }
            Poll::Ready(Ok(g))
        })
        .boxed_local()
    }
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        let c = self.0.clone();
        let until = c.now.get() + ms;
        let mut first = true;
        futures::future::poll_fn(move |cx| {
            if std::mem::take(&mut first) && ms <= 1 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if c.now.get() >= until {
                Poll::Ready(())
            } else {
                c.sleepers.borrow_mut().push((until, cx.waker().clone()));
                Poll::Pending
            }
        })
        .boxed_local()
    }
    fn now_ms(&self) -> u64 {
        self.0.now.get()
    }
    fn log(&self, _: &str) {}
}

#[derive(Debug, Clone)]
pub struct LimitsConfig {
    pub isolates: usize,
    pub users: usize,
    /// Requests per second of each limited user.
    pub user_rps: f64,
    /// Each user's daily request limit.
    pub limit: u64,
    /// Also one per-minute model scope shared by every request (a `model:` limit).
    pub model_limit: Option<u64>,
    pub secs: u64,
    pub seed: u64,
}

#[derive(Debug, Clone, Default)]
pub struct LimitsReport {
    pub requests: u64,
    pub admitted: u64,
    /// Most admitted by any scope beyond its limit (must be 0).
    pub overshoot: u64,
    /// Scopes whose store count, after the leases ended, differs from what was admitted.
    pub miscounted: usize,
    /// Largest shortfall below the limit at the end of the run over users with demand left
    /// (requests refused while other isolates held leases), in requests.
    pub undershoot: u64,
    pub max_user_calls_per_s: u32,
    pub max_model_calls_per_s: u32,
}

pub fn run(cfg: &LimitsConfig) -> LimitsReport {
    let clock = Rc::new(Clock::default());
    clock.now.set(T0);
    let mut pool = LocalPool::new();
    let leases: Vec<Leases> = (0..cfg.isolates).map(|_| Leases::default()).collect();
    let mut rng = Rng(cfg.seed);
    let admitted: Rc<RefCell<HashMap<String, u64>>> = Rc::default();
    let user_rules = vec![Rule { name: "day".into(), period: Period::Day, max_requests: Some(cfg.limit), max_tokens: None, reserve: 0 }];
    let model_rules = cfg.model_limit.map(|m| vec![Rule { name: "minute".into(), period: Period::Minute, max_requests: Some(m), max_tokens: None, reserve: 0 }]);
    let step = 10u64;
    let per_step = cfg.user_rps * cfg.users as f64 * step as f64 / 1000.0;
    let mut requests = 0u64;
    let mut carry = 0.0;
    for _ in 0..(cfg.secs * 1000 / step) {
        carry += per_step;
        while carry >= 1.0 {
            carry -= 1.0;
            requests += 1;
            let iso = rng.below(cfg.isolates as u64) as usize;
            let user = format!("user:{}", rng.below(cfg.users as u64));
            let mut scopes = vec![(user, user_rules.clone())];
            if let Some(r) = &model_rules {
                scopes.push(("model:all".to_string(), r.clone()));
            }
            let (l, c, adm) = (leases[iso].clone(), clock.clone(), admitted.clone());
            pool.spawner()
                .spawn_local(async move {
                    // As the gateway does: every scope of the request must admit it.
                    let mut tickets = Vec::new();
                    for (scope, rules) in &scopes {
                        let (d, t) = l.admit(Rc::new(Store(c.clone())), scope, rules).await.expect("store up");
                        if !d.admitted {
                            break;
                        }
                        tickets.push((scope.clone(), t));
                    }
                    let all = tickets.len() == scopes.len();
                    if all {
                        for (scope, _) in &tickets {
                            *adm.borrow_mut().entry(scope.clone()).or_default() += 1;
                        }
                    }
                    // Half a second later the answer is done (or, refused by a later scope, the
                    // earlier scopes' units go back).
                    Store(c.clone()).sleep(500).await;
                    for (scope, t) in tickets {
                        if let Some(flush) = l.finish(Rc::new(Store(c.clone())), &scope, t, 10, !all) {
                            flush.await;
                        }
                    }
                })
                .expect("spawn");
        }
        pool.run_until_stalled();
        advance(&clock, step);
        pool.run_until_stalled();
    }
    // Let every lease end and every flush run.
    for _ in 0..((LEASE_MS * 3 + 2000) / step) {
        advance(&clock, step);
        pool.run_until_stalled();
    }
    let adm = admitted.borrow();
    let windows = clock.windows.borrow();
    let mut rep = LimitsReport { requests, ..Default::default() };
    for (scope, n) in adm.iter() {
        let (limit, rule) = if scope.starts_with("model:") { (cfg.model_limit.unwrap_or(u64::MAX), "minute") } else { (cfg.limit, "day") };
        let counted = windows.get(&format!("{scope}/{rule}")).map(|w| w.requests).unwrap_or(0);
        if scope.starts_with("user:") {
            rep.admitted += n;
            rep.undershoot = rep.undershoot.max(limit.saturating_sub(*n));
        }
        // Minute windows roll over during the run: exactness is checked on the day scopes.
        if rule == "day" && counted != *n {
            rep.miscounted += 1;
        }
        rep.overshoot = rep.overshoot.max(n.saturating_sub(if rule == "day" { limit } else { u64::MAX }));
    }
    for ((scope, _), n) in clock.calls.borrow().iter() {
        if scope.starts_with("model:") {
            rep.max_model_calls_per_s = rep.max_model_calls_per_s.max(*n);
        } else {
            rep.max_user_calls_per_s = rep.max_user_calls_per_s.max(*n);
        }
    }
    rep
}

fn advance(c: &Clock, ms: u64) {
    c.now.set(c.now.get() + ms);
    let now = c.now.get();
    let due: Vec<Waker> = {
        let mut s = c.sleepers.borrow_mut();
        let (due, keep): (Vec<_>, Vec<_>) = s.drain(..).partition(|(t, _)| *t <= now);
        *s = keep;
        due.into_iter().map(|(_, w)| w).collect()
    };
    for w in due {
        w.wake();
    }
}
