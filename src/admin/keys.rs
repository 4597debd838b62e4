//! `/admin/users/{username}/keys`: a user's API keys. A key is shown once (create, rotate) and
//! stored as SHA-256 of its jti, like the user's own token, which is the key marked `primary`
//! (kept in step by a trigger, see `migrations/0005_keys_teams.sql`). Revoking is one by one;
//! rotating issues a new key with the same restrictions and ends the old one after a grace
//! period. Last use is derived from usage records (no write per request), so it trails by up
//! to one usage flush (about a minute).

use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::auth::{keys as key_rules, token};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

/// The longest rotation grace period: 30 days.
pub const MAX_GRACE_S: i64 = 30 * 86_400;
/// A key lives at most ten years (an expiry the database and clients can still represent).
const MAX_LIFETIME_S: i64 = 10 * 365 * 86_400;

pub const KEY_VIEW: &str = "
    SELECT k.id, k.label, '…' || k.key_prefix AS hint, k.is_primary AS primary, k.models, COALESCE(k.ip_allow, '{}') AS ip_allow,
           k.request_limit, k.token_limit, k.expires_at, k.revoked_at, k.rotated_to, k.created_at,
           (SELECT max(r.created_at) FROM usage_records r WHERE r.key_id = k.id) AS last_used_at,
           CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked' WHEN k.expires_at IS NOT NULL AND k.expires_at <= now() THEN 'expired' ELSE 'active' END AS status
    FROM api_keys k";

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/users/{username}/keys"),
    ("POST", "/admin/users/{username}/keys"),
    ("GET", "/admin/users/{username}/keys/{id}"),
    ("PATCH", "/admin/users/{username}/keys/{id}"),
    ("DELETE", "/admin/users/{username}/keys/{id}"),
    ("POST", "/admin/users/{username}/keys/{id}/rotate"),
];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    let id = |s: &str| s.parse::<i64>().map_err(|_| not_found(&format!("key '{s}'")));
    Some(match (method, segs) {
        ("GET", [u, "keys"]) => list(ctx, u).await,
        ("POST", [u, "keys"]) => create(ctx, u).await,
        ("GET", [u, "keys", k]) => match id(k) {
            Ok(k) => owned(ctx, u, k).await.and_then(|(_, v)| ok(v)),
            Err(e) => Err(e),
        },
        ("PATCH", [u, "keys", k]) => match id(k) {
            Ok(k) => update(ctx, u, k).await,
            Err(e) => Err(e),
        },
        ("DELETE", [u, "keys", k]) => match id(k) {
            Ok(k) => revoke(ctx, u, k).await,
            Err(e) => Err(e),
        },
        ("POST", [u, "keys", k, "rotate"]) => match id(k) {
            Ok(k) => rotate(ctx, u, k).await,
            Err(e) => Err(e),
        },
        _ => return None,
    })
}

pub async fn user_id<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<i64, GatewayError> {
    ctx.json("SELECT to_json(id) FROM users WHERE username = $1::text AND deleted_at IS NULL", &[Param::Text(Some(username.into()))])
        .await?
        .as_i64()
        .ok_or_else(|| not_found(&format!("user '{username}'")))
}

/// The key `id` of the user: (user id, its view); 404 when either does not exist.
async fn owned<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str, id: i64) -> Result<(i64, Value), GatewayError> {
    let uid = user_id(ctx, username).await?;
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({KEY_VIEW} WHERE k.user_id = $1::bigint AND k.id = $2::bigint) x"), &[Param::Int(Some(uid)), Param::Int(Some(id))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("key {id} of user '{username}'")));
    }
    Ok((uid, v))
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let uid = user_id(ctx, username).await?;
    let v = ctx.json(&format!("SELECT COALESCE(json_agg(x ORDER BY x.id), '[]'::json)::text FROM ({KEY_VIEW} WHERE k.user_id = $1::bigint) x"), &[Param::Int(Some(uid))]).await?;
    ok(json!({"username": username, "total": v.as_array().map(Vec::len).unwrap_or(0), "keys": v}))
}

/// A key's restrictions as read from a body (absent = leave alone on PATCH).
struct Restrictions {
    label: Option<String>,
    expires_at: Option<Option<i64>>,
    models: Option<Option<Vec<String>>>,
    ip_allow: Option<Option<Vec<String>>>,
    request_limit: Option<Option<i64>>,
    token_limit: Option<Option<i64>>,
}

