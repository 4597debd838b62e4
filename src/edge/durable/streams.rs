//! Streams: active-stream leases (logic in `state::streams`), sharded by node (policy in
//! `state::fanout`). A part, `Streams("node:{id}:{k}")`, holds the leases one group of isolates
//! took on the node and pushes its count to the node's total, `Streams("node:{id}")`, which
//! pushes the node's count to the Coordinator replicas and authority. Calls come from
//! `wait_until` and alarms, never on a client's critical path; an alarm prunes leases of
//! streams whose isolate died and paces the pushes. `Streams("global")` is what the previous
//! release used; it still answers isolates of that release during a deploy.

use super::coordinator;
use crate::state::fanout::{node_name, part_name, Pusher, Tally, STREAM_SHARDS};
use crate::state::streams::Registry;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, State};

#[durable_object]
pub struct Streams {
    state: State,
    env: Env,
    registry: RefCell<Option<Registry>>,
    /// What this object is, remembered from the first call that said so (alarms have no URL).
    role: Cell<Option<Role>>,
    /// A node total: the parts' counts.
    parts: RefCell<Tally>,
    pusher: Cell<Pusher>,
    /// The alarm last set. An alarm at or before the earliest due time is good enough (it does
    /// what is due and sets the next), so saves only move it earlier: each set is a write.
    alarm_at: Cell<Option<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Role {
    /// The previous release's single instance.
    Legacy,
    Part { node_id: i64, k: u32 },
    Node { node_id: i64 },
}

#[derive(Serialize, Deserialize)]
pub struct LeaseMsg {
    pub id: String,
    pub node_id: i64,
    pub ttl_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct PartCount {
    k: u32,
    count: u32,
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url().ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.to_string())
}

impl Streams {
    async fn role(&self, req: Option<&Request>) -> Result<Role> {
        if let Some(r) = self.role.get() {
            return Ok(r);
        }
        let from_url = req.and_then(|req| {
            let node_id = query(req, "node")?.parse().ok()?;
            Some(match query(req, "k").and_then(|k| k.parse().ok()) {
                Some(k) => Role::Part { node_id, k },
                None => Role::Node { node_id },
            })
        });
        let storage = self.state.storage();
        let role = match from_url {
            Some(r) => {
                storage.put("role", r).await?;
                r
            }
            None => storage.get::<Role>("role").await?.unwrap_or(Role::Legacy),
        };
        self.role.set(Some(role));
        Ok(role)
    }

    async fn load(&self) -> Result<()> {
        if self.registry.borrow().is_none() {
            let r: Registry = self.state.storage().get("registry").await?.unwrap_or_default();
            *self.registry.borrow_mut() = Some(r);
        }
        Ok(())
    }

    fn count(&self) -> u32 {
        self.registry.borrow().as_ref().map_or(0, |r| r.counts(now()).values().sum())
    }

    async fn save(&self, role: Role) -> Result<()> {
        let (snapshot, expiry) = {
            let b = self.registry.borrow();
            let r = b.as_ref().expect("loaded");
            (r.clone(), r.next_expiry())
        };
        self.state.storage().put("registry", snapshot).await?;
        let push = match role {
            Role::Legacy => None,
            _ => self.pusher.get().due(self.count(), now()),
        };
        self.arm([expiry, push].into_iter().flatten().min()).await
    }

    async fn arm(&self, at: Option<u64>) -> Result<()> {
        // An alarm set for the past has fired or is about to: it no longer covers later work.
        let set = self.alarm_at.get().filter(|a| *a > now());
        if let Some(t) = at.filter(|t| set.is_none_or(|a| a > *t)) {
            // workers-rs reads an integer as an offset from now, not as a time.
            self.state.storage().set_alarm(t.saturating_sub(now()) as i64).await?;
            self.alarm_at.set(Some(t));
        }
        Ok(())
    }

    fn apply(&self, ops: &[LeaseMsg]) {
        let mut b = self.registry.borrow_mut();
        let r = b.as_mut().expect("loaded");
        for m in ops {
            if m.ttl_ms > 0 {
                r.acquire(&m.id, m.node_id, now(), m.ttl_ms);
            } else {
                r.release(&m.id);
            }
        }
    }

