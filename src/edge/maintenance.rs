//! The cron trigger: run the maintenance jobs against Postgres, republish the routing snapshot
//! when they changed anything.

use super::pg::with_db;
use super::platform::WorkerPlatform;
use super::snapshot;
use worker::{Env, ScheduleContext};

pub async fn run(env: &Env, _ctx: ScheduleContext, scheduled_ms: u64) {
    let platform = WorkerPlatform::new(env.clone(), None);
    match with_db(env, async |db| crate::maintenance::cron::run(db, &platform, scheduled_ms).await).await {
        Ok(report) => {
            worker::console_log!("cron: {} health probes, {} discoveries, changed={}", report.health.len(), report.discovery.len(), report.changed);
            if report.changed {
                if let Err(e) = snapshot::publish(env).await {
                    worker::console_error!("cron: publish failed: {e}");
                }
            }
        }
        Err(e) => worker::console_error!("cron: maintenance failed: {e}"),
    }
}
