//! The routing snapshot at the edge: isolate memory first, then the cache store, then Postgres.
//! The cache store is chosen by `backend.cache`:
//! - `kv` (default): copies in KV; the Coordinator Durable Objects hold the version number (the
//!   authority and the replicas isolates poll, `state::fanout`).
//! - `redis`: copies and the version pointer in Redis (`state::snapshot_redis`).
//!
//! An isolate checks the version at most every `snapshot.refresh_ms` (default 2 s) in the
//! background (`wait_until`), so a request never waits on Postgres once the isolate is warm and
//! an admin change is live everywhere within about that interval.
//!
//! Switching stores must not strand an isolate on the old one, so a publish always sets the
//! Coordinator's version and, when Redis is configured, the Redis pointer too (only the copies
//! go to one store); an isolate that learns of a version its store lacks reads the other store.
//! When Redis is unreachable the copies go to KV, and the cron re-asserts the Coordinator's
//! version in Redis every minute, so a missed pointer update heals by itself.

use super::durable::coordinator;
use super::pg::with_db;
use super::redis::{self, Redis};
use crate::error::GatewayError;
use crate::settings::{CacheBackend, Settings};
use crate::state::db::Db;
use crate::state::snapshot::Snapshot;
use crate::state::snapshot_redis;
use crate::state::SNAPSHOT_SQL;
use std::cell::RefCell;
use std::rc::Rc;
use worker::{Context, Env};

struct Cached {
    snap: Rc<Snapshot>,
    checked_ms: f64,
    refreshing: bool,
}

thread_local! {
    static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

const KV_CURRENT: &str = "snapshot:current";

fn kv_key(version: u64) -> String {
    format!("snapshot:v{version}")
}

/// The snapshot as this isolate holds it: node header values opened (copies in KV, Redis and
/// Postgres keep them sealed; only memory holds them open, as it does the opened API key).
fn opened(env: &Env, mut snap: Snapshot) -> Snapshot {
    if snap.nodes.iter().any(|n| n.headers_sealed && !n.headers.is_empty()) {
        let sealer = super::env::sealer(env);
        for n in snap.nodes.iter_mut().filter(|n| n.headers_sealed) {
            let before = n.headers.len();
            n.headers = crate::auth::secrets::open_headers(&n.headers, |v| sealer.open(v));
            n.headers_sealed = false;
            if n.headers.len() < before {
                worker::console_error!("node '{}': {} header value(s) could not be opened (was SECRETS_KEY changed?); they are not sent", n.name, before - n.headers.len());
            }
        }
    }
    snap
}

fn install(snap: Rc<Snapshot>) {
    let now = js_sys::Date::now();
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        // Never go back to an older version (a slow refresh may finish after a publish).
        if c.as_ref().is_some_and(|x| x.snap.version > snap.version) {
            if let Some(x) = c.as_mut() {
                x.checked_ms = now;
                x.refreshing = false;
            }
            return;
        }
        *c = Some(Cached { snap, checked_ms: now, refreshing: false });
    });
}

fn mark_checked() {
    let now = js_sys::Date::now();
    CACHE.with(|c| {
        if let Some(x) = c.borrow_mut().as_mut() {
            x.checked_ms = now;
            x.refreshing = false;
        }
    });
}

/// The snapshot for this request. Warm: from memory, with a background version check when due.
pub async fn current(env: &Env, ctx: &Context) -> Result<Rc<Snapshot>, GatewayError> {
    let now = js_sys::Date::now();
    let hit = CACHE.with(|c| {
        c.borrow_mut().as_mut().map(|x| {
            let due = now - x.checked_ms >= x.snap.settings.snapshot_refresh_ms as f64 && !x.refreshing;
            if due {
                x.refreshing = true;
            }
            (x.snap.clone(), due)
        })
    });
    if let Some((snap, due)) = hit {
        if due {
            let env = env.clone();
            let have = snap.clone();
            let least_busy = snap.uses_least_busy();
            let every = snap.settings.snapshot_refresh_ms;
            ctx.wait_until(async move {
                super::breakers::refresh(&env, every.max(crate::routing::breaker::VIEW_REFRESH_MS)).await;
                refresh(&env, have, least_busy).await;
            });
        }
        return Ok(snap);
    }
    let snap = Rc::new(opened(env, cold_load(env).await?));
    install(snap.clone());
    Ok(snap)
}

/// The settings of the snapshot this isolate holds, if any (readiness reports on them).
pub fn cached_settings() -> Option<Settings> {
    CACHE.with(|c| c.borrow().as_ref().map(|x| x.snap.settings.clone()))
}

fn parse(bytes: &[u8], place: &str) -> Option<Snapshot> {
    match Snapshot::from_json(bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            worker::console_error!("{place} holds an unreadable snapshot: {e}");
            None
        }
    }
}

