//! Who is calling. User tokens are HS256 JWTs (`sub` = username, `jti` = random id); the
//! snapshot holds only SHA-256(jti), so refreshing or deleting a user revokes the old token as
//! soon as the next snapshot is live. `authenticate` is the whole user check.

pub mod access;
pub mod keys;
pub mod secrets;
pub mod token;

use crate::error::GatewayError;
use crate::net::Inbound;
use crate::state::snapshot::{Snapshot, User};
use std::borrow::Cow;
use subtle::ConstantTimeEq;

/// The authenticated caller of a gateway route: the user as routing and limits see them (with
/// their teams' access and the key's restrictions applied, see `keys::effective`).
#[derive(Debug, Clone)]
pub struct Principal<'a> {
    pub user: Cow<'a, User>,
}

/// The credential a client sent: `Authorization: Bearer <t>` or Anthropic-style `x-api-key`.
pub fn credential(req: &Inbound) -> Result<&str, GatewayError> {
    if let Some(h) = req.header("authorization") {
        let h = h.trim();
        let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
        if !scheme.eq_ignore_ascii_case("bearer") || rest.trim().is_empty() {
            return Err(GatewayError::Unauthorized("invalid Authorization header; use: Bearer <token>".into()));
        }
        return Ok(rest.trim());
    }
    if let Some(k) = req.header("x-api-key") {
        if !k.trim().is_empty() {
            return Ok(k.trim());
        }
    }
    Err(GatewayError::Unauthorized("missing credentials: send Authorization: Bearer <token> or x-api-key".into()))
}

pub fn authenticate<'a>(req: &Inbound, snap: &'a Snapshot, secret: &[u8], now_secs: i64) -> Result<Principal<'a>, GatewayError> {
    let raw = credential(req)?;
    let claims = token::verify_user(raw, secret, now_secs)
        .map_err(|e| GatewayError::Unauthorized(format!("invalid token: {e}")))?;
    let hash = token::hash_jti(&claims.jti);
    if snap.keys_enabled {
        let (key, user) = keys::find(snap, &hash, &claims.sub, req.client_ip.as_deref(), now_secs.max(0) as u64 * 1000)?;
        return Ok(Principal { user: Cow::Owned(keys::effective(snap, user, Some(key))) });
    }
    // A snapshot published by a build without keys: the users' own token hashes.
    let user = snap
        .user_by_token_hash(&hash)
        .filter(|u| u.active && u.token_hash.as_bytes().ct_eq(hash.as_bytes()).into() && u.username == claims.sub)
        .ok_or_else(|| GatewayError::Unauthorized("token revoked or user inactive".into()))?;
    Ok(Principal { user: Cow::Borrowed(user) })
}
