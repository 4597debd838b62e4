//! `/admin/teams`: teams with an allow-list (model and group names, or all), daily limits and
//! members. A member may call what they or any of their teams may (`auth::keys::effective`),
//! and every level that sets a limit (user, team, key) must admit a request.

use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::{json, Value};

pub const TEAM_VIEW: &str = "
    SELECT t.id, t.name, t.description, t.has_all_models,
           COALESCE((SELECT json_agg(tm.model_name ORDER BY tm.model_name) FROM team_models tm WHERE tm.team_id = t.id), '[]'::json) AS models,
           t.request_limit, t.token_limit,
           COALESCE((SELECT json_agg(u.username ORDER BY u.username) FROM team_members m JOIN users u ON u.id = m.user_id
                     WHERE m.team_id = t.id AND u.deleted_at IS NULL), '[]'::json) AS members,
           t.created_at, t.updated_at
    FROM teams t";

pub const ROUTES: &[super::kit::Route] = &[
    ("GET", "/admin/teams"),
    ("POST", "/admin/teams"),
    ("GET", "/admin/teams/{team}"),
    ("PATCH", "/admin/teams/{team}"),
    ("DELETE", "/admin/teams/{team}"),
    ("POST", "/admin/teams/{team}/members"),
    ("DELETE", "/admin/teams/{team}/members/{username}"),
];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => create(ctx).await,
        ("GET", [t]) => get(ctx, t).await.and_then(ok),
        ("PATCH", [t]) => update(ctx, t).await,
        ("DELETE", [t]) => delete(ctx, t).await,
        ("POST", [t, "members"]) => add_members(ctx, t).await,
        ("DELETE", [t, "members", u]) => remove_member(ctx, t, u).await,
        _ => return None,
    })
}

fn valid_name(n: &str) -> Result<(), GatewayError> {
    let ok = !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    ok.then_some(()).ok_or_else(|| GatewayError::bad_field("name", "'name' must be 1-64 characters of letters, digits, '.', '_', '@' or '-'"))
}

pub async fn get<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str) -> Result<Value, GatewayError> {
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({TEAM_VIEW} WHERE t.name = $1::text) x"), &[Param::Text(Some(name.into()))]).await?;
    if v.is_null() {
        return Err(not_found(&format!("team '{name}'")));
    }
    Ok(v)
}

pub async fn team_id<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str) -> Result<i64, GatewayError> {
    ctx.json("SELECT to_json(id) FROM teams WHERE name = $1::text", &[Param::Text(Some(name.into()))]).await?.as_i64().ok_or_else(|| not_found(&format!("team '{name}'")))
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let v = ctx.json(&format!("SELECT COALESCE(json_agg(x ORDER BY x.name), '[]'::json)::text FROM ({TEAM_VIEW}) x"), &[]).await?;
    ok(json!({"teams": v, "total": v.as_array().map(Vec::len).unwrap_or(0)}))
}

const FIELDS: &[&str] = &["name", "description", "has_all_models", "models", "request_limit", "token_limit", "members"];

fn check_list(field: &str, list: &[String]) -> Result<(), GatewayError> {
    if list.len() > 1000 || list.iter().any(|s| s.len() > 200) {
        return Err(GatewayError::bad_field(field, format!("'{field}' holds at most 1000 names of at most 200 characters")));
    }
    Ok(())
}

async fn set_models<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64, models: &[String]) -> Result<(), GatewayError> {
    ctx.exec("DELETE FROM team_models WHERE team_id = $1::bigint", &[Param::Int(Some(id))]).await?;
    if !models.is_empty() {
        ctx.exec(
            "INSERT INTO team_models (team_id, model_name) SELECT $1::bigint, n FROM (SELECT DISTINCT unnest($2::text[]) AS n) x ON CONFLICT DO NOTHING",
            &[Param::Int(Some(id)), Param::TextArray(Some(models.to_vec()))],
        )
        .await?;
    }
    Ok(())
}

/// Add these users to the team (all must exist: 400 naming the first unknown one).
async fn add<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, id: i64, field: &str, usernames: &[String]) -> Result<(), GatewayError> {
    if usernames.is_empty() {
        return Ok(());
    }
    let missing = ctx
        .json(
            "SELECT to_json(n) FROM unnest($1::text[]) n WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.username = n AND u.deleted_at IS NULL) LIMIT 1",
            &[Param::TextArray(Some(usernames.to_vec()))],
        )
        .await?;
    if let Some(m) = missing.as_str() {
        return Err(GatewayError::bad_field(field, format!("user '{}' not found", m.chars().take(64).collect::<String>())));
    }
    ctx.exec(
        "INSERT INTO team_members (team_id, user_id) SELECT $1::bigint, u.id FROM users u WHERE u.username = ANY($2::text[]) AND u.deleted_at IS NULL ON CONFLICT DO NOTHING",
        &[Param::Int(Some(id)), Param::TextArray(Some(usernames.to_vec()))],
    )
    .await?;
    Ok(())
}

