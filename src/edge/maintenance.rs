//! The cron trigger: maintenance jobs against Postgres (republishing the routing snapshot when
//! they changed anything), then the usage flush, then retention clean-up. Each step is
//! independent: one failing (e.g. Postgres down) does not stop the others, and nothing is lost.

use super::durable::usage_buffer::{self, SHARDS};
use super::pg::with_db;
use super::platform::WorkerPlatform;
use super::snapshot;
use crate::state::db::{Db, Param};
use crate::usage::{INSERT_SQL, RETENTION_AUDIT_SQL, RETENTION_USAGE_SQL};
use worker::{Env, ScheduleContext};

/// Records moved per shard per run (4 shards): bounds one invocation's work.
const FLUSH_BATCH: usize = 500;

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
    match flush_usage(env).await {
        Ok(n) if n > 0 => worker::console_log!("cron: flushed {n} usage records"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: usage flush postponed, records stay buffered: {e}"),
    }
    if let Err(e) = retention(env).await {
        worker::console_error!("cron: retention clean-up failed: {e}");
    }
}

/// Move buffered usage records into Postgres. A shard's records are acknowledged (deleted
/// from the buffer) only after the insert committed; the insert is idempotent on the id.
pub async fn flush_usage(env: &Env) -> Result<usize, String> {
    let mut total = 0;
    for shard in 0..SHARDS {
        let records = usage_buffer::drain(env, shard, FLUSH_BATCH).await.map_err(|e| e.to_string())?;
        if records.is_empty() {
            continue;
        }
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let batch = serde_json::to_value(&records).map_err(|e| e.to_string())?;
        with_db(env, async |db| Ok(db.exec(INSERT_SQL, &[Param::Json(Some(batch))]).await?)).await.map_err(|e| e.to_string())?;
        usage_buffer::ack(env, shard, ids).await.map_err(|e| e.to_string())?;
        total += records.len();
    }
    Ok(total)
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
