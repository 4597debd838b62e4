//! API keys and teams at authentication: the key a credential names (revoked, expired, from an
//! address it may not be used from: each refused with its own message), and the caller's
//! effective access: the user's own allow-list joined with their teams', narrowed to the key's
//! models when it has some, plus the extra limit scopes (each team with limits, the key).
//!
//! Revocation reaches an isolate with the next snapshot (within `snapshot.refresh_ms`); expiry
//! is checked against the request's clock, so it holds to the second everywhere.

use crate::error::GatewayError;
use crate::limits::{Period, Rule};
use crate::routing::catalog;
use crate::state::snapshot::{ApiKey, Snapshot, User};
use std::net::IpAddr;

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    Unknown,
    Revoked,
    Expired,
    Address(String),
}

impl From<KeyRefusal> for GatewayError {
    fn from(r: KeyRefusal) -> GatewayError {
        match r {
            KeyRefusal::Unknown => GatewayError::Unauthorized("token revoked or user inactive".into()),
            KeyRefusal::Revoked => GatewayError::Unauthorized("API key revoked".into()),
            KeyRefusal::Expired => GatewayError::Unauthorized("API key expired".into()),
            KeyRefusal::Address(ip) => GatewayError::Forbidden(format!("this API key may not be used from address {ip}")),
        }
    }
}

/// The key with this jti hash, if it may be used now from `client_ip`, and its active user.
pub fn find<'a>(snap: &'a Snapshot, hash: &str, sub: &str, client_ip: Option<&str>, now_ms: u64) -> Result<(&'a ApiKey, &'a User), KeyRefusal> {
    let key = snap.key_by_hash(hash).ok_or(KeyRefusal::Unknown)?;
    let user = snap.user_by_id(key.user_id).filter(|u| u.active && u.username == sub).ok_or(KeyRefusal::Unknown)?;
    if key.revoked {
        return Err(KeyRefusal::Revoked);
    }
    if key.expires_at_ms.is_some_and(|e| e <= now_ms) {
        return Err(KeyRefusal::Expired);
    }
    if !key.ip_allow.is_empty() {
        let ip = client_ip.unwrap_or("");
        if !key.ip_allow.iter().any(|rule| ip_matches(rule, ip)) {
            return Err(KeyRefusal::Address(if ip.is_empty() { "(unknown)".into() } else { ip.chars().take(64).collect() }));
        }
    }
    Ok((key, user))
}

/// The caller as routing and limits see it (see the module comment).
pub fn effective(snap: &Snapshot, user: &User, key: Option<&ApiKey>) -> User {
    let mut eff = user.clone();
    for team in user.teams.iter().filter_map(|id| snap.team(*id)) {
        eff.all_models |= team.all_models;
        eff.models.extend(team.models.iter().filter(|m| !user.models.contains(m)).cloned());
        if team.request_limit.is_some() || team.token_limit.is_some() {
            eff.scopes.push((format!("team:{}", team.id), vec![day_rule(team.request_limit, team.token_limit)]));
        }
    }
    if let Some(key) = key {
        eff.key_id = Some(key.id);
        if let Some(only) = &key.models {
            let narrowed: Vec<String> = only.iter().filter(|m| catalog::allowed(&eff, m)).cloned().collect();
            eff.all_models = false;
            eff.models = narrowed;
        }
        if key.request_limit.is_some() || key.token_limit.is_some() {
            eff.scopes.push((format!("key:{}", key.id), vec![day_rule(key.request_limit, key.token_limit)]));
        }
    }
    eff.models.sort();
    eff.models.dedup();
    eff
}

fn day_rule(max_requests: Option<u64>, max_tokens: Option<u64>) -> Rule {
    Rule { name: "day".into(), period: Period::Day, max_requests, max_tokens, reserve: 0 }
}

/// Is `rule` (an address, or a CIDR range `addr/bits`) a match for `ip`? IPv4-mapped IPv6
/// addresses match their IPv4 rules.
pub fn ip_matches(rule: &str, ip: &str) -> bool {
    let Ok(ip) = ip.trim().parse::<IpAddr>() else { return false };
    let ip = canonical(ip);
    let (addr, bits) = match rule.split_once('/') {
        Some((a, b)) => match b.parse::<u8>() {
            Ok(b) => (a, Some(b)),
            Err(_) => return false,
        },
        None => (rule, None),
    };
    let Ok(net) = addr.trim().parse::<IpAddr>() else { return false };
    match (canonical(net), ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => prefix_eq(&n.octets(), &i.octets(), bits.unwrap_or(32)),
        (IpAddr::V6(n), IpAddr::V6(i)) => prefix_eq(&n.octets(), &i.octets(), bits.unwrap_or(128)),
        _ => false,
    }
}

