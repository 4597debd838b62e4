//! Typed settings. The source of truth is the `settings` table (key -> JSON value), edited
//! through `/admin/settings`; every key has a documented default here, so an empty table is a
//! working configuration. Secrets never live here: they are Worker secrets.

use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// One documented setting: key, default, description. `DEFINITIONS` is what the admin API
/// validates against and what the README table is generated from.
pub struct Definition {
    pub key: &'static str,
    pub default: fn() -> Value,
    pub kind: Kind,
    pub doc: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int { min: i64, max: i64 },
    Bool,
    Str,
    StrList,
    OptStr,
}

macro_rules! v {
    ($($t:tt)+) => {
        || serde_json::json!($($t)+)
    };
}

pub const DEFINITIONS: &[Definition] = &[
    Definition { key: "routing.default_context_length", default: v!(32768), kind: Kind::Int { min: 256, max: 16_777_216 }, doc: "Context length when neither mapping, catalog nor model config gives one." },
    Definition { key: "routing.max_failover_retries", default: v!(5), kind: Kind::Int { min: 0, max: 20 }, doc: "Extra upstream attempts after the first (nodes and group members together); a group may override." },
    Definition { key: "routing.node_strategy", default: v!("priority"), kind: Kind::Str, doc: "Default node strategy: priority, round_robin, weighted or least_busy." },
    Definition { key: "routing.cooldown_ms", default: v!(30000), kind: Kind::Int { min: 0, max: 3_600_000 }, doc: "How long an open circuit breaker (a node, or a model on a node) is skipped before one probe request may test it; Retry-After sets its own time." },
    Definition { key: "breaker.min_requests", default: v!(5), kind: Kind::Int { min: 1, max: 10_000 }, doc: "A circuit breaker opens only when its window holds at least this many attempts." },
    Definition { key: "breaker.failure_pct", default: v!(50), kind: Kind::Int { min: 1, max: 100 }, doc: "A circuit breaker opens when at least this percentage of the attempts in its window failed." },
    Definition { key: "breaker.window_ms", default: v!(30000), kind: Kind::Int { min: 1000, max: 3_600_000 }, doc: "The rolling window over which a circuit breaker counts attempts and failures." },
    Definition { key: "routing.retry_after_max_ms", default: v!(300000), kind: Kind::Int { min: 0, max: 3_600_000 }, doc: "Cap on how long an origin's Retry-After keeps a model (or a node) out of routing." },
    Definition { key: "timeouts.ttfb_ms", default: v!(120000), kind: Kind::Int { min: 100, max: 1_800_000 }, doc: "Time to first byte from an origin before failing over to the next node." },
    Definition { key: "streams.recover", default: v!(false), kind: Kind::Bool, doc: "Mid-stream recovery: a chat stream that breaks after bytes went out (cut, stall, malformed event) continues on the next candidate, sent the answer so far as an assistant prefill; off by default (see README)." },
    Definition { key: "streams.keepalive_ms", default: v!(15000), kind: Kind::Int { min: 0, max: 300_000 }, doc: "A translated stream to which nothing went for this long gets a keep-alive in the client's dialect (Anthropic: a ping event; Claude Code aborts a stream silent for 300 s); 0 sends none." },
    Definition { key: "timeouts.stream_idle_ms", default: v!(120000), kind: Kind::Int { min: 100, max: 1_800_000 }, doc: "A stream silent for this long is ended with an in-band error." },
    Definition { key: "limits.max_body_bytes", default: v!(16_777_216), kind: Kind::Int { min: 1024, max: 104_857_600 }, doc: "Largest accepted request body; larger bodies get 413 in the client's format." },
    Definition { key: "limits.fail_open", default: v!(false), kind: Kind::Bool, doc: "When the limits store (Durable Objects, or Redis with backend.limits = redis) is unreachable: false rejects limited requests with 503, true admits them; both log the error." },
    Definition { key: "backend.limits", default: v!("durable_objects"), kind: Kind::Str, doc: "Where per-user and per-model limit counters live: durable_objects, or redis (Upstash; needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN). Counters do not move when this changes." },
    Definition { key: "backend.cache", default: v!("kv"), kind: Kind::Str, doc: "Where the routing-snapshot copies and the version isolates poll live: kv (KV + Coordinator Durable Object), or redis (Upstash; needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN)." },
    Definition { key: "redis.timeout_ms", default: v!(1000), kind: Kind::Int { min: 50, max: 30000 }, doc: "Deadline of one Upstash Redis call; past it Redis counts as unreachable (limits: see limits.fail_open; cache: KV, then Postgres)." },
    Definition { key: "shaping.think_tags", default: v!("auto"), kind: Kind::Str, doc: "Split <think>...</think> out of answers into reasoning: auto (models with the thinking capability, and all translated answers), always, never." },
    Definition { key: "ollama.keep_alive", default: v!(null), kind: Kind::OptStr, doc: "keep_alive sent to Ollama origins when the client set none (e.g. \"30m\", \"-1\"); null sends nothing." },
    Definition { key: "ollama.unsupported_params", default: v!(["logit_bias", "logprobs", "top_logprobs", "service_tier", "store", "metadata", "prediction", "modalities", "audio", "parallel_tool_calls"]), kind: Kind::StrList, doc: "Top-level OpenAI parameters removed before a request reaches an Ollama origin." },
    Definition { key: "ollama.version", default: v!("0.13.0"), kind: Kind::Str, doc: "Version reported by GET /api/version (clients gate features on it)." },
    Definition { key: "health.failures_to_unhealthy", default: v!(3), kind: Kind::Int { min: 1, max: 100 }, doc: "Consecutive failed probes before a node turns unhealthy." },
    Definition { key: "health.successes_to_healthy", default: v!(2), kind: Kind::Int { min: 1, max: 100 }, doc: "Consecutive good probes before an unhealthy node turns healthy." },
    Definition { key: "health.probe_timeout_ms", default: v!(5000), kind: Kind::Int { min: 100, max: 60000 }, doc: "Timeout of one health probe." },
    Definition { key: "discovery.interval_minutes", default: v!(5), kind: Kind::Int { min: 1, max: 1440 }, doc: "The cron rediscovers every node's models this often (health probes run every minute)." },
    Definition { key: "warmup.max_per_node", default: v!(2), kind: Kind::Int { min: 0, max: 20 }, doc: "Models one cron run may load on one node (each load takes memory and a subrequest)." },
    Definition { key: "maintenance.subrequest_budget", default: v!(45), kind: Kind::Int { min: 15, max: 10000 }, doc: "Subrequests one cron run may make, all counted: origin calls, KV, Durable Objects, Hyperdrive connections, Redis (Workers Free caps an invocation at 50 external subrequests; Paid at 10,000). The publish, usage flush and clean-up are reserved first; work left over rotates to the next runs." },
    Definition { key: "warmup.skip_cloud_models", default: v!(true), kind: Kind::Bool, doc: "Never warm models whose names end in -cloud or :cloud (they cost upstream quota)." },
    Definition { key: "retention.usage_days", default: v!(90), kind: Kind::Int { min: 1, max: 3650 }, doc: "Usage records older than this are deleted by the cron clean-up." },
    Definition { key: "retention.audit_days", default: v!(365), kind: Kind::Int { min: 1, max: 3650 }, doc: "Audit records older than this are deleted by the cron clean-up." },
    Definition { key: "cors.allowed_origins", default: v!([]), kind: Kind::StrList, doc: "Browser origins (e.g. \"https://app.example\") allowed to call the gateway API with CORS; \"*\" allows any. Empty: none (the admin API uses ADMIN_UI_ORIGINS)." },
    Definition { key: "responses.retention_days", default: v!(30), kind: Kind::Int { min: 1, max: 365 }, doc: "Stored Responses (`store: true` on /v1/responses) are deleted this long after they were created." },
    Definition { key: "responses.max_per_user", default: v!(1000), kind: Kind::Int { min: 10, max: 10_000 }, doc: "Stored Responses kept per user; beyond it (or 64 MiB) the oldest go first." },
    Definition { key: "access.team_domain", default: v!(null), kind: Kind::OptStr, doc: "Cloudflare Access team domain (myteam or myteam.cloudflareaccess.com); with access.audience set, a Cf-Access-Jwt-Assertion signs admins in (see Single sign-on)." },
    Definition { key: "access.audience", default: v!(null), kind: Kind::OptStr, doc: "The Access application's audience (AUD) tag; assertions for any other audience are refused." },
    Definition { key: "access.certs_url", default: v!(null), kind: Kind::OptStr, doc: "Where Access's signing keys are fetched; null = https://<team domain>/cdn-cgi/access/certs. Set it only to reach the keys through a proxy, or in tests." },
    Definition { key: "admin.password_login", default: v!(true), kind: Kind::Bool, doc: "Whether POST /admin/auth/login (ADMIN_USERNAME / ADMIN_PASSWORD) is allowed; false leaves Access and ADMIN_TOKEN." },
    Definition { key: "costs.currency", default: v!("USD"), kind: Kind::Str, doc: "The currency prices and budgets are in (a label such as USD or EUR: nothing is converted). Costs are stored as integer millionths of it." },
    Definition { key: "budgets.reserve_micros", default: v!(50000), kind: Kind::Int { min: 1, max: 1_000_000_000_000 }, doc: "What each request under a budget holds (millionths of the currency) from admission until its cost is known: a budget admits requests only while spent plus held stays below it, so overshoot is at most one reservation plus what requests cost beyond theirs (see Budgets)." },
    Definition { key: "snapshot.refresh_ms", default: v!(2000), kind: Kind::Int { min: 200, max: 60000 }, doc: "How often an isolate checks for a newer routing snapshot (bounds how fast admin changes apply)." },
    // Observability (src/observe/; README "Alerts", "Metrics and traces", "Payload logging").
    Definition { key: "alerts.webhook_url", default: v!(null), kind: Kind::OptStr, doc: "Webhook URL (Slack-compatible JSON, signed with ALERT_WEBHOOK_SECRET) for every alert kind without a URL of its own; null = those kinds are not sent." },
    Definition { key: "alerts.webhook_url.node_down", default: v!(null), kind: Kind::OptStr, doc: "Webhook URL for 'node down' alerts (a node turned unhealthy); null = alerts.webhook_url." },
    Definition { key: "alerts.webhook_url.node_up", default: v!(null), kind: Kind::OptStr, doc: "Webhook URL for 'node back up' alerts (an unhealthy node turned healthy); null = alerts.webhook_url." },
    Definition { key: "alerts.webhook_url.breaker_open", default: v!(null), kind: Kind::OptStr, doc: "Webhook URL for 'circuit breaker open' alerts (a node, or a model on a node); null = alerts.webhook_url." },
    Definition { key: "alerts.webhook_url.budget_soft", default: v!(null), kind: Kind::OptStr, doc: "Webhook URL for budget soft-threshold alerts; null = alerts.webhook_url." },
    Definition { key: "alerts.webhook_url.budget_hard", default: v!(null), kind: Kind::OptStr, doc: "Webhook URL for budget hard-limit alerts (requests are being refused); null = alerts.webhook_url." },
    Definition { key: "alerts.webhook_url.digest", default: v!(null), kind: Kind::OptStr, doc: "Webhook URL for the daily digest; null = alerts.webhook_url." },
    Definition { key: "alerts.webhook_url.test", default: v!(null), kind: Kind::OptStr, doc: "Webhook URL for test alerts (POST /admin/alerts/test); null = alerts.webhook_url." },
    Definition { key: "alerts.max_attempts", default: v!(10), kind: Kind::Int { min: 1, max: 50 }, doc: "Deliveries of one alert before it is given up (back-off 30 s, 2 min, 10 min, 30 min, then hourly)." },
    Definition { key: "alerts.digest_hour_utc", default: v!(8), kind: Kind::Int { min: 0, max: 23 }, doc: "The daily digest (the previous UTC day) is sent by the first cron run at or after this hour (UTC)." },
    Definition { key: "otel.endpoint", default: v!(null), kind: Kind::OptStr, doc: "OTLP/HTTP traces URL (JSON encoding), e.g. https://collector.example/v1/traces: one span per request with the GenAI conventions; headers from the OTEL_EXPORTER_OTLP_HEADERS secret; null = off." },
    Definition { key: "otel.service_name", default: v!("maestro-edge"), kind: Kind::Str, doc: "service.name of the exported spans." },
    Definition { key: "otel.capture_content", default: v!(false), kind: Kind::Bool, doc: "Put the request body (cut to payload_log.max_bytes) on each span as gen_ai.input.messages; off = spans never carry prompts." },
    Definition { key: "payload_log.enabled", default: v!(false), kind: Kind::Bool, doc: "Log request and answer bodies of the requests payload_log.users / teams / models select (all three empty: every request); off by default." },
    Definition { key: "payload_log.users", default: v!([]), kind: Kind::StrList, doc: "Usernames whose requests are logged (with payload_log.enabled)." },
    Definition { key: "payload_log.teams", default: v!([]), kind: Kind::StrList, doc: "Team ids (as strings, e.g. \"3\") whose members' requests are logged (with payload_log.enabled)." },
    Definition { key: "payload_log.models", default: v!([]), kind: Kind::StrList, doc: "Requested model names whose requests are logged (with payload_log.enabled)." },
    Definition { key: "payload_log.max_bytes", default: v!(65536), kind: Kind::Int { min: 1024, max: 1_048_576 }, doc: "Bytes kept of each logged request body and of each answer; longer ones are cut and marked truncated." },
    Definition { key: "payload_log.retention_days", default: v!(7), kind: Kind::Int { min: 1, max: 365 }, doc: "Logged payloads older than this are deleted by the cron." },
];

