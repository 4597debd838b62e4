//! The admin API (`/admin/*`): authentication, the route table, and transactional mutations
//! that are always audited and always publish a new routing snapshot.
//!
//! Every resource lives in its own file with the same shape: `async fn route(ctx, method,
//! segments) -> Option<Result<Reply, GatewayError>>` (None = not this resource's path).

pub mod audit;
pub mod auth;
pub mod input;
pub mod mappings;
pub mod groups;
pub mod nodes;
pub mod settings;
pub mod users;

use crate::auth::secrets::Sealer;
use crate::error::GatewayError;
use crate::net::{Inbound, Reply};
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use audit::Actor;
use serde_json::{json, Value};

/// What the admin API needs besides the database.
pub struct AdminEnv<'a> {
    pub admin_token: Option<String>,
    pub admin_username: Option<String>,
    pub admin_password: Option<String>,
    pub jwt_secret: &'a [u8],
    pub sealer: &'a Sealer,
    pub now_s: i64,
    /// Cryptographically secure random bytes.
    pub random: &'a dyn Fn(usize) -> Vec<u8>,
}

impl AdminEnv<'_> {
    pub fn random_hex(&self, n: usize) -> String {
        crate::auth::token::hex(&(self.random)(n))
    }
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&(self.random)(12));
        self.sealer.seal(plaintext, nonce)
    }
}

/// Everything a resource handler gets.
pub struct Ctx<'a, D: Db, P: Platform> {
    pub db: &'a D,
    pub platform: &'a P,
    pub env: &'a AdminEnv<'a>,
    pub req: &'a Inbound,
    pub actor: Actor,
}

impl<D: Db, P: Platform> Ctx<'_, D, P> {
    pub async fn audit(&self, action: &str, entity_type: &str, entity_id: Option<&str>, details: &Value) -> Result<(), GatewayError> {
        audit::record(self.db, &self.actor, action, entity_type, entity_id, details).await.map_err(Into::into)
    }
    pub fn input(&self) -> Result<input::Input, GatewayError> {
        input::Input::parse(&self.req.body)
    }
    /// Run a query returning JSON (see `Db::json`).
    pub async fn json(&self, sql: &str, params: &[Param]) -> Result<Value, GatewayError> {
        self.db.json(sql, params).await.map_err(Into::into)
    }
    pub async fn exec(&self, sql: &str, params: &[Param]) -> Result<u64, GatewayError> {
        self.db.exec(sql, params).await.map_err(Into::into)
    }
}

/// The admin API's answer and whether the routing snapshot must be republished.
pub struct Outcome {
    pub reply: Reply,
    pub publish: bool,
}

pub fn ok(v: Value) -> Result<Reply, GatewayError> {
    Ok(Reply::json(200, &v))
}
pub fn created(v: Value) -> Result<Reply, GatewayError> {
    Ok(Reply::json(201, &v))
}
pub fn no_content() -> Result<Reply, GatewayError> {
    Ok(Reply::empty(204))
}
pub fn not_found(what: &str) -> GatewayError {
    GatewayError::NotFound(format!("{what} not found"))
}

pub async fn handle<D: Db, P: Platform>(db: &D, platform: &P, env: &AdminEnv<'_>, req: &Inbound) -> Result<Outcome, GatewayError> {
    let path = req.path.trim_end_matches('/');
    let segs: Vec<String> = path
        .strip_prefix("/admin")
        .unwrap_or("")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| urlencoding::decode(s).map(|c| c.into_owned()).unwrap_or_else(|_| s.to_string()))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    let ip = req.client_ip.clone();

    // Login and logout manage their own audit rows (a failed login must be recorded even
    // though the request fails), so they run outside the mutation transaction.
    match (method, segs.as_slice()) {
        ("POST", ["auth", "login"]) => return auth::login(db, env, req).await.map(|reply| Outcome { reply, publish: false }),
        ("POST", ["auth", "logout"]) => return auth::logout(db, env, req).await.map(|reply| Outcome { reply, publish: false }),
        _ => {}
    }
    let actor_name = auth::authenticate(db, env, req).await?;
    let ctx = Ctx { db, platform, env, req, actor: Actor { name: actor_name, ip } };
    let mutating = !matches!(method, "GET" | "HEAD");
    if mutating {
        db.batch("BEGIN").await?;
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
    match (method, segs) {
        ("GET", ["auth", "me"]) => return ok(json!({"actor": ctx.actor.name})),
        ("POST", ["snapshot", "publish"]) => {
            ctx.audit("snapshot.publish", "snapshot", None, &json!({})).await?;
            return ok(json!({"published": true}));
        }
        _ => {}
    }
    let first = segs.first().copied().unwrap_or("");
    let handled = match first {
        "users" => users::route(ctx, method, &segs[1..]).await,
        "nodes" => nodes::route(ctx, method, &segs[1..]).await,
        "model-mappings" => mappings::route(ctx, method, &segs[1..]).await,
        "model-groups" => groups::route(ctx, method, &segs[1..]).await,
        "settings" => settings::route(ctx, method, &segs[1..]).await,
        _ => None,
    };
    handled.unwrap_or_else(|| Err(GatewayError::NotFound(format!("no admin route for {method} /admin/{}", segs.join("/")))))
}
