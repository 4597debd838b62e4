//! Alerts: an outbox in Postgres (`alert_outbox`, migration 0012) that whoever notices
//! something writes to (the cron's health probes, the cron reading the Breakers object's new
//! openings, the budget checks, the daily digest), and that the cron drains: one signed POST per
//! alert to the URL configured for its kind, Slack-compatible JSON, retried with back-off until
//! `alerts.max_attempts`. Nothing here runs on a client's request path.
//!
//! Delivery is at least once: a receiver that answered 2xx but whose answer was lost gets the
//! same alert again, with the same `X-Maestro-Alert-Id`. Raising is idempotent on a dedup key
//! (e.g. one budget alert per scope and window), so a condition seen by many runs is one alert.

use super::config::ObserveSettings;
use crate::net::Outbound;
use crate::platform::Platform;
use crate::state::db::{Db, DbError, Param};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;

pub use super::kinds::AlertKind;

/// One alert to raise. `event` holds `title` and the details a receiver may read
/// programmatically (they also become the message's fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub kind: AlertKind,
    pub dedup_key: String,
    pub event: Value,
}

impl Alert {
    pub fn node_down(node_id: i64, node: &str, error: Option<&str>, at_ms: u64) -> Alert {
        Alert {
            kind: AlertKind::NodeDown,
            dedup_key: format!("node_down:{node_id}:{at_ms}"),
            event: json!({"title": format!("Node {node} is down"), "node_id": node_id, "node": node, "error": error}),
        }
    }

    pub fn node_up(node_id: i64, node: &str, at_ms: u64) -> Alert {
        Alert { kind: AlertKind::NodeUp, dedup_key: format!("node_up:{node_id}:{at_ms}"), event: json!({"title": format!("Node {node} is back up"), "node_id": node_id, "node": node}) }
    }

    /// A breaker that opened (`model` None: the whole node).
    pub fn breaker_open(node_id: i64, model: Option<&str>, reason: &str, failed_at_ms: u64, until_ms: u64) -> Alert {
        let what = match model {
            Some(m) => format!("model {m} on node {node_id}"),
            None => format!("node {node_id}"),
        };
        Alert {
            kind: AlertKind::BreakerOpen,
            dedup_key: format!("breaker_open:{node_id}:{}:{failed_at_ms}", model.unwrap_or("*")),
            event: json!({"title": format!("Circuit breaker open: {what}"), "node_id": node_id, "model": model, "reason": reason,
                          "opened_at": iso(failed_at_ms), "until": iso(until_ms)}),
        }
    }

    /// A budget threshold crossed (`hard`: requests are refused until the window resets). One
    /// alert per scope, window and threshold.
    pub fn budget(hard: bool, scope: &str, window: &str, spent: f64, limit: f64, currency: &str) -> Alert {
        let kind = if hard { AlertKind::BudgetHard } else { AlertKind::BudgetSoft };
        let title = if hard { format!("Budget exhausted: {scope} ({window})") } else { format!("Budget threshold reached: {scope} ({window})") };
        Alert { kind, dedup_key: format!("{}:{scope}:{window}", kind.as_str()), event: json!({"title": title, "scope": scope, "window": window, "spent": spent, "limit": limit, "currency": currency}) }
    }

    pub fn params(&self) -> [Param; 3] {
        [Param::Text(Some(self.kind.as_str().into())), Param::Text(Some(self.dedup_key.clone())), Param::Json(Some(self.event.clone()))]
    }
}

/// Queue an alert; a dedup key seen before adds nothing.
pub const ENQUEUE_SQL: &str = "INSERT INTO alert_outbox (kind, dedup_key, event) VALUES ($1::text, $2::text, $3::jsonb) ON CONFLICT (dedup_key) DO NOTHING";