async fn create<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(FIELDS)?;
    let name = input.req_str("name")?;
    valid_name(&name)?;
    let description = input.str("description")?.unwrap_or_default();
    let all = input.bool("has_all_models")?.unwrap_or(false);
    let models = input.str_list("models")?.unwrap_or_default();
    check_list("models", &models)?;
    let members = input.str_list("members")?.unwrap_or_default();
    check_list("members", &members)?;
    let requests = input.int_in("request_limit", 0, i64::MAX)?;
    let tokens = input.int_in("token_limit", 0, i64::MAX)?;
    let id = ctx
        .json(
            "INSERT INTO teams (name, description, has_all_models, request_limit, token_limit) VALUES ($1::text, $2::text, $3::boolean, $4::bigint, $5::bigint)
             ON CONFLICT (name) DO NOTHING RETURNING to_json(id)",
            &[Param::Text(Some(name.clone())), Param::Text(Some(description)), Param::Bool(Some(all)), Param::Int(requests), Param::Int(tokens)],
        )
        .await?
        .as_i64()
        .ok_or_else(|| GatewayError::Conflict { message: format!("team '{name}' already exists"), field: Some("name".into()) })?;
    set_models(ctx, id, &models).await?;
    add(ctx, id, "members", &members).await?;
    ctx.audit("team.create", "team", Some(&name), &json!({"has_all_models": all, "models": models, "members": members, "request_limit": requests, "token_limit": tokens})).await?;
    created(get(ctx, &name).await?)
}

async fn update<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(FIELDS)?;
    let id = team_id(ctx, name).await?;
    let new_name = input.str("name")?;
    if let Some(n) = &new_name {
        valid_name(n)?;
    }
    let requests = input.nullable_int_in("request_limit", 0, i64::MAX)?;
    let tokens = input.nullable_int_in("token_limit", 0, i64::MAX)?;
    let renamed = ctx
        .exec(
            "UPDATE teams SET name = COALESCE($2::text, name), description = COALESCE($3::text, description), has_all_models = COALESCE($4::boolean, has_all_models),
                    request_limit = CASE WHEN $5::boolean THEN $6::bigint ELSE request_limit END,
                    token_limit = CASE WHEN $7::boolean THEN $8::bigint ELSE token_limit END, updated_at = now()
             WHERE id = $1::bigint AND NOT EXISTS (SELECT 1 FROM teams o WHERE o.name = $2::text AND o.id <> $1::bigint)",
            &[
                Param::Int(Some(id)),
                Param::Text(new_name.clone()),
                Param::Text(input.str("description")?),
                Param::Bool(input.bool("has_all_models")?),
                Param::Bool(Some(requests.is_some())),
                Param::Int(requests.flatten()),
                Param::Bool(Some(tokens.is_some())),
                Param::Int(tokens.flatten()),
            ],
        )
        .await?;
    if renamed == 0 {
        return Err(GatewayError::Conflict { message: format!("team '{}' already exists", new_name.unwrap_or_default()), field: Some("name".into()) });
    }
    if let Some(models) = input.str_list("models")? {
        check_list("models", &models)?;
        set_models(ctx, id, &models).await?;
    }
    if let Some(members) = input.str_list("members")? {
        check_list("members", &members)?;
        ctx.exec("DELETE FROM team_members WHERE team_id = $1::bigint", &[Param::Int(Some(id))]).await?;
        add(ctx, id, "members", &members).await?;
    }
    ctx.audit("team.update", "team", Some(name), &Value::Object(input.0.clone())).await?;
    ok(get(ctx, new_name.as_deref().unwrap_or(name)).await?)
}

async fn delete<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str) -> Result<Reply, GatewayError> {
    let id = team_id(ctx, name).await?;
    ctx.exec("DELETE FROM teams WHERE id = $1::bigint", &[Param::Int(Some(id))]).await?;
    ctx.audit("team.delete", "team", Some(name), &json!({})).await?;
    no_content()
}

async fn add_members<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(&["username", "usernames"])?;
    let mut users = input.str_list("usernames")?.unwrap_or_default();
    users.extend(input.str("username")?.filter(|u| !u.is_empty()));
    if users.is_empty() {
        return Err(GatewayError::bad_field("username", "'username' (or 'usernames') is required"));
    }
    check_list("usernames", &users)?;
    let id = team_id(ctx, name).await?;
    add(ctx, id, if input.has("usernames") { "usernames" } else { "username" }, &users).await?;
    ctx.audit("team.members_add", "team", Some(name), &json!({"usernames": users})).await?;
    ok(get(ctx, name).await?)
}

async fn remove_member<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, name: &str, username: &str) -> Result<Reply, GatewayError> {
    let id = team_id(ctx, name).await?;
    let n = ctx
        .exec("DELETE FROM team_members WHERE team_id = $1::bigint AND user_id = (SELECT id FROM users WHERE username = $2::text)", &[Param::Int(Some(id)), Param::Text(Some(username.into()))])
        .await?;
    if n == 0 {
        return Err(not_found(&format!("member '{username}' of team '{name}'")));
    }
    ctx.audit("team.members_remove", "team", Some(name), &json!({"username": username})).await?;
    no_content()
}
