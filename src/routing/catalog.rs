//! What names exist. The catalog is the single answer to "may this name be called" and "what do
//! listings show": mapping display names whose real model some active node has, active groups
//! listed in the catalog, and real names that no mapping hides. Listings and calls use the same
//! function, so a user sees exactly the names they can call.
//!
//! A mapping hides its real model only where it applies: on the nodes it is pinned to (every
//! node when it has none). The same real name on another node stays callable and listed.

use crate::state::snapshot::{same_model, Group, Mapping, Node, NodeKind, NodeModel, Snapshot, User};

#[derive(Debug, Clone)]
pub enum EntryKind<'a> {
    Mapping(&'a Mapping),
    Group(&'a Group),
    Real,
}

#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub name: String,
    pub kind: EntryKind<'a>,
    /// A catalog row that backs the entry (first active node having it), for sizes and details.
    pub backing: Option<(&'a Node, &'a NodeModel)>,
    pub context_length: u32,
    pub capabilities: Vec<String>,
}

fn node_has<'a>(node: &'a Node, model: &str) -> Option<&'a NodeModel> {
    node.models.iter().find(|m| m.available && same_model(&m.name, model))
}

/// Whether `real` on `node` is hidden behind a mapping (then it is callable only through the
/// mapping's display name there).
pub fn hidden_on(snap: &Snapshot, node: &Node, real: &str) -> bool {
    snap.mappings.iter().any(|m| same_model(&m.real, real) && (m.node_ids.is_empty() || m.node_ids.contains(&node.id)))
}

fn mapping_backing<'a>(snap: &'a Snapshot, m: &'a Mapping) -> Option<(&'a Node, &'a NodeModel)> {
    snap.nodes
        .iter()
        .filter(|n| n.active && (m.node_ids.is_empty() || m.node_ids.contains(&n.id)))
        .find_map(|n| node_has(n, &m.real).map(|nm| (n, nm)))
}

/// Context length for a routable name: mapping -> discovered catalog -> model config -> default.
pub fn context_length(snap: &Snapshot, mapping: Option<&Mapping>, backing: Option<&NodeModel>, name: &str) -> u32 {
    mapping
        .and_then(|m| m.context_length)
        .or_else(|| backing.and_then(|b| b.context_length))
        .or_else(|| snap.model_config(name).and_then(|c| c.default_context_length))
        .unwrap_or(snap.settings.default_context_length)
}

fn capabilities(mapping: Option<&Mapping>, backing: Option<&NodeModel>) -> Vec<String> {
    match (mapping, backing) {
        (Some(m), _) if !m.capabilities.is_empty() => m.capabilities.clone(),
        (_, Some(b)) if !b.capabilities.is_empty() => b.capabilities.clone(),
        _ => vec!["completion".to_string()],
    }
}

/// Every callable name, in a stable order (groups first, then models by name).
pub fn entries(snap: &Snapshot) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry> = Vec::new();
    for g in &snap.groups {
        if !(g.active && g.list_in_catalog && g.members.iter().any(|m| m.active)) {
            continue;
        }
        // Metadata comes from the flagged member (or the first active one).
        let meta = g
            .members
            .iter()
            .filter(|m| m.active)
            .min_by_key(|m| (!m.is_metadata_source, m.priority))
            .and_then(|m| resolve_model(snap, &m.name));
        let (mapping, backing) = meta.map(|(m, b)| (m, b)).unwrap_or((None, None));
        out.push(Entry {
            name: g.name.clone(),
            kind: EntryKind::Group(g),
            backing,
            context_length: context_length(snap, mapping, backing.map(|b| b.1), &g.name),
            capabilities: capabilities(mapping, backing.map(|b| b.1)),
        });
    }
    let mut models: Vec<Entry> = Vec::new();
    for m in &snap.mappings {
        if let Some(b) = mapping_backing(snap, m) {
            models.push(Entry {
                name: m.display.clone(),
                kind: EntryKind::Mapping(m),
                backing: Some(b),
                context_length: context_length(snap, Some(m), Some(b.1), &m.display),
                capabilities: capabilities(Some(m), Some(b.1)),
            });
        }
    }
    for n in snap.nodes.iter().filter(|n| n.active) {
        for nm in n.models.iter().filter(|nm| nm.available) {
            if hidden_on(snap, n, &nm.name)
                || snap.group(&nm.name).is_some()
                || models.iter().any(|e| e.name == nm.name)
            {
                continue;
            }
            models.push(Entry {
                name: nm.name.clone(),
                kind: EntryKind::Real,
                backing: Some((n, nm)),
                context_length: context_length(snap, None, Some(nm), &nm.name),
                capabilities: capabilities(None, Some(nm)),
            });
        }
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    out.extend(models);
    out
}

