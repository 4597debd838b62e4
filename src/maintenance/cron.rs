//! One cron run: health probes for every active node, discovery on its interval (or for nodes
//! never discovered), warm-up, all within the invocation's subrequest budget (`budget`; the
//! steps after these jobs are reserved first). Nodes are visited in an order that rotates every
//! run, so when the budget runs out the next runs pick up the rest.

use super::budget::{Budget, Kind, Used};
use super::{discovery, health, warmup};
use crate::admin::nodes::rows;
use crate::admin::settings::current;
use crate::error::GatewayError;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde::Serialize;

#[derive(Debug, Serialize, Default)]
pub struct Report {
    pub health: Vec<health::Report>,
    pub discovery: Vec<discovery::Report>,
    pub warmup: Vec<warmup::Report>,
    pub changed: bool,
    pub budget_left: u32,
    pub deferred: usize,
    /// Subrequests of this run so far, by kind (the connection that ran these jobs included).
    pub subrequests: Used,
}

/// `/api/show` calls discovery may add per node, counted against the budget up front.
const DISCOVERY_COST: u32 = 9;

/// `budget` has counted what the invocation spent before (this job's connection); `tail` is kept
/// for the steps after it (see `budget::tail_reserve`) and is still reserved on return.
pub async fn run<D: Db, P: Platform>(db: &D, p: &P, scheduled_ms: u64, budget: &Budget, tail: u32) -> Result<Report, GatewayError> {
    let settings = current(db).await?;
    budget.set_cap(settings.subrequest_budget);
    budget.reserve(tail);
    let mut nodes: Vec<_> = rows(db, None).await?.into_iter().filter(|n| n.active).collect();
    let minute = scheduled_ms / 60_000;
    if !nodes.is_empty() {
        // Start where the previous minute's run stopped, so a short budget still reaches every
        // node within ceil(nodes / budget) runs.
        let k = ((minute * budget.left().max(1) as u64) % nodes.len() as u64) as usize;
        nodes.rotate_left(k);
    }
    let mut report = Report::default();
    for node in &nodes {
        if !budget.try_take(&[(Kind::Origin, 1)]) {
            report.deferred += 1;
            continue;
        }
        let h = health::check(db, p, node, &settings).await?;
        report.changed |= h.changed;
        report.health.push(h);
    }
    let due = minute % settings.discovery_interval_minutes.max(1) as u64 == 0;
    for node in &nodes {
        let never = db
            .json("SELECT to_json(NOT EXISTS (SELECT 1 FROM node_models WHERE node_id = $1::bigint))", &[Param::Int(Some(node.id))])
            .await?
            .as_bool()
            .unwrap_or(true);
        if !(due || never) {
            continue;
        }
        if !budget.try_take(&[(Kind::Origin, DISCOVERY_COST)]) {
            report.deferred += 1;
            continue;
        }
        let d = discovery::discover(db, p, node).await?;
        report.changed |= d.changed();
        report.discovery.push(d);
    }
    // The stream counts are a Durable Object call of their own.
    let busy = if !nodes.iter().any(|n| n.warmup) {
        None
    } else if !budget.try_take(&[(Kind::DurableObject, 1)]) {
        report.deferred += nodes.iter().filter(|n| n.warmup).count();
        None
    } else {
        match p.active_streams().await {
            Ok(b) => Some(b),
            Err(e) => {
                crate::log::platform_log(&format!("cron: stream counts unavailable, skipping warm-up: {e}"));
                None
            }
        }
    };
    if let Some(busy) = busy {
        for node in nodes.iter().filter(|n| n.warmup) {
            let w = warmup::warm(db, p, node, &settings, busy.get(&node.id).copied().unwrap_or(0), budget).await?;
            report.changed |= w.changed;
            report.warmup.push(w);
        }
    }
    report.budget_left = budget.left();
    report.subrequests = budget.used();
    Ok(report)
}
