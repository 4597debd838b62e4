//! This isolate's circuit breakers (the fast path: routing reads them, no call per request)
//! and their link to the shared view in the Breakers Durable Object: their state changes ride
//! to it in one call per 100 ms (`batch`; none while nothing changes), its answer (what is open
//! anywhere, admin clears) is adopted here, and a background refresh with the snapshot check
//! keeps every isolate current.

use super::batch::{self, Batch};
use super::durable::breakers::{self as shared, View};
use crate::origins::failure::Scope;
use crate::routing::breaker::{Breakers, Change, Config, Gate, Outcome};
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
    static REPORTS: RefCell<Batch<Change>> = const { RefCell::new(Batch::new()) };
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

/// Record here at once; a state change is queued for the shared view, and the returned
/// future (for the change that opens a batch) sends the batch.
pub fn record(env: &Env, node: i64, model: &str, scope: Scope, outcome: &Outcome, now: u64) -> Option<LocalBoxFuture<'static, ()>> {
    let changes = LOCAL.with(|l| l.borrow_mut().record_changes(node, model, scope, outcome, now));
    let mut send = None;
    for change in changes {
        let env = env.clone();
        let opened = batch::push(&REPORTS, change, REPORT_BATCH_MS, move |changes| async move {
            match shared::report(&env, &changes).await {
                Ok(view) => adopt(view),
                Err(e) => worker::console_warn!("{} circuit-breaker changes not shared (this isolate still uses them): {e}", changes.len()),
            }
        });
        send = send.or(opened);
    }
    send
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

/// Background, with the snapshot check: what other isolates learnt, unless a report's answer
/// told us recently.
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
