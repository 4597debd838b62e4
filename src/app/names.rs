//! Which model names a user may call and see: the catalog filtered by their allow-list, node
//! scope and what some node can serve for the operation (listings, model info, inference).

use super::tools;
use crate::error::GatewayError;
use crate::routes::Op;
use crate::routing::catalog::{self, Entry};
use crate::routing::scope::{self, Scope};
use crate::state::snapshot::{Snapshot, User};

/// Catalog entries the user may call that some node can serve for `op`.
pub fn visible<'a>(snap: &'a Snapshot, user: &User, op: &Op) -> Vec<Entry<'a>> {
    let kinds = crate::origins::kinds_for(op);
    let scope = Scope::of(user, None);
    catalog::entries(snap).into_iter().filter(|e| catalog::allowed(user, &e.name) && catalog::served_by(e, &kinds) && scope::reachable(snap, &scope, e, &kinds)).collect()
}

/// What a Claude-side model name stands for (`tools::claude_name`), among the names this user
/// may call.
pub fn claude_name(snap: &Snapshot, user: &User, model: &str) -> Option<String> {
    let exists = |n: &str| catalog::find(snap, n).is_some();
    if model.starts_with("claude-maestro-") {
        let names: Vec<String> = visible(snap, user, &Op::Messages).into_iter().map(|e| e.name).collect();
        return tools::claude_name(model, &names, &exists);
    }
    tools::claude_name(model, &[], &exists)
}

/// The entry for a requested name if it exists and the user may call it. Otherwise 404 with one
/// message whether the name is unknown or outside the user's allow-list: a different answer
/// would confirm which hidden names exist (README, "403 or 404").
pub fn callable<'a>(snap: &'a Snapshot, user: &User, name: &str) -> Result<Entry<'a>, GatewayError> {
    callable_in(snap, user, name, None)
}

/// `callable` within the user's node rules and a pinned node (`routing::scope`): a name no
/// node the user may use serves is unknown to them too. A name no catalog lists yet is callable
/// when a `route_unknown_models` node in scope takes it.
pub fn callable_in<'a>(snap: &'a Snapshot, user: &User, name: &str, pin: Option<i64>) -> Result<Entry<'a>, GatewayError> {
    let scope = Scope::of(user, pin);
    let allowed = catalog::allowed(user, name);
    match catalog::find(snap, name).filter(|_| allowed) {
        Some(e) if scope::reachable(snap, &scope, &e, &[]) => Ok(e),
        None if allowed && !scope::unknown_model_nodes(snap, &scope, name, &[]).is_empty() => Ok(Entry {
            name: name.to_string(),
            kind: catalog::EntryKind::Real,
            backing: None,
            context_length: catalog::context_length(snap, None, None, name),
            capabilities: vec!["completion".to_string()],
        }),
        _ => Err(GatewayError::NotFound(catalog::not_callable(name))),
    }
}
