//! One usage record per gateway request, written off the hot path and flushed to Postgres in
//! batches; `id` makes every insert idempotent.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UsageRecord {
    pub id: String,
    pub created_at_ms: u64,
    pub user_id: Option<i64>,
    /// The API key the request came with (a key's last use is derived from these).
    #[serde(default)]
    pub key_id: Option<i64>,
    pub username: String,
    pub requested_model: String,
    pub resolved_model: String,
    pub real_model: String,
    pub node_id: Option<i64>,
    pub node_name: String,
    pub endpoint: String,
    pub dialect: String,
    pub client: String,
    pub stream: bool,
    pub status: u16,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub estimated: bool,
    pub duration_ms: u64,
    pub ttfb_ms: Option<u64>,
    pub error: Option<String>,
    /// Whether the request reached an origin (only those count against limits).
    pub reached_origin: bool,
    /// Of `prompt_tokens`: read from the origin's prompt cache.
    #[serde(default)]
    pub cached_tokens: u64,
    /// Of `prompt_tokens`: written to the origin's prompt cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// What the request cost, in millionths of the currency (`costs.currency`), from the
    /// routing snapshot's prices when it was recorded (see `costs`): later price edits never
    /// change it.
    #[serde(default)]
    pub cost_micros: u64,
    /// A price applied (a row, or the free-Ollama default); false = no price known, cost 0.
    #[serde(default)]
    pub priced: bool,
}

/// Longest kept value of a name-like field (model, node, user, endpoint), in characters: far
/// below Postgres's btree row limit (~2,700 bytes), which `requested_model` is indexed under.
pub const NAME_MAX_CHARS: usize = 200;
/// Longest kept error message or client string, in characters.
pub const TEXT_MAX_CHARS: usize = 1000;

/// Make one text field safe for Postgres text and jsonb: NUL (which neither accepts, as a
/// byte or as `\u0000`) and other control characters become U+FFFD, and the value is cut to
/// `max` characters (marked with `…`). Rust strings are valid UTF-8 already, so lone
/// surrogates and invalid bytes never get this far (JSON decoding replaced or refused them).
pub fn clean_text(s: &str, max: usize) -> Option<String> {
    let bad = |c: char| c.is_control() && c != '\t' && c != '\n' || c == '\u{2028}' || c == '\u{2029}';
    let long = s.chars().nth(max).is_some();
    if !long && !s.chars().any(bad) {
        return None;
    }
    let mut out: String = s.chars().take(if long { max - 1 } else { max }).map(|c| if bad(c) { '\u{FFFD}' } else { c }).collect();
    if long {
        out.push('…');
    }
    Some(out)
}

fn clean(field: &mut String, max: usize) -> bool {
    match clean_text(field, max) {
        Some(c) => {
            *field = c;
            true
        }
        None => false,
    }
}

impl UsageRecord {
    /// The origin's token counts (or the estimate) go into the record.
    pub fn set_usage(&mut self, u: &crate::types::Usage) {
        self.prompt_tokens = u.prompt_tokens;
        self.completion_tokens = u.completion_tokens;
        self.estimated = u.estimated;
        self.cached_tokens = u.cached_tokens.min(u.prompt_tokens);
        self.cache_write_tokens = u.cache_write_tokens.min(u.prompt_tokens - self.cached_tokens);
    }

    /// Every text field made safe for Postgres (see `clean_text`); numbers clamped to what the
    /// columns hold. Returns whether anything changed. Applied where records are finished and
    /// again at the flush (records buffered by an older release were never cleaned).
    pub fn sanitize(&mut self) -> bool {
        let mut changed = false;
        for f in [&mut self.username, &mut self.requested_model, &mut self.resolved_model, &mut self.real_model, &mut self.node_name, &mut self.endpoint, &mut self.dialect] {
            changed |= clean(f, NAME_MAX_CHARS);
        }
        changed |= clean(&mut self.client, TEXT_MAX_CHARS);
        if let Some(e) = self.error.as_mut() {
            changed |= clean(e, TEXT_MAX_CHARS);
        }
        // The id is ours (`req_` + hex), but a buffer can hold anything an older release or a
        // bug stored: an unusable id would make the record impossible to acknowledge.
        if self.id.is_empty() || clean_text(&self.id, NAME_MAX_CHARS).is_some() {
            self.id = format!("bad_{:016x}", fnv64(self.id.as_bytes()));
            changed = true;
        }
        // bigint columns are signed and their sum is stored too; timestamps end in year 9999.
        const LIMITS: [u64; 6] = [i64::MAX as u64 / 2, i64::MAX as u64 / 2, 253_402_300_799_999, i64::MAX as u64 / 2, i64::MAX as u64 / 2, i64::MAX as u64];
        let fields = [&mut self.prompt_tokens, &mut self.completion_tokens, &mut self.created_at_ms, &mut self.cached_tokens, &mut self.cache_write_tokens, &mut self.cost_micros];
        for (n, max) in fields.into_iter().zip(LIMITS) {
            if *n > max {
                *n = max;
                changed = true;
            }
        }
        changed
    }

