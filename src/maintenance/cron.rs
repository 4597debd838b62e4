//! One cron run: health probes for every active node, discovery on its interval (or for nodes
//! never discovered), warm-up, all within a subrequest budget (Workers cap the calls one
//! invocation may make). Nodes are visited in an order that rotates every run, so when the
//! budget runs out the next runs pick up the rest.

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
}

/// `/api/show` calls discovery may add per node, counted against the budget up front.
const DISCOVERY_COST: u32 = 9;

pub async fn run<D: Db, P: Platform>(db: &D, p: &P, scheduled_ms: u64) -> Result<Report, GatewayError> {
    let settings = current(db).await?;
    let mut nodes: Vec<_> = rows(db, None).await?.into_iter().filter(|n| n.active).collect();
    let minute = scheduled_ms / 60_000;
    let mut budget = settings.subrequest_budget;
    if !nodes.is_empty() {
        // Start where the previous minute's run stopped, so a short budget still reaches every
        // node within ceil(nodes / budget) runs.
        let k = ((minute * budget.max(1) as u64) % nodes.len() as u64) as usize;
        nodes.rotate_left(k);
    }
    let mut report = Report::default();
    for node in &nodes {
        if budget == 0 {
            report.deferred += 1;
            continue;
        }
        budget -= 1;
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
        if budget < DISCOVERY_COST {
            report.deferred += 1;
            continue;
        }
        budget -= DISCOVERY_COST;
        let d = discovery::discover(db, p, node).await?;
        report.changed |= d.changed();
        report.discovery.push(d);
    }
    let busy = if nodes.iter().any(|n| n.warmup) {
        match p.active_streams().await {
            Ok(b) => Some(b),
            Err(e) => {
                crate::platform_log(&format!("cron: stream counts unavailable, skipping warm-up: {e}"));
                None
            }
        }
    } else {
        None
    };
    if let Some(busy) = busy {
        for node in nodes.iter().filter(|n| n.warmup) {
            let w = warmup::warm(db, p, node, &settings, busy.get(&node.id).copied().unwrap_or(0), &mut budget).await?;
            report.changed |= w.changed;
            report.warmup.push(w);
        }
    }
    report.budget_left = budget;
    Ok(report)
}
