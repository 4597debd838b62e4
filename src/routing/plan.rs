//! The routing plan: requested name -> ordered attempts (member, node, real model name).
//! Groups pick a member (vision filter, tools preference, then the group's strategy), members
//! and plain models pick nodes (active, healthy, not cooling down, of a kind that can serve the
//! operation) ordered by the node strategy. `Planner::next` hands out one attempt at a time and
//! takes the previous failure into account (413 jumps to the 413-fallback member).
//! Candidates whose circuit breaker (node or pair, see `breaker`) is open are skipped; when
//! that leaves nothing at all, the one that failed longest ago is tried anyway: a partial
//! outage never becomes a total one because every breaker happened to be open.

use super::scope::{self, Scope};
use super::breaker::Gate;
use crate::error::GatewayError;
use crate::state::snapshot::{same_model, Group, Health, Mapping, Node, NodeKind, Snapshot, Strategy};
use std::collections::HashMap;

/// What the request needs from a model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub vision: bool,
    pub tools: bool,
}

/// Live, per-isolate facts routing consults besides the snapshot.
pub trait NodeState {
    /// The circuit breakers of a node and of the (node, model) pair, combined.
    fn gate(&self, node_id: i64, model: &str, now_ms: u64) -> Gate;
    fn active_streams(&self, node_id: i64) -> u32;
}

/// Inputs drawn before planning: round-robin counters (from a Durable Object) and randomness.
#[derive(Debug, Default, Clone)]
pub struct Draws {
    pub counters: HashMap<String, u64>,
    /// Uniform numbers in [0, 1) consumed by weighted choices.
    pub random: Vec<f64>,
}

impl Draws {
    fn counter(&self, key: &str) -> u64 {
        self.counters.get(key).copied().unwrap_or(0)
    }
    fn rand(&mut self) -> f64 {
        self.random.pop().unwrap_or(0.5)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The member name when the request named a group, else the requested name.
    pub model: String,
    pub group: Option<String>,
    pub node_id: i64,
    pub real: String,
    /// Tried although its breaker is open: every candidate was (the all-open fallback).
    pub forced: bool,
}

/// A candidate skipped because its breaker is open.
#[derive(Debug, Clone)]
struct Skipped {
    model: String,
    node_id: i64,
    real: String,
    failed_at_ms: u64,
}

/// How an attempt failed, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Try another node (connection error, timeout, 408/429/5xx, model missing on the node).
    NextNode,
    /// Payload too large for this model: another member (prefer the 413 fallback).
    TooLarge,
}

struct MemberPlan {
    model: String,
    nodes: Vec<(i64, String)>,
    next_node: usize,
    is_fallback_413: bool,
    tried: bool,
}

pub struct Planner {
    group: Option<String>,
    members: Vec<MemberPlan>,
    current: Option<usize>,
    attempts_left: u32,
    /// Set when every candidate's breaker was open: why they were skipped.
    forced_because: Option<String>,
}

/// Counter keys a plan for `name` will read, so the caller can fetch them in one go.
pub fn counter_keys(snap: &Snapshot, name: &str) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(g) = snap.group(name) {
        if g.strategy == Strategy::RoundRobin {
            keys.push(format!("group:{}", g.name));
        }
        if node_strategy(snap, Some(g), name) == Strategy::RoundRobin {
            for m in g.members.iter().filter(|m| m.active) {
                keys.push(format!("model:{}", m.name));
            }
        }
    } else if node_strategy(snap, None, name) == Strategy::RoundRobin {
        keys.push(format!("model:{name}"));
    }
    keys
}

fn node_strategy(snap: &Snapshot, group: Option<&Group>, model: &str) -> Strategy {
    group
        .and_then(|g| g.node_strategy)
        .or_else(|| snap.model_config(model).and_then(|c| c.node_strategy))
        .unwrap_or(snap.settings.node_strategy)
}

impl Planner {
    pub fn new(
        snap: &Snapshot,
        requested: &str,
        needs: Needs,
        kinds: &[NodeKind],
        state: &dyn NodeState,
        draws: &mut Draws,
        now_ms: u64,
    ) -> Result<Planner, GatewayError> {
        Self::scoped(snap, requested, needs, kinds, state, draws, now_ms, &Scope::default())
    }

