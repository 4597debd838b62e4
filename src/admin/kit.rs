//! What every admin resource file shares: the handler context (`Ctx`: database, platform,
//! environment, request, actor), the answers (`ok`, `created`, ...), and the route-table entry
//! type. Resource files import only this (and `input`, `query`), never `mod.rs` or `table.rs`,
//! so the dispatcher and the route table can name every resource without a cycle.

use super::audit::{self, Actor};
use super::input;
use crate::auth::secrets::Sealer;
use crate::error::GatewayError;
use crate::net::{Inbound, Reply};
use crate::platform::Platform;
use crate::state::db::{Db, Param};
use serde_json::Value;

/// (method, template). Templates are full paths with `{param}` segments; a parameter named `id`
/// matches digits only, so `/admin/nodes/load` is never read as a node id.
pub type Route = (&'static str, &'static str);

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
    /// Every row of a view as `{key: [...], "total": n}`, in `order` (a list endpoint).
    pub async fn list_all(&self, view: &str, order: &str, key: &str) -> Result<Reply, GatewayError> {
        let v = self.json(&format!("SELECT COALESCE(json_agg(x ORDER BY {order}), '[]'::json)::text FROM ({view}) x"), &[]).await?;
        let total = v.as_array().map(Vec::len).unwrap_or(0);
        let mut out = serde_json::Map::new();
        out.insert(key.to_string(), v);
        out.insert("total".into(), total.into());
        ok(Value::Object(out))
    }
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