/// Budget threshold crossings the cost module records (`budget_events`, its migration 0011: one
/// row per budget, window and threshold) become alerts: one statement moves the undelivered
/// rows into the outbox (the same dedup keys `Alert::budget` makes, so a crossing raised both
/// ways is one alert) and marks them delivered to it. Run only when that table exists.
pub const BUDGET_BRIDGE_SQL: &str = "WITH e AS (
    UPDATE budget_events SET delivered_at = now() WHERE delivered_at IS NULL
    RETURNING scope, scope_id, scope_name, period, window_start, threshold, limit_micros, spent_micros, currency),
  a AS (SELECT CASE WHEN threshold = 'hard' THEN 'budget_hard' ELSE 'budget_soft' END AS kind,
          scope || ':' || scope_id AS sc,
          period || ':' || to_char(window_start AT TIME ZONE 'UTC', CASE WHEN period = 'month' THEN 'YYYY-MM' ELSE 'YYYY-MM-DD' END) AS win, e.* FROM e)
  INSERT INTO alert_outbox (kind, dedup_key, event)
  SELECT kind, kind || ':' || sc || ':' || win,
    jsonb_build_object('title', CASE WHEN kind = 'budget_hard' THEN 'Budget exhausted: ' ELSE 'Budget threshold reached: ' END || sc || ' (' || win || ')',
      'scope', sc, 'scope_name', scope_name, 'window', win, 'spent', (spent_micros / 1e6)::float8, 'limit', (limit_micros / 1e6)::float8, 'currency', currency)
  FROM a ON CONFLICT (dedup_key) DO NOTHING";

/// Whether the cost module's `budget_events` table is there (it lands in its own migration).
pub const HAS_BUDGET_EVENTS_SQL: &str = "SELECT to_json(to_regclass('budget_events') IS NOT NULL)::text";

/// Queue `alert` for the cron to deliver. Ok(false): it was raised before.
pub async fn raise<D: Db>(db: &D, alert: &Alert) -> Result<bool, DbError> {
    db.exec(ENQUEUE_SQL, &alert.params()).await.map(|n| n > 0)
}

/// Raise, logging instead of failing: an alert must never stop the job that noticed it.
pub async fn raise_logged<D: Db>(db: &D, alert: &Alert) {
    if let Err(e) = raise(db, alert).await {
        crate::log::platform_log(&format!("alert {} not queued: {e:?}", alert.dedup_key));
    }
}

fn iso(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default()
}

/// Subrequests the cron keeps for alerts before its jobs spend on origins: reading the
/// breakers' new openings and one delivery (more are sent when the jobs leave room; the
/// alerts' queries ride the clean-up's connection).
pub const CRON_RESERVE: u32 = 2;

/// Back-off before attempt `n + 1` after `n` failed ones: 30 s, 2, 10, 30 min, then hourly.
pub fn backoff_s(attempts: u32) -> u64 {
    match attempts {
        0 | 1 => 30,
        2 => 120,
        3 => 600,
        4 => 1800,
        _ => 3600,
    }
}

/// The Slack-compatible body: `text` (the fallback and notification line), `blocks` (header,
/// fields, context) and `event`, the alert as data (kind, id, time, details) for receivers
/// that are not Slack.
pub fn body(id: i64, kind: AlertKind, created_at: &str, event: &Value) -> Value {
    let title = event.get("title").and_then(Value::as_str).unwrap_or(kind.as_str());
    let fields: Vec<Value> = event
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, v)| *k != "title" && !v.is_null() && !v.is_object() && !v.is_array())
                .take(10) // Slack allows 10 fields per section
                .map(|(k, v)| json!({"type": "mrkdwn", "text": format!("*{k}*\n{}", plain(v))}))
                .collect()
        })
        .unwrap_or_default();
    let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": clip(title, 150)}})];
    if let Some(summary) = event.get("summary").and_then(Value::as_str) {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(summary, 3000)}}));
    }
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("maestro-edge · {} · alert {id} · {created_at}", kind.as_str())}]}));
    json!({
        "text": format!("{} {title}", kind.icon()),
        "blocks": blocks,
        "event": {"id": id, "kind": kind.as_str(), "created_at": created_at, "details": event},
    })
}

fn plain(v: &Value) -> String {
    clip(&v.as_str().map(String::from).unwrap_or_else(|| v.to_string()), 1900)
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// `v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`: what `X-Maestro-Signature` carries.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", crate::auth::token::hex(&mac.finalize().into_bytes()))
}

/// The request for one delivery.
pub fn request(url: &str, id: i64, kind: AlertKind, body: &[u8], secret: Option<&[u8]>, now_s: i64) -> Outbound {
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("user-agent".to_string(), "maestro-edge-alerts/1".to_string()),
        ("x-maestro-alert-id".to_string(), id.to_string()),
        ("x-maestro-alert-kind".to_string(), kind.as_str().to_string()),
        ("x-maestro-timestamp".to_string(), now_s.to_string()),
    ];
    if let Some(secret) = secret {
        headers.push(("x-maestro-signature".to_string(), signature(secret, now_s, body)));
    }
    Outbound { method: crate::net::Method::POST, url: url.to_string(), headers, body: Some(body.to_vec()) }
}

