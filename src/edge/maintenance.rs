//! The cron trigger: maintenance jobs against Postgres (republishing the routing snapshot when
//! they changed anything), then the usage flush, then retention clean-up. Each step is
//! independent: one failing (e.g. Postgres down) does not stop the others, and nothing is lost.

use super::durable::usage_buffer;
use crate::state::usage_shards::{BACKLOG_ALERT, KICK_SHARDS};
use super::pg::with_db;
use super::platform::WorkerPlatform;
use super::snapshot;
use crate::state::db::{Db, Param};
use crate::usage::{RETENTION_AUDIT_SQL, RETENTION_USAGE_SQL};
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
    snapshot::sync_redis_pointer(env).await;
    // A Coordinator replica a publish could not reach gets the version now (33 calls).
    if let Err(e) = super::durable::coordinator::reassert(env).await {
        worker::console_warn!("cron: snapshot version replicas not re-asserted: {e}");
    }
    let flush = flush_usage(env).await;
    if flush.flushed + flush.quarantined > 0 {
        worker::console_log!("cron: flushed {} usage records ({} quarantined)", flush.flushed, flush.quarantined);
    }
    for e in &flush.errors {
        worker::console_error!("cron: usage flush postponed, records stay buffered: {e}");
    }
    if flush.backlog >= BACKLOG_ALERT {
        worker::console_error!("ALERT usage backlog {} records (alert at {BACKLOG_ALERT}): Postgres is not keeping up or is down", flush.backlog);
    }
    if let Err(e) = retention(env).await {
        worker::console_error!("cron: retention clean-up failed: {e}");
    }
}

#[derive(Debug, Default)]
pub struct FlushSummary {
    pub flushed: usize,
    pub quarantined: usize,
    pub backlog: u64,
    /// One line per shard that could not flush (the others went ahead).
    pub errors: Vec<String>,
}

/// Kick every usage shard at once: each flushes itself (records are acknowledged only after
/// Postgres committed them, inserts are idempotent on the id) and answers with its backlog.
/// A shard that fails never holds back another. Costs one subrequest per shard; the records
/// themselves travel from the shards, not through this invocation.
pub async fn flush_usage(env: &Env) -> FlushSummary {
    let kicks = (0..KICK_SHARDS).map(|shard| async move { (shard, usage_buffer::flush(env, shard).await) });
    let mut sum = FlushSummary::default();
    for (shard, r) in futures::future::join_all(kicks).await {
        match r {
            Ok(s) => {
                sum.flushed += s.flushed;
                sum.quarantined += s.quarantined;
                sum.backlog += s.backlog;
                if let Some(e) = s.error {
                    sum.errors.push(format!("shard {shard}: {e}"));
                }
            }
            Err(e) => sum.errors.push(format!("shard {shard}: {e}")),
        }
    }
    sum
}

async fn retention(env: &Env) -> Result<(), String> {
    with_db(env, async |db| {
        let s = crate::admin::settings::current(db).await?;
        db.exec(RETENTION_USAGE_SQL, &[Param::Int(Some(s.retention_usage_days as i64))]).await?;
        db.exec(RETENTION_AUDIT_SQL, &[Param::Int(Some(s.retention_audit_days as i64))]).await?;
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())
}