async fn kv_snapshot(env: &Env, key: &str) -> Option<Snapshot> {
    let kv = env.kv("KV").ok()?;
    let bytes = kv.get(key).bytes().await.ok()??;
    parse(&bytes, &format!("KV {key}"))
}

async fn redis_copy(r: &Redis, version: u64) -> Option<Snapshot> {
    match snapshot_redis::copy(&r.client, &r.prefix, version).await {
        Ok(b) => parse(&b?, &format!("Redis snapshot v{version}")),
        Err(e) => {
            worker::console_warn!("snapshot v{version}: Redis unreachable: {e}");
            None
        }
    }
}

/// The Redis client when the settings keep the snapshot in Redis and it is configured.
fn redis_store(env: &Env, s: &Settings) -> Option<Redis> {
    (s.cache_backend == CacheBackend::Redis).then(|| redis::from_env(env, s.redis_timeout_ms)).flatten()
}

/// A new isolate: first Redis (when configured) if it holds the current snapshot and that
/// snapshot's settings keep it there; otherwise KV's current snapshot when it is as new as the
/// Coordinator says, else the versioned key, else Postgres (publishing the first version on a
/// fresh database).
async fn cold_load(env: &Env) -> Result<Snapshot, GatewayError> {
    if let Some(r) = redis::from_env(env, redis::DEFAULT_TIMEOUT_MS) {
        match redis_cold(&r).await {
            Ok(Some(s)) => {
                worker::console_log!("snapshot v{} loaded from Redis", s.version);
                return Ok(s);
            }
            Ok(None) => {}
            Err(e) => worker::console_warn!("snapshot: Redis unreachable at cold start, using KV: {e}"),
        }
    }
    let (kv, version) = futures::join!(kv_snapshot(env, KV_CURRENT), coordinator::version(env));
    let version = version.unwrap_or_else(|e| {
        worker::console_warn!("coordinator unavailable, trusting KV: {e}");
        0
    });
    if let Some(s) = kv.filter(|s| s.version >= version && s.version > 0) {
        worker::console_log!("snapshot v{} loaded from KV", s.version);
        return Ok(s);
    }
    if version > 0 {
        if let Some(s) = kv_snapshot(env, &kv_key(version)).await {
            worker::console_log!("snapshot v{} loaded from KV", s.version);
            return Ok(s);
        }
        if let Ok(s) = build(env, false).await {
            return Ok(s);
        }
    }
    build(env, true).await
}

/// What Redis holds as the newest snapshot, if its own settings say `backend.cache = redis`
/// (after a switch back to KV, Redis keeps an old copy that must not be used).
async fn redis_cold(r: &Redis) -> Result<Option<Snapshot>, crate::redis::Error> {
    let (pointer, current) = snapshot_redis::head(&r.client, &r.prefix).await?;
    let mut snap = current.and_then(|b| parse(&b, "Redis current"));
    if pointer > 0 && snap.as_ref().is_none_or(|s| s.version < pointer) {
        snap = snapshot_redis::copy(&r.client, &r.prefix, pointer).await?.and_then(|b| parse(&b, "Redis current"));
    }
    Ok(snap.filter(|s| s.version > 0 && s.version >= pointer && s.settings.cache_backend == CacheBackend::Redis))
}

/// The newest version number from the store the held snapshot's settings chose; a Coordinator
/// replica when Redis cannot answer (replicas are always set on publish). A replica's answer
/// also carries every node's stream count (least-busy routing): with Redis, a replica is asked
/// for those only when the snapshot routes by them.
async fn latest_version(env: &Env, redis: Option<&Redis>, least_busy: bool) -> Result<u64, String> {
    if let Some(r) = redis {
        match snapshot_redis::pointer(&r.client, &r.prefix).await {
            Ok(v) => {
                if least_busy {
                    match coordinator::poll(env).await {
                        Ok(p) => super::platform::set_global_streams(p.streams),
                        Err(e) => worker::console_warn!("stream counts unavailable, using this isolate's: {e}"),
                    }
                }
                return Ok(v);
            }
            Err(e) => worker::console_warn!("snapshot refresh: Redis unreachable, asking the Coordinator: {e}"),
        }
    }
    let p = coordinator::poll(env).await.map_err(|e| format!("coordinator unavailable: {e}"))?;
    super::platform::set_global_streams(p.streams);
    Ok(p.version)
}

async fn refresh(env: &Env, have: Rc<Snapshot>, least_busy: bool) {
    let store = redis_store(env, &have.settings);
    let latest = match latest_version(env, store.as_ref(), least_busy).await {
        Ok(v) => v,
        Err(e) => {
            worker::console_warn!("snapshot refresh: {e}");
            mark_checked();
            return;
        }
    };
    if latest <= have.version {
        mark_checked();
        return;
    }
    let snap = match copy_of(env, &have.settings, latest).await {
        Some(s) => Ok(s),
        None => build(env, false).await,
    };
    match snap {
        Ok(s) => install(Rc::new(opened(env, s))),
        Err(e) => {
            worker::console_warn!("snapshot refresh failed, keeping version {}: {e}", have.version);
            mark_checked();
        }
    }
}

