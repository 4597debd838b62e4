//! Budgets in currency per user, team and key, per UTC day and month, enforced like the token
//! limits: by the Limiter's leases (`limits::lease`), on a scope of their own per owner
//! (`budget:user:{id}`, `budget:team:{id}`, `budget:key:{id}`) whose "tokens" are millionths
//! of the currency.
//!
//! Accuracy: every admitted request holds `budgets.reserve_micros` in the store from its grant
//! until it is settled, when its real cost replaces the reservation. The store grants only
//! while spent plus held is below the budget, so whatever the concurrency and the number of
//! isolates, spending passes a budget by at most one reservation (the grant that crossed it)
//! plus what requests in flight at that moment cost beyond their reservation. The reservation
//! is never reused by another request in the isolate, so the cost of a finished request reaches
//! the store before its reservation is freed. Free requests (`costs::is_free`) are never
//! admitted against a budget at all.

use crate::limits::{Period, Rule, RuleState};
use crate::state::snapshot::{Snapshot, User};
pub use super::rows::{Budget, Owner};

fn rule_name(p: Period) -> &'static str {
    match p {
        Period::Month => "month",
        _ => "day",
    }
}

/// The budget scopes of a request by this caller (after authentication: `user.key_id` set),
/// with their rules, in the order they are admitted. Empty: no budget applies.
pub fn plan(snap: &Snapshot, user: &User) -> Vec<(String, Vec<Rule>)> {
    if snap.budgets.is_empty() {
        return Vec::new();
    }
    let owners = std::iter::once((Owner::User, user.id)).chain(user.teams.iter().map(|t| (Owner::Team, *t))).chain(user.key_id.map(|k| (Owner::Key, k)));
    let reserve = snap.settings.budget_reserve_micros;
    owners
        .filter_map(|(owner, id)| {
            let mut rules: Vec<Rule> = snap
                .budgets
                .iter()
                .filter(|b| b.owner == owner && b.owner_id == id)
                .map(|b| Rule { name: rule_name(b.period).into(), period: b.period, max_requests: None, max_tokens: Some(b.limit_micros), reserve })
                .collect();
            rules.sort_by(|a, b| a.name.cmp(&b.name));
            rules.dedup_by(|a, b| a.name == b.name);
            (!rules.is_empty()).then(|| (format!("budget:{}:{id}", owner.as_str()), rules))
        })
        .collect()
}

fn parse_scope(scope: &str) -> Option<(Owner, i64)> {
    let mut parts = scope.strip_prefix("budget:")?.splitn(2, ':');
    let owner = match parts.next()? {
        "user" => Owner::User,
        "team" => Owner::Team,
        "key" => Owner::Key,
        _ => return None,
    };
    Some((owner, parts.next()?.parse().ok()?))
}

fn find<'a>(snap: &'a Snapshot, scope: &str, rule: &str) -> Option<&'a Budget> {
    let (owner, id) = parse_scope(scope)?;
    snap.budgets.iter().find(|b| b.owner == owner && b.owner_id == id && rule_name(b.period) == rule)
}

/// "your team 'eng''s monthly budget" and the like, for messages.
pub fn describe(snap: &Snapshot, scope: &str, rule: &str) -> String {
    let period = if rule == "month" { "monthly" } else { "daily" };
    match parse_scope(scope) {
        Some((Owner::Team, id)) => match snap.team(id) {
            Some(t) => format!("the {period} budget of your team '{}'", t.name),
            None => format!("your team's {period} budget"),
        },
        Some((Owner::Key, _)) => format!("this API key's {period} budget"),
        _ => format!("your {period} budget"),
    }
}

/// The refusal's message (the 429 in the client's format carries it, with Retry-After).
pub fn refusal(snap: &Snapshot, scope: &str, rule: &str, retry_after: u64) -> String {
    let limit = find(snap, scope, rule).map(|b| format!(" of {} {}", super::format_micros(b.limit_micros), snap.settings.currency)).unwrap_or_default();
    format!("budget exhausted: {}{limit} is spent; it resets in {retry_after} s", describe(snap, scope, rule))
}

