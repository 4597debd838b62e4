//! `GET /metrics` (Prometheus text format 0.0.4). Counters and histograms are aggregates kept
//! in Postgres (`metric_counters`, migration 0012), added to by the usage flush in the same
//! statement that inserts the records (`rollup_sql`): a record counts exactly when it is first
//! inserted, so a repeated flush counts nothing twice, and no request writes anything of its
//! own. Gauges are read when scraped: node health (Postgres), active streams (the Streams
//! objects' totals), open breakers (the Breakers object). A scrape is one query and two
//! Durable Object calls, whatever the traffic.
//!
//! Counters lag requests by the usage pipeline's delay (about a second; longer while Postgres is
//! down, after which they catch up with nothing lost).

use crate::usage::INSERT_SQL;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Histogram buckets, seconds (request duration and time to first byte).
pub const BUCKETS: &[(&str, f64)] = &[("0.05", 0.05), ("0.1", 0.1), ("0.25", 0.25), ("0.5", 0.5), ("1", 1.0), ("2.5", 2.5), ("5", 5.0), ("10", 10.0), ("30", 30.0), ("60", 60.0), ("120", 120.0), ("300", 300.0), ("+Inf", f64::INFINITY)];

/// The usage flush's insert, extended: the records it inserted (not those a repeated flush
/// finds already there) become counter increments. `$1` is the batch as JSON (every record
/// field is there, `error_class` and the cost fields included, whether or not it is a column).
pub fn rollup_sql() -> &'static str {
    thread_local! {
        static SQL: &'static str = Box::leak(build_rollup_sql().into_boxed_str());
    }
    SQL.with(|s| *s)
}

fn build_rollup_sql() -> String {
    let les: Vec<String> = BUCKETS.iter().map(|(l, _)| format!("'{l}'")).collect();
    let secs: Vec<String> = BUCKETS.iter().map(|(_, s)| if s.is_infinite() { "'Infinity'::float8".to_string() } else { format!("{s}::float8") }).collect();
    let buckets = format!("unnest(ARRAY[{}]::text[], ARRAY[{}]::float8[]) AS b(le, s)", les.join(","), secs.join(","));
    format!(
        "WITH ins AS ({insert} RETURNING id),
  src AS (
    SELECT r.*,
      -- An unknown or hidden name (404) is not a series: anyone with a key could make many.
      CASE WHEN r.status = 404 THEN '' ELSE COALESCE(r.requested_model, '') END AS model,
      COALESCE(r.node_name, '') AS node,
      COALESCE(r.error_class, CASE
        WHEN r.status < 400 THEN NULL
        WHEN r.status = 429 THEN 'rate_limited'
        WHEN r.status = 499 THEN 'client_gone'
        WHEN r.status = 504 THEN 'upstream_timeout'
        WHEN r.status = 502 AND r.stream THEN 'stream_broken'
        WHEN r.status = 502 THEN 'upstream_unavailable'
        WHEN r.reached_origin THEN 'upstream_error'
        ELSE 'http_' || r.status END) AS class
    FROM jsonb_to_recordset($1::jsonb) AS r(id text, requested_model text, node_name text, dialect text, status integer, stream boolean, reached_origin boolean,
         error_class text, prompt_tokens bigint, completion_tokens bigint, duration_ms bigint, ttfb_ms bigint,
         cached_tokens bigint, cache_write_tokens bigint, cost_micros bigint)
    JOIN ins USING (id)),
  samples(name, labels, v) AS (
    SELECT 'maestro_requests_total', jsonb_build_object('model', model, 'node', node, 'dialect', COALESCE(dialect, ''), 'code', status::text), 1::float8 FROM src
    UNION ALL SELECT 'maestro_request_errors_total', jsonb_build_object('model', model, 'node', node, 'class', class), 1 FROM src WHERE class IS NOT NULL
    UNION ALL SELECT 'maestro_limiter_refusals_total', jsonb_build_object('model', model), 1 FROM src WHERE class = 'rate_limited'
    UNION ALL SELECT 'maestro_budget_refusals_total', jsonb_build_object('model', model), 1 FROM src WHERE class = 'budget_exceeded'
    UNION ALL SELECT 'maestro_tokens_total', jsonb_build_object('model', model, 'node', node, 'type', 'input'), prompt_tokens FROM src WHERE prompt_tokens > 0
    UNION ALL SELECT 'maestro_tokens_total', jsonb_build_object('model', model, 'node', node, 'type', 'output'), completion_tokens FROM src WHERE completion_tokens > 0
    UNION ALL SELECT 'maestro_request_duration_seconds_bucket', jsonb_build_object('model', model, 'node', node, 'le', b.le), 1 FROM src, {buckets} WHERE src.duration_ms / 1000.0 <= b.s
    UNION ALL SELECT 'maestro_request_duration_seconds_sum', jsonb_build_object('model', model, 'node', node), duration_ms / 1000.0 FROM src
    UNION ALL SELECT 'maestro_request_duration_seconds_count', jsonb_build_object('model', model, 'node', node), 1 FROM src
    UNION ALL SELECT 'maestro_ttfb_seconds_bucket', jsonb_build_object('model', model, 'node', node, 'le', b.le), 1 FROM src, {buckets} WHERE src.ttfb_ms IS NOT NULL AND src.ttfb_ms / 1000.0 <= b.s
    UNION ALL SELECT 'maestro_ttfb_seconds_sum', jsonb_build_object('model', model, 'node', node), ttfb_ms / 1000.0 FROM src WHERE ttfb_ms IS NOT NULL
    UNION ALL SELECT 'maestro_ttfb_seconds_count', jsonb_build_object('model', model, 'node', node), 1 FROM src WHERE ttfb_ms IS NOT NULL
    {cost}),
  up AS (INSERT INTO metric_counters (name, labels, value) SELECT name, labels, sum(v) FROM samples GROUP BY name, labels
         -- One lock order for every flush: concurrent shards never deadlock on shared rows.
         ORDER BY name, labels
         ON CONFLICT (name, labels) DO UPDATE SET value = metric_counters.value + EXCLUDED.value, updated_at = now())
  SELECT count(*) FROM ins",
        insert = INSERT_SQL.trim(),
        cost = COST_SAMPLES,
    )
}

