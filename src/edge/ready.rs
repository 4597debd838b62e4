//! `GET /health/ready`: database, KV, Durable Object and (when configured) Redis status; 503
//! when one is down. Redis only counts when the settings this isolate holds use it.

use super::durable::coordinator;
use super::pg::with_db;
use super::redis;
use crate::settings::{CacheBackend, LimitsBackend};
use crate::state::db::{Db, Param};
use crate::state::usage_flush;
use crate::state::usage_shards::{BACKLOG_ALERT, STALL_S};
use serde_json::{json, Value};
use worker::{Env, Response, Result};

async fn redis_check(env: &Env) -> (Value, bool) {
    let settings = super::snapshot::cached_settings();
    let used_by: Vec<&str> = settings
        .iter()
        .flat_map(|s| [(s.cache_backend == CacheBackend::Redis).then_some("cache"), (s.limits_backend == LimitsBackend::Redis).then_some("limits")])
        .flatten()
        .collect();
    let timeout = settings.as_ref().map_or(redis::DEFAULT_TIMEOUT_MS, |s| s.redis_timeout_ms);
    let Some(r) = redis::from_env(env, timeout) else {
        return (json!({"configured": false, "used_by": used_by}), used_by.is_empty());
    };
    let t0 = js_sys::Date::now();
    match r.client.ping().await {
        Ok(()) => (json!({"configured": true, "up": true, "latency_ms": js_sys::Date::now() - t0, "used_by": used_by}), true),
        Err(e) => (json!({"configured": true, "up": false, "error": e.to_string(), "used_by": used_by}), used_by.is_empty()),
    }
}

/// The usage pipeline as the shards last reported it. Its alert does not fail readiness (the
/// gateway serves and buffers), it says that usage is late or set aside.
fn usage_check(u: &Value) -> Value {
    let backlog = u["backlog"].as_u64().or_else(|| u["backlog"].as_str().and_then(|s| s.parse().ok())).unwrap_or(0);
    let quarantined = u["quarantined"].as_u64().unwrap_or(0);
    let stalled = u["stalled_shards"].as_array().map_or(0, Vec::len);
    let mut alerts = Vec::new();
    if backlog >= BACKLOG_ALERT {
        alerts.push(format!("{backlog} usage records wait for Postgres (alert at {BACKLOG_ALERT})"));
    }
    if stalled > 0 {
        alerts.push(format!("{stalled} usage shards have not flushed for {STALL_S} s"));
    }
    if quarantined > 0 {
        alerts.push(format!("{quarantined} usage records Postgres refused are kept in usage_quarantine"));
    }
    json!({"backlog": backlog, "quarantined": quarantined, "stalled_shards": u["stalled_shards"], "last_error": u["last_error"], "alert": !alerts.is_empty(), "alerts": alerts})
}

pub async fn handle(env: &Env) -> Result<Response> {
    let t0 = js_sys::Date::now();
    let db = with_db(env, async |db| {
        let schema = db.json("SELECT to_json(max(version)) FROM schema_migrations", &[]).await?;
        let usage = db.json(usage_flush::STATUS_SQL, &[Param::Int(Some(STALL_S as i64))]).await?;
        Ok((schema, usage))
    })
    .await;
    let t1 = js_sys::Date::now();
    let kv = match env.kv("KV") {
        Ok(kv) => kv.get("snapshot:current").bytes().await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let t2 = js_sys::Date::now();
    let co = coordinator::version(env).await;
    let t3 = js_sys::Date::now();
    let (redis, redis_ok) = redis_check(env).await;
    let ok = db.is_ok() && kv.is_ok() && co.is_ok() && redis_ok;
    let usage = db.as_ref().ok().map(|(_, u)| usage_check(u));
    let body = json!({
        "status": if ok { "ready" } else { "degraded" },
        "version": crate::app::VERSION,
        "checks": {
            "database": match &db { Ok((v, _)) => json!({"up": true, "schema_version": v, "latency_ms": t1 - t0}), Err(e) => json!({"up": false, "error": e.message()}) },
            "usage": usage.unwrap_or_else(|| json!({"known": false})),
            "kv": match &kv { Ok(()) => json!({"up": true, "latency_ms": t2 - t1}), Err(e) => json!({"up": false, "error": e}) },
            "durable_objects": match &co { Ok(v) => json!({"up": true, "snapshot_version": v, "latency_ms": t3 - t2}), Err(e) => json!({"up": false, "error": e.to_string()}) },
            "redis": redis,
        }
    });
    Ok(Response::from_json(&body)?.with_status(if ok { 200 } else { 503 }))
}
