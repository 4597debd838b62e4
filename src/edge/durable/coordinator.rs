//! Coordinator: the routing-snapshot version, in the authoritative instance `"global"` and in
//! `VERSION_REPLICAS` replicas that isolates poll (policy in `state::fanout`). A publish sets
//! the authority only (one call, whatever the number of replicas); a replica answers a poll
//! from what it holds and asks the authority again when that is more than `PULL_MS` old, so the
//! authority sees at most `VERSION_REPLICAS` calls per `PULL_MS` however many isolates poll, and
//! a replica can never stay behind. The same answer carries every node's active-stream count
//! (pushed to the authority by each node's Streams object), so an isolate learns those with its
//! version poll, with no call of its own.

use crate::state::fanout::{pick_replica, replica_name, Tally, AUTHORITY, PULL_MS};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct Coordinator {
    state: State,
    env: Env,
    version: Cell<Option<u64>>,
    streams: RefCell<Tally>,
    /// A replica: what the authority said last, and when it was asked (a pull in flight counts).
    pulled: RefCell<HashMap<String, u32>>,
    pulled_ms: Cell<u64>,
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

    /// A replica's answer: refreshed from the authority when older than `PULL_MS`.
    async fn replica_answer(&self, current: u64) -> Result<Polled> {
        let t = now();
        if t >= self.pulled_ms.get() + PULL_MS {
            self.pulled_ms.set(t);
            match authority_poll(&self.env).await {
                Ok(p) => {
                    if p.version > current {
                        self.state.storage().put("version", p.version).await?;
                        self.version.set(Some(p.version));
                    }
                    *self.pulled.borrow_mut() = p.streams;
                }
                Err(e) => {
                    // Answer from what this replica holds; the next poll asks again.
                    self.pulled_ms.set(0);
                    worker::console_warn!("coordinator replica: authority unavailable: {e}");
                }
            }
        }
        Ok(Polled { version: self.version.get().unwrap_or(current).max(current), streams: self.pulled.borrow().clone() })
    }
}

impl DurableObject for Coordinator {
    fn new(state: State, env: Env) -> Self {
        Coordinator { state, env, version: Cell::new(None), streams: RefCell::new(Tally::default()), pulled: RefCell::new(HashMap::new()), pulled_ms: Cell::new(0) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let current = self.current().await?;
        let replica = req.url().ok().is_some_and(|u| u.query_pairs().any(|(k, _)| k == "replica"));
        match (req.method(), req.path().as_str()) {
            (Method::Get, "/version") if replica => Response::from_json(&self.replica_answer(current).await?),
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
    stub(env, &name)?.fetch_with_str("https://coordinator/version?replica=1").await?.json::<Polled>().await
}

pub async fn version(env: &Env) -> Result<u64> {
    Ok(poll(env).await?.version)
}

async fn authority_poll(env: &Env) -> Result<Polled> {
    stub(env, AUTHORITY)?.fetch_with_str("https://coordinator/version").await?.json::<Polled>().await
}

/// The authority's version (publishes, the cron; never the request path).
pub async fn authority_version(env: &Env) -> Result<u64> {
    Ok(authority_poll(env).await?.version)
}

/// Set the version at the authority (it keeps the larger of what it has and what it is sent);
/// replicas pick it up within `PULL_MS` of their next poll.
pub async fn set_version(env: &Env, version: u64) -> Result<u64> {
    let mut r = post(env, AUTHORITY, "/version", &Version { version }).await?;
    Ok(r.json::<Version>().await?.version)
}

/// A node's active streams, from its Streams object, to the authority.
pub async fn push_streams(env: &Env, node_id: i64, count: u32) -> Result<()> {
    post(env, AUTHORITY, "/streams", &StreamCount { node_id, count }).await.map(|_| ())
}

/// Every node's active streams, from the authority (the cron's warm-up and the admin view).
pub async fn stream_counts(env: &Env) -> Result<HashMap<i64, u32>> {
    let m: HashMap<String, u32> = stub(env, AUTHORITY)?.fetch_with_str("https://coordinator/streams").await?.json().await?;
    Ok(m.into_iter().filter_map(|(k, v)| k.parse().ok().map(|k| (k, v))).collect())
}