    /// `new` within a scope: the user's node rules, a pinned node (`routing::scope`).
    #[allow(clippy::too_many_arguments)]
    pub fn scoped(
        snap: &Snapshot,
        requested: &str,
        needs: Needs,
        kinds: &[NodeKind],
        state: &dyn NodeState,
        draws: &mut Draws,
        now_ms: u64,
        scope: &Scope,
    ) -> Result<Planner, GatewayError> {
        let mut reasons: Vec<String> = Vec::new();
        let (group, member_names, retries): (Option<&Group>, Vec<(String, bool)>, u32) = match snap.group(requested) {
            Some(g) => {
                let order = order_members(g, needs, draws)?;
                let retries = g.max_failover_retries.unwrap_or(snap.settings.max_failover_retries);
                (Some(g), order, retries)
            }
            None => (None, vec![(requested.to_string(), false)], snap.settings.max_failover_retries),
        };
        let mut members = Vec::new();
        let mut skipped: Vec<Skipped> = Vec::new();
        let mut open_reasons: Vec<String> = Vec::new();
        for (name, fb413) in member_names {
            let preferred = group
                .and_then(|g| g.members.iter().find(|m| m.name == name))
                .map(|m| m.preferred_nodes.clone())
                .unwrap_or_default();
            let strategy = node_strategy(snap, group, &name);
            let mut out = Skips { skipped: &mut skipped, reasons: &mut open_reasons };
            let nodes = order_nodes(snap, &name, &preferred, kinds, strategy, state, draws, now_ms, &mut reasons, group.is_none(), &mut out, scope);
            members.push(MemberPlan { model: name, nodes, next_node: 0, is_fallback_413: fb413, tried: false });
        }
        let mut forced_because = None;
        if members.iter().all(|m| m.nodes.is_empty()) {
            // Every candidate is open: try the one that failed longest ago rather than none.
            if let Some(s) = skipped.iter().min_by_key(|s| s.failed_at_ms).cloned() {
                let group_name = group.map(|g| g.name.clone());
                forced_because = Some(open_reasons.join("; "));
                let m = MemberPlan { model: s.model.clone(), nodes: vec![(s.node_id, s.real.clone())], next_node: 0, is_fallback_413: false, tried: false };
                return Ok(Planner { group: group_name, members: vec![m], current: None, attempts_left: 1, forced_because });
            }
        }
        reasons.extend(open_reasons);
        if members.iter().all(|m| m.nodes.is_empty()) {
            let why = if reasons.is_empty() {
                format!("no active node serves '{requested}' for this endpoint")
            } else {
                format!("no healthy node for '{requested}': {}", reasons.join("; "))
            };
            return Err(GatewayError::NoHealthyNode(why));
        }
        Ok(Planner { group: group.map(|g| g.name.clone()), members, current: None, attempts_left: retries + 1, forced_because })
    }

    /// Why the plan is the all-open fallback, if it is (the open breakers it found).
    pub fn forced_because(&self) -> Option<&str> {
        self.forced_because.as_deref()
    }

    /// Every (node, real model) the plan may try.
    pub fn candidates(&self) -> impl Iterator<Item = (i64, &str)> {
        self.members.iter().flat_map(|m| m.nodes.iter().map(|(n, r)| (*n, r.as_str())))
    }

    /// Keep only the candidates `keep` accepts (before the first attempt). False, and the plan
    /// unchanged, when none would be left.
    pub fn retain(&mut self, keep: impl Fn(i64, &str) -> bool) -> bool {
        if !self.candidates().any(|(n, r)| keep(n, r)) {
            return false;
        }
        for m in &mut self.members {
            m.nodes.retain(|(n, r)| keep(*n, r));
        }
        true
    }