fn restrictions(input: &super::input::Input, now_s: i64, extra: &[&str]) -> Result<Restrictions, GatewayError> {
    let mut fields = vec!["label", "expires_at", "expires_in_seconds", "models", "ip_allow", "request_limit", "token_limit"];
    fields.extend_from_slice(extra);
    input.only(&fields)?;
    let label = input.str("label")?;
    if label.as_ref().is_some_and(|l| l.chars().count() > 100) {
        return Err(GatewayError::bad_field("label", "'label' must be at most 100 characters"));
    }
    let expires_at = match (input.raw("expires_at"), input.int_in("expires_in_seconds", 1, MAX_LIFETIME_S)?) {
        (Some(v), Some(_)) if !v.is_null() => return Err(GatewayError::bad_field("expires_in_seconds", "give either 'expires_at' or 'expires_in_seconds', not both")),
        (_, Some(s)) => Some(Some(now_s + s)),
        (None, None) => None,
        (Some(serde_json::Value::Null), None) => Some(None),
        (Some(serde_json::Value::String(t)), None) => {
            let at = chrono::DateTime::parse_from_rfc3339(t.trim()).map_err(|_| GatewayError::bad_field("expires_at", "'expires_at' must be an RFC 3339 time, e.g. 2027-01-31T00:00:00Z"))?.timestamp();
            if at <= now_s || at > now_s + MAX_LIFETIME_S {
                return Err(GatewayError::bad_field("expires_at", "'expires_at' must be in the future and within ten years"));
            }
            Some(Some(at))
        }
        (Some(_), None) => return Err(GatewayError::bad_field("expires_at", "'expires_at' must be an RFC 3339 time or null")),
    };
    let models = input.nullable_str_list("models")?;
    let ip_allow = input.nullable_str_list("ip_allow")?;
    if let Some(Some(list)) = &ip_allow {
        if let Some(bad) = list.iter().find(|r| !key_rules::valid_ip_rule(r)) {
            return Err(GatewayError::bad_field("ip_allow", format!("'{}' is not an IP address or CIDR range", bad.chars().take(60).collect::<String>())));
        }
    }
    for list in [&models, &ip_allow].into_iter().flatten().flatten() {
        if list.len() > 256 || list.iter().any(|s| s.len() > 200) {
            return Err(GatewayError::bad_request("a key's lists hold at most 256 entries of at most 200 characters"));
        }
    }
    Ok(Restrictions { label, expires_at, models, ip_allow, request_limit: input.nullable_int_in("request_limit", 0, i64::MAX)?, token_limit: input.nullable_int_in("token_limit", 0, i64::MAX)? })
}

/// A new key for `username`: (the key, hash of its jti, display hint: its last 6 characters).
fn new_key<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<(String, String, String), GatewayError> {
    let jti = ctx.env.random_hex(32);
    let key = token::issue(ctx.env.jwt_secret, token::USER_TYP, username, &jti, ctx.env.now_s, None).map_err(GatewayError::Internal)?;
    let hint = key[key.len().saturating_sub(6)..].to_string();
    Ok((key, token::hash_jti(&jti), hint))
}

