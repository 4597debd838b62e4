//! The core's `Platform` port on Workers: fetch with abort-on-drop, timers, randomness,
//! round-robin counters in a Durable Object, isolate-local passive health, `wait_until`, and
//! the limits store the settings chose (`backend.limits`: the Limiter Durable Object or Redis).

use super::durable::{counters, limiter, streams, usage_buffer};
use super::redis::{self, Redis};
use crate::limits::{Decision, Rule};
use crate::settings::{LimitsBackend, Settings};
use crate::platform::Settlement;
use crate::net::{ByteStream, OriginReply, Outbound};
use crate::platform::Platform;
use crate::routing::plan::NodeState;
use crate::stream::relay::Timer;
use crate::usage::UsageRecord;
use futures::future::LocalBoxFuture;
use futures::StreamExt;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use super::pump::AbortOnDrop;
use worker::{AbortController, Context, Delay, Env, Fetch, Headers, Method, Request, RequestInit, ResponseBody};

#[derive(Default, Clone, Copy)]
struct NodeLive {
    cooling_until: u64,
    active_streams: u32,
}

/// A stream's lease outlives any normal stream; it only bounds how long a dead isolate's
/// stream keeps counting.
const STREAM_LEASE_MS: u64 = 15 * 60 * 1000;

thread_local! {
    /// Cross-isolate active-stream counts, refreshed in the background (see `refresh_streams`).
    static GLOBAL_STREAMS: RefCell<HashMap<i64, u32>> = RefCell::new(HashMap::new());
    // Passive health and stream counts seen by this isolate. The cron's probes are the
    // cross-isolate view (snapshot health); this makes a failing node drop out immediately here.
    static NODES: RefCell<HashMap<i64, NodeLive>> = RefCell::new(HashMap::new());
    static LOCAL_COUNTERS: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
}

/// Usage records of concurrent requests ride to the UsageBuffer in one call per shard: every
/// request's `wait_until` awaits the shared flush, so the isolate stays alive until its record
/// is stored, while the number of Durable Object calls drops under load.
const USAGE_BATCH_MS: u64 = 25;

type Flush = futures::future::Shared<LocalBoxFuture<'static, ()>>;

#[derive(Default)]
struct UsageBatch {
    records: Vec<UsageRecord>,
    flush: Option<Flush>,
}

thread_local! {
    static USAGE_BATCH: RefCell<UsageBatch> = RefCell::new(UsageBatch::default());
}

fn buffer_usage(env: Env, record: UsageRecord) -> Flush {
    use futures::FutureExt;
    USAGE_BATCH.with(|b| {
        let mut b = b.borrow_mut();
        b.records.push(record);
        if let Some(f) = &b.flush {
            return f.clone();
        }
        let flush = async move {
            Delay::from(Duration::from_millis(USAGE_BATCH_MS)).await;
            let records = USAGE_BATCH.with(|b| {
                let mut b = b.borrow_mut();
                b.flush = None;
                std::mem::take(&mut b.records)
            });
            if let Err(e) = usage_buffer::append(&env, &records).await {
                // The one place records could be lost: say so loudly, with the records.
                for r in &records {
                    worker::console_error!("usage record not buffered ({e}): {}", serde_json::to_string(r).unwrap_or_default());
                }
            }
        }
        .boxed_local()
        .shared();
        b.flush = Some(flush.clone());
        flush
    })
}

pub struct IsolateNodes;

impl NodeState for IsolateNodes {
    fn cooling_until(&self, node_id: i64) -> Option<u64> {
        NODES.with(|n| n.borrow().get(&node_id).map(|l| l.cooling_until).filter(|u| *u > 0))
    }
    fn active_streams(&self, node_id: i64) -> u32 {
        let local = NODES.with(|n| n.borrow().get(&node_id).map(|l| l.active_streams).unwrap_or(0));
        let global = GLOBAL_STREAMS.with(|g| g.borrow().get(&node_id).copied().unwrap_or(0));
        local.max(global)
    }
}

/// Background: pull the global stream counts for the least-busy strategy.
pub async fn refresh_streams(env: &Env) {
    match streams::counts(env).await {
        Ok(c) => GLOBAL_STREAMS.with(|g| *g.borrow_mut() = c),
        Err(e) => worker::console_warn!("stream counts unavailable, using this isolate's: {e}"),
    }
}

