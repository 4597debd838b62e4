//! The cron trigger: maintenance jobs against Postgres (republishing the routing snapshot when
//! they changed anything), then retention clean-up, then the usage flush. Each step is
//! independent: one failing (e.g. Postgres down) does not stop the others, and nothing is lost.
//! Every subrequest counts against one budget (`maintenance::budget`): the steps after the
//! jobs are reserved before the jobs spend on origins; a step that does not fit waits for the
//! next run (buffered usage stays buffered).

use super::durable::usage_buffer;
use crate::state::usage_shards::{BACKLOG_ALERT, KICK_SHARDS};
use super::pg::with_db;
use super::platform::WorkerPlatform;
use super::snapshot;
use crate::maintenance::budget::{self, Budget, Kind};
use crate::settings::Settings;
use crate::state::db::{Db, Param};
use crate::usage::{RETENTION_AUDIT_SQL, RETENTION_USAGE_SQL};
use worker::{Env, ScheduleContext};

pub async fn run(env: &Env, _ctx: ScheduleContext, scheduled_ms: u64) {
    let platform = WorkerPlatform::new(env.clone(), None);
    let redis = super::redis::from_env(env, super::redis::DEFAULT_TIMEOUT_MS).is_some();
    // The cap is the setting, read on the first connection; until then (or without Postgres)
    // its default.
    let budget = Budget::new(Settings::default().subrequest_budget);
    budget.charge(&[budget::DB]);
    // Alerts (below) keep a few subrequests of their own, so many nodes to probe never starve them.
    let tail = budget::tail_reserve(redis, KICK_SHARDS) + crate::observe::alerts::CRON_RESERVE;
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
    } else if let Err(e) = retention(env, &platform, &budget, scheduled_ms).await {
        worker::console_error!("cron: retention clean-up failed: {e}");
    }
    // Last: kick as many usage shards as the rest of the budget allows (one is reserved); the
    // shards flush themselves anyway, the kick only makes sure none waits on its alarm.
    let flush = flush_usage(env, &budget, scheduled_ms / 60_000).await;
    if flush.flushed + flush.quarantined > 0 {
        worker::console_log!("cron: flushed {} usage records ({} quarantined)", flush.flushed, flush.quarantined);
    }
    for e in &flush.errors {
        worker::console_error!("cron: usage flush postponed, records stay buffered: {e}");
    }
    if flush.deferred > 0 {
        worker::console_warn!("cron: {} usage shards not kicked this run (subrequest budget; their own alarms flush them)", flush.deferred);
    }
    if flush.backlog >= BACKLOG_ALERT {
        worker::console_error!("ALERT usage backlog {} records (alert at {BACKLOG_ALERT}): Postgres is not keeping up or is down", flush.backlog);
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

#[derive(Debug, Default)]
pub struct FlushSummary {
    pub flushed: usize,
    pub quarantined: usize,
    pub backlog: u64,
    /// Shards the budget left out this run.
    pub deferred: u32,
    /// One line per shard that could not flush (the others went ahead).
    pub errors: Vec<String>,
}

/// Kick the usage shards at once, from one that rotates with the minute, as many as the budget
/// allows (one Durable Object call each: the records travel from the shards to Postgres, not
/// through this invocation). Each flushes now, acknowledging records only after Postgres
/// committed them (inserts are idempotent on the id), and answers with its backlog. A shard
/// that fails never holds back another.
pub async fn flush_usage(env: &Env, budget: &Budget, minute: u64) -> FlushSummary {
    let mut sum = FlushSummary::default();
    let mut shards = Vec::new();
    for shard in budget::shard_order(KICK_SHARDS, minute) {
        if budget.try_take(&[(Kind::DurableObject, 1)]) {
            shards.push(shard);
        } else {
            sum.deferred += 1;
        }
    }
    let kicks = shards.into_iter().map(|shard| async move { (shard, usage_buffer::flush(env, shard).await) });
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

async fn retention(env: &Env, platform: &WorkerPlatform, budget: &Budget, scheduled_ms: u64) -> Result<(), String> {
    // Alerts share this connection (breakers that opened, the digest, deliveries, their own
    // retention); their Breakers call is in the tail reserve (`observe::alerts::CRON_RESERVE`).
    let openings = super::observe::take_openings(env, budget).await;
    with_db(env, async |db| {
        let s = crate::admin::settings::current(db).await?;
        db.exec(RETENTION_USAGE_SQL, &[Param::Int(Some(s.retention_usage_days as i64))]).await?;
        db.exec(RETENTION_AUDIT_SQL, &[Param::Int(Some(s.retention_audit_days as i64))]).await?;
        // Budget threshold crossings, on this connection (no subrequest of their own).
        let events = db.exec(crate::costs::alerts::RECORD_SQL, &[]).await?;
        if events > 0 {
            worker::console_log!("budgets: {events} threshold crossing(s) recorded in budget_events");
        }
        alerts_step(db, platform, budget, &openings, scheduled_ms).await;
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())
}

/// The cron's alert step (see `observe::cron`) on the clean-up's connection: deliveries within
/// what the budget leaves. Logs instead of failing: the clean-up around it goes on.
async fn alerts_step(db: &super::pg::Pg<'_>, platform: &super::platform::WorkerPlatform, budget: &crate::maintenance::budget::Budget, openings: &[crate::routing::breaker::OpenEntry], scheduled_ms: u64) {
    let secret = platform.env().secret("ALERT_WEBHOOK_SECRET").map(|s| s.to_string().into_bytes()).ok().filter(|s| !s.is_empty());
    // The reserved usage-shard flush runs after this step: deliveries leave it its subrequests.
    let keep = crate::maintenance::budget::FLUSH_SHARDS_RESERVED * crate::maintenance::budget::FLUSH_SHARD.iter().map(|c| c.1).sum::<u32>();
    match crate::observe::cron(db, platform, budget, keep, openings, secret.as_deref(), scheduled_ms).await {
        Ok(r) => {
            let d = &r.drained;
            if r.breaker_alerts + r.budget_alerts + d.delivered + d.retrying + d.failed + d.unrouted > 0 || r.digest {
                worker::console_log!("cron: alerts: {} breaker openings, {} budget crossings, digest queued={}, {} delivered, {} retrying, {} given up, {} without a URL", r.breaker_alerts, r.budget_alerts, r.digest, d.delivered, d.retrying, d.failed, d.unrouted);
            }
            if secret.is_none() && d.delivered + d.retrying > 0 {
                worker::console_warn!("cron: alerts are sent unsigned: set the ALERT_WEBHOOK_SECRET secret");
            }
        }
        Err(e) => worker::console_error!("cron: alerts failed (they stay queued): {e}"),
    }
}
