//! `/admin/*` at the edge: secrets from the Worker environment, one database connection for
//! the request, a snapshot publish after every successful mutation, CORS for the admin UI.

use super::pg::with_db;
use super::platform::WorkerPlatform;
use super::env::{random_bytes, sealer, secret};
use super::snapshot;
use crate::admin::{self, AdminEnv};
use crate::error::GatewayError;
use crate::dialect::render_error;
use crate::net::{Inbound, Reply};
use crate::types::Dialect;
use worker::Env;

/// Origins allowed to call the admin API from a browser (the dashboard on Pages).
fn cors_origin(env: &Env, req: &Inbound) -> Option<String> {
    let origin = req.header("origin")?;
    let allowed = secret(env, "ADMIN_UI_ORIGINS").unwrap_or_default();
    allowed.split(',').map(str::trim).any(|a| !a.is_empty() && (a == "*" || a.eq_ignore_ascii_case(origin))).then(|| origin.to_string())
}

fn with_cors(mut reply: Reply, origin: Option<&str>) -> Reply {
    if let Some(o) = origin {
        reply.set_header("access-control-allow-origin", o);
        reply.set_header("vary", "Origin");
        reply.set_header("access-control-allow-headers", "authorization, content-type");
        reply.set_header("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
        reply.set_header("access-control-max-age", "600");
        // The dashboard signed in through Cloudflare Access sends the Access cookie along
        // (credentials: include) so that Access adds its assertion; only listed origins get this.
        reply.set_header("access-control-allow-credentials", "true");
    }
    reply
}

pub async fn handle(env: &Env, platform: &WorkerPlatform, req: Inbound) -> Reply {
    let origin = cors_origin(env, &req);
    if req.header("origin").is_some() && origin.is_none() && req.header("sec-fetch-site") != Some("same-origin") {
        // A browser on an unlisted origin: refuse outright (the CORS check would stop it reading
        // the answer, but a mutation would still have run).
        let same_host = req.header("origin").zip(req.header("host")).is_some_and(|(o, h)| o.ends_with(&format!("//{h}")));
        if !same_host {
            return render_error(Dialect::Admin, &GatewayError::Forbidden("origin not allowed; add it to ADMIN_UI_ORIGINS".into()));
        }
    }
    if req.method == "OPTIONS" {
        return with_cors(Reply::empty(204), origin.as_deref());
    }
    // Unknown paths, wrong methods and the OpenAPI document need no database connection.
    if let Some(answer) = admin::pre_route(req.method.as_str(), &req.path) {
        return with_cors(answer.unwrap_or_else(|e| render_error(Dialect::Admin, &e)), origin.as_deref());
    }
    let sealer = sealer(env);
    let jwt = secret(env, "JWT_SECRET").unwrap_or_default().into_bytes();
    let random = random_bytes;
    let aenv = AdminEnv {
        admin_token: secret(env, "ADMIN_TOKEN"),
        admin_username: secret(env, "ADMIN_USERNAME"),
        admin_password: secret(env, "ADMIN_PASSWORD"),
        jwt_secret: &jwt,
        sealer: &sealer,
        now_s: (js_sys::Date::now() / 1000.0) as i64,
        random: &random,
    };
    let result = with_db(env, async |db| admin::handle(db, platform, &aenv, &req).await).await;
    let reply = match result {
        Ok(outcome) => {
            if outcome.publish {
                if let Err(e) = snapshot::publish(env).await {
                    // The change is committed; the cron's republish will carry it.
                    worker::console_error!("snapshot publish after admin change failed: {e}");
                }
            }
            outcome.reply
        }
        Err(e) => render_error(Dialect::Admin, &e),
    };
    with_cors(reply, origin.as_deref())
}
