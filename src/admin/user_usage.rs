//! `/admin/users/{u}/activity|token-usage|model-usage`: one user's requests and totals. Rows are
//! matched by username, which is unique and never renamed, so a deleted user's history stays.

use super::query::{self, Window};
use super::kit::{not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::json;

pub const ROUTES: &[super::kit::Route] =
    &[("GET", "/admin/users/{username}/activity"), ("GET", "/admin/users/{username}/token-usage"), ("GET", "/admin/users/{username}/model-usage")];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", [u, "activity"]) => activity(ctx, u).await,
        ("GET", [u, "token-usage"]) => token_usage(ctx, u).await,
        ("GET", [u, "model-usage"]) => model_usage(ctx, u).await,
        _ => return None,
    })
}

/// Deleted users still have a history, so only a name that never existed is a 404.
async fn existing<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<(), GatewayError> {
    let found = ctx.json("SELECT to_json(1) FROM users WHERE username = $1::text", &[Param::Text(Some(username.into()))]).await?;
    if found.is_null() {
        return Err(not_found(&format!("user '{username}'")));
    }
    Ok(())
}

async fn activity<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let page = query::page(ctx.req, 50)?;
    existing(ctx, username).await?;
    let cols = super::requests::COLUMNS;
    let v = ctx
        .json(
            &format!(
                "SELECT json_build_object(
                   'activities', COALESCE((SELECT json_agg(x ORDER BY x.created_at DESC, x.id DESC) FROM (
                       SELECT {cols} FROM usage_records WHERE username = $1::text ORDER BY created_at DESC, id DESC LIMIT $2::bigint OFFSET $3::bigint) x), '[]'::json),
                   'total', (SELECT count(*) FROM usage_records WHERE username = $1::text))::text"
            ),
            &[Param::Text(Some(username.into())), Param::Int(Some(page.limit)), Param::Int(Some(page.offset))],
        )
        .await?;
    ok(json!({"username": username, "activities": v["activities"], "total": v["total"], "limit": page.limit, "offset": page.offset}))
}

fn window_params(username: &str, w: &Window) -> Vec<Param> {
    vec![Param::Text(Some(username.into())), Param::Text(w.start_text()), Param::Text(w.end_text())]
}

const IN_WINDOW: &str = "username = $1::text AND ($2::text IS NULL OR created_at >= $2::text::timestamptz) AND ($3::text IS NULL OR created_at < $3::text::timestamptz)";

async fn token_usage<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let w = query::period(ctx.req, ctx.env.now_s, "7d")?;
    existing(ctx, username).await?;
    let usage = ctx
        .json(
            &format!(
                "SELECT json_build_object('requests', count(*), 'prompt_tokens', COALESCE(sum(prompt_tokens), 0), 'completion_tokens', COALESCE(sum(completion_tokens), 0),
                   'total_tokens', COALESCE(sum(total_tokens), 0))::text FROM usage_records WHERE {IN_WINDOW}"
            ),
            &window_params(username, &w),
        )
        .await?;
    ok(json!({"username": username, "period": w.describe(ctx.env.now_s), "usage": usage}))
}

async fn model_usage<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, username: &str) -> Result<Reply, GatewayError> {
    let w = query::period(ctx.req, ctx.env.now_s, "7d")?;
    existing(ctx, username).await?;
    let models = ctx
        .json(
            &format!(
                "SELECT COALESCE(json_agg(x ORDER BY x.total_tokens DESC, x.requests DESC, x.model), '[]'::json)::text FROM (
                   SELECT requested_model AS model, count(*) AS requests, COALESCE(sum(total_tokens), 0) AS total_tokens
                   FROM usage_records WHERE {IN_WINDOW} GROUP BY requested_model) x"
            ),
            &window_params(username, &w),
        )
        .await?;
    ok(json!({"username": username, "period": w.describe(ctx.env.now_s), "models": models}))
}
