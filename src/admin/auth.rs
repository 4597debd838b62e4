//! Admin authentication. Automation uses the static `ADMIN_TOKEN` (constant-time compare);
//! people log in with `ADMIN_USERNAME`/`ADMIN_PASSWORD` and get a short-lived signed session
//! token backed by an `admin_sessions` row, so logout and expiry hold server-side. Failed logins
//! are audited and limited per client address and per account (`login_limit`). Admin
//! credentials are accepted in `Authorization: Bearer` only (never `x-api-key`, which is the
//! gateway's Anthropic-style header for user tokens).

use super::audit::{self, Actor};
use super::input::Input;
use super::login_limit;
use crate::auth::token;
use crate::error::GatewayError;
use crate::net::{Inbound, Reply};
use crate::state::db::{Db, Param};
use serde_json::json;
use subtle::ConstantTimeEq;

pub const SESSION_SECS: i64 = 8 * 3600;

fn ct_eq(a: &str, b: &str) -> bool {
    // Compare digests so the lengths leak nothing either.
    use sha2::{Digest, Sha256};
    Sha256::digest(a.as_bytes()).ct_eq(&Sha256::digest(b.as_bytes())).into()
}

fn bearer(req: &Inbound) -> Result<&str, GatewayError> {
    let missing = || GatewayError::Unauthorized("admin credentials required: Authorization: Bearer <admin token or session token> (x-api-key is not accepted here)".into());
    if req.header("authorization").is_none() {
        return Err(missing());
    }
    crate::auth::credential(req).map_err(|_| missing())
}

/// The actor name for an authenticated admin request.
pub async fn authenticate<D: Db>(db: &D, env: &super::kit::AdminEnv<'_>, req: &Inbound) -> Result<String, GatewayError> {
    let presented = bearer(req)?;
    if let Some(t) = env.admin_token.as_deref().filter(|t| !t.is_empty()) {
        if ct_eq(presented, t) {
            return Ok("admin-token".into());
        }
    }
    let claims = token::verify(presented, env.jwt_secret, token::ADMIN_TYP, env.now_s).map_err(|e| GatewayError::Unauthorized(format!("invalid admin credentials: {e}")))?;
    let live = db
        .json("SELECT to_json(revoked_at IS NULL AND expires_at > now()) FROM admin_sessions WHERE id = $1::text", &[Param::Text(Some(claims.jti.clone()))])
        .await?;
    if live.as_bool() != Some(true) {
        return Err(GatewayError::Unauthorized("admin session expired or logged out".into()));
    }
    Ok(claims.sub)
}

pub async fn login<D: Db>(db: &D, env: &super::kit::AdminEnv<'_>, req: &Inbound) -> Result<Reply, GatewayError> {
    let input = Input::parse(&req.body)?;
    let username = input.req_str("username")?;
    let password = input.str("password")?.unwrap_or_default();
    let (Some(want_user), Some(want_pass)) = (env.admin_username.as_deref().filter(|s| !s.is_empty()), env.admin_password.as_deref().filter(|s| !s.is_empty())) else {
        return Err(GatewayError::Dependency("admin login is not configured: set the ADMIN_USERNAME and ADMIN_PASSWORD secrets".into()));
    };
    let username = login_limit::account(&username);
    let actor = Actor { name: username.clone(), ip: req.client_ip.clone() };
    if let Some(lock) = login_limit::check(db, req.client_ip.as_deref(), &username).await? {
        let details = json!({"username": username, "scope": lock.scope, "recent_failures": lock.failures, "retry_after": lock.retry_after});
        audit::record(db, &actor, "admin.login_blocked", "admin_session", None, &details).await?;
        return Err(lock.error());
    }
    // Evaluate both comparisons: no early exit that would time the username.
    let user_ok = ct_eq(&username, want_user);
    let pass_ok = ct_eq(&password, want_pass);
    if !(user_ok & pass_ok) {
        audit::record(db, &actor, "admin.login_failed", "admin_session", None, &json!({"username": username})).await?;
        return Err(GatewayError::Unauthorized("invalid username or password".into()));
    }
    let session_id = env.random_hex(16);
    let expires = env.now_s + SESSION_SECS;
    db.exec(
        "INSERT INTO admin_sessions (id, username, expires_at, source_ip) VALUES ($1::text, $2::text, to_timestamp($3::bigint), $4::text)",
        &[Param::Text(Some(session_id.clone())), Param::Text(Some(username.clone())), Param::Int(Some(expires)), Param::Text(req.client_ip.clone())],
    )
    .await?;
    audit::record(db, &actor, "admin.login", "admin_session", Some(&session_id[..8]), &json!({"username": username})).await?;
    let tok = token::issue(env.jwt_secret, token::ADMIN_TYP, &username, &session_id, env.now_s, Some(expires)).map_err(GatewayError::Internal)?;
    let expires_at = chrono::DateTime::from_timestamp(expires, 0).map(|d| d.to_rfc3339()).unwrap_or_default();
    Ok(Reply::json(200, &json!({"token": tok, "token_type": "Bearer", "expires_at": expires_at, "expires_in": SESSION_SECS, "username": username})))
}

pub async fn logout<D: Db>(db: &D, env: &super::kit::AdminEnv<'_>, req: &Inbound) -> Result<Reply, GatewayError> {
    let presented = bearer(req)?;
    if env.admin_token.as_deref().is_some_and(|t| ct_eq(presented, t)) {
        return Err(GatewayError::Conflict { message: "the static ADMIN_TOKEN has no session to log out of".into(), field: None });
    }
    let claims = token::verify(presented, env.jwt_secret, token::ADMIN_TYP, env.now_s).map_err(|e| GatewayError::Unauthorized(format!("invalid admin session: {e}")))?;
    let n = db
        .exec("UPDATE admin_sessions SET revoked_at = now() WHERE id = $1::text AND revoked_at IS NULL", &[Param::Text(Some(claims.jti.clone()))])
        .await?;
    if n == 0 {
        return Err(GatewayError::Unauthorized("admin session already ended".into()));
    }
    let actor = Actor { name: claims.sub.clone(), ip: req.client_ip.clone() };
    audit::record(db, &actor, "admin.logout", "admin_session", Some(&claims.jti[..8.min(claims.jti.len())]), &json!({})).await?;
    Ok(Reply::empty(204))
}