/// Cost and prompt-cache tokens per model and node, from the fields the cost module puts on
/// usage records (`cost_micros`: millionths of `costs.currency`; `cached_tokens`,
/// `cache_write_tokens`). Records without them (older releases) add nothing.
const COST_SAMPLES: &str = "UNION ALL SELECT 'maestro_cost_total', jsonb_build_object('model', model, 'node', node), cost_micros / 1e6 FROM src WHERE cost_micros > 0
    UNION ALL SELECT 'maestro_tokens_total', jsonb_build_object('model', model, 'node', node, 'type', 'cached'), cached_tokens FROM src WHERE cached_tokens > 0
    UNION ALL SELECT 'maestro_tokens_total', jsonb_build_object('model', model, 'node', node, 'type', 'cache_write'), cache_write_tokens FROM src WHERE cache_write_tokens > 0";

/// Counters as `/metrics` reads them.
pub const COUNTERS_SQL: &str = "SELECT COALESCE(json_agg(json_build_array(name, labels, value) ORDER BY name), '[]'::json)::text FROM metric_counters";

/// Node health as gauges: (id, name, health, active).
pub const NODES_SQL: &str = "SELECT COALESCE(json_agg(json_build_array(id, name, health_status, is_active) ORDER BY name), '[]'::json)::text FROM nodes";

/// What the gauges are read from, besides Postgres.
#[derive(Debug, Default)]
pub struct Live {
    /// node id -> active streams (all isolates).
    pub streams: Vec<(i64, u32)>,
    /// (node id, model or None for the node, reason) of open breakers.
    pub open_breakers: Vec<(i64, Option<String>)>,
    /// Sources that could not be read (reported as `maestro_scrape_error{source}` 1).
    pub errors: Vec<&'static str>,
}

const HELP: &[(&str, &str, &str)] = &[
    ("maestro_requests_total", "counter", "Gateway inference requests, by requested model, node, dialect and HTTP status."),
    ("maestro_request_errors_total", "counter", "Failed requests by error class (rate_limited, budget_exceeded, upstream_error, upstream_timeout, stream_broken, client_gone, not_found, bad_request, ...)."),
    ("maestro_limiter_refusals_total", "counter", "Requests refused by a request or token limit (429)."),
    ("maestro_budget_refusals_total", "counter", "Requests refused by a budget's hard limit (429)."),
    ("maestro_tokens_total", "counter", "Tokens by model, node and type (input: all prompt tokens; output; cached: of the input, read from a prompt cache; cache_write)."),
    ("maestro_cost_total", "counter", "Cost of requests by model and node, in the costs.currency setting's currency."),
    ("maestro_request_duration_seconds", "histogram", "Time from the request to the end of its answer."),
    ("maestro_ttfb_seconds", "histogram", "Time from the request to the origin's first byte."),
    ("maestro_active_streams", "gauge", "Streams being relayed now, per node (all isolates)."),
    ("maestro_node_up", "gauge", "1 when the node is healthy (or not probed yet), 0 when unhealthy; active nodes only."),
    ("maestro_node_health", "gauge", "1 for the node's current health state (unknown, healthy, unhealthy)."),
    ("maestro_breaker_open", "gauge", "1 per open circuit breaker (model empty: the whole node)."),
    ("maestro_scrape_error", "gauge", "1 when a source of this scrape could not be read (its metrics are missing)."),
];