/// Where limit counters live (`backend.limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitsBackend {
    #[default]
    DurableObjects,
    Redis,
}

impl LimitsBackend {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "durable_objects" => Some(LimitsBackend::DurableObjects),
            "redis" => Some(LimitsBackend::Redis),
            _ => None,
        }
    }
}

/// Which answers get `<think>…</think>` split out into reasoning (`shaping.think_tags`; the key
/// keeps its stored name, the code is `repair::think`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThinkTags {
    /// Models with the thinking capability, and every translated answer.
    #[default]
    Auto,
    Always,
    Never,
}

impl ThinkTags {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(ThinkTags::Auto),
            "always" => Some(ThinkTags::Always),
            "never" => Some(ThinkTags::Never),
            _ => None,
        }
    }
}

/// Where routing-snapshot copies and the version pointer live (`backend.cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheBackend {
    #[default]
    Kv,
    Redis,
}

impl CacheBackend {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kv" => Some(CacheBackend::Kv),
            "redis" => Some(CacheBackend::Redis),
            _ => None,
        }
    }
}

/// The validated view used by the hot path.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub default_context_length: u32,
    pub max_failover_retries: u32,
    pub node_strategy: crate::types::Strategy,
    pub cooldown_ms: u64,
    pub breaker_min_requests: u32,
    pub breaker_failure_pct: u32,
    pub breaker_window_ms: u64,
    pub retry_after_max_ms: u64,
    pub ttfb_ms: u64,
    pub stream_idle_ms: u64,
    pub stream_recover: bool,
    pub keepalive_ms: u64,
    pub max_body_bytes: usize,
    pub limits_fail_open: bool,
    pub limits_backend: LimitsBackend,
    pub cache_backend: CacheBackend,
    pub redis_timeout_ms: u64,
    pub think_tags: ThinkTags,
    pub ollama_keep_alive: Option<Value>,
    pub ollama_unsupported_params: Vec<String>,
    pub ollama_version: String,
    pub failures_to_unhealthy: u32,
    pub successes_to_healthy: u32,
    pub probe_timeout_ms: u64,
    pub discovery_interval_minutes: u32,
    pub warmup_skip_cloud: bool,
    pub warmup_max_per_node: u32,
    pub subrequest_budget: u32,
    pub retention_usage_days: u32,
    pub retention_audit_days: u32,
    pub snapshot_refresh_ms: u64,
    pub cors_allowed_origins: Vec<String>,
    pub responses_retention_days: u32,
    pub responses_max_per_user: u32,
    pub currency: String,
    pub budget_reserve_micros: u64,
    /// Alerts, traces and payload logging (`observe::config`).
    pub observe: crate::observe::config::ObserveSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_raw(&HashMap::new())
    }
}