/// A non-group model name -> (its mapping, a backing catalog row).
pub fn resolve_model<'a>(snap: &'a Snapshot, name: &str) -> Option<(Option<&'a Mapping>, Option<(&'a Node, &'a NodeModel)>)> {
    if let Some(m) = snap.mapping(name) {
        return Some((Some(m), mapping_backing(snap, m)));
    }
    snap.nodes.iter().filter(|n| n.active && !hidden_on(snap, n, name)).find_map(|n| node_has(n, name).map(|nm| (None, Some((n, nm)))))
}

/// The catalog entry a requested name denotes, if it is callable at all.
pub fn find<'a>(snap: &'a Snapshot, name: &str) -> Option<Entry<'a>> {
    entries(snap).into_iter().find(|e| same_model(&e.name, name)).or_else(|| {
        // A group that is active but not listed is still callable by name.
        snap.group(name).map(|g| Entry {
            name: g.name.clone(),
            kind: EntryKind::Group(g),
            backing: None,
            context_length: snap.settings.default_context_length,
            capabilities: vec!["completion".into()],
        })
    })
}

/// The answer to a name that is unknown or not on the caller's allow-list: the same for both.
pub fn not_callable(name: &str) -> String {
    format!("model '{name}' not found, or not available to you")
}

/// The allow-list check, on the name the client sent.
pub fn allowed(user: &User, name: &str) -> bool {
    user.all_models || user.models.iter().any(|m| same_model(m, name))
}

/// Whether entries backed only by nodes of these kinds can serve an op (used by listings).
pub fn served_by(entry: &Entry, kinds: &[NodeKind]) -> bool {
    match entry.backing {
        Some((n, _)) => kinds.contains(&n.kind),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snap() -> Snapshot {
        // "fast" maps to mock:latest on node 1 only; node 2 serves mock:latest under its own name.
        let v = json!({
            "nodes": [
                {"id": 1, "name": "a", "base_url": "http://a", "active": true, "health": "healthy", "models": [{"name": "mock:latest", "available": true}]},
                {"id": 2, "name": "b", "base_url": "http://b", "active": true, "health": "healthy", "models": [{"name": "mock:latest", "available": true}, {"name": "solo", "available": true}]}
            ],
            "mappings": [{"display": "fast", "real": "mock:latest", "node_ids": [1]}]
        });
        Snapshot::from_json(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_pinned_mapping_hides_its_real_name_only_on_its_nodes() {
        let s = snap();
        let names: Vec<String> = entries(&s).into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["fast", "mock:latest", "solo"]);
        let real = find(&s, "mock").unwrap();
        assert_eq!(real.backing.unwrap().0.id, 2, "the real name is backed by the node no mapping hides it on");
        assert!(hidden_on(&s, s.node(1).unwrap(), "mock:latest"));
        assert!(!hidden_on(&s, s.node(2).unwrap(), "mock:latest"));
    }

    #[test]
    fn a_real_name_called_directly_routes_only_where_it_is_not_hidden() {
        use crate::routing::plan::{Draws, FailureClass, Needs, NodeState, Planner};
        struct Calm;
        impl NodeState for Calm {
            fn gate(&self, _: i64, _: &str, _: u64) -> crate::routing::breaker::Gate {
                crate::routing::breaker::Gate::Closed
            }
            fn active_streams(&self, _: i64) -> u32 {
                0
            }
        }
        let s = snap();
        let kinds = [NodeKind::Ollama];
        let mut p = Planner::new(&s, "mock:latest", Needs::default(), &kinds, &Calm, &mut Draws::default(), 0).unwrap();
        assert_eq!(p.next(None).map(|a| a.node_id), Some(2));
        assert_eq!(p.next(Some(FailureClass::NextNode)), None);
        let mut p = Planner::new(&s, "fast", Needs::default(), &kinds, &Calm, &mut Draws::default(), 0).unwrap();
        assert_eq!(p.next(None).map(|a| (a.node_id, a.real)), Some((1, "mock:latest".to_string())));
        assert_eq!(p.next(Some(FailureClass::NextNode)), None);
    }

    #[test]
    fn a_global_mapping_hides_its_real_name_everywhere() {
        let mut v = serde_json::to_value(snap()).unwrap();
        v["mappings"][0]["node_ids"] = json!([]);
        let s = Snapshot::from_json(v.to_string().as_bytes()).unwrap();
        assert!(find(&s, "mock:latest").is_none());
        assert!(find(&s, "fast").is_some());
    }

    #[test]
    fn unknown_and_not_allowed_read_the_same() {
        assert_eq!(not_callable("x"), "model 'x' not found, or not available to you");
    }
}