    /// Push what is due upward: a part's count to its node, a node's total to the Coordinators.
    async fn push(&self, role: Role) -> Result<()> {
        let t = now();
        match role {
            Role::Part { node_id, k } => {
                let count = self.count();
                if self.pusher.get().due(count, t).is_some_and(|d| d <= t) {
                    send(&self.env, &node_name(node_id), &format!("/part?node={node_id}"), &PartCount { k, count }).await?;
                    let mut p = self.pusher.get();
                    p.pushed(count, t);
                    self.pusher.set(p);
                }
                self.arm(self.pusher.get().due(count, t)).await
            }
            Role::Node { node_id } => {
                let total = self.parts.borrow().total(t);
                if self.pusher.get().due(total, t).is_some_and(|d| d <= t) {
                    coordinator::push_streams(&self.env, node_id, total).await?;
                    let mut p = self.pusher.get();
                    p.pushed(total, t);
                    self.pusher.set(p);
                }
                self.arm(self.pusher.get().due(total, t)).await
            }
            Role::Legacy => Ok(()),
        }
    }
}

impl Streams {
    /// Push at once when the pace allows (a change is seen upstream without waiting for an
    /// alarm), else leave it to the alarm `push` sets.
    async fn push_now(&self, role: Role) {
        if let Err(e) = self.push(role).await {
            worker::console_warn!("stream count push failed (the alarm retries): {e}");
            let _ = self.arm(Some(now() + crate::state::fanout::PUSH_MS)).await;
        }
    }
}

impl DurableObject for Streams {
    fn new(state: State, env: Env) -> Self {
        Streams {
            state,
            env,
            registry: RefCell::new(None),
            role: Cell::new(None),
            parts: RefCell::new(Tally::default()),
            pusher: Cell::new(Pusher::default()),
            alarm_at: Cell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let role = self.role(Some(&req)).await?;
        self.load().await?;
        match req.path().as_str() {
            // One lease per call: what isolates of two releases ago send during a deploy.
            "/acquire" | "/release" => {
                let m: LeaseMsg = req.json().await?;
                self.apply(&[m]);
                self.save(role).await?;
                Response::from_json(&serde_json::json!({"ok": true}))
            }
            // Starts and ends from one isolate, in order (ttl 0 = the stream ended).
            "/batch" => {
                let ops: Vec<LeaseMsg> = req.json().await?;
                self.apply(&ops);
                self.save(role).await?;
                self.push_now(role).await;
                Response::from_json(&serde_json::json!({"ok": true, "count": self.count()}))
            }
            "/part" => {
                let p: PartCount = req.json().await?;
                self.parts.borrow_mut().set(&p.k.to_string(), p.count, now());
                let total = self.parts.borrow().total(now());
                self.push_now(role).await;
                Response::from_json(&serde_json::json!({"ok": true, "total": total}))
            }
            "/counts" => {
                let counts: HashMap<String, u32> = match role {
                    Role::Node { node_id } => HashMap::from([(node_id.to_string(), self.parts.borrow().total(now()))]),
                    _ => self.registry.borrow().as_ref().expect("loaded").counts(now()).into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                };
                Response::from_json(&counts)
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        let role = self.role(None).await?;
        self.load().await?;
        let pruned = self.registry.borrow_mut().as_mut().expect("loaded").prune(now());
        if pruned > 0 {
            self.save(role).await?;
        } else {
            self.arm(self.registry.borrow().as_ref().and_then(|r| r.next_expiry())).await?;
        }
        if let Err(e) = self.push(role).await {
            worker::console_warn!("stream count push failed (retried): {e}");
            self.arm(Some(now() + crate::state::fanout::PUSH_MS)).await?;
        }
        Response::ok(format!("pruned {pruned}"))
    }
}

async fn send<T: Serialize>(env: &Env, name: &str, path: &str, msg: &T) -> Result<()> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(msg)?.into()));
    let req = Request::new_with_init(&format!("https://streams{path}"), &init)?;
    let r = env.durable_object("STREAMS")?.id_from_name(name)?.get_stub()?.fetch_with_request(req).await?;
    if r.status_code() != 200 {
        return Err(worker::Error::RustError(format!("streams {name} answered {}", r.status_code())));
    }
    Ok(())
}

/// Lease changes of one isolate (see `edge::batch`), one call per node, to the isolate's part.
pub async fn send_batch(env: &Env, part: u32, ops: Vec<LeaseMsg>) -> Result<()> {
    let mut by_node: HashMap<i64, Vec<LeaseMsg>> = HashMap::new();
    for op in ops {
        by_node.entry(op.node_id).or_default().push(op);
    }
    let k = part % STREAM_SHARDS;
    let calls = by_node.into_iter().map(|(node_id, ops)| async move { send(env, &part_name(node_id, k), &format!("/batch?node={node_id}&k={k}"), &ops).await });
    let mut first_err = None;
    for r in futures::future::join_all(calls).await {
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Every node's active streams (the cron's warm-up deferral, the admin load view).
pub async fn counts(env: &Env) -> Result<HashMap<i64, u32>> {
    coordinator::stream_counts(env).await
}
