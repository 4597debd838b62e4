//! This isolate's circuit breakers (the fast path: routing reads them, no call per request)
//! and their link to the shared view in the Breakers Durable Object: outcomes ride to it in
//! one call per 100 ms (`batch`), its answer (what is open anywhere, admin clears) is adopted
//! here, and a background refresh with the snapshot check keeps a quiet isolate current.

use super::batch::{self, Batch};
use super::durable::breakers::{self as shared, Report, ReportMsg, View};
use crate::origins::failure::Scope;
use crate::routing::breaker::{Breakers, Config, Gate, Outcome};
use crate::settings::Settings;
use futures::future::LocalBoxFuture;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use worker::Env;

const REPORT_BATCH_MS: u64 = 100;

thread_local! {
    static LOCAL: RefCell<Breakers> = RefCell::new(Breakers::default());
    /// The latest admin clear applied here, per node.
    static CLEARED: RefCell<HashMap<i64, u64>> = RefCell::new(HashMap::new());
    static REPORTS: RefCell<Batch<Report>> = const { RefCell::new(Batch::new()) };
    /// When this isolate last heard the shared view (a report's answer counts).
    static SYNCED_MS: Cell<f64> = const { Cell::new(0.0) };
}

pub fn config(s: &Settings) -> Config {
    Config {
        min_requests: s.breaker_min_requests,
        failure_pct: s.breaker_failure_pct,
        window_ms: s.breaker_window_ms,
        open_ms: s.cooldown_ms,
        retry_after_max_ms: s.retry_after_max_ms,
        // A probe's outcome comes within the first-byte deadline, or its isolate died.
        probe_stale_ms: s.ttfb_ms + 5_000,
    }
}

pub fn configure(cfg: Config) {
    LOCAL.with(|l| l.borrow_mut().cfg = cfg);
}

pub fn gate(node: i64, model: &str, now: u64) -> Gate {
    LOCAL.with(|l| l.borrow_mut().gate(node, model, now))
}

pub fn claim(node: i64, model: &str, now: u64, force: bool) -> bool {
    LOCAL.with(|l| l.borrow_mut().claim(node, model, now, force))
}

/// Record here at once; the returned future (for the request that opens a batch) sends it.
pub fn record(env: &Env, node: i64, model: &str, scope: Scope, outcome: &Outcome, now: u64) -> Option<LocalBoxFuture<'static, ()>> {
    LOCAL.with(|l| l.borrow_mut().record(node, model, scope, outcome, now));
    let report = Report { node_id: node, model: model.to_string(), scope, outcome: outcome.clone(), at_ms: now };
    let env = env.clone();
    batch::push(&REPORTS, report, REPORT_BATCH_MS, move |reports| async move {
        let cfg = LOCAL.with(|l| l.borrow().cfg);
        match shared::report(&env, &ReportMsg { cfg, reports }).await {
            Ok(view) => adopt(view),
            Err(e) => worker::console_warn!("circuit-breaker reports not shared (this isolate still uses them): {e}"),
        }
    })
}

fn adopt(view: View) {
    let now = js_sys::Date::now() as u64;
    SYNCED_MS.with(|s| s.set(now as f64));
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        CLEARED.with(|c| {
            let mut c = c.borrow_mut();
            for (node, at) in &view.clears {
                let Ok(node) = node.parse::<i64>() else { continue };
                if c.get(&node).is_none_or(|seen| seen < at) {
                    c.insert(node, *at);
                    l.clear_node(node);
                }
            }
        });
        for e in &view.open {
            // Open before the node's latest clear: that clear already ended it.
            if CLEARED.with(|c| c.borrow().get(&e.key.node_id()).is_some_and(|at| *at >= e.failed_at_ms)) {
                continue;
            }
            l.adopt(e, now);
        }
    });
}

/// Background: what other isolates learnt, unless a report's answer told us recently.
pub async fn refresh(env: &Env, every_ms: u64) {
    let now = js_sys::Date::now();
    if now - SYNCED_MS.with(|s| s.get()) < every_ms as f64 {
        return;
    }
    match shared::view(env).await {
        Ok(view) => adopt(view),
        Err(e) => worker::console_warn!("circuit-breaker view unavailable, using this isolate's: {e}"),
    }
}

/// An admin health check or toggle: forget the node here and everywhere.
pub async fn clear(env: &Env, node: i64) {
    LOCAL.with(|l| l.borrow_mut().clear_node(node));
    match shared::clear(env, node).await {
        Ok(view) => adopt(view),
        Err(e) => worker::console_error!("circuit breakers of node {node} cleared in this isolate only: {e}"),
    }
}