    pub fn sanitized(mut self) -> Self {
        self.sanitize();
        self
    }
}

fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Rough token estimate for text when an origin reports nothing (~4 bytes per token).
pub fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4)
}

/// Insert a batch of records (a JSON array of `UsageRecord`); `ON CONFLICT (id) DO NOTHING`
/// makes a retried flush harmless.
pub const INSERT_SQL: &str = "
    INSERT INTO usage_records (id, created_at, user_id, key_id, username, requested_model, resolved_model, real_model, node_id, node_name,
                               endpoint, dialect, client, stream, status, prompt_tokens, completion_tokens, total_tokens, estimated,
                               duration_ms, ttfb_ms, error, cached_tokens, cache_write_tokens, cost_micros, priced)
    SELECT r.id, to_timestamp(r.created_at_ms / 1000.0), u.id, r.key_id, r.username, r.requested_model, r.resolved_model, r.real_model, r.node_id, r.node_name,
           r.endpoint, r.dialect, r.client, r.stream, r.status, r.prompt_tokens, r.completion_tokens, r.prompt_tokens + r.completion_tokens, r.estimated,
           LEAST(r.duration_ms, 2147483647), LEAST(r.ttfb_ms, 2147483647), r.error,
           COALESCE(r.cached_tokens, 0), COALESCE(r.cache_write_tokens, 0), COALESCE(r.cost_micros, 0), COALESCE(r.priced, false)
    FROM jsonb_to_recordset($1::jsonb) AS r(id text, created_at_ms bigint, user_id bigint, key_id bigint, username text, requested_model text, resolved_model text,
         real_model text, node_id bigint, node_name text, endpoint text, dialect text, client text, stream boolean, status integer,
         prompt_tokens bigint, completion_tokens bigint, estimated boolean, duration_ms bigint, ttfb_ms bigint, error text,
         cached_tokens bigint, cache_write_tokens bigint, cost_micros bigint, priced boolean)
    LEFT JOIN users u ON u.id = r.user_id
    ON CONFLICT (id) DO NOTHING";

/// Retention: delete at most a bounded batch per run so one cron invocation stays short.
pub const RETENTION_USAGE_SQL: &str = "DELETE FROM usage_records WHERE id IN (SELECT id FROM usage_records WHERE created_at < now() - make_interval(days => ($1::bigint)::int) LIMIT 5000)";
pub const RETENTION_AUDIT_SQL: &str = "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE created_at < now() - make_interval(days => ($1::bigint)::int) LIMIT 5000)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_made_safe_for_postgres() {
        let mut r = UsageRecord {
            id: "req_1".into(),
            requested_model: "mock\0".into(),
            resolved_model: "a\u{1b}[31mb\u{7f}\u{85}\u{2028}".into(),
            real_model: "m".repeat(10 * 1024),
            node_name: "é€😀".repeat(1200),
            error: Some(format!("model 'mock\0' not found {}", "x".repeat(5000))),
            client: "curl/8\ttab".into(),
            prompt_tokens: u64::MAX,
            created_at_ms: u64::MAX,
            ..Default::default()
        };
        assert!(r.sanitize());
        assert_eq!(r.requested_model, "mock\u{FFFD}");
        assert_eq!(r.resolved_model, "a\u{FFFD}[31mb\u{FFFD}\u{FFFD}\u{FFFD}");
        assert_eq!(r.real_model.chars().count(), NAME_MAX_CHARS);
        assert!(r.real_model.ends_with('…'));
        assert_eq!(r.node_name.chars().count(), NAME_MAX_CHARS);
        assert!(r.node_name.starts_with("é€😀"), "cut on characters, not bytes");
        let e = r.error.as_deref().unwrap();
        assert!(!e.contains('\0') && e.chars().count() == TEXT_MAX_CHARS);
        assert_eq!(r.client, "curl/8\ttab", "tabs are text");
        assert!(r.prompt_tokens + r.completion_tokens <= i64::MAX as u64);
        assert_eq!(r.created_at_ms, 253_402_300_799_999);
        assert_eq!(r.id, "req_1");
        // Clean records are left alone; a broken id gets a stable replacement.
        assert!(!r.clone().sanitize());
        let mut bad = UsageRecord { id: "x\0".into(), ..Default::default() };
        bad.sanitize();
        let mut again = UsageRecord { id: "x\0".into(), ..Default::default() };
        again.sanitize();
        assert!(bad.id.starts_with("bad_") && bad.id == again.id);
        // The JSON that reaches Postgres holds no \u0000 escape.
        assert!(!serde_json::to_string(&r).unwrap().contains("\\u0000"));
    }
}
