//! Limiter: one instance per limited scope (`user:{id}`, `model:{prefix}`). The object runs
//! calls one at a time, so check-and-count is atomic: N concurrent requests against a limit of
//! M admit exactly M, across every isolate.

use crate::limits::{self, Decision, Rule, Window};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct Limiter {
    state: State,
    windows: RefCell<Option<HashMap<String, Window>>>,
}

#[derive(Serialize, Deserialize)]
pub struct AdmitMsg {
    pub rules: Vec<Rule>,
    pub now_ms: u64,
}

#[derive(Serialize, Deserialize)]
pub struct SettleMsg {
    pub rules: Vec<Rule>,
    pub now_ms: u64,
    pub admitted_ms: u64,
    pub tokens: u64,
    pub release: bool,
}

impl Limiter {
    async fn load(&self) -> Result<()> {
        if self.windows.borrow().is_none() {
            let stored: HashMap<String, Window> = self.state.storage().get("windows").await?.unwrap_or_default();
            *self.windows.borrow_mut() = Some(stored);
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Window {
        self.windows.borrow().as_ref().and_then(|w| w.get(name).copied()).unwrap_or_default()
    }

    async fn store(&self, updates: Vec<(String, Window)>) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let snapshot = {
            let mut w = self.windows.borrow_mut();
            let map = w.get_or_insert_with(HashMap::new);
            map.extend(updates);
            map.clone()
        };
        self.state.storage().put("windows", snapshot).await
    }
}

impl DurableObject for Limiter {
    fn new(state: State, _env: Env) -> Self {
        Limiter { state, windows: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        self.load().await?;
        match req.path().as_str() {
            "/admit" => {
                let m: AdmitMsg = req.json().await?;
                let (decision, updates) = limits::admit(&m.rules, m.now_ms, |k| self.get(k));
                self.store(updates).await?;
                Response::from_json(&decision)
            }
            "/settle" => {
                let m: SettleMsg = req.json().await?;
                let updates = limits::settle(&m.rules, m.now_ms, m.admitted_ms, m.tokens, m.release, |k| self.get(k));
                self.store(updates).await?;
                Response::from_json(&serde_json::json!({"ok": true}))
            }
            _ => Response::error("not found", 404),
        }
    }
}

async fn call<T: Serialize>(env: &Env, scope: &str, path: &str, msg: &T) -> Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(msg)?.into()));
    let req = Request::new_with_init(&format!("https://limiter{path}"), &init)?;
    let stub = env.durable_object("LIMITER")?.id_from_name(scope)?.get_stub()?;
    stub.fetch_with_request(req).await
}

pub async fn admit(env: &Env, scope: &str, msg: &AdmitMsg) -> Result<Decision> {
    let mut r = call(env, scope, "/admit", msg).await?;
    if r.status_code() != 200 {
        return Err(worker::Error::RustError(format!("limiter answered {}", r.status_code())));
    }
    r.json().await
}

pub async fn settle(env: &Env, scope: &str, msg: &SettleMsg) -> Result<()> {
    call(env, scope, "/settle", msg).await.map(|_| ())
}
