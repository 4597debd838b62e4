//! `GET /v1/me` at the edge: authenticate against the snapshot, read the limit stores and
//! Postgres, answer in the OpenAI error shape on failure (see `app::me`).

use super::pg::with_db;
use super::platform::WorkerPlatform;
use crate::app::me;
use crate::dialect::render_error;
use crate::net::{Inbound, Reply};
use crate::platform::Credentials;
use crate::state::snapshot::Snapshot;
use crate::platform::Timer;
use crate::types::Dialect;

pub async fn handle(platform: &WorkerPlatform, snap: &Snapshot, req: &Inbound) -> Reply {
    let now_s = (Timer::now_ms(platform) / 1000) as i64;
    let principal = match crate::auth::authenticate(req, snap, platform.jwt_secret(), now_s) {
        Ok(p) => p,
        Err(e) => return render_error(Dialect::OpenAi, &e),
    };
    let user = &principal.user;
    let mut levels = Vec::new();
    for (scope, rules) in me::scopes(user) {
        let states = platform.limit_states(&scope, &rules).await.map_err(|e| worker::console_warn!("/v1/me: limits store for {scope}: {e}")).ok();
        levels.push(me::Level { scope, states });
    }
    let models = me::models(snap, user);
    match with_db(platform.env(), async |db| me::answer(db, snap, user, &models, &levels).await).await {
        Ok(v) => Reply::json(200, &v),
        Err(e) => render_error(Dialect::OpenAi, &e),
    }
}

pub fn with_cors(mut reply: Reply) -> Reply {
    reply.set_header("access-control-allow-origin", "*");
    reply.set_header("access-control-allow-headers", "authorization, x-api-key");
    reply.set_header("access-control-allow-methods", "GET, OPTIONS");
    reply.set_header("access-control-max-age", "600");
    reply
}
