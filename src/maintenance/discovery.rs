//! Model discovery: ask a node what it serves (`/api/tags` + `/api/show`, or `/v1/models`),
//! upsert the catalog, mark models that vanished as not present (the admin's availability
//! switch is left alone), and report what changed so the snapshot is republished only then.

use super::{request_json, request_json_max};
use crate::net::Method;
use crate::platform::Platform;
use crate::state::db::{Db, DbError, Param};
use crate::state::snapshot::{Node, NodeKind};
use serde::Serialize;
use serde_json::{json, Value};

/// `/api/show` calls per node per run: bounds the subrequests one cron invocation makes.
const MAX_SHOWS: usize = 8;
/// Most models one node's catalog may hold: an origin listing more is cut to the first this
/// many (the rest are reported, not stored), so one node cannot bloat the snapshot every
/// isolate loads.
pub const MAX_CATALOG_MODELS: usize = 2000;
/// Longest model name accepted from a catalog.
const MAX_NAME_BYTES: usize = 256;
/// Largest `details` object kept per model (serialised); bigger ones are dropped.
const MAX_DETAILS_BYTES: usize = 8 << 10;
/// Largest catalog answer read (2000 Ollama entries are about 1 MiB); a bigger one is not read
/// at all, so an origin cannot make the isolate parse tens of megabytes.
pub const MAX_CATALOG_BYTES: usize = 8 << 20;
/// Context lengths outside this range are not believed (and would not fit the column).
const MAX_CONTEXT: i64 = 1 << 30;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Found {
    pub name: String,
    pub size: Option<i64>,
    pub digest: Option<String>,
    pub modified_at: Option<String>,
    pub family: Option<String>,
    pub details: Value,
    pub context_length: Option<i64>,
    pub capabilities: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub node_id: i64,
    pub node_name: String,
    pub models: usize,
    pub added: Vec<String>,
    pub vanished: Vec<String>,
    /// Why the catalog was not read; the node keeps its last good catalog.
    pub error: Option<String>,
    /// What was dropped from an otherwise good catalog (duplicates, malformed entries, overflow).
    pub warning: Option<String>,
}

impl Report {
    pub fn changed(&self) -> bool {
        !self.added.is_empty() || !self.vanished.is_empty()
    }
}

/// A catalog as an origin listed it, cleaned: one entry per model (a name and its `:latest`
/// alias are one model; the first listing wins), at most `MAX_CATALOG_MODELS`, each field
/// checked, and a count of what was dropped.
#[derive(Debug, Default, PartialEq)]
pub struct Catalog {
    pub models: Vec<Found>,
    pub malformed: usize,
    pub duplicates: usize,
    pub overflow: usize,
}

impl Catalog {
    pub fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.duplicates > 0 {
            parts.push(format!("{} duplicate entries ignored", self.duplicates));
        }
        if self.malformed > 0 {
            parts.push(format!("{} malformed entries ignored", self.malformed));
        }
        if self.overflow > 0 {
            parts.push(format!("{} entries beyond the limit of {MAX_CATALOG_MODELS} ignored", self.overflow));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The name that `name` and `name:latest` share.
fn canonical(name: &str) -> &str {
    name.strip_suffix(":latest").unwrap_or(name)
}

/// Text the database and every client can hold: no control characters (Postgres text and
/// jsonb refuse U+0000), bounded.
fn clean_text(v: Option<&Value>, max: usize) -> Option<String> {
    let s = v?.as_str()?;
    (s.len() <= max && !s.chars().any(char::is_control)).then(|| s.to_string())
}

fn clean_name(v: Option<&Value>) -> Option<String> {
    clean_text(v, MAX_NAME_BYTES).filter(|s| !s.trim().is_empty() && s.trim() == s)
}

fn clean_context(v: Option<&Value>) -> Option<i64> {
    v?.as_i64().filter(|n| (1..=MAX_CONTEXT).contains(n))
}

/// A JSON value with every string that Postgres cannot store scrubbed.
fn scrub(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "\u{FFFD}")),
        Value::Array(a) => Value::Array(a.iter().map(scrub).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.replace('\0', "\u{FFFD}"), scrub(v))).collect()),
        other => other.clone(),
    }
}

