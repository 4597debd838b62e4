//! The routing snapshot: everything the hot path needs (users' token hashes, allow-lists,
//! limits, nodes with catalog and health, mappings, groups, model config, prompts, settings),
//! built from Postgres in one query (`sql/snapshot.sql`), published to KV and cached in
//! isolate memory. It is immutable once loaded; `index()` builds the lookup maps.

use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub mappings: Vec<Mapping>,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub model_configs: Vec<ModelConfig>,
    #[serde(default)]
    pub system_prompts: Vec<SystemPrompt>,
    /// API keys (see `auth::keys`); `keys_enabled` marks a snapshot built with them, so one
    /// published by an older build (no keys) still authenticates by the users' token hashes.
    #[serde(default)]
    pub keys: Vec<ApiKey>,
    #[serde(default)]
    pub keys_enabled: bool,
    #[serde(default)]
    pub teams: Vec<Team>,
    /// Prices per real model and node (`costs`); a row without a node is the model's default.
    #[serde(default)]
    pub prices: Vec<crate::costs::rows::PriceRow>,
    /// Budgets in currency per user, team or key (`costs::budget`).
    #[serde(default)]
    pub budgets: Vec<crate::costs::rows::Budget>,
    /// Raw settings rows (key -> JSON); `settings` is the validated view.
    #[serde(default)]
    pub settings_raw: HashMap<String, serde_json::Value>,
    #[serde(skip)]
    pub settings: Settings,
    #[serde(skip)]
    pub(crate) idx: Index,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    user_by_token: HashMap<String, usize>,
    mapping_by_display: HashMap<String, usize>,
    group_by_name: HashMap<String, usize>,
    node_by_id: HashMap<i64, usize>,
    key_by_hash: HashMap<String, usize>,
    user_by_id: HashMap<i64, usize>,
    team_by_id: HashMap<i64, usize>,
    /// (real model, node id or 0 for the default row) -> price row.
    price_by_key: HashMap<(String, i64), usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// Hex SHA-256 of the token's jti.
    pub token_hash: String,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub all_models: bool,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub request_limit: Option<u64>,
    #[serde(default)]
    pub token_limit: Option<u64>,
    #[serde(default)]
    pub can_manage_models: bool,
    /// Nodes this user may reach (empty: every node).
    #[serde(default)]
    pub nodes: Vec<i64>,
    /// Models this user may reach on a node; a node with no rule here is not limited by it.
    #[serde(default)]
    pub node_models: Vec<NodeModelRule>,
    /// Ids of the teams the user belongs to.
    #[serde(default)]
    pub teams: Vec<i64>,
    /// Set by authentication on the caller's effective copy (never in a published snapshot):
    /// the key used, and the limit scopes beyond the user's own (teams, key).
    #[serde(skip)]
    pub key_id: Option<i64>,
    #[serde(skip)]
    pub scopes: Vec<(String, Vec<crate::limits::Rule>)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeModelRule {
    pub node_id: i64,
    pub model: String,
}

fn lenient_rules<'de, D: serde::Deserializer<'de>>(d: D) -> Result<RequestRules, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// Request rules of a node (`nodes.request_rules`): applied to every body the node receives.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestRules {
    /// `max_tokens` when the request sets neither `max_tokens` nor `max_completion_tokens`.
    #[serde(default)]
    pub default_max_tokens: Option<u32>,
    /// Top-level parameters removed before the request is sent.
    #[serde(default)]
    pub drop_params: Vec<String>,
}

