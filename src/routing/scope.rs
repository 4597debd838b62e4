//! Which nodes one request may use, besides what the catalog and health say:
//! - a user may be limited to some nodes (`User::nodes`), and to some models on a node
//!   (`User::node_models`: a node with rules serves this user only the models listed for it);
//! - a name may pin a node: `node:{code}:{model}` routes `model` to that node only;
//! - a `pinned_only` node serves only requests that name it: pinned names, group members that
//!   prefer it, mappings restricted to it;
//! - a `route_unknown_models` node is tried for a name no catalog lists yet (instead of 404),
//!   until discovery lists it.
//!
//! Listings use the same rules (`reachable`), so a user sees exactly the names they can use.

use super::catalog::{self, Entry, EntryKind};
use crate::error::GatewayError;
use crate::state::snapshot::{same_model, Mapping, Node, NodeKind, Snapshot, User};

#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    pub user: Option<&'a User>,
    /// The node a `node:{code}:{model}` name pinned.
    pub pin: Option<i64>,
}

impl<'a> Scope<'a> {
    pub fn of(user: &'a User, pin: Option<i64>) -> Scope<'a> {
        Scope { user: Some(user), pin }
    }

    /// May `model` (the routed name: requested or group member), real name `real` there, be
    /// sent to `node`? `named`: the configuration names this node for the model (a member's
    /// preferred nodes, a mapping restricted to it).
    pub fn admits(&self, node: &Node, model: &str, real: &str, named: bool) -> bool {
        match self.pin {
            Some(pin) if node.id != pin => return false,
            None if node.pinned_only && !named => return false,
            _ => {}
        }
        self.user.is_none_or(|u| user_admits(u, node, model, real))
    }
}

fn user_admits_node(u: &User, node: &Node) -> bool {
    u.nodes.is_empty() || u.nodes.contains(&node.id)
}

/// The user's node and node-model rules for one node and model.
pub fn user_admits(u: &User, node: &Node, model: &str, real: &str) -> bool {
    if !user_admits_node(u, node) {
        return false;
    }
    let mut rules = u.node_models.iter().filter(|r| r.node_id == node.id).peekable();
    rules.peek().is_none() || rules.any(|r| same_model(&r.model, real) || same_model(&r.model, model))
}

/// `node:{code}:{model}` -> (pinned node, model). `Ok(None)` when the name pins nothing. A code
/// no active node has, or a node the user may not use, is the same 404 as an unknown name.
pub fn split_pin<'n>(snap: &Snapshot, user: &User, name: &'n str) -> Result<Option<(i64, &'n str)>, GatewayError> {
    let Some(rest) = name.strip_prefix("node:") else { return Ok(None) };
    let not_found = || GatewayError::NotFound(catalog::not_callable(name));
    let (code, model) = rest.split_once(':').filter(|(c, m)| !c.is_empty() && !m.is_empty()).ok_or_else(not_found)?;
    let node = snap.nodes.iter().find(|n| n.active && n.code.as_deref() == Some(code)).filter(|n| user_admits_node(user, n)).ok_or_else(not_found)?;
    Ok(Some((node.id, model)))
}

/// Whether nothing in the snapshot restricts nodes (the common case: no per-user rules, no
/// pinned-only nodes), so listings need no per-entry check.
fn unrestricted(snap: &Snapshot, scope: &Scope) -> bool {
    scope.pin.is_none() && scope.user.is_none_or(|u| u.nodes.is_empty() && u.node_models.is_empty()) && !snap.nodes.iter().any(|n| n.pinned_only)
}

fn kind_ok(kinds: &[NodeKind], n: &Node) -> bool {
    kinds.is_empty() || kinds.contains(&n.kind)
}

