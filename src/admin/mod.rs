//! The admin API (`/admin/*`): authentication, the route table, and transactional mutations
//! that are always audited and always publish a new routing snapshot.
//!
//! Every resource lives in its own file with the same shape: `ROUTES` (its entries in the route
//! table, see `table.rs`) and `async fn route(ctx, method, segments) -> Option<Result<Reply,
//! GatewayError>>` (None = not this resource's path).

pub mod access;
pub mod admins;
pub mod audit;
pub mod audit_logs;
pub mod auth;
pub mod budgets;
pub mod costs;
pub mod dashboard;
pub mod input;
pub mod kit;
pub mod keys;
pub mod login_limit;
pub mod model_config;
pub mod model_groups;
pub mod model_mappings;
pub mod models;
pub mod node_access;
pub mod node_bedrock;
pub mod nodes;
pub mod observe;
pub mod openapi;
pub mod prices;
pub mod query;
pub mod requests;
pub mod settings;
pub mod system_prompts;
pub mod table;
pub mod teams;
pub mod tool_sets;
pub mod user_usage;
pub mod users;
#[cfg(test)]
mod tests;

use crate::error::GatewayError;
use crate::net::{Inbound, Reply};
use crate::platform::Platform;
use crate::state::db::Db;
use audit::Actor;
pub use kit::{created, no_content, not_found, ok, AdminEnv, Ctx};
use serde_json::json;

/// The admin API's answer and whether the routing snapshot must be republished.
pub struct Outcome {
    pub reply: Reply,
    pub publish: bool,
}

/// The decoded path segments after `/admin` (an encoded `/` stays inside its segment).
pub fn segments(path: &str) -> Vec<String> {
    path.trim_end_matches('/')
        .strip_prefix("/admin")
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| urlencoding::decode(s).map(|c| c.into_owned()).unwrap_or_else(|_| s.to_string()))
        .collect()
}

/// What is answered without credentials or the database: 404/405 from the route table and the
/// OpenAPI document. None = authenticate and dispatch.
pub fn pre_route(method: &str, path: &str) -> Option<Result<Reply, GatewayError>> {
    let segs = segments(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if let Err(e) = table::check(method, &segs) {
        return Some(Err(e));
    }
    (method == "GET" && segs == ["openapi.json"]).then(|| Ok(openapi::reply()))
}

pub async fn handle<D: Db, P: Platform>(db: &D, platform: &P, env: &AdminEnv<'_>, req: &Inbound) -> Result<Outcome, GatewayError> {
    if let Some(answer) = pre_route(req.method.as_str(), &req.path) {
        return answer.map(|reply| Outcome { reply, publish: false });
    }
    let segs = segments(&req.path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    let ip = req.client_ip.clone();

    // Login and logout manage their own audit rows (a failed login must be recorded even
    // though the request fails), so they run outside the mutation transaction.
    match (method, segs.as_slice()) {
        ("POST", ["auth", "login"]) => {
            access::password_login_allowed(db).await?;
            return auth::login(db, env, req).await.map(|reply| Outcome { reply, publish: false });
        }
        ("POST", ["auth", "logout"]) => return auth::logout(db, env, req).await.map(|reply| Outcome { reply, publish: false }),
        _ => {}
    }
    // A Cloudflare Access sign-in (see `access`), else ADMIN_TOKEN or a password session.
    let (actor_name, team_scope) = match access::authenticate(db, platform, req, env.now_s).await? {
        Some(a) => match a.team {
            Some((id, team)) => (format!("{} (team {team})", a.email), Some((id, team))),
            None => (a.email, None),
        },
        None => (auth::authenticate(db, env, req).await?, None),
    };
    if let Some((id, team)) = &team_scope {
        admins::check_scope(db, *id, team, method, &segs).await?;
    }
    let ctx = Ctx { db, platform, env, req, actor: Actor { name: actor_name, ip } };
    let mutating = !matches!(method, "GET" | "HEAD");
    if mutating {
        // Routes that take no input still refuse a body that is not a JSON object, so garbage
        // is never mistaken for a valid call.
        input::Input::parse(&req.body)?;
        // Discovery writes one self-contained statement per node and must keep what it records
        // when it fails (the node's discovery_error, the audit row), so it runs without the
        // transaction an error would roll back.
        if !nodes::discovers(method, &segs) {
            db.batch("BEGIN").await?;
        }
    }
    let result = route(&ctx, method, &segs).await;
    if !mutating {
        return result.map(|reply| Outcome { reply, publish: false });
    }
    match result {
        Ok(reply) if reply.status < 400 => {
            db.batch("COMMIT").await?;
            Ok(Outcome { reply, publish: true })
        }
        Ok(reply) => {
            let _ = db.batch("ROLLBACK").await;
            Ok(Outcome { reply, publish: false })
        }
        Err(e) => {
            let _ = db.batch("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn route<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Result<Reply, GatewayError> {
    // The table already accepted (method, path), so None here means a resource's `route` and
    // its `ROUTES` disagree; `tests.rs` keeps them in step.
    dispatch(ctx, method, segs).await.unwrap_or_else(|| Err(GatewayError::Internal(format!("admin route {method} /admin/{} has no handler", segs.join("/")))))
}

pub(crate) async fn dispatch<D: Db, P: Platform>(ctx: &Ctx<'_, D, P>, method: &str, segs: &[&str]) -> Option<Result<Reply, GatewayError>> {
    match (method, segs) {
        ("GET", ["auth", "me"]) => return Some(ok(json!({"actor": ctx.actor.name}))),
        ("POST", ["snapshot", "publish"]) => {
            return Some(async {
                ctx.audit("snapshot.publish", "snapshot", None, &json!({})).await?;
                ok(json!({"published": true}))
            }
            .await)
        }
        _ => {}
    }
    if let Some(answer) = node_access::route(ctx, method, segs).await {
        return Some(answer);
    }
    let first = segs.first().copied().unwrap_or("");
    let rest = segs.get(1..).unwrap_or(&[]);
    match first {
        "users" => match keys::route(ctx, method, rest).await {
            Some(answer) => Some(answer),
            None => users::route(ctx, method, rest).await,
        },
        "teams" => teams::route(ctx, method, rest).await,
        "admins" => admins::route(ctx, method, rest).await,
        "nodes" => nodes::route(ctx, method, rest).await,
        "model-mappings" => model_mappings::route(ctx, method, rest).await,
        "model-groups" => model_groups::route(ctx, method, rest).await,
        "settings" => settings::route(ctx, method, rest).await,
        "model-config" => model_config::route(ctx, method, rest).await,
        "tool-sets" => tool_sets::route(ctx, method, rest).await,
        "system-prompts" => system_prompts::route(ctx, method, rest).await,
        "audit-logs" => audit_logs::route(ctx, method, rest).await,
        "requests" => requests::route(ctx, method, rest).await,
        "dashboard" => dashboard::route(ctx, method, rest).await,
        "models" => models::route(ctx, method, rest).await,
        "alerts" | "payload-logs" => observe::route(ctx, method, segs).await,
        "prices" => prices::route(ctx, method, rest).await,
        "budgets" => budgets::route(ctx, method, rest).await,
        "budget-events" if method == "GET" && rest.is_empty() => Some(budgets::events(ctx).await),
        "costs" => costs::route(ctx, method, rest).await,
        _ => None,
    }
}
