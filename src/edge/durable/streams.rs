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
        if let Some(t) = next {
            self.state.storage().set_alarm(t as i64).await?;
        }
        Ok(())
    }
}

impl DurableObject for Streams {
    fn new(state: State, _env: Env) -> Self {
        Streams { state, registry: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.load().await?;
        match req.path().as_str() {
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
            "/counts" => {
                let counts = self.registry.borrow().as_ref().expect("loaded").counts(now());
                let as_strings: HashMap<String, u32> = counts.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                Response::from_json(&as_strings)
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.load().await?;
        let pruned = self.registry.borrow_mut().as_mut().expect("loaded").prune(now());
        self.save().await?;
        Response::ok(format!("pruned {pruned}"))
    }
}

fn stub(env: &Env) -> Result<worker::Stub> {
    env.durable_object("STREAMS")?.id_from_name("global")?.get_stub()
}

pub async fn send(env: &Env, path: &str, msg: &LeaseMsg) -> Result<()> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(msg)?.into()));
    let req = Request::new_with_init(&format!("https://streams{path}"), &init)?;
    stub(env)?.fetch_with_request(req).await.map(|_| ())
}

pub async fn counts(env: &Env) -> Result<HashMap<i64, u32>> {
    let mut r = stub(env)?.fetch_with_str("https://streams/counts").await?;
    let m: HashMap<String, u32> = r.json().await?;
    Ok(m.into_iter().filter_map(|(k, v)| k.parse().ok().map(|k| (k, v))).collect())
}