fn clean_details(v: Option<&Value>) -> Value {
    match v {
        Some(d @ Value::Object(_)) if serde_json::to_vec(d).map(|b| b.len()).unwrap_or(usize::MAX) <= MAX_DETAILS_BYTES => scrub(d),
        _ => json!({}),
    }
}

/// The list under `key` of an origin's answer, cleaned by `entry`. An answer without that list,
/// or a non-empty list without a single usable entry, is not a catalog: it is an error, and
/// the node keeps what it had.
fn collect(v: &Value, key: &str, entry: impl Fn(&Value) -> Option<Found>) -> Result<Catalog, String> {
    let Some(list) = v.get(key).and_then(Value::as_array) else {
        return Err(format!("the answer has no '{key}' list"));
    };
    let mut out = Catalog::default();
    let mut seen = std::collections::HashSet::new();
    for item in list {
        let Some(found) = entry(item) else {
            out.malformed += 1;
            continue;
        };
        if !seen.insert(canonical(&found.name).to_string()) {
            out.duplicates += 1;
        } else if out.models.len() >= MAX_CATALOG_MODELS {
            out.overflow += 1;
        } else {
            out.models.push(found);
        }
    }
    if out.models.is_empty() && !list.is_empty() {
        return Err(format!("none of the {} entries in '{key}' is a model with a usable name", list.len()));
    }
    Ok(out)
}

/// Parse Ollama `/api/tags`.
pub fn parse_tags(v: &Value) -> Result<Catalog, String> {
    collect(v, "models", |m| {
        let name = clean_name(m.get("name")).or_else(|| clean_name(m.get("model")))?;
        let details = clean_details(m.get("details"));
        Some(Found {
            name,
            size: m.get("size").and_then(Value::as_i64).filter(|s| *s >= 0),
            digest: clean_text(m.get("digest"), 200),
            modified_at: clean_text(m.get("modified_at"), 64),
            family: clean_text(details.get("family"), 100),
            details,
            context_length: None,
            capabilities: None,
        })
    })
}

/// Parse OpenAI-style `/v1/models` (vLLM's `max_model_len`, others' `context_length`/`context_window`).
pub fn parse_models(v: &Value) -> Result<Catalog, String> {
    collect(v, "data", |m| {
        let name = clean_name(m.get("id"))?;
        let ctx = ["max_model_len", "context_length", "context_window"].iter().find_map(|k| clean_context(m.get(*k)));
        Some(Found { name, size: None, digest: None, modified_at: None, family: clean_text(m.get("owned_by"), 100), details: json!({}), context_length: ctx, capabilities: None })
    })
}

/// Context length and capabilities from Ollama `/api/show`.
pub fn parse_show(v: &Value) -> (Option<i64>, Option<Vec<String>>) {
    let ctx = v.get("model_info").and_then(Value::as_object).and_then(|mi| mi.iter().find(|(k, _)| k.ends_with(".context_length")).and_then(|(_, v)| clean_context(Some(v))));
    let caps = v.get("capabilities").and_then(Value::as_array).map(|a| a.iter().filter_map(|c| clean_text(Some(c), 64)).take(32).collect());
    (ctx, caps)
}

