//! Limiter: one instance per limited scope (`user:{id}`, `model:{prefix}`). Isolates lease
//! requests from it (`limits::lease`); the object runs calls one at a time, so check-and-grant
//! is atomic: isolates racing for the last M requests of a limit get exactly M between them.

use crate::limits::{self, Grant, SyncMsg, Window};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct Limiter {
    state: State,
    windows: RefCell<Option<HashMap<String, Window>>>,
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
            "/sync" => {
                let m: SyncMsg = req.json().await?;
                let (grant, updates) = limits::sync(&m, |k| self.get(k));
                self.store(updates).await?;
                Response::from_json(&grant)
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

/// One lease call (see `limits::lease`).
pub async fn sync(env: &Env, scope: &str, msg: &SyncMsg) -> Result<Grant> {
    let mut r = call(env, scope, "/sync", msg).await?;
    if r.status_code() != 200 {
        return Err(worker::Error::RustError(format!("limiter answered {}", r.status_code())));
    }
    r.json().await
}
