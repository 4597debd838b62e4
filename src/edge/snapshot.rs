//! The routing snapshot at the edge: isolate memory first, then KV, then Postgres.
//! The Coordinator Durable Object holds the authoritative version number; an isolate checks it
//! at most every `snapshot.refresh_ms` (default 2 s) in the background (`wait_until`), so a
//! request never waits on Postgres once the isolate is warm and an admin change is live
//! everywhere within about that interval.

use super::durable::coordinator;
use super::pg::with_db;
use crate::error::GatewayError;
use crate::state::db::Db;
use crate::state::snapshot::Snapshot;
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
            let have = snap.version;
            let least_busy = snap.uses_least_busy();
            ctx.wait_until(async move {
                refresh(&env, have).await;
                if least_busy {
                    super::platform::refresh_streams(&env).await;
                }
            });
        }
        return Ok(snap);
    }
    let snap = Rc::new(cold_load(env).await?);
    install(snap.clone());
    Ok(snap)
}

async fn kv_snapshot(env: &Env, key: &str) -> Option<Snapshot> {
    let kv = env.kv("KV").ok()?;
    let bytes = kv.get(key).bytes().await.ok()??;
    match Snapshot::from_json(&bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            worker::console_error!("KV {key} holds an unreadable snapshot: {e}");
            None
        }
    }
}

/// A new isolate: KV's current snapshot when it is as new as the Coordinator says, else the
/// versioned key, else Postgres (publishing the first version on a fresh database).
async fn cold_load(env: &Env) -> Result<Snapshot, GatewayError> {
    let (kv, version) = futures::join!(kv_snapshot(env, KV_CURRENT), coordinator::version(env));
    let version = version.unwrap_or_else(|e| {
        worker::console_warn!("coordinator unavailable, trusting KV: {e}");
        0
    });
    if let Some(s) = kv.filter(|s| s.version >= version && s.version > 0) {
        return Ok(s);
    }
    if version > 0 {
        if let Some(s) = kv_snapshot(env, &kv_key(version)).await {
            return Ok(s);
        }
        if let Ok(s) = build(env, false).await {
            return Ok(s);
        }
    }
    build(env, true).await
}

async fn refresh(env: &Env, have: u64) {
    let latest = match coordinator::version(env).await {
        Ok(v) => v,
        Err(e) => {
            worker::console_warn!("snapshot refresh: coordinator unavailable: {e}");
            mark_checked();
            return;
        }
    };
    if latest <= have {
        mark_checked();
        return;
    }
    let snap = match kv_snapshot(env, &kv_key(latest)).await {
        Some(s) => Ok(s),
        None => build(env, false).await,
    };
    match snap {
        Ok(s) => install(Rc::new(s)),
        Err(e) => {
            worker::console_warn!("snapshot refresh failed, keeping version {have}: {e}");
            mark_checked();
        }
    }
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
        if let Ok(kv) = env.kv("KV") {
            for key in [kv_key(snap.version), KV_CURRENT.to_string()] {
                let put = kv.put(&key, json.as_str()).map(|p| if key == KV_CURRENT { p } else { p.expiration_ttl(7 * 86400) });
                if let Err(e) = match put {
                    Ok(p) => p.execute().await,
                    Err(e) => Err(e),
                } {
                    worker::console_error!("KV put {key} failed: {e}");
                }
            }
        }
        if let Err(e) = coordinator::set_version(env, snap.version).await {
            worker::console_error!("coordinator version update failed: {e}");
        }
    }
    Ok(snap)
}

/// Publish a new snapshot version after a change in Postgres; returns the new version.
pub async fn publish(env: &Env) -> Result<u64, GatewayError> {
    let snap = Rc::new(build(env, true).await?);
    let v = snap.version;
    install(snap);
    Ok(v)
}
