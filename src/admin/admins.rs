//! `/admin/admins`: who may sign in through Cloudflare Access (see `access`), by email, and
//! with which scope: every resource, or one team. A team admin sees and manages only that
//! team's members, their keys and their usage (`check_scope`); every change they make is
//! audited under their email and team.

use super::kit::{created, no_content, not_found, ok, Ctx};
use crate::error::GatewayError;
use crate::net::Reply;
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::json;

const VIEW: &str = "SELECT a.email, t.name AS team, a.created_at FROM admin_emails a LEFT JOIN teams t ON t.id = a.team_id";

pub const ROUTES: &[super::kit::Route] = &[("GET", "/admin/admins"), ("POST", "/admin/admins"), ("DELETE", "/admin/admins/{email}")];

pub async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    Some(match (method, segs) {
        ("GET", []) => list(ctx).await,
        ("POST", []) => add(ctx).await,
        ("DELETE", [email]) => remove(ctx, email).await,
        _ => return None,
    })
}

async fn list<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let v = ctx.json(&format!("SELECT COALESCE(json_agg(x ORDER BY x.email), '[]'::json)::text FROM ({VIEW}) x"), &[]).await?;
    ok(json!({"admins": v, "total": v.as_array().map(Vec::len).unwrap_or(0)}))
}

fn valid_email(e: &str) -> Result<String, GatewayError> {
    let e = e.trim().to_ascii_lowercase();
    let ok = e.len() <= 320 && e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty()) && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(e).ok_or_else(|| GatewayError::bad_field("email", "'email' must be an email address"))
}

async fn add<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>) -> Result<Reply, GatewayError> {
    let input = ctx.input()?;
    input.only(&["email", "team"])?;
    let email = valid_email(&input.req_str("email")?)?;
    let team = input.str("team")?.filter(|t| !t.is_empty());
    let team_id = match &team {
        Some(t) => Some(
            ctx.json("SELECT to_json(id) FROM teams WHERE name = $1::text", &[Param::Text(Some(t.clone()))])
                .await?
                .as_i64()
                .ok_or_else(|| GatewayError::bad_field("team", format!("team '{}' not found", t.chars().take(64).collect::<String>())))?,
        ),
        None => None,
    };
    let n = ctx.exec("INSERT INTO admin_emails (email, team_id) VALUES ($1::text, $2::bigint) ON CONFLICT (email) DO NOTHING", &[Param::Text(Some(email.clone())), Param::Int(team_id)]).await?;
    if n == 0 {
        return Err(GatewayError::Conflict { message: format!("'{email}' is already an admin"), field: Some("email".into()) });
    }
    ctx.audit("admin.add", "admin", Some(&email), &json!({"team": team})).await?;
    let v = ctx.json(&format!("SELECT row_to_json(x)::text FROM ({VIEW} WHERE a.email = $1::text) x"), &[Param::Text(Some(email))]).await?;
    created(v)
}

async fn remove<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, email: &str) -> Result<Reply, GatewayError> {
    let email = email.trim().to_ascii_lowercase();
    let n = ctx.exec("DELETE FROM admin_emails WHERE email = $1::text", &[Param::Text(Some(email.clone()))]).await?;
    if n == 0 {
        return Err(not_found(&format!("admin '{email}'")));
    }
    ctx.audit("admin.remove", "admin", Some(&email), &json!({})).await?;
    no_content()
}

/// A team admin may only: read who they are, read their team, and read and manage the team's
/// members (their profile, limits and models read-only; their keys; their usage). Everything
/// else, including membership and team settings, is for full admins: 403.
pub async fn check_scope<D: Db>(db: &D, team_id: i64, team: &str, method: &str, segs: &[&str]) -> Result<(), GatewayError> {
    let refuse = || GatewayError::Forbidden(format!("a team admin of '{team}' may only see and manage that team's members, their keys and usage"));
    let member = match (method, segs) {
        ("GET", ["auth", "me"]) => return Ok(()),
        ("GET", ["teams", t]) if *t == team => return Ok(()),
        ("GET", ["users", u]) | ("GET", ["users", u, "models" | "limits" | "activity" | "token-usage" | "model-usage"]) => *u,
        ("GET" | "POST", ["users", u, "keys"]) | ("GET" | "PATCH" | "DELETE", ["users", u, "keys", _]) | ("POST", ["users", u, "keys", _, "rotate"]) => *u,
        _ => return Err(refuse()),
    };
    let is_member = db
        .json(
            "SELECT to_json(EXISTS (SELECT 1 FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1::bigint AND u.username = $2::text))",
            &[Param::Int(Some(team_id)), Param::Text(Some(member.to_string()))],
        )
        .await?;
    match is_member.as_bool() {
        Some(true) => Ok(()),
        _ => Err(refuse()),
    }
}
