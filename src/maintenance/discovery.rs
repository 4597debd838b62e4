//! Model discovery: ask a node what it serves (`/api/tags` + `/api/show`, or `/v1/models`),
//! upsert the catalog, mark models that vanished as not present (the admin's availability
//! switch is left alone), and report what changed so the snapshot is republished only then.

use super::{get_json, request_json};
use crate::platform::Platform;
use crate::state::db::{Db, DbError, Param};
use crate::state::snapshot::{Node, NodeKind};
use serde::Serialize;
use serde_json::{json, Value};

/// `/api/show` calls per node per run: bounds the subrequests one cron invocation makes.
const MAX_SHOWS: usize = 8;

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
    pub error: Option<String>,
}

impl Report {
    pub fn changed(&self) -> bool {
        !self.added.is_empty() || !self.vanished.is_empty()
    }
}

/// Parse Ollama `/api/tags`.
pub fn parse_tags(v: &Value) -> Vec<Found> {
    v.get("models")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .filter_map(|m| {
                    let name = m.get("name").or_else(|| m.get("model")).and_then(Value::as_str)?.to_string();
                    let details = m.get("details").cloned().unwrap_or(json!({}));
                    Some(Found {
                        name,
                        size: m.get("size").and_then(Value::as_i64),
                        digest: m.get("digest").and_then(Value::as_str).map(String::from),
                        modified_at: m.get("modified_at").and_then(Value::as_str).map(String::from),
                        family: details.get("family").and_then(Value::as_str).map(String::from),
                        details,
                        context_length: None,
                        capabilities: None,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parse OpenAI-style `/v1/models` (vLLM's `max_model_len`, others' `context_length`/`context_window`).
pub fn parse_models(v: &Value) -> Vec<Found> {
    v.get("data")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .filter_map(|m| {
                    let name = m.get("id").and_then(Value::as_str)?.to_string();
                    let ctx = ["max_model_len", "context_length", "context_window"].iter().find_map(|k| m.get(*k).and_then(Value::as_i64));
                    Some(Found { name, size: None, digest: None, modified_at: None, family: m.get("owned_by").and_then(Value::as_str).map(String::from), details: json!({}), context_length: ctx, capabilities: None })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Context length and capabilities from Ollama `/api/show`.
pub fn parse_show(v: &Value) -> (Option<i64>, Option<Vec<String>>) {
    let ctx = v.get("model_info").and_then(Value::as_object).and_then(|mi| mi.iter().find(|(k, _)| k.ends_with(".context_length")).and_then(|(_, v)| v.as_i64()));
    let caps = v.get("capabilities").and_then(Value::as_array).map(|a| a.iter().filter_map(|c| c.as_str().map(String::from)).collect());
    (ctx, caps)
}

/// What the node serves now.
pub async fn fetch_catalog<P: Platform>(p: &P, node: &Node, known: &[(String, Option<String>, bool)]) -> Result<Vec<Found>, String> {
    match node.kind {
        NodeKind::Ollama => {
            let mut found = parse_tags(&get_json(p, node, "/api/tags", 15_000).await?);
            // Ask /api/show only for models that are new, changed, or still lack details.
            let mut shows = 0;
            for f in found.iter_mut() {
                let needs = match known.iter().find(|(n, _, _)| n == &f.name) {
                    None => true,
                    Some((_, digest, has_ctx)) => digest != &f.digest || !has_ctx,
                };
                if needs && shows < MAX_SHOWS {
                    shows += 1;
                    if let Ok(v) = request_json(p, node, "POST", "/api/show", Some(&json!({"model": f.name})), 10_000).await {
                        (f.context_length, f.capabilities) = parse_show(&v);
                    }
                }
            }
            Ok(found)
        }
        NodeKind::Openai | NodeKind::Anthropic => Ok(parse_models(&get_json(p, node, "/v1/models", 15_000).await?)),
    }
}

/// Discover one node and write the result.
pub async fn discover<D: Db, P: Platform>(db: &D, p: &P, node: &Node) -> Result<Report, DbError> {
    let known = db
        .json(
            "SELECT COALESCE(json_agg(json_build_array(model_name, digest, context_length IS NOT NULL)), '[]'::json)::text FROM node_models WHERE node_id = $1::bigint AND is_present",
            &[Param::Int(Some(node.id))],
        )
        .await?;
    let known: Vec<(String, Option<String>, bool)> = serde_json::from_value(known).unwrap_or_default();
    let mut report = Report { node_id: node.id, node_name: node.name.clone(), ..Default::default() };
    let found = match fetch_catalog(p, node, &known).await {
        Ok(f) => f,
        Err(e) => {
            report.error = Some(e);
            return Ok(report);
        }
    };
    report.models = found.len();
    report.added = found.iter().filter(|f| !known.iter().any(|(n, _, _)| n == &f.name)).map(|f| f.name.clone()).collect();
    report.vanished = known.iter().filter(|(n, _, _)| !found.iter().any(|f| &f.name == n)).map(|(n, _, _)| n.clone()).collect();
    db.exec(
        "INSERT INTO node_models (node_id, model_name, size_bytes, digest, modified_at, family, details, context_length, capabilities, is_present, last_seen)
         SELECT $1::bigint, m->>'name', (m->>'size')::bigint, m->>'digest', m->>'modified_at', m->>'family', COALESCE(m->'details', '{}'::jsonb),
                (m->>'context_length')::int, CASE WHEN jsonb_typeof(m->'capabilities') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(m->'capabilities')) ELSE '{}'::text[] END, true, now()
         FROM jsonb_array_elements($2::jsonb) m
         ON CONFLICT (node_id, model_name) DO UPDATE SET
           size_bytes = EXCLUDED.size_bytes, digest = EXCLUDED.digest, modified_at = EXCLUDED.modified_at, family = EXCLUDED.family,
           details = EXCLUDED.details,
           context_length = COALESCE(EXCLUDED.context_length, node_models.context_length),
           capabilities = CASE WHEN cardinality(EXCLUDED.capabilities) > 0 THEN EXCLUDED.capabilities ELSE node_models.capabilities END,
           is_present = true, last_seen = now()",
        &[Param::Int(Some(node.id)), Param::Json(Some(serde_json::to_value(&found).unwrap_or(json!([]))))],
    )
    .await?;
    if !report.vanished.is_empty() {
        db.exec(
            "UPDATE node_models SET is_present = false, is_loaded = false WHERE node_id = $1::bigint AND model_name = ANY($2::text[])",
            &[Param::Int(Some(node.id)), Param::TextArray(Some(report.vanished.clone()))],
        )
        .await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_catalog_shape() {
        let tags = json!({"models":[{"name":"llama3:latest","model":"llama3:latest","size":5,"digest":"d1","details":{"family":"llama"}}]});
        let f = parse_tags(&tags);
        assert_eq!(f[0].name, "llama3:latest");
        assert_eq!(f[0].family.as_deref(), Some("llama"));
        let models = json!({"object":"list","data":[{"id":"Qwen/Qwen3-8B","max_model_len":40960},{"id":"gpt-4o"}]});
        let f = parse_models(&models);
        assert_eq!(f[0].context_length, Some(40960));
        assert_eq!(f[1].context_length, None);
        let show = json!({"model_info":{"general.architecture":"qwen3","qwen3.context_length":40960},"capabilities":["completion","tools"]});
        assert_eq!(parse_show(&show), (Some(40960), Some(vec!["completion".into(), "tools".into()])));
        assert!(parse_tags(&json!({"oops": 1})).is_empty());
    }
}