/// One API key of a user. Revoked and expired keys stay in the snapshot for a while so a client
/// using one is told which (see `snapshot.sql`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    /// Hex SHA-256 of the key's jti.
    pub hash: String,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
    /// `None` = every model the user may call; otherwise only these (and only if the user may).
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Addresses or CIDR ranges; empty = any address.
    #[serde(default)]
    pub ip_allow: Vec<String>,
    #[serde(default)]
    pub request_limit: Option<u64>,
    #[serde(default)]
    pub token_limit: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Team {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub all_models: bool,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub request_limit: Option<u64>,
    #[serde(default)]
    pub token_limit: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    #[default]
    Ollama,
    Openai,
    Anthropic,
    /// Amazon Bedrock (Converse API, SigV4 or a Bedrock API key; `origins::bedrock`).
    Bedrock,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Ollama => "ollama",
            NodeKind::Openai => "openai",
            NodeKind::Anthropic => "anthropic",
            NodeKind::Bedrock => "bedrock",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    #[default]
    Unknown,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Node {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub kind: NodeKind,
    pub base_url: String,
    /// Sealed API key (see `auth::secrets`); opened only when building an upstream request.
    #[serde(default)]
    pub api_key_sealed: Option<String>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub weight: i32,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Header values are sealed like the API key (every row once migration 4 ran and the Worker
    /// sealed them; false in older snapshots, whose values are plain text). Opened when the
    /// isolate installs the snapshot or maintenance builds a request; never shown.
    #[serde(default)]
    pub headers_sealed: bool,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub warmup: bool,
    #[serde(default)]
    pub health_url: Option<String>,
    /// Serves only requests that name it (`node:{code}:{model}`), group members preferring it
    /// and mappings restricted to it.
    #[serde(default)]
    pub pinned_only: bool,
    /// Models no catalog lists yet are tried here instead of 404.
    #[serde(default)]
    pub route_unknown_models: bool,
    /// A malformed value (hand-edited row) reads as no rules rather than failing the snapshot.
    #[serde(default, deserialize_with = "lenient_rules")]
    pub request_rules: RequestRules,
    #[serde(default)]
    pub models: Vec<NodeModel>,
    /// Bedrock nodes only: region and access key (the secret and session token sealed like
    /// the API key; a Bedrock API key, when set, is `api_key_sealed`).
    #[serde(default)]
    pub aws: Option<AwsAuth>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AwsAuth {
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_sealed: Option<String>,
    #[serde(default)]
    pub session_token_sealed: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeModel {
    pub name: String,
    /// Present at the last discovery AND switched on by the admin.
    #[serde(default)]
    pub available: bool,
    #[serde(default)]
    pub loaded: bool,
    #[serde(default)]
    pub context_length: Option<u32>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub modified_at: Option<String>,
    #[serde(default)]
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Mapping {
    pub display: String,
    pub real: String,
    /// Empty = global; otherwise the real name applies (and routing goes) only to these nodes.
    #[serde(default)]
    pub node_ids: Vec<i64>,
    #[serde(default)]
    pub context_length: Option<u32>,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

pub use crate::types::Strategy;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub node_strategy: Option<Strategy>,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub list_in_catalog: bool,
    #[serde(default)]
    pub max_failover_retries: Option<u32>,
    #[serde(default)]
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub weight: u32,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub is_fallback: bool,
    #[serde(default)]
    pub is_fallback_413: bool,
    #[serde(default)]
    pub is_metadata_source: bool,
    #[serde(default)]
    pub active: bool,
    /// Preferred nodes in order; when non-empty routing for this member is pinned to them.
    #[serde(default)]
    pub preferred_nodes: Vec<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelConfig {
    pub prefix: String,
    #[serde(default)]
    pub exact: bool,
    /// Resolved allowed tools: the linked tool set's list if one is linked, else the row's own.
    /// `None` = every tool allowed.
    #[serde(default)]
    pub allowed_tools: Option<Vec<String>>,
    #[serde(default)]
    pub unsupported_params: Vec<String>,
    #[serde(default)]
    pub default_context_length: Option<u32>,
    #[serde(default)]
    pub max_context_length: Option<u32>,
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    #[serde(default)]
    pub tokens_per_minute: Option<u32>,
    #[serde(default)]
    pub node_strategy: Option<Strategy>,
    #[serde(default)]
    pub maintenance: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SystemPrompt {
    pub scope: String,
    pub value: String,
    pub prompt: String,
    #[serde(default)]
    pub priority: i32,
}

impl Snapshot {
    /// Parse a published snapshot and build its indexes and validated settings.
    pub fn from_json(bytes: &[u8]) -> Result<Snapshot, String> {
        let snap: Snapshot = serde_json::from_slice(bytes).map_err(|e| format!("snapshot: {e}"))?;
        Ok(snap.indexed())
    }

    pub fn indexed(mut self) -> Snapshot {
        let mut idx = Index::default();
        for (i, u) in self.users.iter().enumerate() {
            if u.active && !u.token_hash.is_empty() {
                idx.user_by_token.insert(u.token_hash.clone(), i);
            }
        }
        for (i, u) in self.users.iter().enumerate() {
            idx.user_by_id.insert(u.id, i);
        }
        for (i, k) in self.keys.iter().enumerate() {
            idx.key_by_hash.insert(k.hash.clone(), i);
        }
        for (i, t) in self.teams.iter().enumerate() {
            idx.team_by_id.insert(t.id, i);
        }
        for (i, m) in self.mappings.iter().enumerate() {
            idx.mapping_by_display.insert(m.display.clone(), i);
        }
        for (i, g) in self.groups.iter().enumerate() {
            idx.group_by_name.insert(g.name.clone(), i);
        }
        for (i, n) in self.nodes.iter().enumerate() {
            idx.node_by_id.insert(n.id, i);
        }
        for (i, p) in self.prices.iter().enumerate() {
            idx.price_by_key.insert((p.model.clone(), p.node_id.unwrap_or(0)), i);
        }
        self.settings = Settings::from_raw(&self.settings_raw);
        self.idx = idx;
        self
    }

    /// Whether any routing uses the least-busy strategy (only then are global stream counts
    /// worth fetching).
    pub fn uses_least_busy(&self) -> bool {
        self.settings.node_strategy == Strategy::LeastBusy
            || self.groups.iter().any(|g| g.node_strategy == Some(Strategy::LeastBusy))
            || self.model_configs.iter().any(|c| c.node_strategy == Some(Strategy::LeastBusy))
    }

    pub fn user_by_token_hash(&self, hash: &str) -> Option<&User> {
        self.idx.user_by_token.get(hash).map(|&i| &self.users[i])
    }

    pub fn key_by_hash(&self, hash: &str) -> Option<&ApiKey> {
        self.idx.key_by_hash.get(hash).map(|&i| &self.keys[i])
    }

    pub fn user_by_id(&self, id: i64) -> Option<&User> {
        self.idx.user_by_id.get(&id).map(|&i| &self.users[i])
    }

    pub fn team(&self, id: i64) -> Option<&Team> {
        self.idx.team_by_id.get(&id).map(|&i| &self.teams[i])
    }

    /// The price row for a real model on a node (`costs::price_for` applies the defaults).
    pub fn price_row(&self, model: &str, node_id: Option<i64>) -> Option<&crate::costs::rows::PriceRow> {
        self.idx.price_by_key.get(&(model.to_string(), node_id.unwrap_or(0))).map(|&i| &self.prices[i])
    }

    pub fn node(&self, id: i64) -> Option<&Node> {
        self.idx.node_by_id.get(&id).map(|&i| &self.nodes[i])
    }

    /// Mapping for a display name; `name` also matches `name:latest` and vice versa.
    pub fn mapping(&self, name: &str) -> Option<&Mapping> {
        if let Some(&i) = self.idx.mapping_by_display.get(name) {
            return Some(&self.mappings[i]);
        }
        alias(name).and_then(|a| self.idx.mapping_by_display.get(a.as_str())).map(|&i| &self.mappings[i])
    }

    /// An active group with at least one active member.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.idx
            .group_by_name
            .get(name)
            .map(|&i| &self.groups[i])
            .filter(|g| g.active && g.members.iter().any(|m| m.active))
    }

    /// Model config by case-insensitive longest prefix; rows flagged exact only match exactly.
    pub fn model_config(&self, name: &str) -> Option<&ModelConfig> {
        let lower = name.to_ascii_lowercase();
        self.model_configs
            .iter()
            .filter(|c| {
                let p = c.prefix.to_ascii_lowercase();
                if c.exact {
                    p == lower || alias(&lower).is_some_and(|a| a == p)
                } else {
                    lower.starts_with(&p)
                }
            })
            .max_by_key(|c| (c.exact, c.prefix.len()))
    }
}

/// `name` <-> `name:latest`: the one alias Ollama itself applies.
pub fn alias(name: &str) -> Option<String> {
    if let Some(base) = name.strip_suffix(":latest") {
        Some(base.to_string())
    } else if !name.contains(':') {
        Some(format!("{name}:latest"))
    } else {
        None
    }
}

/// True when two model names denote the same model (exact, or differing only by `:latest`).
pub fn same_model(a: &str, b: &str) -> bool {
    a == b || alias(a).is_some_and(|x| x == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_alias_both_ways() {
        assert!(same_model("llama3", "llama3:latest"));
        assert!(same_model("llama3:latest", "llama3"));
        assert!(!same_model("llama3:8b", "llama3"));
        assert!(same_model("gpt-4o", "gpt-4o"));
    }

    #[test]
    fn model_config_longest_prefix_and_exact() {
        let s = Snapshot {
            model_configs: vec![
                ModelConfig { prefix: "qwen".into(), ..Default::default() },
                ModelConfig { prefix: "qwen3".into(), ..Default::default() },
                ModelConfig { prefix: "qwen3-coder".into(), exact: true, ..Default::default() },
            ],
            ..Default::default()
        }
        .indexed();
        assert_eq!(s.model_config("Qwen3:8b").unwrap().prefix, "qwen3");
        assert_eq!(s.model_config("qwen3-coder").unwrap().prefix, "qwen3-coder");
        assert_eq!(s.model_config("qwen3-coder:30b").unwrap().prefix, "qwen3");
        assert_eq!(s.model_config("qwen2").unwrap().prefix, "qwen");
        assert!(s.model_config("llama").is_none());
    }
}