fn opt_list(v: Option<Option<Vec<String>>>) -> Option<Vec<String>> {
    v.flatten()
}

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let r = restrictions(&input, ctx.env.now_s, &[])?;
    let uid = user_id(ctx, username).await?;
    let (key, hash, hint) = new_key(ctx, username)?;
    let id = ctx
        .json(
            "INSERT INTO api_keys (user_id, label, key_hash, key_prefix, models, ip_allow, request_limit, token_limit, expires_at)
             VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text[], $6::text[], $7::bigint, $8::bigint, to_timestamp($9::bigint)) RETURNING to_json(id)",
            &[
                Param::Int(Some(uid)),
                Param::Text(Some(r.label.clone().unwrap_or_default())),
                Param::Text(Some(hash)),
                Param::Text(Some(hint)),
                Param::TextArray(opt_list(r.models.clone())),
                Param::TextArray(opt_list(r.ip_allow.clone()).filter(|l| !l.is_empty())),
                Param::Int(r.request_limit.flatten()),
                Param::Int(r.token_limit.flatten()),
                Param::Int(r.expires_at.flatten()),
            ],
        )
        .await?
        .as_i64()
        .unwrap_or_default();
    ctx.audit("key.create", "api_key", Some(&id.to_string()), &json!({"username": username, "label": r.label, "models": r.models.flatten(), "ip_allow": r.ip_allow.flatten(), "request_limit": r.request_limit.flatten(), "token_limit": r.token_limit.flatten(), "expires_at": r.expires_at.flatten()})).await?;
    let (_, mut v) = owned(ctx, username, id).await?;
    v["key"] = json!(key);
    created(v)
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str, id: i64) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let r = restrictions(&input, ctx.env.now_s, &[])?;
    let (uid, _) = owned(ctx, username, id).await?;
    ctx.exec(
        "UPDATE api_keys SET label = COALESCE($3::text, label),
                expires_at = CASE WHEN $4::boolean THEN to_timestamp($5::bigint) ELSE expires_at END,
                models = CASE WHEN $6::boolean THEN $7::text[] ELSE models END,
                ip_allow = CASE WHEN $8::boolean THEN $9::text[] ELSE ip_allow END,
                request_limit = CASE WHEN $10::boolean THEN $11::bigint ELSE request_limit END,
                token_limit = CASE WHEN $12::boolean THEN $13::bigint ELSE token_limit END,
                updated_at = now()
         WHERE user_id = $1::bigint AND id = $2::bigint",
        &[
            Param::Int(Some(uid)),
            Param::Int(Some(id)),
            Param::Text(r.label.clone()),
            Param::Bool(Some(r.expires_at.is_some())),
            Param::Int(r.expires_at.flatten()),
            Param::Bool(Some(r.models.is_some())),
            Param::TextArray(opt_list(r.models.clone())),
            Param::Bool(Some(r.ip_allow.is_some())),
            Param::TextArray(opt_list(r.ip_allow.clone()).filter(|l| !l.is_empty())),
            Param::Bool(Some(r.request_limit.is_some())),
            Param::Int(r.request_limit.flatten()),
            Param::Bool(Some(r.token_limit.is_some())),
            Param::Int(r.token_limit.flatten()),
        ],
    )
    .await?;
    let mut changed = serde_json::Map::new();
    for k in input.0.keys() {
        changed.insert(k.clone(), input.0[k].clone());
    }
    changed.insert("username".into(), json!(username));
    ctx.audit("key.update", "api_key", Some(&id.to_string()), &Value::Object(changed)).await?;
    owned(ctx, username, id).await.and_then(|(_, v)| ok(v))
}

async fn revoke<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str, id: i64) -> Result<Reply, GatewayError> {
    let (uid, _) = owned(ctx, username, id).await?;
    ctx.exec("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()), updated_at = now() WHERE user_id = $1::bigint AND id = $2::bigint", &[Param::Int(Some(uid)), Param::Int(Some(id))]).await?;
    ctx.audit("key.revoke", "api_key", Some(&id.to_string()), &json!({"username": username})).await?;
    no_content()
}

async fn rotate<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str, id: i64) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(&["grace_seconds", "label", "expires_at", "expires_in_seconds"])?;
    let grace = input.int_in("grace_seconds", 0, MAX_GRACE_S)?.unwrap_or(3600);
    let r = restrictions(&input, ctx.env.now_s, &["grace_seconds"])?;
    let (uid, old) = owned(ctx, username, id).await?;
    if old["status"] != "active" {
        return Err(GatewayError::Conflict { message: format!("key {id} is {} and cannot be rotated", old["status"].as_str().unwrap_or("inactive")), field: None });
    }
    let (key, hash, hint) = new_key(ctx, username)?;
    let new_id = ctx
        .json(
            "INSERT INTO api_keys (user_id, label, key_hash, key_prefix, models, ip_allow, request_limit, token_limit, expires_at)
             SELECT user_id, COALESCE($3::text, label), $4::text, $5::text, models, ip_allow, request_limit, token_limit, to_timestamp($6::bigint)
             FROM api_keys WHERE user_id = $1::bigint AND id = $2::bigint RETURNING to_json(id)",
            &[Param::Int(Some(uid)), Param::Int(Some(id)), Param::Text(r.label.clone()), Param::Text(Some(hash)), Param::Text(Some(hint)), Param::Int(r.expires_at.flatten())],
        )
        .await?
        .as_i64()
        .unwrap_or_default();
    // The old key ends after the grace period (or at its own expiry, if sooner); 0 = now.
    ctx.exec(
        "UPDATE api_keys SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), to_timestamp($3::bigint)), rotated_to = $4::bigint, updated_at = now()
         WHERE user_id = $1::bigint AND id = $2::bigint",
        &[Param::Int(Some(uid)), Param::Int(Some(id)), Param::Int(Some(ctx.env.now_s + grace)), Param::Int(Some(new_id))],
    )
    .await?;
    ctx.audit("key.rotate", "api_key", Some(&id.to_string()), &json!({"username": username, "new_key_id": new_id, "grace_seconds": grace})).await?;
    let (_, previous) = owned(ctx, username, id).await?;
    let (_, mut v) = owned(ctx, username, new_id).await?;
    v["key"] = json!(key);
    v["previous"] = previous;
    created(v)
}
