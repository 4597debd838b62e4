//! The audit trail: every admin mutation and every login attempt, with actor, source IP,
//! entity and details. Secrets are redacted before anything is written.

use crate::state::db::{Db, DbError, Param};
use serde_json::Value;

/// Keys whose values never reach the audit log. Counters and settings that merely mention a
/// secret word (`token_limit`, `tokens_per_minute`, `token_prefix`, `api_key_set`) are not secrets,
/// and redacting them would make the trail useless for exactly the changes it should show.
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    let mentions = ["token", "api_key", "api-key", "apikey", "password", "secret", "authorization", "cookie"].iter().any(|s| k.contains(s));
    let harmless = ["_limit", "_prefix", "_set", "_per_minute", "_tokens", "_count"].iter().any(|s| k.ends_with(s));
    mentions && !harmless
}

/// Postgres `jsonb` cannot hold U+0000; an audit entry must never fail because input had one.
fn scrub(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let red = if secret_key(k) && !v.is_null() && !v.is_boolean() { Value::String("[redacted]".into()) } else { redact(v) };
                    (scrub(k), red)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        Value::String(s) => Value::String(scrub(s)),
        other => other.clone(),
    }
}

pub struct Actor {
    pub name: String,
    pub ip: Option<String>,
}

pub async fn record<D: Db>(db: &D, actor: &Actor, action: &str, entity_type: &str, entity_id: Option<&str>, details: &Value) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO audit_log (actor, source_ip, action, entity_type, entity_id, details) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::jsonb)",
        &[
            Param::Text(Some(actor.name.clone())),
            Param::Text(actor.ip.clone()),
            Param::Text(Some(action.into())),
            Param::Text(Some(entity_type.into())),
            Param::Text(entity_id.map(String::from)),
            Param::Json(Some(redact(details))),
        ],
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = redact(&json!({"name": "n", "api_key": "sk-1", "headers": {"Authorization": "Bearer x", "X-Team": "a"}, "list": [{"password": "p"}], "api_key_set": true}));
        assert_eq!(v["api_key"], "[redacted]");
        assert_eq!(v["headers"]["Authorization"], "[redacted]");
        assert_eq!(v["headers"]["X-Team"], "a");
        assert_eq!(v["list"][0]["password"], "[redacted]");
        assert_eq!(v["api_key_set"], true);
        assert!(!v.to_string().contains("sk-1"));
    }

    #[test]
    fn nul_characters_cannot_break_an_audit_entry() {
        let v = redact(&json!({"na\0me": ["a\0b"]}));
        assert!(!v.to_string().contains("\\u0000"));
        assert_eq!(v["na\u{FFFD}me"][0], "a\u{FFFD}b");
    }

    #[test]
    fn counters_that_mention_tokens_stay_readable() {
        let v = redact(&json!({"token_limit": 500, "tokens_per_minute": 9, "token_prefix": "ab12", "prompt_tokens": 3, "token": "eyJ", "refresh_token": "r", "x-api-key": "k"}));
        assert_eq!(v["token_limit"], 500);
        assert_eq!(v["tokens_per_minute"], 9);
        assert_eq!(v["token_prefix"], "ab12");
        assert_eq!(v["prompt_tokens"], 3);
        assert_eq!(v["token"], "[redacted]");
        assert_eq!(v["refresh_token"], "[redacted]");
        assert_eq!(v["x-api-key"], "[redacted]");
    }
}