/// Claim the due alerts (at most `max`): their next attempt moves 10 minutes on first, so an
/// overlapping cron run does not send them too; a delivery then sets the real outcome.
const CLAIM_SQL: &str = "WITH c AS (
    UPDATE alert_outbox SET attempts = attempts + 1, next_attempt_at = GREATEST(now(), to_timestamp($2::bigint / 1000.0)) + interval '10 minutes'
    WHERE id IN (SELECT id FROM alert_outbox WHERE delivered_at IS NULL AND failed_at IS NULL
                   AND next_attempt_at <= GREATEST(now(), to_timestamp($2::bigint / 1000.0))
                 ORDER BY id LIMIT $1::bigint FOR UPDATE SKIP LOCKED)
    RETURNING id, kind, event, attempts, created_at)
  SELECT COALESCE(json_agg(json_build_object('id', id, 'kind', kind, 'event', event, 'attempts', attempts,
         'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')) ORDER BY id), '[]'::json)::text FROM c";

const DELIVERED_SQL: &str = "UPDATE alert_outbox SET delivered_at = now(), last_status = $2::bigint::int, last_error = NULL WHERE id = $1::bigint";
const RETRY_SQL: &str = "UPDATE alert_outbox SET next_attempt_at = GREATEST(now(), to_timestamp($5::bigint / 1000.0)) + $3::bigint * interval '1 second',
    last_status = $2::bigint::int, last_error = $4::text, failed_at = CASE WHEN $6::bool THEN now() END WHERE id = $1::bigint";

/// Delivered and given-up alerts are kept this long (the admin view), then deleted.
pub const RETENTION_SQL: &str = "DELETE FROM alert_outbox WHERE id IN (SELECT id FROM alert_outbox WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < now() - interval '30 days' LIMIT 5000)";

/// Alerts as the admin API lists them, newest first.
pub const LIST_SQL: &str = "SELECT COALESCE(json_agg(json_build_object('id', id, 'kind', kind, 'dedup_key', dedup_key, 'event', event, 'created_at', created_at,
    'attempts', attempts, 'next_attempt_at', next_attempt_at, 'delivered_at', delivered_at, 'failed_at', failed_at, 'last_status', last_status, 'last_error', last_error,
    'state', CASE WHEN delivered_at IS NOT NULL THEN 'delivered' WHEN failed_at IS NOT NULL THEN 'failed' ELSE 'pending' END) ORDER BY id DESC), '[]'::json)::text
    FROM (SELECT * FROM alert_outbox WHERE ($1::text IS NULL OR kind = $1::text) ORDER BY id DESC LIMIT $2::bigint) a";

/// What one drain did.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Drained {
    pub delivered: u32,
    pub retrying: u32,
    pub failed: u32,
    /// Dropped: no URL configured for their kind.
    pub unrouted: u32,
}

/// Deliver up to `max` due alerts. `secret` signs them (`ALERT_WEBHOOK_SECRET`; unsigned when
/// unset). Each delivery is bounded by `timeout_ms`; a non-2xx answer or a transport error is
/// retried after `backoff_s`, until `max_attempts`.
pub async fn drain<D: Db, P: Platform>(db: &D, p: &P, s: &ObserveSettings, secret: Option<&[u8]>, max: u32, scheduled_ms: u64, timeout_ms: u64) -> Result<Drained, DbError> {
    let mut out = Drained::default();
    if max == 0 {
        return Ok(out);
    }
    let due = db.json(CLAIM_SQL, &[Param::Int(Some(max as i64)), Param::Int(Some(scheduled_ms as i64))]).await?;
    for a in due.as_array().map(Vec::as_slice).unwrap_or_default() {
        let id = a["id"].as_i64().unwrap_or(0);
        let attempts = a["attempts"].as_u64().unwrap_or(1) as u32;
        let kind = a["kind"].as_str().and_then(AlertKind::parse);
        let url = kind.and_then(|k| s.url_for(k));
        let (Some(kind), Some(url)) = (kind, url) else {
            out.unrouted += 1;
            let params = [Param::Int(Some(id)), Param::Int(None), Param::Int(Some(0)), Param::Text(Some("no webhook URL is configured for this kind".into())), Param::Int(Some(scheduled_ms as i64)), Param::Bool(Some(true))];
            db.exec(RETRY_SQL, &params).await?;
            continue;
        };
        let bytes = serde_json::to_vec(&body(id, kind, a["created_at"].as_str().unwrap_or(""), &a["event"])).unwrap_or_default();
        let now_s = (p.now_ms() / 1000) as i64;
        let result = send(p, request(url, id, kind, &bytes, secret, now_s), timeout_ms).await;
        match result {
            Ok(status) if (200..300).contains(&status) => {
                db.exec(DELIVERED_SQL, &[Param::Int(Some(id)), Param::Int(Some(status as i64))]).await?;
                out.delivered += 1;
            }
            other => {
                let (status, error) = match other {
                    Ok(st) => (Some(st as i64), format!("the receiver answered {st}")),
                    Err(e) => (None, e),
                };
                let give_up = attempts >= s.max_attempts.max(1);
                let params = [Param::Int(Some(id)), Param::Int(status), Param::Int(Some(backoff_s(attempts) as i64)), Param::Text(Some(clip(&error, 1000))), Param::Int(Some(scheduled_ms as i64)), Param::Bool(Some(give_up))];
                db.exec(RETRY_SQL, &params).await?;
                crate::log::platform_log(&format!("alert {id} ({}) not delivered, attempt {attempts}: {error}{}", kind.as_str(), if give_up { "; giving up" } else { "" }));
                if give_up {
                    out.failed += 1;
                } else {
                    out.retrying += 1;
                }
            }
        }
    }
    Ok(out)
}