/// Validate an allow-list entry (the admin API's check).
pub fn valid_ip_rule(rule: &str) -> bool {
    let (addr, bits) = match rule.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (rule, None),
    };
    let Ok(a) = addr.parse::<IpAddr>() else { return false };
    let max = if a.is_ipv4() { 32 } else { 128 };
    bits.is_none_or(|b| b.parse::<u8>().is_ok_and(|b| b <= max))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    if bits > a.len() * 8 {
        return false;
    }
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::snapshot::Team;

    fn snap() -> Snapshot {
        Snapshot {
            users: vec![
                User { id: 1, username: "alice".into(), active: true, models: vec!["fast".into()], teams: vec![7], ..Default::default() },
                User { id: 2, username: "bob".into(), active: false, ..Default::default() },
            ],
            teams: vec![Team { id: 7, name: "ml".into(), models: vec!["big".into(), "fast".into()], request_limit: Some(50), ..Default::default() }],
            keys: vec![
                ApiKey { id: 10, user_id: 1, hash: "h10".into(), ..Default::default() },
                ApiKey { id: 11, user_id: 1, hash: "h11".into(), revoked: true, ..Default::default() },
                ApiKey { id: 12, user_id: 1, hash: "h12".into(), expires_at_ms: Some(5_000), ..Default::default() },
                ApiKey { id: 13, user_id: 1, hash: "h13".into(), ip_allow: vec!["10.0.0.0/8".into(), "2001:db8::1".into()], ..Default::default() },
                ApiKey { id: 14, user_id: 2, hash: "h14".into(), ..Default::default() },
                ApiKey { id: 15, user_id: 1, hash: "h15".into(), models: Some(vec!["big".into(), "secret".into()]), request_limit: Some(3), ..Default::default() },
            ],
            keys_enabled: true,
            ..Default::default()
        }
        .indexed()
    }

    #[test]
    fn each_refusal_says_which() {
        let s = snap();
        assert_eq!(find(&s, "h10", "alice", None, 1).unwrap().0.id, 10);
        assert_eq!(find(&s, "nope", "alice", None, 1).unwrap_err(), KeyRefusal::Unknown);
        assert_eq!(find(&s, "h10", "mallory", None, 1).unwrap_err(), KeyRefusal::Unknown, "sub must be the key's user");
        assert_eq!(find(&s, "h11", "alice", None, 1).unwrap_err(), KeyRefusal::Revoked);
        assert!(find(&s, "h12", "alice", None, 4_999).is_ok());
        assert_eq!(find(&s, "h12", "alice", None, 5_000).unwrap_err(), KeyRefusal::Expired);
        assert_eq!(find(&s, "h14", "bob", None, 1).unwrap_err(), KeyRefusal::Unknown, "inactive user");
        assert!(find(&s, "h13", "alice", Some("10.1.2.3"), 1).is_ok());
        assert!(find(&s, "h13", "alice", Some("2001:db8::1"), 1).is_ok());
        assert_eq!(find(&s, "h13", "alice", Some("11.0.0.1"), 1).unwrap_err(), KeyRefusal::Address("11.0.0.1".into()));
        assert_eq!(find(&s, "h13", "alice", None, 1).unwrap_err(), KeyRefusal::Address("(unknown)".into()));
        assert_eq!(GatewayError::from(KeyRefusal::Expired).status(), 401);
        assert_eq!(GatewayError::from(KeyRefusal::Address("x".into())).status(), 403);
    }

    #[test]
    fn access_is_the_union_of_user_and_teams_narrowed_by_the_key() {
        let s = snap();
        let alice = s.user_by_id(1).unwrap();
        let e = effective(&s, alice, s.key_by_hash("h10"));
        assert_eq!(e.models, vec!["big".to_string(), "fast".to_string()]);
        assert_eq!(e.key_id, Some(10));
        assert_eq!(e.scopes.len(), 1);
        assert_eq!(e.scopes[0].0, "team:7");
        assert_eq!(e.scopes[0].1[0].max_requests, Some(50));
        let k = effective(&s, alice, s.key_by_hash("h15"));
        assert_eq!(k.models, vec!["big".to_string()], "a key never widens access");
        assert!(!k.all_models);
        assert_eq!(k.scopes.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), vec!["team:7", "key:15"]);
    }

    #[test]
    fn ip_rules() {
        assert!(ip_matches("192.168.1.0/24", "192.168.1.200"));
        assert!(!ip_matches("192.168.1.0/24", "192.168.2.1"));
        assert!(ip_matches("192.168.1.7", "192.168.1.7"));
        assert!(ip_matches("0.0.0.0/0", "8.8.8.8"));
        assert!(ip_matches("10.0.0.0/9", "10.127.0.1"));
        assert!(!ip_matches("10.0.0.0/9", "10.128.0.1"));
        assert!(ip_matches("127.0.0.1", "::ffff:127.0.0.1"));
        assert!(ip_matches("2001:db8::/32", "2001:db8:1::5"));
        assert!(!ip_matches("2001:db8::/32", "10.0.0.1"));
        assert!(!ip_matches("10.0.0.0/33", "10.0.0.1"));
        assert!(!ip_matches("garbage", "10.0.0.1"));
        assert!(!ip_matches("10.0.0.1", "garbage"));
        assert!(valid_ip_rule("10.0.0.0/8") && valid_ip_rule("::1") && valid_ip_rule("2001:db8::/48"));
        assert!(!valid_ip_rule("10.0.0.0/33") && !valid_ip_rule("host") && !valid_ip_rule("10.0.0.1/x"));
    }
}
