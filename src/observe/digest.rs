//! The daily digest: once a day, at the first cron run at or after `alerts.digest_hour_utc`,
//! one alert summarising the previous UTC day (requests, errors, tokens, the busiest models,
//! nodes that are unhealthy now, alerts raised). Its dedup key is the day, so a day is
//! summarised once whatever the number of runs; nothing is computed on the other runs beyond
//! one indexed lookup.

use super::alerts::{self, Alert, AlertKind};
use crate::state::db::{Db, DbError, Param};
use serde_json::{json, Value};

/// The day to summarise at `now_ms`, if the digest hour has passed: (YYYY-MM-DD of yesterday).
pub fn due_day(now_ms: u64, hour_utc: u32) -> Option<String> {
    let now = chrono::DateTime::from_timestamp_millis(now_ms as i64)?;
    use chrono::Timelike;
    if now.hour() < hour_utc {
        return None;
    }
    Some((now.date_naive() - chrono::Days::new(1)).format("%Y-%m-%d").to_string())
}

const EXISTS_SQL: &str = "SELECT to_json(EXISTS (SELECT 1 FROM alert_outbox WHERE dedup_key = $1::text))::text";

/// One day's numbers (the day as YYYY-MM-DD, UTC).
const SUMMARY_SQL: &str = "WITH d AS (SELECT ($1::text)::date::timestamp AT TIME ZONE 'UTC' AS a),
  u AS (SELECT r.* FROM usage_records r, d WHERE r.created_at >= d.a AND r.created_at < d.a + interval '1 day')
  SELECT json_build_object(
    'requests', (SELECT count(*) FROM u),
    'errors', (SELECT count(*) FROM u WHERE status >= 400),
    'users', (SELECT count(DISTINCT username) FROM u),
    'input_tokens', (SELECT COALESCE(sum(prompt_tokens), 0) FROM u),
    'output_tokens', (SELECT COALESCE(sum(completion_tokens), 0) FROM u),
    'cost', (SELECT (COALESCE(sum(cost_micros), 0) / 1e6)::float8 FROM u),
    'currency', COALESCE((SELECT value #>> '{}' FROM settings WHERE key = 'costs.currency'), 'USD'),
    'p95_ms', (SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) FROM u WHERE status < 400),
    'top_models', (SELECT COALESCE(json_agg(t), '[]'::json) FROM (SELECT requested_model AS model, count(*) AS requests FROM u WHERE status <> 404 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5) t),
    'unhealthy_nodes', (SELECT COALESCE(json_agg(name ORDER BY name), '[]'::json) FROM nodes WHERE is_active AND health_status = 'unhealthy'),
    'alerts', (SELECT count(*) FROM alert_outbox, d WHERE kind <> 'digest' AND created_at >= d.a AND created_at < d.a + interval '1 day'))::text";

/// The digest alert for `day` from its summary.
pub fn alert(day: &str, s: &Value) -> Alert {
    let n = |k: &str| s[k].as_i64().unwrap_or(0);
    let top: Vec<String> = s["top_models"].as_array().map(|a| a.iter().map(|m| format!("{} ({})", m["model"].as_str().unwrap_or(""), m["requests"])).collect()).unwrap_or_default();
    let unhealthy: Vec<String> = s["unhealthy_nodes"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
    let error_pct = if n("requests") > 0 { n("errors") as f64 * 100.0 / n("requests") as f64 } else { 0.0 };
    let summary = format!(
        "*{}* requests from *{}* users, *{}* errors ({error_pct:.1}%), *{}* input and *{}* output tokens, cost *{:.2} {}*.\nTop models: {}\nUnhealthy nodes now: {}",
        n("requests"),
        n("users"),
        n("errors"),
        n("input_tokens"),
        n("output_tokens"),
        s["cost"].as_f64().unwrap_or(0.0),
        s["currency"].as_str().unwrap_or("USD"),
        if top.is_empty() { "none".into() } else { top.join(", ") },
        if unhealthy.is_empty() { "none".into() } else { unhealthy.join(", ") },
    );
    Alert {
        kind: AlertKind::Digest,
        dedup_key: format!("digest:{day}"),
        event: json!({
            "title": format!("Daily digest for {day}"), "summary": summary, "day": day,
            "requests": n("requests"), "errors": n("errors"), "users": n("users"),
            "input_tokens": n("input_tokens"), "output_tokens": n("output_tokens"), "p95_ms": s["p95_ms"],
            "cost": s["cost"], "currency": s["currency"],
            "alerts": n("alerts"), "top_models": s["top_models"], "unhealthy_nodes": s["unhealthy_nodes"],
        }),
    }
}

/// Queue the digest of the previous day when it is due and not queued yet. Ok(true): queued now.
pub async fn run<D: Db>(db: &D, now_ms: u64, hour_utc: u32) -> Result<bool, DbError> {
    let Some(day) = due_day(now_ms, hour_utc) else { return Ok(false) };
    let key = format!("digest:{day}");
    if db.json(EXISTS_SQL, &[Param::Text(Some(key))]).await?.as_bool().unwrap_or(true) {
        return Ok(false);
    }
    let summary = db.json(SUMMARY_SQL, &[Param::Text(Some(day.clone()))]).await?;
    alerts::raise(db, &alert(&day, &summary)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_after_the_hour_for_yesterday() {
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis() as u64;
        assert_eq!(due_day(t("2026-12-07T07:59:00Z"), 8), None);
        assert_eq!(due_day(t("2026-12-07T08:00:00Z"), 8).as_deref(), Some("2026-12-06"));
        assert_eq!(due_day(t("2026-01-01T00:10:00Z"), 0).as_deref(), Some("2025-12-31"));
    }

    #[test]
    fn digest_text_and_fields() {
        let s = json!({"requests": 10, "errors": 1, "users": 2, "input_tokens": 70, "output_tokens": 30, "p95_ms": 12, "cost": 1.5, "currency": "EUR",
                       "top_models": [{"model": "fast", "requests": 9}], "unhealthy_nodes": ["b"], "alerts": 3});
        let a = alert("2026-12-06", &s);
        assert_eq!(a.dedup_key, "digest:2026-12-06");
        let summary = a.event["summary"].as_str().unwrap();
        assert!(summary.contains("*10* requests from *2* users, *1* errors (10.0%), *70* input and *30* output tokens, cost *1.50 EUR*"), "{summary}");
        assert!(summary.contains("Top models: fast (9)") && summary.contains("Unhealthy nodes now: b"));
    }
}
