//! `/admin/users`: create (the token is shown once), list/get (never a token), soft delete and
//! reactivate, token refresh, model access, limits.

use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::auth::token;
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

const USER_VIEW: &str = "
    SELECT u.id, u.username, u.is_active AND u.deleted_at IS NULL AS is_active, u.deleted_at IS NOT NULL AS is_deleted,
           u.has_all_models, u.can_manage_models, u.token_prefix, u.created_at, u.updated_at, u.deleted_at,
           COALESCE((SELECT json_agg(um.model_name ORDER BY um.model_name) FROM user_models um WHERE um.user_id = u.id), '[]'::json) AS models,
           l.request_limit, l.token_limit
    FROM users u LEFT JOIN user_limits l ON l.user_id = u.id";

fn valid_username(u: &str) -> Result<(), GatewayError> {
    let ok = !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    ok.then_some(()).ok_or_else(|| GatewayError::bad_field("username", "'username' must be 1-64 characters of letters, digits, '.', '_', '@' or '-'"))
}

/// A new token for `username`: (token, hash of its jti, display prefix).
fn new_token<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<(String, String, String), GatewayError> {
    let jti = ctx.env.random_hex(32);
    let tok = token::issue(ctx.env.jwt_secret, token::USER_TYP, username, &jti, ctx.env.now_s, None).map_err(GatewayError::Internal)?;
    Ok((tok, token::hash_jti(&jti), jti[..8].to_string()))
}

async fn get_user<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Value, GatewayError> {
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({USER_VIEW} WHERE u.username = $1::text) x"), &[Param::Text(Some(username.into()))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("user '{username}'")));
    }
    Ok(v)
}

async fn user_id<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<i64, GatewayError> {
    ctx.json("SELECT to_json(id) FROM users WHERE username = $1::text AND deleted_at IS NULL", &[Param::Text(Some(username.into()))])
        .await?
        .as_i64()
        .ok_or_else(|| not_found(&format!("user '{username}'")))
}

async fn set_models<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64, all: bool, models: &[String]) -> Result<(), GatewayError> {
    ctx.exec("UPDATE users SET has_all_models = $2::boolean, updated_at = now() WHERE id = $1::bigint", &[Param::Int(Some(id)), Param::Bool(Some(all))]).await?;
    ctx.exec("DELETE FROM user_models WHERE user_id = $1::bigint", &[Param::Int(Some(id))]).await?;
    if !models.is_empty() {
        ctx.exec(
            "INSERT INTO user_models (user_id, model_name) SELECT $1::bigint, n.name FROM (SELECT DISTINCT unnest($2::text[]) AS name) n ON CONFLICT DO NOTHING",
            &[Param::Int(Some(id)), Param::TextArray(Some(models.to_vec()))],
        )
        .await?;
    }
    Ok(())
}

