//! Breakers (one instance, "global"): which circuit breakers are open anywhere. Each isolate
//! runs the state machine (`routing::breaker`) on its own traffic and tells this object only
//! its breakers' state changes (opened until when and why, closed by a probe), batched per
//! 100 ms (`edge::batch`); it gets back what is open now, so one isolate's knowledge protects
//! the others. Calls scale with state changes, not with requests. State is in memory only: soft
//! state, rebuilt by the isolates' next failures if the object is evicted. An admin health
//! check or node toggle clears a node here and, through the answers, in every isolate
//! (`clears`: node -> when).

use crate::routing::breaker::{Change, Key, OpenEntry};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

/// The shared view: open breakers and the latest clear per node.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct View {
    pub open: Vec<OpenEntry>,
    pub clears: HashMap<String, u64>,
}

#[durable_object]
pub struct Breakers {
    open: RefCell<HashMap<Key, OpenEntry>>,
    clears: RefCell<HashMap<String, u64>>,
    /// Breakers that opened (were not open here before) since the cron last took them: its
    /// breaker-open alerts (`observe::alerts`). Bounded; lost if the object is evicted.
    openings: RefCell<Vec<OpenEntry>>,
}

/// Openings kept for the cron at most (a storm of them is one page of alerts, not thousands).
const OPENINGS_MAX: usize = 100;

fn now() -> u64 {
    js_sys::Date::now() as u64
}

impl Breakers {
    fn view(&self) -> View {
        let now = now();
        let mut open = self.open.borrow_mut();
        open.retain(|_, e| e.until_ms > now);
        View { open: open.values().cloned().collect(), clears: self.clears.borrow().clone() }
    }

    fn apply(&self, change: Change) {
        let mut open = self.open.borrow_mut();
        match change {
            Change::Opened(e) => {
                let mut openings = self.openings.borrow_mut();
                if open.get(&e.key).is_none_or(|old| old.until_ms <= now()) && openings.len() < OPENINGS_MAX && !openings.iter().any(|o| o.key == e.key) {
                    openings.push(e.clone());
                }
                drop(openings);
                if open.get(&e.key).is_none_or(|old| old.until_ms < e.until_ms) {
                    open.insert(e.key.clone(), e);
                }
            }
            // A close ends what was opened before it, not a newer opening by another isolate.
            Change::Closed { key, at_ms } => {
                if open.get(&key).is_some_and(|e| e.failed_at_ms <= at_ms) {
                    open.remove(&key);
                }
            }
        }
    }
}

impl DurableObject for Breakers {
    fn new(_state: State, _env: Env) -> Self {
        Breakers { open: RefCell::new(HashMap::new()), clears: RefCell::new(HashMap::new()), openings: RefCell::new(Vec::new()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/report" => {
                let changes: Vec<Change> = req.json().await?;
                for c in changes {
                    self.apply(c);
                }
                Response::from_json(&self.view())
            }
            "/view" => Response::from_json(&self.view()),
            "/openings" => Response::from_json(&std::mem::take(&mut *self.openings.borrow_mut())),
            "/clear" => {
                let node: i64 = req.json().await?;
                self.open.borrow_mut().retain(|k, _| k.node_id() != node);
                self.clears.borrow_mut().insert(node.to_string(), now());
                Response::from_json(&self.view())
            }
            _ => Response::error("not found", 404),
        }
    }
}

fn stub(env: &Env) -> Result<worker::Stub> {
    env.durable_object("BREAKERS")?.id_from_name("global")?.get_stub()
}

async fn post(env: &Env, path: &str, body: String) -> Result<View> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init(&format!("https://breakers{path}"), &init)?;
    let mut r = stub(env)?.fetch_with_request(req).await?;
    if r.status_code() != 200 {
        return Err(worker::Error::RustError(format!("breakers answered {}", r.status_code())));
    }
    r.json().await
}

pub async fn report(env: &Env, changes: &[Change]) -> Result<View> {
    post(env, "/report", serde_json::to_string(changes)?).await
}

pub async fn view(env: &Env) -> Result<View> {
    let mut r = stub(env)?.fetch_with_str("https://breakers/view").await?;
    r.json().await
}

pub async fn clear(env: &Env, node_id: i64) -> Result<View> {
    post(env, "/clear", node_id.to_string()).await
}

/// Take the breakers that opened since the last call (the cron's breaker-open alerts).
pub async fn take_openings(env: &Env) -> Result<Vec<OpenEntry>> {
    let mut r = stub(env)?.fetch_with_str("https://breakers/openings").await?;
    r.json().await
}
