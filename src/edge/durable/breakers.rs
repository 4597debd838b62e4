//! Breakers (one instance, "global"): the circuit breakers as every isolate saw them. Isolates
//! send their attempt outcomes in one call per 100 ms (the same batches as stream leases, see
//! `edge::batch`) and get back what is open now, so one isolate's failures protect the others;
//! the state machine is `routing::breaker`. State is in memory only: breakers are soft state
//! that rebuilds from traffic within a window, and an evicted object costs nothing but that.
//! An admin health check or node toggle clears a node here and, through the answers, in every
//! isolate (`clears`: node -> when).

use crate::origins::failure::Scope;
use crate::routing::breaker::{Breakers as Machine, Config, OpenEntry, Outcome};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub node_id: i64,
    pub model: String,
    pub scope: Scope,
    pub outcome: Outcome,
    pub at_ms: u64,
}

#[derive(Serialize, Deserialize)]
pub struct ReportMsg {
    pub cfg: Config,
    pub reports: Vec<Report>,
}

/// The shared view: open breakers and the latest clear per node.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct View {
    pub open: Vec<OpenEntry>,
    pub clears: HashMap<String, u64>,
}

#[durable_object]
pub struct Breakers {
    machine: RefCell<Machine>,
    clears: RefCell<HashMap<String, u64>>,
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

impl Breakers {
    fn view(&self) -> View {
        View { open: self.machine.borrow_mut().open_entries(now()), clears: self.clears.borrow().clone() }
    }
}

impl DurableObject for Breakers {
    fn new(_state: State, _env: Env) -> Self {
        Breakers { machine: RefCell::new(Machine::default()), clears: RefCell::new(HashMap::new()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/report" => {
                let msg: ReportMsg = req.json().await?;
                {
                    let mut m = self.machine.borrow_mut();
                    m.cfg = msg.cfg;
                    for r in &msg.reports {
                        m.record(r.node_id, &r.model, r.scope, &r.outcome, r.at_ms);
                    }
                }
                Response::from_json(&self.view())
            }
            "/view" => Response::from_json(&self.view()),
            "/clear" => {
                let node: i64 = req.json().await?;
                self.machine.borrow_mut().clear_node(node);
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

pub async fn report(env: &Env, msg: &ReportMsg) -> Result<View> {
    post(env, "/report", serde_json::to_string(msg)?).await
}

pub async fn view(env: &Env) -> Result<View> {
    let mut r = stub(env)?.fetch_with_str("https://breakers/view").await?;
    r.json().await
}

pub async fn clear(env: &Env, node_id: i64) -> Result<View> {
    post(env, "/clear", node_id.to_string()).await
}
