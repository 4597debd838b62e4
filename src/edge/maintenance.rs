//! The cron trigger: maintenance jobs against Postgres (republishing the routing snapshot when
//! they changed anything), then retention clean-up, then the usage flush. Each step is
//! independent: one failing (e.g. Postgres down) does not stop the others, and nothing is lost.
//! Every subrequest counts against one budget (`maintenance::budget`): the steps after the
//! jobs are reserved before the jobs spend on origins; a step that does not fit waits for the
//! next run (buffered usage stays buffered).

use super::durable::usage_buffer::{self, SHARDS};
use super::pg::with_db;
use super::platform::WorkerPlatform;
use super::snapshot;
use crate::maintenance::budget::{self, Budget, Kind};
use crate::settings::Settings;
use crate::state::db::{Db, Param};
use crate::usage::{INSERT_SQL, RETENTION_AUDIT_SQL, RETENTION_USAGE_SQL};
use worker::{Env, ScheduleContext};

/// Records moved per shard per run: bounds one invocation's work.
const FLUSH_BATCH: usize = 500;

pub async fn run(env: &Env, _ctx: ScheduleContext, scheduled_ms: u64) {
    let platform = WorkerPlatform::new(env.clone(), None);
    let redis = super::redis::from_env(env, super::redis::DEFAULT_TIMEOUT_MS).is_some();
    // The cap is the setting, read on the first connection; until then (or without Postgres)
    // its default.
    let budget = Budget::new(Settings::default().subrequest_budget);
    budget.charge(&[budget::DB]);
    let tail = budget::tail_reserve(redis, SHARDS);
    let jobs = with_db(env, async |db| crate::maintenance::cron::run(db, &platform, scheduled_ms, &budget, tail).await).await;
    budget.release();
    match jobs {
        Ok(report) => {
            worker::console_log!("cron: {} health probes, {} discoveries, changed={}, {} deferred to later runs", report.health.len(), report.discovery.len(), report.changed, report.deferred);
            if report.changed {
                if !budget.try_take(&budget::publish(redis)) {
                    worker::console_error!("cron: no subrequests left to publish the snapshot (the next run republishes)");
                } else if let Err(e) = snapshot::publish(env).await {
                    worker::console_error!("cron: publish failed: {e}");
                }
            }
        }
        Err(e) => worker::console_error!("cron: maintenance failed: {e}"),
    }
    if budget.try_take(&budget::pointer_sync(redis)) {
        snapshot::sync_redis_pointer(env).await;
    }
    if !budget.try_take(&[budget::DB]) {
        worker::console_warn!("cron: no subrequests left for the retention clean-up (the next run does it)");
    } else if let Err(e) = retention(env).await {
        worker::console_error!("cron: retention clean-up failed: {e}");
    }
    // Last: the flush drains as many shards as the rest of the budget allows (one is reserved).
    match flush_usage(env, &budget, scheduled_ms / 60_000).await {
        Ok(n) if n > 0 => worker::console_log!("cron: flushed {n} usage records"),
        Ok(_) => {}
        Err(e) => worker::console_error!("cron: usage flush postponed, records stay buffered: {e}"),
    }
    let u = budget.used();
    worker::console_log!(
        "cron: {} subrequests of {} (origins {}, KV {}, Durable Objects {}, Hyperdrive {}, Redis {})",
        u.total(),
        budget.cap(),
        u.origin,
        u.kv,
        u.durable_objects,
        u.hyperdrive,
        u.redis
    );
}

/// Move buffered usage records into Postgres. A shard's records are acknowledged (deleted
/// from the buffer) only after the insert committed; the insert is idempotent on the id.
/// Shards are visited from one that rotates with the minute, each only when its worst case
/// (drain, insert, ack) fits the budget; the others wait for the next run.
pub async fn flush_usage(env: &Env, budget: &Budget, minute: u64) -> Result<usize, String> {
    let mut total = 0;
    for shard in budget::shard_order(SHARDS, minute) {
        if !budget.try_take(&budget::FLUSH_SHARD) {
            worker::console_warn!("cron: usage shard {shard} and later wait for the next run (subrequest budget)");
            break;
        }
        let records = usage_buffer::drain(env, shard, FLUSH_BATCH).await.map_err(|e| e.to_string())?;
        if records.is_empty() {
            budget.refund(Kind::Hyperdrive, 1);
            budget.refund(Kind::DurableObject, 1);
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
