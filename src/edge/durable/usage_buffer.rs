//! UsageBuffer: durable holding area for usage records between the request and the cron's
//! batched flush to Postgres. A record is deleted only after Postgres acknowledged it, so a
//! database outage delays usage but loses nothing. Records are spread over a few shards.

use crate::usage::UsageRecord;
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, ListOptions, Method, Request, RequestInit, Response, Result, State};

pub const SHARDS: u32 = 4;

#[durable_object]
pub struct UsageBuffer {
    state: State,
}

#[derive(Serialize, Deserialize)]
struct Drain {
    max: usize,
}

#[derive(Serialize, Deserialize)]
struct Ack {
    ids: Vec<String>,
}

/// Durable Object storage takes at most 128 keys per put or delete.
const PUT_MAX: usize = 128;

fn key(id: &str) -> String {
    format!("r:{id}")
}

impl DurableObject for UsageBuffer {
    fn new(state: State, _env: Env) -> Self {
        UsageBuffer { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let storage = self.state.storage();
        match req.path().as_str() {
            "/append" => {
                // A batch from one isolate: one storage write per PUT_MAX of them (the most
                // key-value pairs one put takes).
                let records: Vec<UsageRecord> = req.json().await?;
                for chunk in records.chunks(PUT_MAX) {
                    let entries = js_sys::Object::new();
                    for r in chunk {
                        // As JSON text: storage serialises a string far more cheaply than an
                        // object of twenty fields.
                        let v: wasm_bindgen::JsValue = serde_json::to_string(r)?.into();
                        js_sys::Reflect::set(&entries, &key(&r.id).into(), &v).map_err(|_| worker::Error::RustError("batch".into()))?;
                    }
                    storage.put_multiple_raw(entries).await?;
                }
                Response::from_json(&serde_json::json!({"ok": true, "stored": records.len()}))
            }
            "/drain" => {
                let d: Drain = req.json().await?;
                let map = storage.list_with_options(ListOptions::new().prefix("r:").limit(d.max)).await?;
                let mut records: Vec<UsageRecord> = Vec::new();
                for entry in map.values() {
                    let v = entry?;
                    // JSON text; objects are what earlier versions stored.
                    let r = match v.as_string() {
                        Some(text) => serde_json::from_str::<UsageRecord>(&text).ok(),
                        None => serde_wasm_bindgen::from_value::<UsageRecord>(v).ok(),
                    };
                    records.extend(r);
                }
                Response::from_json(&records)
            }
            "/ack" => {
                let a: Ack = req.json().await?;
                let keys: Vec<String> = a.ids.iter().map(|i| key(i)).collect();
                let mut n = 0;
                for chunk in keys.chunks(PUT_MAX) {
                    n += storage.delete_multiple(chunk.to_vec()).await?;
                }
                Response::from_json(&serde_json::json!({"deleted": n}))
            }
            _ => Response::error("not found", 404),
        }
    }
}

pub fn shard_of(id: &str) -> u32 {
    // FNV-1a: stable across isolates and releases.
    let mut h: u32 = 0x811c9dc5;
    for b in id.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    h % SHARDS
}

async fn call<T: Serialize>(env: &Env, shard: u32, path: &str, msg: &T) -> Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(msg)?.into()));
    let req = Request::new_with_init(&format!("https://usage{path}"), &init)?;
    let stub = env.durable_object("USAGE")?.id_from_name(&format!("usage:{shard}"))?.get_stub()?;
    let r = stub.fetch_with_request(req).await?;
    if r.status_code() != 200 {
        return Err(worker::Error::RustError(format!("usage buffer answered {}", r.status_code())));
    }
    Ok(r)
}

/// Store a batch durably in one call: all of it goes to the shard of its first record (batches
/// from many isolates still spread over the shards; drain and ack work per shard either way).
pub async fn append(env: &Env, records: &[UsageRecord]) -> Result<()> {
    match records.first() {
        Some(first) => call(env, shard_of(&first.id), "/append", &records).await.map(|_| ()),
        None => Ok(()),
    }
}

pub async fn drain(env: &Env, shard: u32, max: usize) -> Result<Vec<UsageRecord>> {
    call(env, shard, "/drain", &Drain { max }).await?.json().await
}

pub async fn ack(env: &Env, shard: u32, ids: Vec<String>) -> Result<()> {
    call(env, shard, "/ack", &Ack { ids }).await.map(|_| ())
}