impl Settings {
    /// The bounds of each user's Responses store.
    pub fn responses_bounds(&self) -> crate::state::response_store::Bounds {
        crate::state::response_store::Bounds { retention_ms: self.responses_retention_days as u64 * 86_400_000, max_responses: self.responses_max_per_user as usize }
    }
}

pub fn definition(key: &str) -> Option<&'static Definition> {
    DEFINITIONS.iter().find(|d| d.key == key)
}

/// Check a value for a key; the error names what is wrong.
pub fn validate(key: &str, value: &Value) -> Result<(), String> {
    let def = definition(key).ok_or_else(|| format!("unknown setting '{key}'"))?;
    if let Some(checked) = crate::observe::config::validate(key, value) {
        checked?;
    }
    match def.kind {
        Kind::Int { min, max } => match value.as_i64() {
            Some(n) if n >= min && n <= max => Ok(()),
            _ => Err(format!("'{key}' must be an integer between {min} and {max}")),
        },
        Kind::Bool => value.is_boolean().then_some(()).ok_or_else(|| format!("'{key}' must be true or false")),
        Kind::Str => match value.as_str() {
            Some(s) if key == "routing.node_strategy" && parse_strategy(s).is_none() => {
                Err(format!("'{key}' must be one of priority, round_robin, weighted, least_busy"))
            }
            Some(s) if key == "shaping.think_tags" && ThinkTags::parse(s).is_none() => Err(format!("'{key}' must be auto, always or never")),
            Some(s) if key == "backend.limits" && LimitsBackend::parse(s).is_none() => Err(format!("'{key}' must be durable_objects or redis")),
            Some(s) if key == "backend.cache" && CacheBackend::parse(s).is_none() => Err(format!("'{key}' must be kv or redis")),
            Some(s) if key == "costs.currency" && !(1..=8).contains(&s.len()) || key == "costs.currency" && !s.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Err(format!("'{key}' must be 1-8 letters or digits (e.g. USD)"))
            }
            Some(_) => Ok(()),
            None => Err(format!("'{key}' must be a string")),
        },
        Kind::OptStr => {
            (value.is_null() || value.is_string() || value.is_i64()).then_some(()).ok_or_else(|| format!("'{key}' must be a string, an integer or null"))
        }
        Kind::StrList => match value.as_array() {
            Some(a) if a.iter().all(Value::is_string) => Ok(()),
            _ => Err(format!("'{key}' must be a list of strings")),
        },
    }
}