fn serves(snap: &Snapshot, scope: &Scope, name: &str, preferred: &[i64], kinds: &[NodeKind]) -> bool {
    if !preferred.is_empty() {
        return preferred.iter().filter_map(|id| snap.node(*id)).any(|n| n.active && kind_ok(kinds, n) && scope.admits(n, name, real_on(snap.mapping(name), name, n), true));
    }
    let mapping: Option<&Mapping> = snap.mapping(name);
    snap.nodes.iter().filter(|n| n.active && kind_ok(kinds, n)).any(|n| {
        let named = match mapping {
            Some(m) if !m.node_ids.is_empty() && !m.node_ids.contains(&n.id) => return false,
            Some(m) => m.node_ids.contains(&n.id),
            None if catalog::hidden_on(snap, n, name) => return false,
            None => false,
        };
        let real = real_on(mapping, name, n);
        n.models.iter().any(|nm| nm.available && same_model(&nm.name, real)) && scope.admits(n, name, real, named)
    })
}

fn real_on<'a>(mapping: Option<&'a Mapping>, name: &'a str, node: &Node) -> &'a str {
    match mapping {
        Some(m) if m.node_ids.is_empty() || m.node_ids.contains(&node.id) => &m.real,
        _ => name,
    }
}

/// Whether some node the scope admits serves the entry (for listings and the callable check).
/// `kinds`: node kinds that can serve the operation (empty: any).
pub fn reachable(snap: &Snapshot, scope: &Scope, entry: &Entry, kinds: &[NodeKind]) -> bool {
    if unrestricted(snap, scope) {
        return true;
    }
    match &entry.kind {
        EntryKind::Group(g) => g.members.iter().filter(|m| m.active).any(|m| serves(snap, scope, &m.name, &m.preferred_nodes, kinds)),
        _ => serves(snap, scope, &entry.name, &[], kinds),
    }
}