/// What the node serves now.
pub async fn fetch_catalog<P: Platform>(p: &P, node: &Node, known: &[(String, Option<String>, bool)]) -> Result<Catalog, String> {
    match node.kind {
        NodeKind::Ollama => {
            let mut catalog = parse_tags(&request_json_max(p, node, Method::GET, "/api/tags", None, 15_000, MAX_CATALOG_BYTES).await?)?;
            // Ask /api/show only for models that are new, changed, or still lack details.
            let mut shows = 0;
            for f in catalog.models.iter_mut() {
                let needs = match known.iter().find(|(n, _, _)| n == &f.name) {
                    None => true,
                    Some((_, digest, has_ctx)) => digest != &f.digest || !has_ctx,
                };
                if needs && shows < MAX_SHOWS {
                    shows += 1;
                    if let Ok(v) = request_json(p, node, Method::POST, "/api/show", Some(&json!({"model": f.name})), 10_000).await {
                        (f.context_length, f.capabilities) = parse_show(&v);
                    }
                }
            }
            Ok(catalog)
        }
        NodeKind::Openai | NodeKind::Anthropic => parse_models(&request_json_max(p, node, Method::GET, "/v1/models", None, 15_000, MAX_CATALOG_BYTES).await?),
        NodeKind::Bedrock => {
            use crate::origins::bedrock::discovery as br;
            let models = br::foundation_models(&request_json_max(p, node, Method::GET, br::FOUNDATION_MODELS_PATH, None, 15_000, MAX_CATALOG_BYTES).await?)?;
            let mut listed: Vec<br::Listed> = models.iter().filter(|m| m.callable).cloned().collect();
            let mut next: Option<String> = None;
            for _ in 0..br::MAX_PROFILE_PAGES {
                let page = request_json_max(p, node, Method::GET, &br::profiles_path(next.as_deref()), None, 15_000, MAX_CATALOG_BYTES).await?;
                let (profiles, token) = br::inference_profiles(&page, &models)?;
                listed.extend(profiles);
                next = token;
                if next.is_none() {
                    break;
                }
            }
            Ok(bedrock_catalog(listed))
        }
    }
}

/// Bedrock's listings as a catalog: the same cleaning and bounds as any other origin's.
fn bedrock_catalog(listed: Vec<crate::origins::bedrock::discovery::Listed>) -> Catalog {
    let mut out = Catalog::default();
    let mut seen = std::collections::HashSet::new();
    for l in listed {
        let Some(name) = clean_name(Some(&Value::String(l.id))) else {
            out.malformed += 1;
            continue;
        };
        if !seen.insert(name.clone()) {
            out.duplicates += 1;
        } else if out.models.len() >= MAX_CATALOG_MODELS {
            out.overflow += 1;
        } else {
            let family = clean_text(l.provider.map(Value::String).as_ref(), 100);
            out.models.push(Found { name, size: None, digest: None, modified_at: None, family, details: clean_details(Some(&l.details)), context_length: None, capabilities: Some(l.capabilities) });
        }
    }
    out
}