    /// The next attempt, given how the previous one failed (None for the first call).
    pub fn next(&mut self, last: Option<FailureClass>) -> Option<Attempt> {
        if self.attempts_left == 0 {
            return None;
        }
        let pick = match (self.current, last) {
            (Some(cur), Some(FailureClass::TooLarge)) => {
                self.members[cur].next_node = usize::MAX; // this model cannot take the payload anywhere
                self.members
                    .iter()
                    .position(|m| !m.tried && m.is_fallback_413 && !m.nodes.is_empty())
                    .or_else(|| self.next_member())
            }
            (Some(cur), _) if self.members[cur].next_node < self.members[cur].nodes.len() => Some(cur),
            _ => self.next_member(),
        }?;
        let m = &mut self.members[pick];
        m.tried = true;
        let (node_id, real) = m.nodes.get(m.next_node)?.clone();
        m.next_node += 1;
        self.current = Some(pick);
        self.attempts_left -= 1;
        Some(Attempt { model: m.model.clone(), group: self.group.clone(), node_id, real, forced: self.forced_because.is_some() })
    }

    fn next_member(&self) -> Option<usize> {
        self.members.iter().position(|m| !m.tried && !m.nodes.is_empty())
    }
}

/// Members in the order they will be tried: the strategy's pick first, then the rest by priority.
fn order_members(g: &Group, needs: Needs, draws: &mut Draws) -> Result<Vec<(String, bool)>, GatewayError> {
    let mut pool: Vec<_> = g.members.iter().filter(|m| m.active).collect();
    if needs.vision && pool.iter().any(|m| has_tag(&m.tags, "vision")) {
        pool.retain(|m| has_tag(&m.tags, "vision"));
    }
    pool.sort_by_key(|m| m.priority);
    if pool.is_empty() {
        return Err(GatewayError::NoHealthyNode(format!("group '{}' has no active member", g.name)));
    }
    // Tools: pick among tool-capable members when there are any; the others stay as fallbacks.
    let eligible: Vec<usize> = if needs.tools && pool.iter().any(|m| has_tag(&m.tags, "tools")) {
        (0..pool.len()).filter(|&i| has_tag(&pool[i].tags, "tools")).collect()
    } else {
        (0..pool.len()).collect()
    };
    let first = match g.strategy {
        Strategy::Priority | Strategy::LeastBusy => eligible[0],
        Strategy::RoundRobin => eligible[(draws.counter(&format!("group:{}", g.name)) % eligible.len() as u64) as usize],
        Strategy::Weighted => {
            let weights: Vec<u64> = eligible.iter().map(|&i| pool[i].weight as u64).collect();
            eligible[weighted_index(&weights, draws.rand())]
        }
    };
    let mut order = vec![first];
    // Fallbacks: tool-capable first when tools are needed, then by priority.
    let mut rest: Vec<usize> = (0..pool.len()).filter(|&i| i != first).collect();
    if needs.tools {
        rest.sort_by_key(|&i| (!has_tag(&pool[i].tags, "tools"), pool[i].priority));
    }
    order.extend(rest);
    Ok(order.into_iter().map(|i| (pool[i].name.clone(), pool[i].is_fallback_413)).collect())
}

fn has_tag(tags: &[String], t: &str) -> bool {
    tags.iter().any(|x| x.eq_ignore_ascii_case(t))
}

/// Index chosen with probability proportional to its weight (all zero -> the first).
pub fn weighted_index(weights: &[u64], r: f64) -> usize {
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return 0;
    }
    let mut target = (r.clamp(0.0, 0.999_999_999) * total as f64) as u64;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.len() - 1
}

/// The real name a model has on a node: the mapping's real name where the mapping applies.
fn real_on_node<'a>(mapping: Option<&'a Mapping>, name: &'a str, node: &Node) -> &'a str {
    match mapping {
        Some(m) if m.node_ids.is_empty() || m.node_ids.contains(&node.id) => &m.real,
        _ => name,
    }
}

