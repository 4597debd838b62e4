//! Health probes with hysteresis: a node turns unhealthy after N consecutive failed probes
//! and healthy again after M good ones (settings), so one blip does not flap routing.

use super::{get_json, probe_path};
use crate::platform::Platform;
use crate::settings::Settings;
use crate::state::db::{Db, DbError, Param};
use crate::state::snapshot::{Health, Node, NodeKind};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub failures: u32,
    pub successes: u32,
}

/// Next health state after one probe.
pub fn next(state: Health, c: Counters, ok: bool, s: &Settings) -> (Health, Counters) {
    let c = if ok { Counters { failures: 0, successes: c.successes.saturating_add(1) } } else { Counters { failures: c.failures.saturating_add(1), successes: 0 } };
    let state = match (state, ok) {
        (Health::Unknown, true) => Health::Healthy,
        (Health::Unhealthy, true) if c.successes >= s.successes_to_healthy => Health::Healthy,
        (Health::Healthy | Health::Unknown, false) if c.failures >= s.failures_to_unhealthy => Health::Unhealthy,
        (st, _) => st,
    };
    (state, c)
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub node_id: i64,
    pub node_name: String,
    pub ok: bool,
    pub health_status: &'static str,
    pub changed: bool,
    pub latency_ms: u64,
    pub error: Option<String>,
}

pub fn health_str(h: Health) -> &'static str {
    match h {
        Health::Unknown => "unknown",
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
    }
}

/// Probe one node and record the result.
pub async fn check<D: Db, P: Platform>(db: &D, p: &P, node: &Node, s: &Settings) -> Result<Report, DbError> {
    let row = db
        .json(
            "SELECT json_build_array(health_status, consecutive_failures, consecutive_successes) FROM nodes WHERE id = $1::bigint",
            &[Param::Int(Some(node.id))],
        )
        .await?;
    let state = match row[0].as_str() {
        Some("healthy") => Health::Healthy,
        Some("unhealthy") => Health::Unhealthy,
        _ => Health::Unknown,
    };
    let c = Counters { failures: row[1].as_u64().unwrap_or(0) as u32, successes: row[2].as_u64().unwrap_or(0) as u32 };
    let t0 = p.now_ms();
    let result = get_json(p, node, &probe_path(node), s.probe_timeout_ms).await;
    let latency = p.now_ms().saturating_sub(t0);
    let ok = result.is_ok();
    let mut loaded_changed = false;
    if let (Ok(v), NodeKind::Ollama, None) = (&result, node.kind, node.health_url.as_deref().filter(|u| !u.is_empty())) {
        loaded_changed = record_loaded(db, node.id, &super::warmup::parse_ps(v)).await?;
    }
    let (next_state, nc) = next(state, c, ok, s);
    db.exec(
        "UPDATE nodes SET health_status = $2::text, consecutive_failures = $3::bigint, consecutive_successes = $4::bigint, last_health_check = now(), last_error = $5::text, latency_ms = $6::bigint WHERE id = $1::bigint",
        &[
            Param::Int(Some(node.id)),
            Param::Text(Some(health_str(next_state).into())),
            Param::Int(Some(nc.failures as i64)),
            Param::Int(Some(nc.successes as i64)),
            Param::Text(result.as_ref().err().cloned()),
            Param::Int(Some(latency as i64)),
        ],
    )
    .await?;
    // Down and back up are alerts (`observe::alerts`); unknown -> healthy is a first probe, not news.
    match (state, next_state) {
        (Health::Healthy | Health::Unknown, Health::Unhealthy) => crate::observe::alerts::raise_logged(db, &crate::observe::alerts::Alert::node_down(node.id, &node.name, result.as_ref().err().map(String::as_str), t0)).await,
        (Health::Unhealthy, Health::Healthy) => crate::observe::alerts::raise_logged(db, &crate::observe::alerts::Alert::node_up(node.id, &node.name, t0)).await,
        _ => {}
    }
    Ok(Report { node_id: node.id, node_name: node.name.clone(), ok, health_status: health_str(next_state), changed: next_state != state || loaded_changed, latency_ms: latency, error: result.err() })
}

/// Record which models a node has in memory; true when that changed anything (routing
/// prefers loaded nodes, so the snapshot must be republished).
pub async fn record_loaded<D: Db>(db: &D, node_id: i64, loaded: &[String]) -> Result<bool, DbError> {
    // Flip only rows whose state differs, so the count says whether anything changed.
    let flipped = db
        .exec(
            "UPDATE node_models SET is_loaded = NOT is_loaded WHERE node_id = $1::bigint
               AND is_loaded <> EXISTS (SELECT 1 FROM unnest($2::text[]) l WHERE l = model_name OR l = model_name || ':latest' OR model_name = l || ':latest')",
            &[Param::Int(Some(node_id)), Param::TextArray(Some(loaded.to_vec()))],
        )
        .await?;
    Ok(flipped > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hysteresis() {
        let s = Settings::default(); // 3 failures to unhealthy, 2 successes to healthy
        let (h, c) = next(Health::Unknown, Counters::default(), true, &s);
        assert_eq!(h, Health::Healthy);
        let (h, c) = next(h, c, false, &s);
        assert_eq!(h, Health::Healthy, "one failure is a blip");
        let (h, c) = next(h, c, false, &s);
        let (h, c) = next(h, c, false, &s);
        assert_eq!(h, Health::Unhealthy);
        let (h, c) = next(h, c, true, &s);
        assert_eq!(h, Health::Unhealthy, "one success is not enough");
        let (h, _) = next(h, c, true, &s);
        assert_eq!(h, Health::Healthy);
    }
}