pub struct WorkerPlatform {
    env: Env,
    /// The fetch event's context (None in the cron, which has no client to answer first).
    ctx: Option<Context>,
    jwt_secret: Vec<u8>,
    sealer: crate::auth::secrets::Sealer,
    /// Test hook: `CLOCK_OFFSET_MS` shifts the clock limits see (e.g. to cross UTC midnight).
    clock_offset_ms: i64,
    limits: Limits,
}

/// Where this request's limits are admitted and settled (the same store for both).
#[derive(Clone)]
enum Limits {
    DurableObjects,
    Redis(Option<Redis>),
}

impl WorkerPlatform {
    pub fn new(env: Env, ctx: impl Into<Option<Context>>) -> Self {
        let ctx = ctx.into();
        let jwt_secret = env.secret("JWT_SECRET").map(|s| s.to_string()).unwrap_or_default().into_bytes();
        if jwt_secret.is_empty() {
            worker::console_error!("JWT_SECRET is not set: every user token will be rejected");
        }
        let sealer = super::admin::sealer(&env);
        let clock_offset_ms = env.var("CLOCK_OFFSET_MS").ok().and_then(|v| v.to_string().parse().ok()).unwrap_or(0);
        WorkerPlatform { env, ctx, jwt_secret, sealer, clock_offset_ms, limits: Limits::DurableObjects }
    }

    /// Use the limits store the snapshot's settings chose.
    pub fn with_settings(mut self, s: &Settings) -> Self {
        self.limits = match s.limits_backend {
            LimitsBackend::DurableObjects => Limits::DurableObjects,
            LimitsBackend::Redis => Limits::Redis(redis::from_env(&self.env, s.redis_timeout_ms)),
        };
        self
    }
}

async fn settle_one(env: &Env, limits: &Limits, s: Settlement, now: u64, tokens: u64, release: bool) -> Result<(), String> {
    match limits {
        Limits::DurableObjects => {
            let msg = limiter::SettleMsg { rules: s.rules, now_ms: now, admitted_ms: s.admitted_ms, tokens, release };
            limiter::settle(env, &s.scope, &msg).await.map_err(|e| e.to_string())
        }
        Limits::Redis(Some(r)) => crate::limits::redis::settle(&r.client, &r.prefix, &s.scope, &s.rules, now, s.admitted_ms, tokens, release).await.map_err(|e| format!("redis: {e}")),
        Limits::Redis(None) => Err(redis::NOT_CONFIGURED.to_string()),
    }
}

impl WorkerPlatform {
    /// Work that must finish but never delays the client.
    fn background(&self, work: impl std::future::Future<Output = ()> + 'static) {
        match &self.ctx {
            Some(ctx) => ctx.wait_until(work),
            None => wasm_bindgen_futures::spawn_local(work),
        }
    }
}

impl Timer for WorkerPlatform {
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(Delay::from(Duration::from_millis(ms)))
    }
    fn now_ms(&self) -> u64 {
        (js_sys::Date::now() as i64 + self.clock_offset_ms) as u64
    }
}

fn method(m: &str) -> Method {
    match m {
        "GET" => Method::Get,
        "DELETE" => Method::Delete,
        "PUT" => Method::Put,
        "HEAD" => Method::Head,
        _ => Method::Post,
    }
}

