//! The observability settings (alerts, OpenTelemetry, payload logging), read from the same
//! `settings` table as every other setting (`settings::DEFINITIONS` lists them; this module
//! turns the raw values into the typed view). Secrets are Worker secrets, never settings:
//! `ALERT_WEBHOOK_SECRET` signs webhooks, `OTEL_EXPORTER_OTLP_HEADERS` authenticates the OTLP
//! export, `METRICS_TOKEN` guards `GET /metrics`.

use super::kinds::AlertKind;
use serde::Serialize;
use serde_json::Value;

/// Which requests have their payloads logged (`payload_log.*`). Off by default.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PayloadRules {
    pub enabled: bool,
    /// Usernames; empty lists on all three = every request.
    pub users: Vec<String>,
    /// Team ids (as text).
    pub teams: Vec<String>,
    /// Requested model names.
    pub models: Vec<String>,
    pub max_bytes: usize,
    pub retention_days: u32,
}

impl PayloadRules {
    /// Is this request logged? Only called when `enabled` (the hot path checks that first).
    pub fn selects(&self, username: &str, teams: &[i64], model: &str) -> bool {
        if !self.enabled {
            return false;
        }
        if self.users.is_empty() && self.teams.is_empty() && self.models.is_empty() {
            return true;
        }
        self.users.iter().any(|u| u == username) || self.models.iter().any(|m| m == model) || teams.iter().any(|t| self.teams.iter().any(|s| s.parse::<i64>().ok() == Some(*t)))
    }
}

/// The OTLP/HTTP trace export (`otel.*`); None = off.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OtelConfig {
    /// The collector's traces URL, e.g. https://otel.example/v1/traces.
    pub endpoint: String,
    pub service_name: String,
    /// Put the request body (capped by `payload_log.max_bytes`) on the span as
    /// `gen_ai.input.messages`; off = never prompts.
    pub capture_content: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ObserveSettings {
    /// (kind, url) for kinds with their own URL; `default_url` for the rest.
    pub webhook_urls: Vec<(AlertKind, String)>,
    pub default_url: Option<String>,
    pub max_attempts: u32,
    pub digest_hour_utc: u32,
    pub otel: Option<OtelConfig>,
    pub payload: PayloadRules,
}

impl ObserveSettings {
    /// Where alerts of `kind` go; None = that kind is not sent (dropped from the outbox).
    pub fn url_for(&self, kind: AlertKind) -> Option<&str> {
        self.webhook_urls.iter().find(|(k, _)| *k == kind).map(|(_, u)| u.as_str()).or(self.default_url.as_deref())
    }

    /// From validated raw values (`get` falls back to each key's default).
    pub fn from_raw(get: &dyn Fn(&str) -> Value) -> Self {
        let text = |k: &str| get(k).as_str().map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        let list = |k: &str| get(k).as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(|s| s.trim().to_string())).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
        let int = |k: &str| get(k).as_i64().unwrap_or(0).max(0) as u64;
        let webhook_urls = AlertKind::ALL.iter().filter_map(|k| text(&format!("alerts.webhook_url.{}", k.as_str())).map(|u| (*k, u))).collect();
        let otel = text("otel.endpoint").map(|endpoint| OtelConfig {
            endpoint,
            service_name: text("otel.service_name").unwrap_or_else(|| "maestro-edge".into()),
            capture_content: get("otel.capture_content").as_bool().unwrap_or(false),
        });
        ObserveSettings {
            webhook_urls,
            default_url: text("alerts.webhook_url"),
            max_attempts: int("alerts.max_attempts") as u32,
            digest_hour_utc: int("alerts.digest_hour_utc") as u32,
            otel,
            payload: PayloadRules {
                enabled: get("payload_log.enabled").as_bool().unwrap_or(false),
                users: list("payload_log.users"),
                teams: list("payload_log.teams"),
                models: list("payload_log.models"),
                max_bytes: int("payload_log.max_bytes") as usize,
                retention_days: int("payload_log.retention_days") as u32,
            },
        }
    }
}

/// Extra checks for this module's keys (on top of the kind check): URLs must be http(s), team
/// ids numbers. None = nothing to add.
pub fn validate(key: &str, value: &Value) -> Option<Result<(), String>> {
    if key.starts_with("alerts.webhook_url") || key == "otel.endpoint" {
        let s = value.as_str()?;
        let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
        let ok = rest.is_some_and(|r| !r.is_empty()) && !s.chars().any(|c| c.is_whitespace() || c == '\0');
        return (!ok && !s.is_empty()).then(|| Err(format!("'{key}' must be an http:// or https:// URL (or null)")));
    }
    if key == "payload_log.teams" {
        let bad = value.as_array()?.iter().any(|v| v.as_str().is_some_and(|s| s.trim().parse::<i64>().is_err()));
        return bad.then(|| Err(format!("'{key}' must list team ids (e.g. \"3\")")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_rules_select_by_user_team_or_model() {
        let mut r = PayloadRules { enabled: true, ..Default::default() };
        assert!(r.selects("a", &[], "m"), "no lists: everything");
        r.users = vec!["alice".into()];
        r.teams = vec!["7".into()];
        r.models = vec!["gpt".into()];
        assert!(r.selects("alice", &[], "x"));
        assert!(r.selects("bob", &[3, 7], "x"));
        assert!(r.selects("bob", &[], "gpt"));
        assert!(!r.selects("bob", &[3], "x"));
        r.enabled = false;
        assert!(!r.selects("alice", &[], "gpt"), "off wins");
    }

    #[test]
    fn urls_per_kind_fall_back_to_the_default() {
        let raw = json!({"alerts.webhook_url": "https://hooks.example/all", "alerts.webhook_url.digest": "https://hooks.example/digest", "alerts.max_attempts": 4});
        let s = ObserveSettings::from_raw(&|k| raw.get(k).cloned().unwrap_or(Value::Null));
        assert_eq!(s.url_for(AlertKind::Digest), Some("https://hooks.example/digest"));
        assert_eq!(s.url_for(AlertKind::NodeDown), Some("https://hooks.example/all"));
        assert_eq!(s.max_attempts, 4);
        assert!(s.otel.is_none());
        assert_eq!(validate("alerts.webhook_url.node_down", &json!("ftp://x")).unwrap().unwrap_err(), "'alerts.webhook_url.node_down' must be an http:// or https:// URL (or null)");
        assert!(validate("otel.endpoint", &json!("http://127.0.0.1:4318/v1/traces")).is_none());
        assert!(validate("payload_log.teams", &json!(["x"])).unwrap().is_err());
    }
}