pub fn parse_strategy(s: &str) -> Option<crate::types::Strategy> {
    use crate::types::Strategy::*;
    match s {
        "priority" => Some(Priority),
        "round_robin" => Some(RoundRobin),
        "weighted" => Some(Weighted),
        "least_busy" => Some(LeastBusy),
        _ => None,
    }
}

impl Settings {
    /// Lenient: an invalid or missing value falls back to its default (the admin API rejects
    /// invalid values on write, so this only guards against hand-edited rows).
    pub fn from_raw(raw: &HashMap<String, Value>) -> Settings {
        let get = |key: &str| -> Value {
            match raw.get(key) {
                Some(v) if validate(key, v).is_ok() => v.clone(),
                _ => (definition(key).expect("defined setting").default)(),
            }
        };
        let int = |key: &str| get(key).as_i64().unwrap_or(0).max(0) as u64;
        Settings {
            default_context_length: int("routing.default_context_length") as u32,
            max_failover_retries: int("routing.max_failover_retries") as u32,
            node_strategy: get("routing.node_strategy").as_str().and_then(parse_strategy).unwrap_or_default(),
            cooldown_ms: int("routing.cooldown_ms"),
            breaker_min_requests: int("breaker.min_requests") as u32,
            breaker_failure_pct: int("breaker.failure_pct") as u32,
            breaker_window_ms: int("breaker.window_ms"),
            retry_after_max_ms: int("routing.retry_after_max_ms"),
            ttfb_ms: int("timeouts.ttfb_ms"),
            stream_idle_ms: int("timeouts.stream_idle_ms"),
            stream_recover: get("streams.recover").as_bool().unwrap_or(false),
            keepalive_ms: int("streams.keepalive_ms"),
            max_body_bytes: int("limits.max_body_bytes") as usize,
            limits_fail_open: get("limits.fail_open").as_bool().unwrap_or(false),
            limits_backend: get("backend.limits").as_str().and_then(LimitsBackend::parse).unwrap_or_default(),
            cache_backend: get("backend.cache").as_str().and_then(CacheBackend::parse).unwrap_or_default(),
            redis_timeout_ms: int("redis.timeout_ms"),
            think_tags: get("shaping.think_tags").as_str().and_then(ThinkTags::parse).unwrap_or_default(),
            ollama_keep_alive: Some(get("ollama.keep_alive")).filter(|v| !v.is_null()),
            ollama_unsupported_params: get("ollama.unsupported_params")
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default(),
            ollama_version: get("ollama.version").as_str().unwrap_or("0.13.0").to_string(),
            failures_to_unhealthy: int("health.failures_to_unhealthy") as u32,
            successes_to_healthy: int("health.successes_to_healthy") as u32,
            probe_timeout_ms: int("health.probe_timeout_ms"),
            discovery_interval_minutes: int("discovery.interval_minutes") as u32,
            warmup_max_per_node: int("warmup.max_per_node") as u32,
            subrequest_budget: int("maintenance.subrequest_budget") as u32,
            warmup_skip_cloud: get("warmup.skip_cloud_models").as_bool().unwrap_or(true),
            retention_usage_days: int("retention.usage_days") as u32,
            retention_audit_days: int("retention.audit_days") as u32,
            snapshot_refresh_ms: int("snapshot.refresh_ms"),
            cors_allowed_origins: get("cors.allowed_origins")
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(|s| s.trim().trim_end_matches('/').to_string())).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
            responses_retention_days: int("responses.retention_days") as u32,
            responses_max_per_user: int("responses.max_per_user") as u32,
            currency: get("costs.currency").as_str().unwrap_or("USD").to_string(),
            budget_reserve_micros: int("budgets.reserve_micros").max(1),
            observe: crate::observe::config::ObserveSettings::from_raw(&get),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_valid() {
        for d in DEFINITIONS {
            validate(d.key, &(d.default)()).unwrap_or_else(|e| panic!("{}: {e}", d.key));
        }
        let s = Settings::default();
        assert_eq!(s.default_context_length, 32768);
        assert_eq!(s.max_failover_retries, 5);
    }

    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../README.md");
        for d in DEFINITIONS {
            assert!(readme.contains(&format!("| `{}` |", d.key)), "README's settings table lacks {}", d.key);
        }
    }