impl Platform for WorkerPlatform {
    async fn fetch(&self, out: Outbound) -> Result<OriginReply, String> {
        let headers = Headers::new();
        for (k, v) in &out.headers {
            headers.set(k, v).map_err(|e| format!("bad header {k}: {e}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(method(out.method)).with_headers(headers);
        if let Some(b) = &out.body {
            init.with_body(Some(js_sys::Uint8Array::from(b.as_slice()).into()));
        }
        let req = Request::new_with_init(&out.url, &init).map_err(|e| format!("bad origin URL {}: {e}", out.url))?;
        let guard = AbortOnDrop(Some(AbortController::default()));
        let signal = guard.0.as_ref().map(|c| c.signal()).expect("controller present");
        let resp = Fetch::Request(req).send_with_signal(&signal).await.map_err(|e| e.to_string())?;
        let status = resp.status_code();
        let headers: Vec<(String, String)> = resp.headers().entries().collect();
        let (body, native): (ByteStream, _) = match resp.body() {
            ResponseBody::Stream(s) => super::pump::upstream(s, guard),
            _ => (futures::stream::empty().boxed_local(), None),
        };
        Ok(OriginReply { status, headers, body, native })
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }

    fn request_id(&self) -> String {
        let a = (js_sys::Math::random() * 4294967296.0) as u64;
        let b = (js_sys::Math::random() * 4294967296.0) as u64;
        let t = js_sys::Date::now() as u64;
        format!("req_{t:x}{a:08x}{b:08x}")
    }

    async fn counters(&self, keys: &[String]) -> HashMap<String, u64> {
        if keys.is_empty() {
            return HashMap::new();
        }
        match counters::next(&self.env, &keys[0], keys).await {
            Ok(m) => m,
            Err(e) => {
                // Degrade to per-isolate rotation rather than failing the request.
                worker::console_warn!("round-robin counters unavailable, rotating per isolate: {e}");
                LOCAL_COUNTERS.with(|c| {
                    let mut c = c.borrow_mut();
                    keys.iter()
                        .map(|k| {
                            let v = c.entry(k.clone()).or_insert(0);
                            *v += 1;
                            (k.clone(), *v - 1)
                        })
                        .collect()
                })
            }
        }
    }

    fn nodes(&self) -> &dyn NodeState {
        &IsolateNodes
    }

    fn node_failed(&self, node_id: i64, cooldown_ms: u64, reason: &str) {
        let until = self.now_ms() + cooldown_ms;
        worker::console_warn!("node {node_id} failed ({reason}); cooling down {cooldown_ms} ms");
        NODES.with(|n| n.borrow_mut().entry(node_id).or_default().cooling_until = until);
    }

    fn node_ok(&self, node_id: i64) {
        NODES.with(|n| {
            if let Some(l) = n.borrow_mut().get_mut(&node_id) {
                l.cooling_until = 0;
            }
        });
    }

    fn stream_started(&self, node_id: i64, lease: &str) {
        NODES.with(|n| n.borrow_mut().entry(node_id).or_default().active_streams += 1);
        let env = self.env.clone();
        let msg = streams::LeaseMsg { id: lease.to_string(), node_id, ttl_ms: STREAM_LEASE_MS };
        self.background(async move {
            if let Err(e) = streams::send(&env, "/acquire", &msg).await {
                worker::console_warn!("stream lease not recorded: {e}");
            }
        });
    }

    fn stream_ended(&self, node_id: i64, lease: &str) {
        NODES.with(|n| {
            let mut n = n.borrow_mut();
            let l = n.entry(node_id).or_default();
            l.active_streams = l.active_streams.saturating_sub(1);
        });
        let env = self.env.clone();
        let msg = streams::LeaseMsg { id: lease.to_string(), node_id, ttl_ms: 0 };
        self.background(async move {
            if let Err(e) = streams::send(&env, "/release", &msg).await {
                worker::console_warn!("stream lease not released (it will expire): {e}");
            }
        });
    }

    async fn active_streams(&self) -> Result<HashMap<i64, u32>, String> {
        streams::counts(&self.env).await.map_err(|e| e.to_string())
    }

    fn jwt_secret(&self) -> &[u8] {
        &self.jwt_secret
    }

    fn open_secret(&self, sealed: &str) -> Option<String> {
        let key = self.sealer.open(sealed);
        if key.is_none() {
            worker::console_error!("a node API key could not be opened: was SECRETS_KEY changed?");
        }
        key
    }

    async fn admit(&self, scope: &str, rules: &[Rule], now_ms: u64) -> Result<Decision, String> {
        match &self.limits {
            Limits::DurableObjects => limiter::admit(&self.env, scope, &limiter::AdmitMsg { rules: rules.to_vec(), now_ms }).await.map_err(|e| e.to_string()),
            Limits::Redis(Some(r)) => crate::limits::redis::admit(&r.client, &r.prefix, scope, rules, now_ms).await.map_err(|e| format!("redis: {e}")),
            Limits::Redis(None) => Err(redis::NOT_CONFIGURED.to_string()),
        }
    }

    fn finish(&self, record: UsageRecord, settle: Vec<Settlement>) {
        let env = self.env.clone();
        let now = self.now_ms();
        let limits = self.limits.clone();
        let work = async move {
            let tokens = record.prompt_tokens + record.completion_tokens;
            let release = !record.reached_origin;
            for s in settle {
                // Nothing to settle: the request was counted at admission and no rule counts tokens.
                if !release && !s.rules.iter().any(|r| r.max_tokens.is_some()) {
                    continue;
                }
                let scope = s.scope.clone();
                if let Err(e) = settle_one(&env, &limits, s, now, tokens, release).await {
                    worker::console_error!("limits settle for {scope} failed: {e}");
                }
            }
            buffer_usage(env, record).await;
        };
        self.background(work);
    }
}