async fn send<P: Platform>(p: &P, req: Outbound, timeout_ms: u64) -> Result<u16, String> {
    let call = std::pin::pin!(async {
        let reply = p.fetch(req).await?;
        // The body is not needed; reading it lets the connection finish cleanly.
        let _ = futures::StreamExt::collect::<Vec<_>>(reply.body).await;
        Ok::<u16, String>(reply.status)
    });
    match futures::future::select(call, p.sleep(timeout_ms)).await {
        futures::future::Either::Left((r, _)) => r,
        futures::future::Either::Right(_) => Err(format!("no answer within {timeout_ms} ms")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Same as: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        let sig = signature(b"secret", 1_700_000_000, br#"{"a":1}"#);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"secret").unwrap();
        mac.update(br#"1700000000.{"a":1}"#);
        assert_eq!(sig, format!("v1={}", crate::auth::token::hex(&mac.finalize().into_bytes())));
        assert_eq!(sig.len(), 3 + 64);
        let r = request("https://h.example/x", 7, AlertKind::NodeDown, b"{}", Some(b"k"), 5);
        assert!(r.headers.iter().any(|(k, v)| k == "x-maestro-signature" && v == &signature(b"k", 5, b"{}")));
        let unsigned = request("https://h.example/x", 7, AlertKind::NodeDown, b"{}", None, 5);
        assert!(!unsigned.headers.iter().any(|(k, _)| k == "x-maestro-signature"));
    }

    #[test]
    fn slack_body_has_text_blocks_and_the_event() {
        let a = Alert::node_down(3, "gpu-1", Some("connection refused"), 1_700_000_000_000);
        let b = body(12, a.kind, "2026-12-07T00:00:00.000Z", &a.event);
        assert_eq!(b["text"], ":red_circle: Node gpu-1 is down");
        assert_eq!(b["blocks"][0]["type"], "header");
        let fields = b["blocks"][1]["fields"].as_array().unwrap();
        assert!(fields.iter().any(|f| f["text"] == "*error*\nconnection refused"));
        assert_eq!(b["event"]["kind"], "node_down");
        assert_eq!(b["event"]["details"]["node_id"], 3);
        assert_eq!(a.dedup_key, "node_down:3:1700000000000");
    }

    #[test]
    fn budget_alerts_dedup_per_scope_window_and_threshold() {
        let soft = Alert::budget(false, "user:5", "day:2026-12-07", 8.0, 10.0, "USD");
        let hard = Alert::budget(true, "user:5", "day:2026-12-07", 10.0, 10.0, "USD");
        assert_eq!(soft.dedup_key, "budget_soft:user:5:day:2026-12-07");
        assert_eq!(hard.kind, AlertKind::BudgetHard);
        assert_ne!(soft.dedup_key, hard.dedup_key);
    }

    #[test]
    fn backoff_grows_then_stays_hourly() {
        let s: Vec<u64> = (1..=7).map(backoff_s).collect();
        assert_eq!(s, vec![30, 120, 600, 1800, 3600, 3600, 3600]);
    }
}
