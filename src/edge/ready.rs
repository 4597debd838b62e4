//! `GET /health/ready`: database, KV and Durable Object status, 503 when one is down.

use super::durable::coordinator;
use super::pg::with_db;
use crate::state::db::Db;
use serde_json::json;
use worker::{Env, Response, Result};

pub async fn handle(env: &Env) -> Result<Response> {
    let t0 = js_sys::Date::now();
    let db = with_db(env, async |db| Ok(db.json("SELECT to_json(max(version)) FROM schema_migrations", &[]).await?)).await;
    let t1 = js_sys::Date::now();
    let kv = match env.kv("KV") {
        Ok(kv) => kv.get("snapshot:current").bytes().await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let t2 = js_sys::Date::now();
    let co = coordinator::version(env).await;
    let t3 = js_sys::Date::now();
    let ok = db.is_ok() && kv.is_ok() && co.is_ok();
    let body = json!({
        "status": if ok { "ready" } else { "degraded" },
        "version": crate::app::VERSION,
        "checks": {
            "database": match &db { Ok(v) => json!({"up": true, "schema_version": v, "latency_ms": t1 - t0}), Err(e) => json!({"up": false, "error": e.message()}) },
            "kv": match &kv { Ok(()) => json!({"up": true, "latency_ms": t2 - t1}), Err(e) => json!({"up": false, "error": e}) },
            "durable_objects": match &co { Ok(v) => json!({"up": true, "snapshot_version": v, "latency_ms": t3 - t2}), Err(e) => json!({"up": false, "error": e.to_string()}) },
        }
    });
    Ok(Response::from_json(&body)?.with_status(if ok { 200 } else { 503 }))
}