/// Version `v` from the store the held settings chose, then from the other one: a publish that
/// switched `backend.cache` put its copies in the new store, which this isolate does not
/// know about yet.
async fn copy_of(env: &Env, held: &Settings, v: u64) -> Option<Snapshot> {
    let redis = redis::from_env(env, held.redis_timeout_ms);
    let redis_first = held.cache_backend == CacheBackend::Redis;
    for from_redis in [redis_first, !redis_first] {
        let found = match (&redis, from_redis) {
            (Some(r), true) => redis_copy(r, v).await,
            (_, true) => None,
            (_, false) => kv_snapshot(env, &kv_key(v)).await,
        };
        if let Some(s) = found {
            worker::console_log!("snapshot v{} loaded from {}", s.version, if from_redis { "Redis" } else { "KV" });
            return Some(s);
        }
    }
    None
}

/// Build from Postgres; with `bump` this is a publish: new version, KV copies, Coordinator.
async fn build(env: &Env, bump: bool) -> Result<Snapshot, GatewayError> {
    let json: String = with_db(env, async |db| {
        if bump {
            db.batch("BEGIN").await?;
            let r = async {
                db.exec("UPDATE snapshot_version SET version = version + 1", &[]).await?;
                db.json(SNAPSHOT_SQL, &[]).await
            }
            .await;
            match r {
                Ok(v) => {
                    db.batch("COMMIT").await?;
                    Ok(v.to_string())
                }
                Err(e) => {
                    let _ = db.batch("ROLLBACK").await;
                    Err(e.into())
                }
            }
        } else {
            Ok(db.json(SNAPSHOT_SQL, &[]).await?.to_string())
        }
    })
    .await?;
    let snap = Snapshot::from_json(json.as_bytes()).map_err(GatewayError::Internal)?;
    if bump {
        store_copies(env, &snap, &json).await;
        if let Err(e) = coordinator::set_version(env, snap.version).await {
            worker::console_error!("coordinator version update failed: {e}");
        }
    }
    Ok(snap)
}

/// Put a new version's copies where its own settings say (Redis, or KV) and move the Redis
/// pointer whenever Redis is configured. A failed Redis write sends the copies to KV, so an
/// outage never hides a publish.
async fn store_copies(env: &Env, snap: &Snapshot, json: &str) {
    let wants_redis = snap.settings.cache_backend == CacheBackend::Redis;
    let redis = redis::from_env(env, snap.settings.redis_timeout_ms);
    if wants_redis && redis.is_none() {
        worker::console_error!("backend.cache = redis, but {}: snapshot v{} goes to KV", redis::NOT_CONFIGURED_DETAIL, snap.version);
    }
    let mut in_redis = false;
    if let Some(r) = &redis {
        match snapshot_redis::publish(&r.client, &r.prefix, snap.version, wants_redis.then_some(json)).await {
            Ok(_) => in_redis = wants_redis,
            Err(e) if wants_redis => worker::console_error!("snapshot v{}: Redis publish failed, copies go to KV: {e}", snap.version),
            Err(e) => worker::console_error!("snapshot v{}: Redis version pointer not moved (the cron retries): {e}", snap.version),
        }
    }
    if in_redis {
        return;
    }
    if let Ok(kv) = env.kv("KV") {
        for key in [kv_key(snap.version), KV_CURRENT.to_string()] {
            let put = kv.put(&key, json).map(|p| if key == KV_CURRENT { p } else { p.expiration_ttl(7 * 86400) });
            if let Err(e) = match put {
                Ok(p) => p.execute().await,
                Err(e) => Err(e),
            } {
                worker::console_error!("KV put {key} failed: {e}");
            }
        }
    }
}

/// Cron: re-assert the Coordinator's version in Redis (a no-op unless a publish could not reach
/// Redis), so isolates polling Redis never stay behind for long.
pub async fn sync_redis_pointer(env: &Env) {
    let Some(r) = redis::from_env(env, redis::DEFAULT_TIMEOUT_MS) else { return };
    let version = match coordinator::authority_version(env).await {
        Ok(v) if v > 0 => v,
        Ok(_) => return,
        Err(e) => return worker::console_warn!("cron: snapshot pointer sync skipped, coordinator unavailable: {e}"),
    };
    match snapshot_redis::publish(&r.client, &r.prefix, version, None).await {
        Ok(p) if p == version => {}
        Ok(p) => worker::console_log!("cron: Redis snapshot pointer is {p} (Coordinator {version})"),
        Err(e) => worker::console_warn!("cron: snapshot pointer sync failed: {e}"),
    }
}

/// Publish a new snapshot version after a change in Postgres; returns the new version.
pub async fn publish(env: &Env) -> Result<u64, GatewayError> {
    let snap = Rc::new(opened(env, build(env, true).await?));
    let v = snap.version;
    install(snap);
    Ok(v)
}
