//! One cron run: health probes for every active node, discovery on its interval (or for nodes
//! never discovered), and a report saying whether routing state changed.

use super::{discovery, health};
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
    pub changed: bool,
}

pub async fn run<D: Db, P: Platform>(db: &D, p: &P, scheduled_ms: u64) -> Result<Report, GatewayError> {
    let settings = current(db).await?;
    let nodes: Vec<_> = rows(db, None).await?.into_iter().filter(|n| n.active).collect();
    let mut report = Report::default();
    for node in &nodes {
        let h = health::check(db, p, node, &settings).await?;
        report.changed |= h.changed;
        report.health.push(h);
    }
    let minute = scheduled_ms / 60_000;
    let due = minute % settings.discovery_interval_minutes.max(1) as u64 == 0;
    for node in &nodes {
        let never = db
            .json("SELECT to_json(NOT EXISTS (SELECT 1 FROM node_models WHERE node_id = $1::bigint))", &[Param::Int(Some(node.id))])
            .await?
            .as_bool()
            .unwrap_or(true);
        if due || never {
            let d = discovery::discover(db, p, node).await?;
            report.changed |= d.changed();
            report.discovery.push(d);
        }
    }
    Ok(report)
}
