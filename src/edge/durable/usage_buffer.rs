//! UsageBuffer: durable holding area for usage records between the request and Postgres, in
//! `SHARDS` shards that flush themselves (policy in `state::usage_shards`): each shard's alarm
//! writes its records through Hyperdrive in batches and deletes them only after Postgres
//! committed, so a database outage delays usage but loses nothing, and inserts are idempotent
//! on the id, so a repeated flush counts nothing twice. The cron kicks every shard once a minute
//! (`/flush`) in case an alarm gave up.

use super::super::pg::with_db;
use crate::state::usage_flush;
use crate::state::usage_shards::{next_alarm, shard_of, FlushResult, BACKLOG_SLOW, FLUSH_MAX};
use crate::usage::UsageRecord;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use worker::{durable_object, DurableObject, Env, ListOptions, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct UsageBuffer {
    state: State,
    env: Env,
    /// Records held, when known (exact after a flush that emptied the shard).
    backlog: Cell<Option<u64>>,
    /// The alarm as last set or read (None: not known yet this instance).
    alarm_at: Cell<Option<Option<u64>>>,
    flushing: Cell<bool>,
    failures: Cell<u32>,
}

/// What a flush did, as the cron and tests see it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FlushStats {
    pub shard: u32,
    pub flushed: usize,
    pub quarantined: usize,
    pub held: usize,
    pub backlog: u64,
    pub error: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Appended {
    stored: usize,
    backlog: Option<u64>,
    /// The shard's backlog is large: batch for longer (see `usage_shards::BACKLOG_SLOW`).
    slow: bool,
}

/// Durable Object storage takes at most 128 keys per put or delete.
const PUT_MAX: usize = 128;
/// A shard kicked while its alarm flushes waits at most this long for that flush.
const WAIT_MS: u64 = 15_000;

fn key(id: &str) -> String {
    format!("r:{id}")
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

fn shard_param(req: &Request) -> u32 {
    req.url().ok().and_then(|u| u.query_pairs().find(|(k, _)| k == "shard").and_then(|(_, v)| v.parse().ok())).unwrap_or(0)
}

impl UsageBuffer {
    /// The shard number, remembered from the first call that named it (an alarm has no URL).
    async fn shard(&self, from_url: Option<u32>) -> Result<u32> {
        let storage = self.state.storage();
        if let Some(s) = from_url {
            if storage.get::<u32>("shard").await?.is_none() {
                storage.put("shard", s).await?;
            }
            return Ok(s);
        }
        Ok(storage.get::<u32>("shard").await?.unwrap_or(0))
    }

    /// Set the alarm for `at` unless one is due sooner.
    async fn arm(&self, at: u64) -> Result<()> {
        let current = match self.alarm_at.get() {
            Some(a) => a,
            None => self.state.storage().get_alarm().await?.map(|t| t as u64),
        };
        // An alarm set for the past has fired or is about to: it no longer covers later work.
        if current.is_some_and(|c| c <= at && c > now()) {
            self.alarm_at.set(Some(current));
            return Ok(());
        }
        // workers-rs reads an integer as an offset from now, not as a time.
        self.state.storage().set_alarm(at.saturating_sub(now()) as i64).await?;
        self.alarm_at.set(Some(Some(at)));
        Ok(())
    }

    async fn append(&self, records: Vec<UsageRecord>) -> Result<Appended> {
        let storage = self.state.storage();
        for chunk in records.chunks(PUT_MAX) {
            let entries = js_sys::Object::new();
            for r in chunk {
                // Older isolates during a deploy send records as they were: clean them here too.
                let r = r.clone().sanitized();
                // As JSON text: storage serialises a string far more cheaply than an object.
                let v: wasm_bindgen::JsValue = serde_json::to_string(&r)?.into();
                js_sys::Reflect::set(&entries, &key(&r.id).into(), &v).map_err(|_| worker::Error::RustError("batch".into()))?;
            }
            storage.put_multiple_raw(entries).await?;
        }
        let backlog = self.backlog.get().map(|b| b + records.len() as u64);
        self.backlog.set(backlog);
        // Also while a flush runs: it may have listed its batch before these arrived.
        self.arm(now() + crate::state::usage_shards::GATHER_MS).await?;
        Ok(Appended { stored: records.len(), backlog, slow: backlog.is_some_and(|b| b >= BACKLOG_SLOW) })
    }

    /// One flush: up to `FLUSH_MAX` records, oldest first (ids start with the time).
    async fn flush(&self, shard: u32) -> Result<(FlushStats, FlushResult)> {
        let storage = self.state.storage();
        let map = storage.list_with_options(ListOptions::new().prefix("r:").limit(FLUSH_MAX)).await?;
        let mut keys: Vec<String> = Vec::new();
        let mut records: Vec<UsageRecord> = Vec::new();
        let mut unreadable: Vec<(String, wasm_bindgen::JsValue)> = Vec::new();
        let mut pairs: Vec<(String, wasm_bindgen::JsValue)> = Vec::new();
        map.for_each(&mut |v, k| pairs.push((k.as_string().unwrap_or_default(), v)));
        for (k, v) in pairs {
            // JSON text; objects are what earlier versions stored.
            let r = match v.as_string() {
                Some(text) => serde_json::from_str::<UsageRecord>(&text).ok(),
                None => serde_wasm_bindgen::from_value::<UsageRecord>(v.clone()).ok(),
            };
            match r {
                Some(r) => {
                    keys.push(k);
                    records.push(r.sanitized());
                }
                None => unreadable.push((k, v)),
            }
        }
        let drained = keys.len() + unreadable.len();
        let mut stats = FlushStats { shard, ..Default::default() };
        // Records no release can read are set aside under q: (kept, counted), never retried.
        for (k, v) in &unreadable {
            worker::console_error!("usage buffer shard {shard}: unreadable record {k} set aside");
            let text = v.as_string().or_else(|| js_sys::JSON::stringify(v).ok().and_then(|t| t.as_string())).unwrap_or_default();
            storage.put(&format!("q:{}", &k[2..]), text).await?;
            storage.delete(k).await?;
            stats.held += 1;
        }
        if records.is_empty() {
            self.backlog.set(Some(0));
            return Ok((stats, FlushResult::Done { more: false }));
        }
        let known = self.backlog.get().unwrap_or(drained as u64).max(drained as u64);
        let db = with_db(&self.env, async |db| {
            let out = usage_flush::write(db, shard, &records).await;
            let left = known.saturating_sub((out.acked().count() + out.held.len() + unreadable.len()) as u64);
            if let Err(e) = usage_flush::record_stats(db, shard, left, out.inserted.len() as u64, out.error.as_deref()).await {
                worker::console_warn!("usage shard {shard}: stats not recorded: {e:?}");
            }
            Ok(out)
        })
        .await;
        let out = match db {
            Ok(out) => out,
            Err(e) => usage_flush::Outcome { error: Some(e.message()), ..Default::default() },
        };
        let acked: Vec<String> = out.acked().map(|i| keys[i].clone()).collect();
        for chunk in acked.chunks(PUT_MAX) {
            storage.delete_multiple(chunk.to_vec()).await?;
        }
        for &i in &out.held {
            storage.put(&format!("q:{}", &keys[i][2..]), serde_json::to_string(&records[i])?).await?;
            storage.delete(&keys[i]).await?;
        }
        stats.flushed = out.inserted.len();
        stats.quarantined = out.quarantined.len();
        stats.held += out.held.len();
        let gone = (acked.len() + out.held.len() + unreadable.len()) as u64;
        let left = if drained < FLUSH_MAX && out.error.is_none() { 0 } else { known.saturating_sub(gone) };
        self.backlog.set(Some(left));
        stats.backlog = left;
        let result = match &out.error {
            Some(e) => {
                self.failures.set(self.failures.get() + 1);
                worker::console_error!("usage shard {shard}: flush postponed, {left} records stay buffered: {e}");
                FlushResult::Failed { failures: self.failures.get() }
            }
            None => {
                self.failures.set(0);
                FlushResult::Done { more: drained >= FLUSH_MAX }
            }
        };
        stats.error = out.error;
        Ok((stats, result))
    }

    /// Flush now (one at a time per object), then schedule the next one.
    async fn flush_and_schedule(&self, shard: u32) -> Result<FlushStats> {
        let started = now();
        while self.flushing.get() && now() < started + WAIT_MS {
            worker::Delay::from(std::time::Duration::from_millis(20)).await;
        }
        self.flushing.set(true);
        let r = self.flush(shard).await;
        self.flushing.set(false);
        let (stats, result) = r?;
        // The alarm that called us is spent; a failed or partial flush asks for the next.
        self.alarm_at.set(None);
        match next_alarm(now(), result) {
            Some(at) => self.arm(at).await?,
            None if stats.backlog > 0 => self.arm(now() + crate::state::usage_shards::GATHER_MS).await?,
            None => {}
        }
        Ok(stats)
    }
}

impl DurableObject for UsageBuffer {
    fn new(state: State, env: Env) -> Self {
        UsageBuffer { state, env, backlog: Cell::new(None), alarm_at: Cell::new(None), flushing: Cell::new(false), failures: Cell::new(0) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let shard = self.shard(Some(shard_param(&req))).await?;
        match req.path().as_str() {
            "/append" => {
                let records: Vec<UsageRecord> = req.json().await?;
                Response::from_json(&self.append(records).await?)
            }
            "/flush" => Response::from_json(&self.flush_and_schedule(shard).await?),
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        let shard = self.shard(None).await?;
        // Errors are handled by the schedule (back-off), not by the runtime's alarm retries.
        match self.flush_and_schedule(shard).await {
            Ok(s) => Response::ok(format!("flushed {}", s.flushed)),
            Err(e) => {
                worker::console_error!("usage shard {shard}: flush failed: {e}");
                let _ = self.arm(now() + 5_000).await;
                Response::ok("failed")
            }
        }
    }
}

async fn call<T: Serialize>(env: &Env, shard: u32, path: &str, msg: &T) -> Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(msg)?.into()));
    let req = Request::new_with_init(&format!("https://usage{path}?shard={shard}"), &init)?;
    let stub = env.durable_object("USAGE")?.id_from_name(&format!("usage:{shard}"))?.get_stub()?;
    let r = stub.fetch_with_request(req).await?;
    if r.status_code() != 200 {
        return Err(worker::Error::RustError(format!("usage buffer answered {}", r.status_code())));
    }
    Ok(r)
}

/// Store a batch durably in one call: all of it goes to the shard of its first record (batches
/// from many isolates still spread over the shards). Returns whether the shard asks for slower
/// batches (its backlog is large).
pub async fn append(env: &Env, records: &[UsageRecord]) -> Result<bool> {
    match records.first() {
        Some(first) => Ok(call(env, shard_of(&first.id), "/append", &records).await?.json::<Appended>().await?.slow),
        None => Ok(false),
    }
}

/// Kick one shard: it flushes now (waiting for a flush its alarm is running) and says how it went.
pub async fn flush(env: &Env, shard: u32) -> Result<FlushStats> {
    call(env, shard, "/flush", &()).await?.json().await
}