async fn set_limits<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64, requests: Option<i64>, tokens: Option<i64>) -> Result<(), GatewayError> {
    ctx.exec(
        "INSERT INTO user_limits (user_id, request_limit, token_limit) VALUES ($1::bigint, $2::bigint, $3::bigint)
         ON CONFLICT (user_id) DO UPDATE SET request_limit = EXCLUDED.request_limit, token_limit = EXCLUDED.token_limit, updated_at = now()",
        &[Param::Int(Some(id)), Param::Int(requests), Param::Int(tokens)],
    )
    .await
    .map(|_| ())
}

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("GET", "/admin/users/{username}"),
    ("PATCH", "/admin/users/{username}"),
    ("DELETE", "/admin/users/{username}"),
    ("POST", "/admin/users/{username}/reactivate"),
    ("PUT", "/admin/users/{username}/token"),
    ("POST", "/admin/users/{username}/token"),
    ("GET", "/admin/users/{username}/models"),
    ("POST", "/admin/users/{username}/models"),
    ("PUT", "/admin/users/{username}/models"),
    ("POST", "/admin/users/{username}/models/all"),
    ("DELETE", "/admin/users/{username}/models/{model}"),
    ("GET", "/admin/users/{username}/limits"),
    ("POST", "/admin/users/{username}/limits"),
    ("PUT", "/admin/users/{username}/limits"),
    ("DELETE", "/admin/users/{username}/limits"),
];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    if let Some(answer) = super::user_usage::route(ctx, method, segs).await {
        return Some(answer);
    }
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => create(ctx).await,
        ("GET", [u]) => get_user(ctx, u).await.and_then(ok),
        ("PATCH", [u]) => update(ctx, u).await,
        ("DELETE", [u]) => delete(ctx, u).await,
        ("POST", [u, "reactivate"]) => reactivate(ctx, u).await,
        ("PUT", [u, "token"]) | ("POST", [u, "token"]) => refresh(ctx, u).await,
        ("GET", [u, "models"]) => get_user(ctx, u).await.and_then(|v| ok(json!({"username": v["username"], "has_all_models": v["has_all_models"], "models": v["models"]}))),
        ("POST", [u, "models"]) | ("PUT", [u, "models"]) => replace_models(ctx, u).await,
        ("POST", [u, "models", "all"]) => grant_all(ctx, u).await,
        ("DELETE", [u, "models", name]) => revoke(ctx, u, name).await,
        ("GET", [u, "limits"]) => get_user(ctx, u).await.and_then(|v| ok(json!({"username": v["username"], "request_limit": v["request_limit"], "token_limit": v["token_limit"]}))),
        ("POST", [u, "limits"]) | ("PUT", [u, "limits"]) => limits(ctx, u).await,
        ("DELETE", [u, "limits"]) => remove_limits(ctx, u).await,
        _ => return None,
    })
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let include_deleted = super::query::flag(ctx.req, "include_deleted")?;
    let v = ctx
        .json(&format!("SELECT COALESCE(json_agg(x ORDER BY x.username), '[]'::json)::text FROM ({USER_VIEW} WHERE $1::boolean OR u.deleted_at IS NULL) x"), &[Param::Bool(Some(include_deleted))])
        .await?;
    ok(json!({ "users": v, "total": v.as_array().map(Vec::len).unwrap_or(0) }))
}

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let username = input.req_str("username")?;
    valid_username(&username)?;
    let all = input.bool("has_all_models")?.or(input.bool("all_models")?).unwrap_or(false);
    let models = input.str_list("models")?.unwrap_or_default();
    let manage = input.bool("can_manage_models")?.unwrap_or(false);
    let request_limit = input.int_in("request_limit", 0, i64::MAX)?;
    let token_limit = input.int_in("token_limit", 0, i64::MAX)?;
    let existing = ctx.json("SELECT json_build_object('id', id, 'deleted', deleted_at IS NOT NULL) FROM users WHERE username = $1::text", &[Param::Text(Some(username.clone()))]).await?;
    let (tok, hash, prefix) = new_token(ctx, &username)?;
    let (id, reactivated) = if existing.is_null() {
        let id = ctx
            .json(
                "INSERT INTO users (username, token_hash, token_prefix, has_all_models, can_manage_models) VALUES ($1::text, $2::text, $3::text, $4::boolean, $5::boolean) RETURNING to_json(id)",
                &[Param::Text(Some(username.clone())), Param::Text(Some(hash)), Param::Text(Some(prefix)), Param::Bool(Some(all)), Param::Bool(Some(manage))],
            )
            .await?;
        (id.as_i64().unwrap_or_default(), false)
    } else if existing["deleted"] == true {
        // Re-creating a deleted user brings it back with a fresh token.
        let id = existing["id"].as_i64().unwrap_or_default();
        ctx.exec(
            "UPDATE users SET token_hash = $2::text, token_prefix = $3::text, is_active = true, deleted_at = NULL, has_all_models = $4::boolean, can_manage_models = $5::boolean, updated_at = now() WHERE id = $1::bigint",
            &[Param::Int(Some(id)), Param::Text(Some(hash)), Param::Text(Some(prefix)), Param::Bool(Some(all)), Param::Bool(Some(manage))],
        )
        .await?;
        (id, true)
    } else {
        return Err(GatewayError::Conflict { message: format!("user '{username}' already exists"), field: Some("username".into()) });
    };
    set_models(ctx, id, all, &models).await?;
    if request_limit.is_some() || token_limit.is_some() {
        set_limits(ctx, id, request_limit, token_limit).await?;
    }
    ctx.audit(if reactivated { "user.reactivate" } else { "user.create" }, "user", Some(&username), &json!({"has_all_models": all, "models": models, "can_manage_models": manage, "request_limit": request_limit, "token_limit": token_limit})).await?;
    let mut v = get_user(ctx, &username).await?;
    v["token"] = json!(tok);
    created(v)
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let id = user_id(ctx, username).await?;
    let active = input.bool("is_active")?;
    let manage = input.bool("can_manage_models")?;
    ctx.exec(
        "UPDATE users SET is_active = COALESCE($2::boolean, is_active), can_manage_models = COALESCE($3::boolean, can_manage_models), updated_at = now() WHERE id = $1::bigint",
        &[Param::Int(Some(id)), Param::Bool(active), Param::Bool(manage)],
    )
    .await?;
    ctx.audit("user.update", "user", Some(username), &json!({"is_active": active, "can_manage_models": manage})).await?;
    get_user(ctx, username).await.and_then(ok)
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let id = user_id(ctx, username).await?;
    // The old token hash is replaced too: reactivation must issue a new token.
    let dead = token::hash_jti(&ctx.env.random_hex(32));
    ctx.exec("UPDATE users SET is_active = false, deleted_at = now(), token_hash = $2::text, updated_at = now() WHERE id = $1::bigint", &[Param::Int(Some(id)), Param::Text(Some(dead))]).await?;
    ctx.audit("user.delete", "user", Some(username), &json!({})).await?;
    no_content()
}

