//! Warm-up: load the models a node will be asked for before a user waits on a multi-second cold
//! load. Only Ollama nodes with warm-up on; only models the node has right now (its fresh
//! `/api/tags`, never a stale catalog name) that routing can reach (mapped, in a group, or used
//! there in the last day); never while the node serves streams; never `-cloud`/`:cloud` models
//! when the setting says so (they cost upstream quota). `/api/ps` tells what is already loaded,
//! is recorded by the health probe each run (routing prefers nodes with the model in memory);
//! warm-up reads that record instead of asking again.

use super::budget::{Budget, Kind};
use super::discovery::parse_tags;
use super::{get_json, request_json};
use crate::net::Method;
use crate::platform::Platform;
use crate::settings::Settings;
use crate::state::db::{Db, DbError, Param};
use crate::state::snapshot::{same_model, Node, NodeKind};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub node_id: i64,
    pub node_name: String,
    pub skipped: Option<String>,
    pub loaded: Vec<String>,
    pub warmed: Vec<String>,
    pub errors: Vec<String>,
    /// Whether the recorded loaded set changed (routing prefers loaded nodes: republish).
    pub changed: bool,
}

pub fn is_cloud(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    m.ends_with("-cloud") || m.ends_with(":cloud") || m.contains(":cloud")
}

/// Names in an Ollama `/api/ps` answer.
pub fn parse_ps(v: &Value) -> Vec<String> {
    v.get("models").and_then(Value::as_array).map(|a| a.iter().filter_map(|m| m.get("model").or_else(|| m.get("name")).and_then(Value::as_str).map(String::from)).collect()).unwrap_or_default()
}

const WANTED_SQL: &str = "SELECT COALESCE(json_agg(DISTINCT name), '[]'::json)::text FROM (
    SELECT real_name AS name FROM model_mappings
    UNION SELECT COALESCE(mm.real_name, gm.model_name) FROM model_group_members gm LEFT JOIN model_mappings mm ON mm.display_name = gm.model_name WHERE gm.is_active
    UNION SELECT real_model FROM usage_records WHERE node_id = $1::bigint AND created_at > now() - interval '1 day' AND real_model <> ''
  ) x";

/// One node. `busy` = its active streams now; `budget` = this run's subrequests.
pub async fn warm<D: Db, P: Platform>(db: &D, p: &P, node: &Node, s: &Settings, busy: u32, budget: &Budget) -> Result<Report, DbError> {
    let mut r = Report { node_id: node.id, node_name: node.name.clone(), ..Default::default() };
    if node.kind != NodeKind::Ollama || !node.warmup {
        r.skipped = Some("warm-up is off for this node".into());
        return Ok(r);
    }
    if busy > 0 {
        r.skipped = Some(format!("serving {busy} stream(s)"));
        return Ok(r);
    }
    if !budget.try_take(&[(Kind::Origin, 1)]) {
        r.skipped = Some("subrequest budget exhausted for this run".into());
        return Ok(r);
    }
    let tags = match get_json(p, node, "/api/tags", 10_000).await {
        Ok(t) => t,
        Err(e) => {
            r.errors.push(e);
            return Ok(r);
        }
    };
    r.loaded = serde_json::from_value(
        db.json("SELECT COALESCE(json_agg(model_name), '[]'::json)::text FROM node_models WHERE node_id = $1::bigint AND is_loaded", &[Param::Int(Some(node.id))]).await?,
    )
    .unwrap_or_default();
    let present: Vec<String> = parse_tags(&tags).map(|c| c.models).unwrap_or_default().into_iter().map(|f| f.name).collect();
    let wanted: Vec<String> = serde_json::from_value(db.json(WANTED_SQL, &[Param::Int(Some(node.id))]).await?).unwrap_or_default();
    let candidates: Vec<String> = present
        .into_iter()
        .filter(|m| wanted.iter().any(|w| same_model(w, m)))
        .filter(|m| !r.loaded.iter().any(|l| same_model(l, m)))
        .filter(|m| !(s.warmup_skip_cloud && is_cloud(m)))
        .take(s.warmup_max_per_node as usize)
        .collect();
    let keep_alive = s.ollama_keep_alive.clone().unwrap_or_else(|| json!("10m"));
    for model in candidates {
        if !budget.try_take(&[(Kind::Origin, 1)]) {
            break;
        }
        // An empty prompt loads the model without generating anything.
        match request_json(p, node, Method::POST, "/api/generate", Some(&json!({"model": model, "prompt": "", "stream": false, "keep_alive": keep_alive})), 120_000).await {
            Ok(_) => {
                r.changed = true;
                db.exec("UPDATE node_models SET is_loaded = true WHERE node_id = $1::bigint AND model_name = $2::text", &[Param::Int(Some(node.id)), Param::Text(Some(model.clone()))]).await?;
                r.warmed.push(model);
            }
            Err(e) => r.errors.push(format!("{model}: {e}")),
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_names_and_ps() {
        assert!(is_cloud("gpt-oss:120b-cloud"));
        assert!(is_cloud("kimi-k2:1t-cloud"));
        assert!(is_cloud("glm-5:cloud"));
        assert!(!is_cloud("llama3:latest"));
        assert_eq!(parse_ps(&json!({"models":[{"name":"a:latest","model":"a:latest"}]})), vec!["a:latest".to_string()]);
    }
}