/// Nodes that take a name no catalog lists (`route_unknown_models`), for this scope. Empty
/// when the name is known anywhere (a mapping, a group, any catalog row, even a switched-off
/// one): a known model is routed by the catalog, and a switched-off one stays off.
pub fn unknown_model_nodes<'s>(snap: &'s Snapshot, scope: &Scope, name: &str, kinds: &[NodeKind]) -> Vec<&'s Node> {
    if !snap.nodes.iter().any(|n| n.route_unknown_models) || snap.mapping(name).is_some() || snap.group(name).is_some() {
        return Vec::new();
    }
    if snap.nodes.iter().any(|n| n.models.iter().any(|m| same_model(&m.name, name))) {
        return Vec::new();
    }
    snap.nodes.iter().filter(|n| n.active && n.route_unknown_models && kind_ok(kinds, n) && scope.admits(n, name, name, false)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::plan::{Draws, FailureClass, Needs, NodeState, Planner};
    use serde_json::json;

    struct Calm;
    impl NodeState for Calm {
        fn gate(&self, _: i64, _: &str, _: u64) -> crate::routing::breaker::Gate {
            crate::routing::breaker::Gate::Closed
        }
        fn active_streams(&self, _: i64) -> u32 {
            0
        }
    }

    fn snap() -> Snapshot {
        // a (1): mock + solo; b (2, pinned only, code "bee"): mock; c (3, unknown models).
        let v = json!({
            "users": [
                {"id": 10, "username": "free", "token_hash": "f", "active": true, "all_models": true},
                {"id": 11, "username": "only-b", "token_hash": "b", "active": true, "all_models": true, "nodes": [2]},
                {"id": 12, "username": "solo-on-a", "token_hash": "s", "active": true, "all_models": true, "node_models": [{"node_id": 1, "model": "solo"}]}
            ],
            "nodes": [
                {"id": 1, "name": "a", "code": "ay", "base_url": "http://a", "active": true, "priority": 1, "models": [{"name": "mock:latest", "available": true}, {"name": "solo", "available": true}]},
                {"id": 2, "name": "b", "code": "bee", "base_url": "http://b", "active": true, "priority": 2, "pinned_only": true, "models": [{"name": "mock:latest", "available": true}, {"name": "bonly", "available": true}]},
                {"id": 3, "name": "c", "code": "see", "base_url": "http://c", "active": true, "priority": 3, "route_unknown_models": true, "models": []}
            ],
            "groups": [{"name": "g", "active": true, "list_in_catalog": true, "members": [{"name": "mock", "active": true, "preferred_nodes": [2]}]}]
        });
        Snapshot::from_json(v.to_string().as_bytes()).unwrap()
    }

    fn user<'a>(s: &'a Snapshot, name: &str) -> &'a User {
        s.users.iter().find(|u| u.username == name).unwrap()
    }

    fn nodes_for(s: &Snapshot, scope: Scope, name: &str) -> Vec<i64> {
        let kinds = [NodeKind::Ollama];
        match Planner::scoped(s, name, Needs::default(), &kinds, &Calm, &mut Draws::default(), 0, &scope) {
            Ok(mut p) => {
                let mut out = Vec::new();
                let mut last = None;
                while let Some(a) = p.next(last) {
                    out.push(a.node_id);
                    last = Some(FailureClass::NextNode);
                }
                out
            }
            Err(_) => Vec::new(),
        }
    }

    #[test]
    fn pinned_only_nodes_serve_pins_and_preferring_members_only() {
        let s = snap();
        let free = user(&s, "free");
        assert_eq!(nodes_for(&s, Scope::of(free, None), "mock"), [1]);
        assert_eq!(nodes_for(&s, Scope::of(free, Some(2)), "mock"), [2]);
        assert_eq!(nodes_for(&s, Scope::of(free, None), "g"), [2], "a member preferring the node reaches it");
        assert_eq!(nodes_for(&s, Scope::of(free, None), "bonly"), Vec::<i64>::new());
        assert_eq!(split_pin(&s, free, "node:bee:mock").unwrap(), Some((2, "mock")));
        assert_eq!(split_pin(&s, free, "mock").unwrap(), None);
        assert_eq!(split_pin(&s, free, "node:nope:mock").unwrap_err().status(), 404);
        assert_eq!(split_pin(&s, free, "node:bee:").unwrap_err().status(), 404);
    }

    #[test]
    fn user_node_rules_limit_routing_and_listings() {
        let s = snap();
        let kinds = [NodeKind::Ollama];
        let only_b = user(&s, "only-b");
        assert_eq!(nodes_for(&s, Scope::of(only_b, None), "mock"), Vec::<i64>::new(), "b is pinned only, a is not allowed");
        assert_eq!(nodes_for(&s, Scope::of(only_b, Some(2)), "mock"), [2]);
        assert_eq!(split_pin(&s, only_b, "node:ay:mock").unwrap_err().status(), 404, "a node the user may not use reads as unknown");
        let solo = user(&s, "solo-on-a");
        assert_eq!(nodes_for(&s, Scope::of(solo, None), "solo"), [1]);
        assert_eq!(nodes_for(&s, Scope::of(solo, None), "mock"), Vec::<i64>::new(), "a has rules and mock is not in them");
        let listed = |u: &User| -> Vec<String> { catalog::entries(&s).into_iter().filter(|e| reachable(&s, &Scope::of(u, None), e, &kinds)).map(|e| e.name).collect() };
        assert_eq!(listed(user(&s, "free")), ["g", "mock:latest", "solo"], "bonly lives only on a pinned-only node");
        assert_eq!(listed(solo), ["g", "solo"], "node b has no rules for this user, so g (preferring b) stays");
        assert_eq!(listed(only_b), ["g"]);
    }

    #[test]
    fn unknown_models_go_to_nodes_that_take_them() {
        let s = snap();
        let free = user(&s, "free");
        let kinds = [NodeKind::Ollama];
        assert_eq!(unknown_model_nodes(&s, &Scope::of(free, None), "brand-new:7b", &kinds).iter().map(|n| n.id).collect::<Vec<_>>(), [3]);
        assert!(unknown_model_nodes(&s, &Scope::of(free, None), "solo", &kinds).is_empty(), "a known model is routed by the catalog");
        assert!(unknown_model_nodes(&s, &Scope::of(user(&s, "only-b"), None), "brand-new:7b", &kinds).is_empty());
        assert_eq!(nodes_for(&s, Scope::of(free, None), "brand-new:7b"), [3]);
    }
}
