//! Login limiting. Failed logins (audit rows `admin.login_failed`) are counted over a sliding
//! window twice: per client address, and per account name whatever the address. The address
//! is the one the runtime vouches for (`CLIENT_IP_HEADER`, see README "Login limits"), so a
//! client that invents addresses gains nothing once the account's own limit is reached.
//!
//! A lockout is always bounded and said: 429 with the seconds until the window lets the next
//! attempt through (`Retry-After`), an audit row `admin.login_blocked` naming the scope, and
//! the static `ADMIN_TOKEN` keeps working throughout.

use crate::error::GatewayError;
use crate::state::db::{Db, DbError, Param};

/// Failures from one client address within the window before that address is refused.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 10;
/// Failures for one account name, from any address, within the window before it is refused.
/// Twice the address limit: an admin who mistypes from a second place is not locked out by
/// the first, while invented addresses buy an attacker at most this many guesses per window.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 20;
pub const WINDOW_SECS: i64 = 15 * 60;
/// Account names are stored (and compared) up to this many characters.
const MAX_ACCOUNT_CHARS: usize = 128;

/// The account name as failures are recorded and counted (bounded; U+0000, which Postgres
/// cannot store, replaced as the audit log replaces it).
pub fn account(username: &str) -> String {
    username.chars().take(MAX_ACCOUNT_CHARS).map(|c| if c == '\0' { '\u{FFFD}' } else { c }).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lockout {
    /// "address" or "account".
    pub scope: &'static str,
    pub failures: i64,
    pub retry_after: u64,
}

impl Lockout {
    pub fn error(&self) -> GatewayError {
        let whom = if self.scope == "account" { "for this account" } else { "from this address" };
        GatewayError::RateLimited { message: format!("too many failed logins {whom}; try again in {} s (the ADMIN_TOKEN is not affected)", self.retry_after), retry_after: self.retry_after }
    }
}

/// Counts in the window and, when a limit is reached, the seconds until the oldest failure that
/// keeps it reached leaves the window.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Counts {
    pub address: i64,
    pub address_wait: Option<f64>,
    pub account: i64,
    pub account_wait: Option<f64>,
}

/// The lockout the counts imply, the longer one when both limits are reached.
pub fn decide(c: &Counts) -> Option<Lockout> {
    let wait = |w: Option<f64>| w.map(|s| s.ceil().max(1.0) as u64).unwrap_or(WINDOW_SECS as u64);
    let by_account = (c.account >= MAX_FAILURES_PER_ACCOUNT).then(|| Lockout { scope: "account", failures: c.account, retry_after: wait(c.account_wait) });
    let by_address = (c.address >= MAX_FAILURES_PER_ADDRESS).then(|| Lockout { scope: "address", failures: c.address, retry_after: wait(c.address_wait) });
    match (by_account, by_address) {
        (Some(a), Some(b)) => Some(if a.retry_after >= b.retry_after { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The n-th most recent failure of a scope is the one whose expiry lets the next attempt in.
const COUNTS_SQL: &str = "
    WITH f AS (SELECT created_at, source_ip, details->>'username' AS account FROM audit_log
               WHERE action = 'admin.login_failed' AND created_at > now() - make_interval(secs => $3::bigint))
    SELECT json_build_object(
      'address', (SELECT count(*) FROM f WHERE source_ip IS NOT DISTINCT FROM $1::text),
      'address_wait', (SELECT extract(epoch FROM created_at + make_interval(secs => $3::bigint) - now()) FROM f
                       WHERE source_ip IS NOT DISTINCT FROM $1::text ORDER BY created_at DESC OFFSET $4::bigint LIMIT 1),
      'account', (SELECT count(*) FROM f WHERE account = $2::text),
      'account_wait', (SELECT extract(epoch FROM created_at + make_interval(secs => $3::bigint) - now()) FROM f
                       WHERE account = $2::text ORDER BY created_at DESC OFFSET $5::bigint LIMIT 1))::text";

/// Whether a login for `username` from `ip` (None: no address the runtime vouches for; all
/// such clients share one count) is refused before its password is even looked at.
pub async fn check<D: Db>(db: &D, ip: Option<&str>, username: &str) -> Result<Option<Lockout>, DbError> {
    let v = db
        .json(
            COUNTS_SQL,
            &[
                Param::Text(ip.map(String::from)),
                Param::Text(Some(account(username))),
                Param::Int(Some(WINDOW_SECS)),
                Param::Int(Some(MAX_FAILURES_PER_ADDRESS - 1)),
                Param::Int(Some(MAX_FAILURES_PER_ACCOUNT - 1)),
            ],
        )
        .await?;
    Ok(decide(&serde_json::from_value(v).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_locks_its_scope_for_a_bounded_time() {
        assert_eq!(decide(&Counts { address: 9, account: 19, ..Default::default() }), None);
        let a = decide(&Counts { address: 10, address_wait: Some(42.3), account: 10, account_wait: None }).unwrap();
        assert_eq!((a.scope, a.retry_after), ("address", 43));
        let b = decide(&Counts { address: 0, address_wait: None, account: 20, account_wait: Some(0.2) }).unwrap();
        assert_eq!((b.scope, b.retry_after), ("account", 1));
        let both = decide(&Counts { address: 12, address_wait: Some(5.0), account: 25, account_wait: Some(600.0) }).unwrap();
        assert_eq!(both.scope, "account");
        assert!(both.retry_after <= WINDOW_SECS as u64);
    }

    #[test]
    fn the_refusal_says_how_long_and_that_the_token_still_works() {
        let e = Lockout { scope: "account", failures: 20, retry_after: 90 }.error();
        assert!(matches!(e, GatewayError::RateLimited { retry_after: 90, .. }));
        assert!(e.to_string().contains("for this account; try again in 90 s"));
    }

    #[test]
    fn account_names_are_bounded() {
        assert_eq!(account(&"a".repeat(500)).len(), MAX_ACCOUNT_CHARS);
        assert_eq!(account("admin"), "admin");
        assert_eq!(account("ad\0min"), "ad\u{FFFD}min");
    }
}
