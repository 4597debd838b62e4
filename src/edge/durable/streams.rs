//! Streams (one instance, "global"): the active-stream leases of every node (logic in
//! `state::streams`). Calls come from `wait_until`, never on a client's critical path; an alarm
//! prunes leases of streams whose isolate died.

use crate::state::streams::Registry;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct Streams {
    state: State,
    registry: RefCell<Option<Registry>>,
    /// The alarm last set. An alarm at or before the earliest expiry is good enough (it prunes
    /// what is due and sets the next), so saves only move it earlier: each set is a write.
    alarm_at: std::cell::Cell<Option<u64>>,
}

#[derive(Serialize, Deserialize)]
pub struct LeaseMsg {
    pub id: String,
    pub node_id: i64,
    pub ttl_ms: u64,
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

impl Streams {
    async fn load(&self) -> Result<()> {
        if self.registry.borrow().is_none() {
            let r: Registry = self.state.storage().get("registry").await?.unwrap_or_default();
            *self.registry.borrow_mut() = Some(r);
        }
        Ok(())
    }

    async fn save(&self) -> Result<()> {
        let (snapshot, next) = {
            let b = self.registry.borrow();
            let r = b.as_ref().expect("loaded");
            (r.clone(), r.next_expiry())
        };
        self.state.storage().put("registry", snapshot).await?;
        if let Some(t) = next.filter(|t| self.alarm_at.get().is_none_or(|at| at > *t)) {
            self.state.storage().set_alarm(t as i64).await?;
            self.alarm_at.set(Some(t));
        }
        Ok(())
    }
}

impl DurableObject for Streams {
    fn new(state: State, _env: Env) -> Self {
        Streams { state, registry: RefCell::new(None), alarm_at: std::cell::Cell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.load().await?;
        match req.path().as_str() {
            // One lease per call: what isolates of the previous version send during a deploy.
            "/acquire" => {
                let m: LeaseMsg = req.json().await?;
                self.registry.borrow_mut().as_mut().expect("loaded").acquire(&m.id, m.node_id, now(), m.ttl_ms);
                self.save().await?;
                Response::from_json(&serde_json::json!({"ok": true}))
            }
            "/release" => {
                let m: LeaseMsg = req.json().await?;
                let released = self.registry.borrow_mut().as_mut().expect("loaded").release(&m.id);
                self.save().await?;
                Response::from_json(&serde_json::json!({"released": released}))
            }
            "/batch" => {
                // Starts and ends from one isolate, in order (ttl 0 = the stream ended).
                let ops: Vec<LeaseMsg> = req.json().await?;
                {
                    let mut b = self.registry.borrow_mut();
                    let r = b.as_mut().expect("loaded");
                    for m in &ops {
                        if m.ttl_ms > 0 {
                            r.acquire(&m.id, m.node_id, now(), m.ttl_ms);
                        } else {
                            r.release(&m.id);
                        }
                    }
                }
                self.save().await?;
                Response::from_json(&serde_json::json!({"ok": true}))
            }
            "/counts" => {
                let counts = self.registry.borrow().as_ref().expect("loaded").counts(now());
                let as_strings: HashMap<String, u32> = counts.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                Response::from_json(&as_strings)
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        self.load().await?;
        let pruned = self.registry.borrow_mut().as_mut().expect("loaded").prune(now());
        self.save().await?;
        Response::ok(format!("pruned {pruned}"))
    }
}

fn stub(env: &Env) -> Result<worker::Stub> {
    env.durable_object("STREAMS")?.id_from_name("global")?.get_stub()
}

/// Lease changes in one call (see `edge::batch`).
pub async fn send_batch(env: &Env, ops: &[LeaseMsg]) -> Result<()> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(ops)?.into()));
    let req = Request::new_with_init("https://streams/batch", &init)?;
    let r = stub(env)?.fetch_with_request(req).await?;
    if r.status_code() != 200 {
        return Err(worker::Error::RustError(format!("streams answered {}", r.status_code())));
    }
    Ok(())
}

pub async fn counts(env: &Env) -> Result<HashMap<i64, u32>> {
    let mut r = stub(env)?.fetch_with_str("https://streams/counts").await?;
    let m: HashMap<String, u32> = r.json().await?;
    Ok(m.into_iter().filter_map(|(k, v)| k.parse().ok().map(|k| (k, v))).collect())
}
