//! `GET /v1/me`: the caller's own view, for clients, menu-bar tools and the dashboard's user
//! page: who I am, my teams, the models I may call, my limits with what remains today, my usage
//! (today and this month, UTC) and my keys (masked, with last use). Read-only.
//!
//! Usage and last use come from usage records, so they trail by up to one usage flush (about a
//! minute); what remains of a limit is the store's count, which includes requests other
//! isolates hold in leases they have not used yet (at most a few, for at most a second).

use crate::error::GatewayError;
use crate::limits::RuleState;
use crate::routing::catalog::{self, Entry};
use crate::state::db::{Db, Param};
use crate::state::snapshot::{Snapshot, User};
use serde_json::{json, Value};

const USAGE_SQL: &str = "
    WITH b AS (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS today,
                      date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month)
    SELECT json_build_object(
      'today', (SELECT json_build_object('requests', count(*), 'prompt_tokens', COALESCE(sum(prompt_tokens), 0), 'completion_tokens', COALESCE(sum(completion_tokens), 0), 'total_tokens', COALESCE(sum(total_tokens), 0))
                FROM usage_records, b WHERE user_id = $1::bigint AND created_at >= b.today),
      'month', (SELECT json_build_object('requests', count(*), 'prompt_tokens', COALESCE(sum(prompt_tokens), 0), 'completion_tokens', COALESCE(sum(completion_tokens), 0), 'total_tokens', COALESCE(sum(total_tokens), 0))
                FROM usage_records, b WHERE user_id = $1::bigint AND created_at >= b.month),
      'keys', COALESCE((SELECT json_agg(json_build_object('id', x.id, 'label', x.label, 'hint', x.hint, 'primary', x.primary, 'status', x.status, 'models', x.models,
                                                          'ip_allow', x.ip_allow, 'request_limit', x.request_limit, 'token_limit', x.token_limit,
                                                          'created_at', x.created_at, 'expires_at', x.expires_at, 'last_used_at', x.last_used_at) ORDER BY x.id)
                        FROM ({KEY_VIEW} WHERE k.user_id = $1::bigint AND (k.revoked_at IS NULL OR k.revoked_at > now() - interval '30 days')) x), '[]'::json))::text";

/// One limit level of the caller with the store's counts (`None`: the store did not answer).
pub struct Level {
    pub scope: String,
    pub states: Option<Vec<RuleState>>,
}

/// The whole answer. `user` is the caller's effective view (teams and key applied).
pub async fn answer<D: Db>(db: &D, snap: &Snapshot, user: &User, models: &[Entry<'_>], levels: &[Level]) -> Result<Value, GatewayError> {
    let sql = USAGE_SQL.replace("{KEY_VIEW}", crate::admin::keys::KEY_VIEW);
    let usage = db.json(&sql, &[Param::Int(Some(user.id))]).await?;
    let teams: Vec<Value> = user
        .teams
        .iter()
        .filter_map(|id| snap.team(*id))
        .map(|t| json!({"name": t.name, "models": if t.all_models { json!("all") } else { json!(t.models) }, "request_limit": t.request_limit, "token_limit": t.token_limit}))
        .collect();
    let current_key = user.key_id;
    let mut keys = usage["keys"].as_array().cloned().unwrap_or_default();
    for k in &mut keys {
        k["current"] = json!(k["id"].as_i64().is_some() && k["id"].as_i64() == current_key);
    }
    Ok(json!({
        "object": "me",
        "username": user.username,
        "teams": teams,
        "key": current_key.and_then(|id| keys.iter().find(|k| k["id"].as_i64() == Some(id)).cloned()),
        "models": models.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
        "all_models": user.all_models,
        "can_manage_models": user.can_manage_models,
        "limits": levels.iter().map(level).collect::<Vec<_>>(),
        "usage": {"today": usage["today"], "month": usage["month"]},
        "keys": keys,
    }))
}

fn level(l: &Level) -> Value {
    let (kind, _) = l.scope.split_once(':').unwrap_or((l.scope.as_str(), ""));
    let rules: Vec<Value> = match &l.states {
        Some(states) => states
            .iter()
            .map(|s| {
                json!({
                    "window": s.name,
                    "request_limit": s.max_requests,
                    "requests_used": s.used_requests,
                    "requests_remaining": s.max_requests.map(|m| m.saturating_sub(s.used_requests)),
                    "token_limit": s.max_tokens,
                    "tokens_used": s.used_tokens,
                    "tokens_remaining": s.max_tokens.map(|m| m.saturating_sub(s.used_tokens)),
                    "resets_at_ms": s.reset_ms,
                })
            })
            .collect(),
        None => Vec::new(),
    };
    json!({"level": kind, "scope": l.scope, "available": l.states.is_some(), "rules": rules})
}

/// The models the caller may call (the same list `/v1/models` shows, any dialect).
pub fn models<'a>(snap: &'a Snapshot, user: &User) -> Vec<Entry<'a>> {
    catalog::entries(snap).into_iter().filter(|e| catalog::allowed(user, &e.name)).collect()
}

/// The limit levels that apply to the caller outside of any model's per-minute limit.
pub fn scopes(user: &User) -> Vec<(String, Vec<crate::limits::Rule>)> {
    crate::limits::scopes::plan(user, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_show_what_remains() {
        let l =
            Level { scope: "team:7".into(), states: Some(vec![RuleState { name: "day".into(), max_requests: Some(50), max_tokens: None, used_requests: 20, used_tokens: 999, reset_ms: 86_400_000 }]) };
        let v = level(&l);
        assert_eq!(v["level"], "team");
        assert_eq!(v["rules"][0]["requests_remaining"], 30);
        assert_eq!(v["rules"][0]["tokens_remaining"], Value::Null);
        let down = level(&Level { scope: "user:1".into(), states: None });
        assert_eq!(down["available"], false);
    }

    #[test]
    fn scopes_are_every_level_with_a_limit() {
        let mut u = User { id: 3, request_limit: Some(5), ..Default::default() };
        u.scopes.push(("key:9".into(), vec![]));
        let s: Vec<String> = scopes(&u).into_iter().map(|(s, _)| s).collect();
        assert_eq!(s, vec!["user:3", "key:9"]);
    }
}
