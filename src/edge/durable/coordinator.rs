//! Coordinator: the routing-snapshot version, in the authoritative instance `"global"` and in
//! `VERSION_REPLICAS` replicas that isolates poll (policy in `state::fanout`). A publish sets the
//! authority and every replica before it returns; the cron re-asserts the replicas from the
//! authority every minute, so a replica a publish missed heals by itself. The same objects
//! carry every node's active-stream count (pushed by the node's Streams object), so an isolate
//! learns those in the answer to its version poll, with no call of its own.

use crate::state::fanout::{pick_replica, replica_name, Tally, AUTHORITY, VERSION_REPLICAS};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct Coordinator {
    state: State,
    version: Cell<Option<u64>>,
    streams: RefCell<Tally>,
}

#[derive(Serialize, Deserialize)]
struct Version {
    version: u64,
}

/// A replica's answer to a poll: the version and every node's active streams.
#[derive(Serialize, Deserialize, Default)]
pub struct Polled {
    pub version: u64,
    #[serde(default)]
    pub streams: HashMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
struct StreamCount {
    node_id: i64,
    count: u32,
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

impl Coordinator {
    async fn current(&self) -> Result<u64> {
        if let Some(v) = self.version.get() {
            return Ok(v);
        }
        let v: u64 = self.state.storage().get("version").await?.unwrap_or(0);
        self.version.set(Some(v));
        Ok(v)
    }
}

impl DurableObject for Coordinator {
    fn new(state: State, _env: Env) -> Self {
        Coordinator { state, version: Cell::new(None), streams: RefCell::new(Tally::default()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let current = self.current().await?;
        match (req.method(), req.path().as_str()) {
            (Method::Get, "/streams") => Response::from_json(&self.streams.borrow().fresh(now())),
            (Method::Post, "/streams") => {
                let c: StreamCount = req.json().await?;
                self.streams.borrow_mut().set(&c.node_id.to_string(), c.count, now());
                Response::from_json(&serde_json::json!({"ok": true}))
            }
            (Method::Get, _) => Response::from_json(&Polled { version: current, streams: self.streams.borrow().fresh(now()) }),
            (Method::Post, _) => {
                let v: Version = req.json().await?;
                let next = current.max(v.version);
                if next != current {
                    self.state.storage().put("version", next).await?;
                    self.version.set(Some(next));
                }
                Response::from_json(&Version { version: next })
            }
            _ => Response::error("method not allowed", 405),
        }
    }
}

fn stub(env: &Env, name: &str) -> Result<worker::Stub> {
    env.durable_object("COORDINATOR")?.id_from_name(name)?.get_stub()
}

async fn post<T: Serialize>(env: &Env, name: &str, path: &str, msg: &T) -> Result<Response> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(msg)?.into()));
    let req = Request::new_with_init(&format!("https://coordinator{path}"), &init)?;
    let r = stub(env, name)?.fetch_with_request(req).await?;
    if r.status_code() != 200 {
        return Err(worker::Error::RustError(format!("coordinator {name} answered {}", r.status_code())));
    }
    Ok(r)
}

/// One poll of a random replica: the version and the nodes' stream counts.
pub async fn poll(env: &Env) -> Result<Polled> {
    let name = replica_name(pick_replica(js_sys::Math::random()));
    stub(env, &name)?.fetch_with_str("https://coordinator/version").await?.json::<Polled>().await
}

pub async fn version(env: &Env) -> Result<u64> {
    Ok(poll(env).await?.version)
}

/// The authority's version (the cron and publishes; never the request path).
pub async fn authority_version(env: &Env) -> Result<u64> {
    Ok(stub(env, AUTHORITY)?.fetch_with_str("https://coordinator/version").await?.json::<Polled>().await?.version)
}

/// Set the version at the authority and at every replica, all in parallel (each keeps the
/// larger of what it has and what it is sent, so order does not matter). A replica that cannot
/// be reached is logged; the cron's `reassert` heals it within a minute.
pub async fn set_version(env: &Env, version: u64) -> Result<u64> {
    let authority = async {
        let mut r = post(env, AUTHORITY, "/version", &Version { version }).await?;
        Ok::<u64, worker::Error>(r.json::<Version>().await?.version)
    };
    let (v, _) = futures::join!(authority, replicate(env, version));
    v
}

async fn replicate(env: &Env, version: u64) -> usize {
    let calls = (0..VERSION_REPLICAS).map(|k| async move { (k, post(env, &replica_name(k), "/version", &Version { version }).await) });
    let mut failed = 0;
    for (k, r) in futures::future::join_all(calls).await {
        if let Err(e) = r {
            failed += 1;
            worker::console_warn!("snapshot version {version} not set at replica {k} (the cron retries): {e}");
        }
    }
    failed
}

/// Cron: copy the authority's version to every replica (a no-op for those that have it).
pub async fn reassert(env: &Env) -> Result<u64> {
    let v = authority_version(env).await?;
    if v > 0 {
        replicate(env, v).await;
    }
    Ok(v)
}

/// A node's active streams, from its Streams object, to the authority and every replica.
pub async fn push_streams(env: &Env, node_id: i64, count: u32) {
    let names = std::iter::once(AUTHORITY.to_string()).chain((0..VERSION_REPLICAS).map(replica_name));
    let calls = names.map(|name| async move { (post(env, &name, "/streams", &StreamCount { node_id, count }).await, name) });
    for (r, name) in futures::future::join_all(calls).await {
        if let Err(e) = r {
            worker::console_warn!("stream count of node {node_id} not pushed to {name}: {e}");
        }
    }
}

/// Every node's active streams, from the authority (the cron's warm-up and the admin view).
pub async fn stream_counts(env: &Env) -> Result<HashMap<i64, u32>> {
    let m: HashMap<String, u32> = stub(env, AUTHORITY)?.fetch_with_str("https://coordinator/streams").await?.json().await?;
    Ok(m.into_iter().filter_map(|(k, v)| k.parse().ok().map(|k| (k, v))).collect())
}
