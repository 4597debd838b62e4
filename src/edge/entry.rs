//! `#[event]` handlers: fetch (gateway, admin, readiness) and scheduled (maintenance).

use super::{admin, http, maintenance, me, platform::WorkerPlatform, ready, snapshot};
use crate::dialect::render_error;
use crate::routes::{self, Op};
use std::rc::Rc;
use worker::{event, web_sys, Context, Env, Result, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| worker::console_error!("panic: {info}")));
}

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    // Relayed streams are pumped under this event's waitUntil (see pump.rs).
    let js_ctx: wasm_bindgen::JsValue = AsRef::<wasm_bindgen::JsValue>::as_ref(ctx.as_ref()).clone();
    let url = req.url();
    let (path, query) = http::split_url(&url);
    let method = http::method(&req);
    let dialect = routes::dialect_of(path);
    let endpoint = routes::resolve(&method, path);
    // Liveness and readiness never depend on the snapshot.
    if let Ok(ep) = &endpoint {
        match ep.op {
            Op::Health => return http::response(crate::net::Reply::json(200, &serde_json::json!({"status": "ok"})), &js_ctx),
            // Claude Code warms its connection with `HEAD /api/hello` (no credentials needed,
            // nothing revealed): answered at once, before the snapshot.
            Op::Hello => return http::response(crate::net::Reply::json(200, &serde_json::json!({"status": "ok"})), &js_ctx),
            Op::Ready => return ready::handle(&env).await.map(web_sys::Response::from),
            Op::Metrics => return Ok(super::observe::metrics(&env, req.headers().get("authorization").ok().flatten()).await),
            _ => {}
        }
    }
    // The admin API works from Postgres directly, so it stays usable when no snapshot exists.
    if matches!(endpoint, Ok(ref ep) if ep.op == Op::Admin) {
        let inbound = match http::inbound(req, path, query, ADMIN_MAX_BODY, http::client_ip_header(&env).as_deref()).await {
            Ok(i) => i,
            Err(e) => return http::response(render_error(dialect, &e), &js_ctx),
        };
        let platform = WorkerPlatform::new(env.clone(), ctx);
        return http::response(admin::handle(&env, &platform, inbound).await, &js_ctx);
    }
    let snap = match snapshot::current(&env, &ctx).await {
        Ok(s) => s,
        Err(e) => return http::response(render_error(dialect, &e), &js_ctx),
    };
    // Aborted when the client hangs up (`enable_request_signal`): ends attempts before the first byte.
    let signal = js_sys::Reflect::get(req.as_ref(), &wasm_bindgen::JsValue::from_str("signal")).ok();
    let inbound = match http::inbound(req, path, query, snap.settings.max_body_bytes, http::client_ip_header(&env).as_deref()).await {
        Ok(i) => i,
        Err(e) => return http::response(render_error(dialect, &e), &js_ctx),
    };
    let platform = Rc::new(WorkerPlatform::new(env, ctx).with_settings(&snap.settings).with_client_signal(signal));
    // `/v1/me` answers browsers on any origin (the dashboard's user page): it takes a bearer
    // key, never a cookie, so a page can only read what its user already holds the key to.
    if matches!(endpoint, Ok(ref ep) if ep.op == Op::Me || (ep.op == Op::Preflight && path == "/v1/me")) {
        let reply = if inbound.method == "OPTIONS" { crate::net::Reply::empty(204) } else { me::handle(&platform, &snap, &inbound).await };
        return http::response(me::with_cors(reply), &js_ctx);
    }
    let reply = crate::app::serve(platform, snap, endpoint, inbound).await;
    http::response(reply, &js_ctx)
}

const ADMIN_MAX_BODY: usize = 4 << 20;

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, ctx: ScheduleContext) {
    maintenance::run(&env, ctx, event.schedule() as u64).await;
}