/// Answer headers for the budgets a request was admitted under: what is left of the tightest
/// (`x-maestro-budget-remaining`, in the currency, held reservations counted as spent), which
/// one (`x-maestro-budget-scope`, e.g. `team:3:month`), and past a soft threshold a warning.
pub fn headers(snap: &Snapshot, states: &[(String, RuleState)]) -> Vec<(String, String)> {
    let tightest = states.iter().filter_map(|(scope, s)| s.max_tokens.map(|m| (m.saturating_sub(s.used_tokens), scope, s))).min_by_key(|(left, ..)| *left);
    let Some((left, scope, state)) = tightest else { return Vec::new() };
    let mut h = vec![
        ("x-maestro-budget-remaining".to_string(), super::format_micros(left)),
        ("x-maestro-budget-currency".to_string(), snap.settings.currency.clone()),
        ("x-maestro-budget-scope".to_string(), format!("{}:{}", scope.trim_start_matches("budget:"), state.name)),
    ];
    let soft = states.iter().find_map(|(scope, s)| {
        let b = find(snap, scope, &s.name)?;
        let m = s.max_tokens?;
        (s.used_tokens as u128 * 100 >= m as u128 * b.soft_pct as u128).then(|| format!("{}% of {} spent", (s.used_tokens as u128 * 100 / m.max(1) as u128).min(100), describe(snap, scope, &s.name)))
    });
    if let Some(w) = soft {
        h.push(("x-maestro-budget-warning".to_string(), w));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::snapshot::Team;

    fn snap() -> Snapshot {
        Snapshot {
            teams: vec![Team { id: 3, name: "eng".into(), ..Default::default() }],
            budgets: vec![
                Budget { id: 1, owner: Owner::User, owner_id: 7, period: Period::Month, limit_micros: 50_000_000, soft_pct: 80 },
                Budget { id: 2, owner: Owner::User, owner_id: 7, period: Period::Day, limit_micros: 5_000_000, soft_pct: 50 },
                Budget { id: 3, owner: Owner::Team, owner_id: 3, period: Period::Month, limit_micros: 100_000_000, soft_pct: 90 },
                Budget { id: 4, owner: Owner::Key, owner_id: 9, period: Period::Day, limit_micros: 1_000_000, soft_pct: 80 },
            ],
            ..Default::default()
        }
        .indexed()
    }

    #[test]
    fn scopes_per_owner_with_reserving_rules() {
        let s = snap();
        let user = User { id: 7, teams: vec![3, 4], key_id: Some(9), ..Default::default() };
        let p = plan(&s, &user);
        let names: Vec<_> = p.iter().map(|(n, r)| (n.as_str(), r.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())).collect();
        assert_eq!(names, vec![("budget:user:7", vec!["day", "month"]), ("budget:team:3", vec!["month"]), ("budget:key:9", vec!["day"])]);
        let r = &p[0].1[1];
        assert_eq!((r.period, r.max_tokens, r.max_requests, r.reserve), (Period::Month, Some(50_000_000), None, s.settings.budget_reserve_micros));
        assert!(plan(&s, &User { id: 8, ..Default::default() }).is_empty());
    }

    #[test]
    fn messages_and_headers_name_the_budget() {
        let s = snap();
        assert_eq!(refusal(&s, "budget:team:3", "month", 60), "budget exhausted: the monthly budget of your team 'eng' of 100.000000 USD is spent; it resets in 60 s");
        assert!(refusal(&s, "budget:key:9", "day", 5).starts_with("budget exhausted: this API key's daily budget of 1.000000 USD"));
        let st = |name: &str, max: u64, used: u64| RuleState { name: name.into(), max_requests: None, max_tokens: Some(max), used_requests: 0, used_tokens: used, reset_ms: 0 };
        let h: std::collections::HashMap<_, _> = headers(&s, &[("budget:user:7".into(), st("day", 5_000_000, 3_000_000)), ("budget:team:3".into(), st("month", 100_000_000, 10_000_000))]).into_iter().collect();
        assert_eq!(h["x-maestro-budget-remaining"], "2.000000");
        assert_eq!(h["x-maestro-budget-scope"], "user:7:day");
        assert_eq!(h["x-maestro-budget-warning"], "60% of your daily budget spent", "past the user's 50% soft threshold");
        let h: std::collections::HashMap<_, _> = headers(&s, &[("budget:team:3".into(), st("month", 100_000_000, 10_000_000))]).into_iter().collect();
        assert!(!h.contains_key("x-maestro-budget-warning"));
        assert!(headers(&s, &[]).is_empty());
    }
}