/// Upsert the catalog, mark what vanished and record the outcome on the node, in one statement
/// (all or nothing, inside a transaction or not; Postgres runs every data-modifying CTE).
const WRITE_CATALOG_SQL: &str = "
    WITH found AS (SELECT value AS m FROM jsonb_array_elements($2::jsonb)),
    upsert AS (
      INSERT INTO node_models (node_id, model_name, size_bytes, digest, modified_at, family, details, context_length, capabilities, is_present, last_seen)
      SELECT $1::bigint, m->>'name', (m->>'size')::bigint, m->>'digest', m->>'modified_at', m->>'family', COALESCE(m->'details', '{}'::jsonb),
             (m->>'context_length')::int, CASE WHEN jsonb_typeof(m->'capabilities') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(m->'capabilities')) ELSE '{}'::text[] END, true, now()
      FROM found
      ON CONFLICT (node_id, model_name) DO UPDATE SET
        size_bytes = EXCLUDED.size_bytes, digest = EXCLUDED.digest, modified_at = EXCLUDED.modified_at, family = EXCLUDED.family,
        details = EXCLUDED.details,
        context_length = COALESCE(EXCLUDED.context_length, node_models.context_length),
        capabilities = CASE WHEN cardinality(EXCLUDED.capabilities) > 0 THEN EXCLUDED.capabilities ELSE node_models.capabilities END,
        is_present = true, last_seen = now()
    ),
    gone AS (
      UPDATE node_models SET is_present = false, is_loaded = false
      WHERE node_id = $1::bigint AND is_present AND model_name <> ALL (SELECT m->>'name' FROM found)),
    -- Vanished rows are kept (they hold the admin's availability switch), but not without end:
    -- an origin inventing new names every run must not grow the table.
    pruned AS (
      DELETE FROM node_models WHERE node_id = $1::bigint AND NOT is_present AND model_name IN (
        SELECT model_name FROM node_models WHERE node_id = $1::bigint AND NOT is_present ORDER BY last_seen DESC NULLS LAST OFFSET $4::bigint))
    UPDATE nodes SET discovery_error = $3::text, discovered_at = now() WHERE id = $1::bigint";

/// An origin's error text as the node row and the admin API show it: one line, bounded.
fn bounded(e: &str) -> String {
    let one_line: String = e.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one_line.char_indices().nth(500) {
        Some((i, _)) => format!("{}...", &one_line[..i]),
        None => one_line,
    }
}

/// Discover one node and write the result. A node whose answer is not a catalog keeps its last
/// good catalog and gets the reason recorded (`nodes.discovery_error`, shown by the admin API).
pub async fn discover<D: Db, P: Platform>(db: &D, p: &P, node: &Node) -> Result<Report, DbError> {
    let known = db
        .json(
            "SELECT COALESCE(json_agg(json_build_array(model_name, digest, context_length IS NOT NULL)), '[]'::json)::text FROM node_models WHERE node_id = $1::bigint AND is_present",
            &[Param::Int(Some(node.id))],
        )
        .await?;
    let known: Vec<(String, Option<String>, bool)> = serde_json::from_value(known).unwrap_or_default();
    let mut report = Report { node_id: node.id, node_name: node.name.clone(), ..Default::default() };
    let catalog = match fetch_catalog(p, node, &known).await {
        Ok(c) => c,
        Err(e) => {
            let e = bounded(&e);
            db.exec(
                "UPDATE nodes SET discovery_error = $2::text, discovered_at = now() WHERE id = $1::bigint",
                &[Param::Int(Some(node.id)), Param::Text(Some(format!("catalog not read, last good catalog kept: {e}")))],
            )
            .await?;
            report.error = Some(e);
            return Ok(report);
        }
    };
    report.warning = catalog.warning();
    let found = catalog.models;
    let names: std::collections::HashSet<&str> = found.iter().map(|f| f.name.as_str()).collect();
    let known_names: std::collections::HashSet<&str> = known.iter().map(|(n, _, _)| n.as_str()).collect();
    report.models = found.len();
    report.added = found.iter().filter(|f| !known_names.contains(f.name.as_str())).map(|f| f.name.clone()).collect();
    report.vanished = known.iter().filter(|(n, _, _)| !names.contains(n.as_str())).map(|(n, _, _)| n.clone()).collect();
    db.exec(
        WRITE_CATALOG_SQL,
        &[
            Param::Int(Some(node.id)),
            Param::Json(Some(serde_json::to_value(&found).unwrap_or(json!([])))),
            Param::Text(report.warning.clone()),
            Param::Int(Some(MAX_CATALOG_MODELS as i64)),
        ],
    )
    .await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_catalog_shape() {
        let tags = json!({"models":[{"name":"llama3:latest","model":"llama3:latest","size":5,"digest":"d1","details":{"family":"llama"}}]});
        let f = parse_tags(&tags).unwrap().models;
        assert_eq!(f[0].name, "llama3:latest");
        assert_eq!(f[0].family.as_deref(), Some("llama"));
        let models = json!({"object":"list","data":[{"id":"Qwen/Qwen3-8B","max_model_len":40960},{"id":"gpt-4o"}]});
        let f = parse_models(&models).unwrap().models;
        assert_eq!(f[0].context_length, Some(40960));
        assert_eq!(f[1].context_length, None);
        let show = json!({"model_info":{"general.architecture":"qwen3","qwen3.context_length":40960},"capabilities":["completion","tools"]});
        assert_eq!(parse_show(&show), (Some(40960), Some(vec!["completion".into(), "tools".into()])));
        assert!(parse_tags(&json!({"models": []})).unwrap().models.is_empty(), "an empty catalog is a catalog");
    }

    #[test]
    fn duplicates_and_latest_aliases_are_one_model() {
        let tags = json!({"models":[{"name":"fb-ok:latest"},{"name":"fb-ok:latest"},{"name":"fb-ok"},{"name":"other:7b"}]});
        let c = parse_tags(&tags).unwrap();
        assert_eq!(c.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["fb-ok:latest", "other:7b"]);
        assert_eq!(c.duplicates, 2);
        assert_eq!(c.warning().unwrap(), "2 duplicate entries ignored");
        let models = json!({"data":[{"id":"a"},{"id":"a:latest"},{"id":"a"}]});
        assert_eq!(parse_models(&models).unwrap().models.len(), 1);
    }

    #[test]
    fn catalogs_are_bounded() {
        let many: Vec<Value> = (0..MAX_CATALOG_MODELS + 500).map(|i| json!({"id": format!("m{i}")})).collect();
        let c = parse_models(&json!({ "data": many })).unwrap();
        assert_eq!(c.models.len(), MAX_CATALOG_MODELS);
        assert_eq!(c.overflow, 500);
        assert!(c.warning().unwrap().contains("beyond the limit of 2000"));
    }

    #[test]
    fn malformed_answers_are_errors_and_bad_entries_are_dropped() {
        for bad in [json!({"oops": 1}), json!({"models": "x"}), json!([1, 2]), json!(null), json!({"models": [1, "x", null, {"name": 5}]})] {
            assert!(parse_tags(&bad).is_err(), "{bad}");
        }
        assert!(parse_models(&json!({"data": {"id": "x"}})).is_err());
        let mixed = json!({"models":[
            {"name":"good"}, {"name":""}, {"name":" padded "}, {"name":"nul\u{0}name"}, {"name":"x".repeat(300)}, 7,
            {"name":"typed","size":"big","digest":5,"details":"no","modified_at":{"a":1}}
        ]});
        let c = parse_tags(&mixed).unwrap();
        assert_eq!(c.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["good", "typed"]);
        assert_eq!(c.malformed, 5);
        let typed = &c.models[1];
        assert_eq!((typed.size, typed.digest.as_deref(), typed.modified_at.as_deref()), (None, None, None));
        assert_eq!(typed.details, json!({}));
        // Values Postgres cannot hold never reach it; absurd context lengths are not believed.
        let c = parse_tags(&json!({"models":[{"name":"d","details":{"family":"a\u{0}b","k":["\u{0}"]}}]})).unwrap();
        assert!(!serde_json::to_string(&c.models[0].details).unwrap().contains("\\u0000"));
        assert_eq!(c.models[0].family.as_deref(), Some("a\u{FFFD}b"));
        let show = json!({"model_info":{"x.context_length": 1e12},"capabilities":["tools", 3, "a\u{0}"]});
        assert_eq!(parse_show(&show), (None, Some(vec!["tools".into()])));
        assert_eq!(parse_models(&json!({"data":[{"id":"m","max_model_len":-5,"context_length":4096}]})).unwrap().models[0].context_length, Some(4096));
    }

    #[test]
    fn error_text_is_one_bounded_line() {
        assert_eq!(bounded("a\nb\0c"), "a b c");
        assert_eq!(bounded(&"é".repeat(600)).chars().count(), 503);
    }
}