/// A label value escaped for the text format (backslash, quote, newline).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn labels(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", esc(v))).collect();
    format!("{{{}}}", inner.join(","))
}

fn num(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    format!("{v}")
}

/// The family a sample belongs to (histogram parts share their base name).
fn family(name: &str) -> &str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if HELP.iter().any(|(n, t, _)| *n == base && *t == "histogram") {
                return base;
            }
        }
    }
    name
}

/// The text exposition: counters from `rows` (`[name, labels, value]`, from `COUNTERS_SQL`),
/// gauges from `nodes` (`NODES_SQL`) and `live`. Label order is fixed (sorted), histogram
/// buckets come in `le` order, every family has HELP and TYPE.
pub fn render(rows: &Value, nodes: &Value, live: &Live) -> String {
    // family -> sample lines, in order
    let mut fams: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut names: BTreeMap<i64, String> = BTreeMap::new();
    for n in nodes.as_array().map(Vec::as_slice).unwrap_or_default() {
        names.insert(n[0].as_i64().unwrap_or(0), n[1].as_str().unwrap_or("").to_string());
    }
    // Counters and histograms: group bucket rows so `le` sorts numerically within a series.
    let mut samples: Vec<(String, Vec<(String, String)>, f64)> = Vec::new();
    for r in rows.as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = r[0].as_str().unwrap_or("").to_string();
        let mut ls: Vec<(String, String)> = r[1].as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect()).unwrap_or_default();
        ls.sort();
        samples.push((name, ls, r[2].as_f64().unwrap_or(0.0)));
    }
    let le_rank = |ls: &[(String, String)]| ls.iter().find(|(k, _)| k == "le").map(|(_, v)| BUCKETS.iter().position(|(l, _)| l == v).unwrap_or(usize::MAX)).unwrap_or(0);
    let series = |ls: &[(String, String)]| ls.iter().filter(|(k, _)| k != "le").cloned().collect::<Vec<_>>();
    samples.sort_by(|a, b| {
        let part = |n: &str| if n.ends_with("_bucket") { 0 } else if n.ends_with("_sum") { 1 } else { 2 };
        (family(&a.0), series(&a.1), part(&a.0), le_rank(&a.1)).cmp(&(family(&b.0), series(&b.1), part(&b.0), le_rank(&b.1)))
    });
    for (name, ls, v) in &samples {
        let Some(fam) = HELP.iter().map(|(n, _, _)| *n).find(|n| *n == family(name)) else { continue };
        let pairs: Vec<(&str, String)> = ls.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        fams.entry(fam).or_default().push(format!("{name}{} {}", labels(&pairs), num(*v)));
    }
    for n in nodes.as_array().map(Vec::as_slice).unwrap_or_default() {
        if !n[3].as_bool().unwrap_or(false) {
            continue;
        }
        let (id, name, health) = (n[0].as_i64().unwrap_or(0), n[1].as_str().unwrap_or(""), n[2].as_str().unwrap_or("unknown"));
        let node = || vec![("node", name.to_string()), ("node_id", id.to_string())];
        fams.entry("maestro_node_up").or_default().push(format!("maestro_node_up{} {}", labels(&node()), if health == "unhealthy" { 0 } else { 1 }));
        for st in ["healthy", "unhealthy", "unknown"] {
            let mut l = node();
            l.push(("state", st.to_string()));
            fams.entry("maestro_node_health").or_default().push(format!("maestro_node_health{} {}", labels(&l), (st == health) as u8));
        }
    }
    for (id, count) in &live.streams {
        let name = names.get(id).cloned().unwrap_or_default();
        fams.entry("maestro_active_streams").or_default().push(format!("maestro_active_streams{} {count}", labels(&[("node", name), ("node_id", id.to_string())])));
    }
    for (id, model) in &live.open_breakers {
        let name = names.get(id).cloned().unwrap_or_default();
        let l = [("model", model.clone().unwrap_or_default()), ("node", name), ("node_id", id.to_string())];
        fams.entry("maestro_breaker_open").or_default().push(format!("maestro_breaker_open{} 1", labels(&l)));
    }
    for src in &live.errors {
        fams.entry("maestro_scrape_error").or_default().push(format!("maestro_scrape_error{} 1", labels(&[("source", src.to_string())])));
    }
    let mut out = String::new();
    for (name, kind, help) in HELP {
        let Some(lines) = fams.get(name) else { continue };
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Constant-time comparison of the presented bearer token with `METRICS_TOKEN`.
pub fn authorized(header: Option<&str>, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(presented) = header.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer "))) else { return false };
    !token.is_empty() && bool::from(presented.trim().as_bytes().ct_eq(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_families_with_sorted_buckets_and_escaped_labels() {
        let rows = json!([
            ["maestro_requests_total", {"model": "m\"x", "node": "a", "dialect": "openai", "code": "200"}, 2.0],
            ["maestro_request_duration_seconds_count", {"model": "m", "node": "a"}, 2.0],
            ["maestro_request_duration_seconds_bucket", {"model": "m", "node": "a", "le": "+Inf"}, 2.0],
            ["maestro_request_duration_seconds_bucket", {"model": "m", "node": "a", "le": "10"}, 2.0],
            ["maestro_request_duration_seconds_bucket", {"model": "m", "node": "a", "le": "0.5"}, 1.0],
            ["maestro_request_duration_seconds_sum", {"model": "m", "node": "a"}, 1.25],
            ["unknown_series", {}, 1.0],
        ]);
        let nodes = json!([[1, "a", "healthy", true], [2, "b", "unhealthy", true], [3, "off", "unknown", false]]);
        let live = Live { streams: vec![(1, 3)], open_breakers: vec![(2, Some("llama".into()))], errors: vec![] };
        let text = render(&rows, &nodes, &live);
        assert!(text.contains("# TYPE maestro_request_duration_seconds histogram\n"));
        let hist: Vec<&str> = text.lines().filter(|l| l.starts_with("maestro_request_duration_seconds")).collect();
        assert_eq!(
            hist,
            vec![
                "maestro_request_duration_seconds_bucket{le=\"0.5\",model=\"m\",node=\"a\"} 1",
                "maestro_request_duration_seconds_bucket{le=\"10\",model=\"m\",node=\"a\"} 2",
                "maestro_request_duration_seconds_bucket{le=\"+Inf\",model=\"m\",node=\"a\"} 2",
                "maestro_request_duration_seconds_sum{model=\"m\",node=\"a\"} 1.25",
                "maestro_request_duration_seconds_count{model=\"m\",node=\"a\"} 2",
            ]
        );
        assert!(text.contains("maestro_requests_total{code=\"200\",dialect=\"openai\",model=\"m\\\"x\",node=\"a\"} 2\n"));
        assert!(text.contains("maestro_node_up{node=\"b\",node_id=\"2\"} 0\n"));
        assert!(!text.contains("node=\"off\""), "inactive nodes are not reported");
        assert!(text.contains("maestro_active_streams{node=\"a\",node_id=\"1\"} 3\n"));
        assert!(text.contains("maestro_breaker_open{model=\"llama\",node=\"b\",node_id=\"2\"} 1\n"));
        assert!(!text.contains("unknown_series"));
    }

    #[test]
    fn the_rollup_wraps_the_usage_insert() {
        let sql = rollup_sql();
        assert!(sql.starts_with("WITH ins AS (\n    INSERT INTO usage_records") || sql.starts_with("WITH ins AS (INSERT INTO usage_records"), "{}", &sql[..80]);
        assert!(sql.contains("ON CONFLICT (id) DO NOTHING RETURNING id)"));
        assert!(sql.contains("'Infinity'::float8"));
    }

    #[test]
    fn bearer_token_check() {
        assert!(authorized(Some("Bearer s3cret"), "s3cret"));
        assert!(!authorized(Some("Bearer s3cre"), "s3cret"));
        assert!(!authorized(None, "s3cret"));
        assert!(!authorized(Some("Bearer "), ""), "an empty token never matches");
    }
}