async fn reactivate<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let deleted = ctx.json("SELECT to_json(id) FROM users WHERE username = $1::text AND deleted_at IS NOT NULL", &[Param::Text(Some(username.into()))]).await?;
    let Some(id) = deleted.as_i64() else {
        get_user(ctx, username).await?;
        return Err(GatewayError::Conflict { message: format!("user '{username}' is not deleted"), field: None });
    };
    let (tok, hash, prefix) = new_token(ctx, username)?;
    ctx.exec("UPDATE users SET is_active = true, deleted_at = NULL, token_hash = $2::text, token_prefix = $3::text, updated_at = now() WHERE id = $1::bigint", &[Param::Int(Some(id)), Param::Text(Some(hash)), Param::Text(Some(prefix))]).await?;
    ctx.audit("user.reactivate", "user", Some(username), &json!({})).await?;
    let mut v = get_user(ctx, username).await?;
    v["token"] = json!(tok);
    ok(v)
}

async fn refresh<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let id = user_id(ctx, username).await?;
    let (tok, hash, prefix) = new_token(ctx, username)?;
    ctx.exec("UPDATE users SET token_hash = $2::text, token_prefix = $3::text, updated_at = now() WHERE id = $1::bigint", &[Param::Int(Some(id)), Param::Text(Some(hash)), Param::Text(Some(prefix.clone()))]).await?;
    ctx.audit("user.token_refresh", "user", Some(username), &json!({})).await?;
    ok(json!({"username": username, "token": tok, "token_prefix": prefix}))
}

async fn replace_models<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    let models = input.str_list("models")?.ok_or_else(|| GatewayError::bad_field("models", "'models' is required (a list of model or group names)"))?;
    let id = user_id(ctx, username).await?;
    set_models(ctx, id, false, &models).await?;
    ctx.audit("user.models_replace", "user", Some(username), &json!({"models": models})).await?;
    get_user(ctx, username).await.and_then(|v| ok(json!({"username": v["username"], "has_all_models": v["has_all_models"], "models": v["models"]})))
}

async fn grant_all<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let id = user_id(ctx, username).await?;
    set_models(ctx, id, true, &[]).await?;
    ctx.audit("user.models_grant_all", "user", Some(username), &json!({})).await?;
    get_user(ctx, username).await.and_then(|v| ok(json!({"username": v["username"], "has_all_models": v["has_all_models"], "models": v["models"]})))
}

async fn revoke<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str, name: &str) -> Result<Reply, GatewayError> {
    let id = user_id(ctx, username).await?;
    if name == "all" {
        set_models(ctx, id, false, &[]).await?;
    } else {
        let n = ctx.exec("DELETE FROM user_models WHERE user_id = $1::bigint AND model_name = $2::text", &[Param::Int(Some(id)), Param::Text(Some(name.into()))]).await?;
        if n == 0 {
            return Err(not_found(&format!("model '{name}' in the access list of '{username}'")));
        }
    }
    ctx.audit("user.models_revoke", "user", Some(username), &json!({"model": name})).await?;
    no_content()
}

async fn limits<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    for k in input.0.keys() {
        if k != "request_limit" && k != "token_limit" {
            return Err(GatewayError::bad_field(k.as_str(), format!("unknown field '{k}'; expected request_limit and/or token_limit")));
        }
    }
    let requests = input.int_in("request_limit", 0, i64::MAX)?;
    let tokens = input.int_in("token_limit", 0, i64::MAX)?;
    let id = user_id(ctx, username).await?;
    set_limits(ctx, id, requests, tokens).await?;
    ctx.audit("user.limits_set", "user", Some(username), &json!({"request_limit": requests, "token_limit": tokens})).await?;
    ok(json!({"username": username, "request_limit": requests, "token_limit": tokens}))
}

async fn remove_limits<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let id = user_id(ctx, username).await?;
    ctx.exec("DELETE FROM user_limits WHERE user_id = $1::bigint", &[Param::Int(Some(id))]).await?;
    ctx.audit("user.limits_remove", "user", Some(username), &json!({})).await?;
    no_content()
}