/// Where `order_nodes` puts candidates skipped for an open breaker.
struct Skips<'a> {
    skipped: &'a mut Vec<Skipped>,
    reasons: &'a mut Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn order_nodes(
    snap: &Snapshot,
    model: &str,
    preferred: &[i64],
    kinds: &[NodeKind],
    strategy: Strategy,
    state: &dyn NodeState,
    draws: &mut Draws,
    now_ms: u64,
    reasons: &mut Vec<String>,
    direct: bool,
    skips: &mut Skips<'_>,
    scope: &Scope,
) -> Vec<(i64, String)> {
    let mapping = snap.mapping(model);
    // Candidates: pinned nodes in their order, else every node whose catalog has the model.
    let mut cands: Vec<(&Node, String, bool)> = Vec::new();
    if !preferred.is_empty() {
        for id in preferred {
            if let Some(n) = snap.node(*id).filter(|n| n.active && kinds.contains(&n.kind)) {
                let real = real_on_node(mapping, model, n);
                if !scope.admits(n, model, real, true) {
                    continue;
                }
                let loaded = n.models.iter().any(|m| m.loaded && same_model(&m.name, real));
                cands.push((n, real.to_string(), loaded));
            }
        }
    } else {
        for n in snap.nodes.iter().filter(|n| n.active && kinds.contains(&n.kind)) {
            if let Some(m) = mapping {
                if !m.node_ids.is_empty() && !m.node_ids.contains(&n.id) {
                    continue;
                }
            } else if direct && crate::routing::catalog::hidden_on(snap, n, model) {
                // A real name asked for directly is served only where no mapping hides it (a
                // group member is the admin's own choice and goes wherever the model is).
                continue;
            }
            let real = real_on_node(mapping, model, n);
            let named = mapping.is_some_and(|m| m.node_ids.contains(&n.id));
            if let Some(nm) = n.models.iter().find(|nm| nm.available && same_model(&nm.name, real) && scope.admits(n, model, &nm.name, named)) {
                cands.push((n, nm.name.clone(), nm.loaded));
            }
        }
        if cands.is_empty() && direct {
            cands.extend(scope::unknown_model_nodes(snap, scope, model, kinds).into_iter().map(|n| (n, model.to_string(), false)));
        }
    }
    // Health: unhealthy nodes and open breakers are skipped; say why so errors can explain.
    cands.retain(|(n, real, _)| {
        if n.health == Health::Unhealthy {
            reasons.push(format!("node '{}' is unhealthy", n.name));
            return false;
        }
        if let Gate::Blocked { reason, failed_at_ms, until_ms } = state.gate(n.id, real, now_ms) {
            let left = until_ms.map(|u| format!(", open for {}s more", u.saturating_sub(now_ms).div_ceil(1000))).unwrap_or_default();
            skips.reasons.push(format!("'{real}' on node '{}' is failing ({reason}{left})", n.name));
            skips.skipped.push(Skipped { model: model.to_string(), node_id: n.id, real: real.clone(), failed_at_ms });
            return false;
        }
        true
    });
    if preferred.is_empty() {
        match strategy {
            // Loaded-in-memory nodes first within a priority level: avoids multi-second cold loads.
            Strategy::Priority => cands.sort_by_key(|(n, _, loaded)| (n.priority, !*loaded, -(n.weight as i64), n.id)),
            Strategy::LeastBusy => cands.sort_by_key(|(n, _, loaded)| (state.active_streams(n.id), n.priority, !*loaded, n.id)),
            Strategy::RoundRobin => {
                cands.sort_by_key(|(n, _, _)| (n.priority, n.id));
                if !cands.is_empty() {
                    let k = (draws.counter(&format!("model:{model}")) % cands.len() as u64) as usize;
                    cands.rotate_left(k);
                }
            }
            Strategy::Weighted => {
                // Weighted random permutation: draw one at a time without replacement.
                let mut rest = cands;
                let mut out = Vec::with_capacity(rest.len());
                while !rest.is_empty() {
                    let w: Vec<u64> = rest.iter().map(|(n, _, _)| n.weight.max(0) as u64).collect();
                    let i = weighted_index(&w, draws.rand());
                    out.push(rest.remove(i));
                }
                cands = out;
            }
        }
    }
    cands.into_iter().map(|(n, real, _)| (n.id, real)).collect()
}
