//! Observability: alerts (a signed-webhook outbox drained by the cron), `GET /metrics`
//! (Prometheus text from aggregates the usage flush keeps), OpenTelemetry spans and Workers
//! Analytics Engine datapoints per request (batched per isolate, sent with `waitUntil`), and
//! optional payload logging. The Worker glue is `edge/observe.rs`; this is the portable part.
//!
//! Zero cost when off: with `otel.endpoint` unset, no `ANALYTICS` binding and
//! `payload_log.enabled` false, a request pays a branch for each (the metrics cost nothing per
//! request: they are rolled up by the usage flush, off the request path).

pub mod alerts;
pub mod config;
pub mod digest;
pub mod entry;
pub mod kinds;
pub mod metrics;
pub mod otel;
pub mod payload;

pub use config::ObserveSettings;

use crate::maintenance::budget::{Budget, Kind};
use crate::platform::Platform;
use crate::routing::breaker::{Key, OpenEntry};
use crate::state::db::{Db, Param};
use serde::Serialize;

/// Webhook deliveries one cron run makes at most (each is one subrequest).
pub const DELIVERIES_MAX: u32 = 20;
/// One delivery waits this long for its receiver.
pub const DELIVERY_TIMEOUT_MS: u64 = 5_000;

#[derive(Debug, Default, Serialize)]
pub struct CronReport {
    pub breaker_alerts: u32,
    /// Budget crossings moved from the cost module's `budget_events`.
    pub budget_alerts: u32,
    pub digest: bool,
    pub drained: alerts::Drained,
}

/// The cron's observability step, on one connection: alerts for breakers that opened since
/// the last run (`openings`, from the Breakers object), the daily digest when due, delivery of
/// due alerts within the budget (leaving `keep` subrequests for the steps after this one), then
/// retention of alerts and payload logs.
pub async fn cron<D: Db, P: Platform>(db: &D, p: &P, budget: &Budget, keep: u32, openings: &[OpenEntry], secret: Option<&[u8]>, scheduled_ms: u64) -> Result<CronReport, crate::error::GatewayError> {
    let settings = crate::admin::settings::current(db).await?;
    let s = &settings.observe;
    let mut report = CronReport::default();
    for o in openings {
        let model = match &o.key {
            Key::Node(_) => None,
            Key::Pair(_, m) => Some(m.as_str()),
        };
        if alerts::raise(db, &alerts::Alert::breaker_open(o.key.node_id(), model, &o.reason, o.failed_at_ms, o.until_ms)).await? {
            report.breaker_alerts += 1;
        }
    }
    if db.json(alerts::HAS_BUDGET_EVENTS_SQL, &[]).await?.as_bool().unwrap_or(false) {
        report.budget_alerts = db.exec(alerts::BUDGET_BRIDGE_SQL, &[]).await? as u32;
    }
    report.digest = digest::run(db, scheduled_ms, s.digest_hour_utc).await?;
    let n = budget.left().saturating_sub(keep).min(DELIVERIES_MAX);
    if budget.try_take(&[(Kind::Origin, n)]) {
        report.drained = alerts::drain(db, p, s, secret, n, scheduled_ms, DELIVERY_TIMEOUT_MS).await?;
        let used = report.drained.delivered + report.drained.retrying + report.drained.failed;
        budget.refund(Kind::Origin, n - used.min(n));
    }
    db.exec(alerts::RETENTION_SQL, &[]).await?;
    db.exec(payload::RETENTION_SQL, &[Param::Int(Some(s.payload.retention_days.max(1) as i64))]).await?;
    Ok(report)
}
