//! ResponseStore (one instance per user, `user:{id}`): that user's stored Responses (logic and
//! bounds in `state::response_store`). Records are JSON text under `r:{id}`; `index` lists
//! them by age so retention and the count/byte bounds evict oldest first, and an alarm deletes
//! what expires. Writes arrive batched from `wait_until`, never on a client's critical path;
//! reads come before a turn that references stored items.

use crate::state::response_store::{Bounds, Index, IndexEntry, Lookup, StoredResponse, MAX_CHAIN};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct ResponseStore {
    state: State,
    index: RefCell<Option<Index>>,
    alarm_at: Cell<Option<u64>>,
}

#[derive(Serialize, Deserialize)]
pub struct PutMsg {
    pub bounds: Bounds,
    pub records: Vec<StoredResponse>,
}

#[derive(Serialize, Deserialize)]
struct IdMsg {
    id: String,
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

fn key(id: &str) -> String {
    format!("r:{id}")
}

/// Durable Object storage takes at most 128 keys per put or delete.
const KEYS_MAX: usize = 128;

impl ResponseStore {
    async fn load(&self) -> Result<()> {
        if self.index.borrow().is_none() {
            let ix: Index = self.state.storage().get("index").await?.unwrap_or_default();
            *self.index.borrow_mut() = Some(ix);
        }
        Ok(())
    }

    async fn delete(&self, ids: Vec<String>) -> Result<()> {
        let keys: Vec<String> = ids.iter().map(|i| key(i)).collect();
        for chunk in keys.chunks(KEYS_MAX) {
            self.state.storage().delete_multiple(chunk.to_vec()).await?;
        }
        Ok(())
    }

    async fn save_index(&self) -> Result<()> {
        let (ix, next) = {
            let b = self.index.borrow();
            let ix = b.as_ref().expect("loaded");
            (ix.clone(), ix.next_expiry(&ix.bounds))
        };
        self.state.storage().put("index", ix).await?;
        if let Some(t) = next.filter(|t| self.alarm_at.get().is_none_or(|at| at > *t)) {
            self.state.storage().set_alarm(t as i64).await?;
            self.alarm_at.set(Some(t));
        }
        Ok(())
    }

    /// A record that exists and has not expired.
    async fn get(&self, id: &str) -> Result<Option<StoredResponse>> {
        let live = {
            let b = self.index.borrow();
            let ix = b.as_ref().expect("loaded");
            !ix.is_expired(id, &ix.bounds, now())
        };
        if !live {
            return Ok(None);
        }
        let text: Option<String> = self.state.storage().get(&key(id)).await?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }
}

impl DurableObject for ResponseStore {
    fn new(state: State, _env: Env) -> Self {
        ResponseStore { state, index: RefCell::new(None), alarm_at: Cell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.load().await?;
        match req.path().as_str() {
            "/put" => {
                let m: PutMsg = req.json().await?;
                let mut entries = Vec::with_capacity(m.records.len());
                // Ages by this object's clock (when the write arrived, ~50 ms after the answer),
                // so retention never depends on an isolate's clock.
                let arrived = now();
                for chunk in m.records.chunks(KEYS_MAX) {
                    let obj = js_sys::Object::new();
                    for r in chunk {
                        let text = r.to_json();
                        entries.push(IndexEntry { id: r.id.clone(), created_ms: arrived, bytes: text.len() as u64 });
                        js_sys::Reflect::set(&obj, &key(&r.id).into(), &text.into()).map_err(|_| worker::Error::RustError("batch".into()))?;
                    }
                    self.state.storage().put_multiple_raw(obj).await?;
                }
                let gone = self.index.borrow_mut().as_mut().expect("loaded").add(entries, &m.bounds, arrived);
                self.delete(gone).await?;
                self.save_index().await?;
                Response::from_json(&serde_json::json!({"stored": m.records.len()}))
            }
            "/load" => {
                let l: Lookup = req.json().await?;
                let mut out: Vec<StoredResponse> = Vec::new();
                for id in &l.ids {
                    out.extend(self.get(id).await?);
                }
                let mut cur = l.chain_from.clone();
                let mut steps = 0;
                while let Some(id) = cur.take() {
                    steps += 1;
                    if steps > MAX_CHAIN + 1 {
                        break;
                    }
                    // Already loaded (also named in `ids`): follow its link all the same.
                    if let Some(r) = out.iter().find(|r| r.id == id) {
                        cur = r.previous_response_id.clone();
                    } else if let Some(r) = self.get(&id).await? {
                        cur = r.previous_response_id.clone();
                        out.push(r);
                    }
                }
                Response::from_json(&out)
            }
            "/delete" => {
                let m: IdMsg = req.json().await?;
                let existed = self.index.borrow_mut().as_mut().expect("loaded").remove(&m.id);
                self.delete(vec![m.id]).await?;
                if existed {
                    self.save_index().await?;
                }
                Response::from_json(&serde_json::json!({"deleted": existed}))
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        self.load().await?;
        let gone = {
            let mut b = self.index.borrow_mut();
            let ix = b.as_mut().expect("loaded");
            let bounds = ix.bounds;
            ix.prune(&bounds, now())
        };
        let n = gone.len();
        self.delete(gone).await?;
        self.save_index().await?;
        Response::ok(format!("expired {n}"))
    }
}

async fn call(env: &Env, user_id: i64, path: &str, body: String) -> Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init(&format!("https://responses{path}"), &init)?;
    let stub = env.durable_object("RESPONSES")?.id_from_name(&format!("user:{user_id}"))?.get_stub()?;
    let r = stub.fetch_with_request(req).await?;
    if r.status_code() != 200 {
        return Err(worker::Error::RustError(format!("the response store answered {}", r.status_code())));
    }
    Ok(r)
}

pub async fn put(env: &Env, user_id: i64, bounds: Bounds, records: Vec<StoredResponse>) -> Result<()> {
    call(env, user_id, "/put", serde_json::to_string(&PutMsg { bounds, records })?).await.map(|_| ())
}

pub async fn load(env: &Env, user_id: i64, lookup: &Lookup) -> Result<Vec<Rc<StoredResponse>>> {
    let recs: Vec<StoredResponse> = call(env, user_id, "/load", serde_json::to_string(lookup)?).await?.json().await?;
    Ok(recs.into_iter().map(Rc::new).collect())
}

pub async fn delete(env: &Env, user_id: i64, id: &str) -> Result<bool> {
    let v: serde_json::Value = call(env, user_id, "/delete", serde_json::to_string(&IdMsg { id: id.to_string() })?).await?.json().await?;
    Ok(v.get("deleted").and_then(serde_json::Value::as_bool).unwrap_or(false))
}