    #[test]
    fn invalid_values_fall_back_and_are_rejected() {
        let mut raw = HashMap::new();
        raw.insert("timeouts.ttfb_ms".to_string(), json!("soon"));
        raw.insert("routing.max_failover_retries".to_string(), json!(2));
        let s = Settings::from_raw(&raw);
        assert_eq!(s.ttfb_ms, 120000);
        assert_eq!(s.max_failover_retries, 2);
        assert!(validate("timeouts.ttfb_ms", &json!("soon")).is_err());
        assert!(validate("routing.node_strategy", &json!("fastest")).is_err());
        assert!(validate("nope", &json!(1)).is_err());
    }

    #[test]
    fn backends_default_to_kv_and_durable_objects() {
        let s = Settings::default();
        assert_eq!((s.cache_backend, s.limits_backend, s.redis_timeout_ms), (CacheBackend::Kv, LimitsBackend::DurableObjects, 1000));
        let mut raw = HashMap::new();
        raw.insert("backend.cache".to_string(), json!("redis"));
        raw.insert("backend.limits".to_string(), json!("redis"));
        let s = Settings::from_raw(&raw);
        assert_eq!((s.cache_backend, s.limits_backend), (CacheBackend::Redis, LimitsBackend::Redis));
        assert!(validate("backend.limits", &json!("memcached")).is_err());
        assert!(validate("backend.cache", &json!("durable_objects")).is_err());
        assert!(validate("redis.timeout_ms", &json!(10)).is_err());
    }
}
