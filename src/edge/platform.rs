//! The core's `Platform` roles on Workers (one `impl` per role trait): fetch with abort-on-drop, timers, randomness,
//! round-robin counters in a Durable Object, isolate-local passive health, `wait_until`, and
//! the limits store the settings chose (`backend.limits`: the Limiter Durable Object or Redis).

use super::batch::{self, Batch};
use super::durable::{counters, limiter, response_store, streams, usage_buffer};
use crate::state::response_store::{Bounds, Lookup, RecentCache, StoredResponse};
use super::redis::{self, Redis};
use crate::limits::lease::{LeaseStore, Leases, Ticket};
use crate::limits::{Decision, Grant, Rule, SyncMsg};
use crate::net::{ByteStream, OriginReply, Outbound};
use crate::platform::{Accounting, Client, Credentials, Origins, ResponseState, Routing, Settlement, Streams};
use crate::routing::plan::NodeState;
use crate::settings::{LimitsBackend, Settings};
use crate::platform::Timer;
use crate::usage::UsageRecord;
use futures::future::LocalBoxFuture;
use futures::StreamExt;
use std::cell::RefCell;
use std::rc::Rc;
use std::collections::HashMap;
use std::time::Duration;
use super::pump::AbortOnDrop;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{web_sys, Context, Delay, Env};

#[derive(Default, Clone, Copy)]
struct NodeLive {
    active_streams: u32,
}

/// A stream's lease outlives any normal stream; it only bounds how long a dead isolate's
/// stream keeps counting.
const STREAM_LEASE_MS: u64 = 15 * 60 * 1000;

thread_local! {
    /// Cross-isolate active-stream counts, from the version polls (see `set_global_streams`).
    static GLOBAL_STREAMS: RefCell<HashMap<i64, u32>> = RefCell::new(HashMap::new());
    // Stream counts seen by this isolate (passive health is in `breakers`).
    static NODES: RefCell<HashMap<i64, NodeLive>> = RefCell::new(HashMap::new());
    static LOCAL_COUNTERS: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
    /// This isolate's admission leases (see `limits::lease`).
    static LEASES: Leases = Leases::default();
}

/// Usage records ride to the UsageBuffer in one call per batch (see `batch`): 100 ms, or 1 s
/// while the shard last written reported a large backlog (`state::usage_shards`), so a
/// struggling pipeline gets ten times fewer calls for the same records.
static USAGE_SLOW: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Stream leases (start and end) ride to the Streams objects the same way, one call per node per
/// `fanout::STREAM_BATCH_MS`, to this isolate's part of the node (`ISOLATE_PART`): a stream
/// costs no Durable Object call of its own, and an isolate's starts and ends for a node share
/// a call.
const STREAM_BATCH_MS: u64 = crate::state::fanout::STREAM_BATCH_MS;

thread_local! {
    static ISOLATE_PART: u32 = (js_sys::Math::random() * crate::state::fanout::STREAM_SHARDS as f64) as u32;
}

thread_local! {
    static USAGE_BATCH: RefCell<Batch<UsageRecord>> = const { RefCell::new(Batch::new()) };
    static STREAM_BATCH: RefCell<Batch<streams::LeaseMsg>> = const { RefCell::new(Batch::new()) };
    static RESPONSE_BATCH: RefCell<Batch<(i64, Bounds, StoredResponse)>> = const { RefCell::new(Batch::new()) };
    /// Stored Responses this isolate wrote lately: a next turn finds them before (and
    /// whether or not) the batched write reached the user's ResponseStore.
    static RECENT_RESPONSES: RefCell<RecentCache> = RefCell::new(RecentCache::default());
}

/// Stored Responses ride to their users' ResponseStore objects like usage records: one call
/// per user per batch, after the answer.
const RESPONSE_BATCH_MS: u64 = crate::state::response_store::BATCH_MS;

fn buffer_response(env: Env, item: (i64, Bounds, StoredResponse)) -> Option<LocalBoxFuture<'static, ()>> {
    batch::push(&RESPONSE_BATCH, item, RESPONSE_BATCH_MS, move |items| async move {
        let mut by_user: Vec<(i64, Bounds, Vec<StoredResponse>)> = Vec::new();
        for (user, bounds, rec) in items {
            match by_user.iter_mut().find(|(u, _, _)| *u == user) {
                Some((_, b, recs)) => {
                    *b = bounds;
                    recs.push(rec);
                }
                None => by_user.push((user, bounds, vec![rec])),
            }
        }
        let sends = by_user.into_iter().map(|(user, bounds, recs)| {
            let env = env.clone();
            async move {
                let n = recs.len();
                if let Err(e) = response_store::put(&env, user, bounds, recs).await {
                    worker::console_error!("{n} stored responses of user {user} not written (this isolate still holds them for a while): {e}");
                }
            }
        });
        futures::future::join_all(sends).await;
    })
}

fn buffer_usage(env: Env, record: UsageRecord) -> Option<LocalBoxFuture<'static, ()>> {
    let delay = crate::state::usage_shards::batch_ms(USAGE_SLOW.load(std::sync::atomic::Ordering::Relaxed));
    batch::push(&USAGE_BATCH, record, delay, move |records| async move {
        match usage_buffer::append(&env, &records).await {
            Ok(slow) => USAGE_SLOW.store(slow, std::sync::atomic::Ordering::Relaxed),
            Err(e) => {
                // The one place records could be lost: say so loudly, with the records.
                for r in &records {
                    worker::console_error!("usage record not buffered ({e}): {}", serde_json::to_string(r).unwrap_or_default());
                }
            }
        }
    })
}

fn buffer_lease(env: Env, msg: streams::LeaseMsg) -> Option<LocalBoxFuture<'static, ()>> {
    batch::push(&STREAM_BATCH, msg, STREAM_BATCH_MS, move |ops| async move {
        let n = ops.len();
        if let Err(e) = streams::send_batch(&env, ISOLATE_PART.with(|p| *p), ops).await {
            worker::console_warn!("{n} stream lease changes not recorded (leases expire on their own): {e}");
        }
    })
}

pub struct IsolateNodes;

impl NodeState for IsolateNodes {
    fn gate(&self, node_id: i64, model: &str, _now_ms: u64) -> crate::routing::breaker::Gate {
        // Breakers run on the real clock everywhere (the Breakers object has no test offset).
        super::breakers::gate(node_id, model, js_sys::Date::now() as u64)
    }
    fn active_streams(&self, node_id: i64) -> u32 {
        let local = NODES.with(|n| n.borrow().get(&node_id).map(|l| l.active_streams).unwrap_or(0));
        let global = GLOBAL_STREAMS.with(|g| g.borrow().get(&node_id).copied().unwrap_or(0));
        local.max(global)
    }
}

/// Every node's stream count across isolates, as the last version poll brought it.
pub fn set_global_streams(counts: HashMap<String, u32>) {
    GLOBAL_STREAMS.with(|g| *g.borrow_mut() = counts.into_iter().filter_map(|(k, v)| k.parse().ok().map(|k| (k, v))).collect());
}

pub struct WorkerPlatform {
    env: Env,
    /// The fetch event's context (None in the cron, which has no client to answer first).
    ctx: Option<Context>,
    secrets: Rc<Secrets>,
    limits: Limits,
    responses_bounds: Bounds,
    /// The client request's `AbortSignal` (aborted when the client hangs up; needs the
    /// `enable_request_signal` compatibility flag), if there is a client.
    client_signal: Option<wasm_bindgen::JsValue>,
    /// OTLP spans and Analytics Engine datapoints for finished requests (`observe`); off by default.
    telemetry: super::observe::Telemetry,
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function signalAborted(signal) {
  return !!(signal && signal.aborted);
}
export function onAbort(signal) {
  return new Promise((resolve) => {
    if (!signal || typeof signal.addEventListener !== "function") return; // never
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = signalAborted)]
    fn signal_aborted(signal: &wasm_bindgen::JsValue) -> bool;
    #[wasm_bindgen(js_name = onAbort)]
    fn on_abort(signal: &wasm_bindgen::JsValue) -> js_sys::Promise;
}

/// What the platform reads from the environment, once per isolate: secrets only change with a
/// new deployment (a new isolate), and deriving the sealing key costs a hash and an AES key
/// schedule that every request would otherwise pay.
struct Secrets {
    jwt_secret: Vec<u8>,
    sealer: crate::auth::secrets::Sealer,
    /// Test hook: `CLOCK_OFFSET_MS` shifts the clock limits see (e.g. to cross UTC midnight).
    clock_offset_ms: i64,
}

thread_local! {
    static SECRETS: RefCell<Option<Rc<Secrets>>> = const { RefCell::new(None) };
}

fn secrets(env: &Env) -> Rc<Secrets> {
    SECRETS.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(|| {
                let jwt_secret = env.secret("JWT_SECRET").map(|s| s.to_string()).unwrap_or_default().into_bytes();
                if jwt_secret.is_empty() {
                    worker::console_error!("JWT_SECRET is not set: every user token will be rejected");
                }
                let sealer = super::env::sealer(env);
                let clock_offset_ms = env.var("CLOCK_OFFSET_MS").ok().and_then(|v| v.to_string().parse().ok()).unwrap_or(0);
                Rc::new(Secrets { jwt_secret, sealer, clock_offset_ms })
            })
            .clone()
    })
}

/// Where this request's limits are admitted and settled (the same store for both).
#[derive(Clone)]
enum Limits {
    DurableObjects,
    Redis(Option<Redis>),
}

impl WorkerPlatform {
    pub fn new(env: Env, ctx: impl Into<Option<Context>>) -> Self {
        let secrets = secrets(&env);
        WorkerPlatform { env, ctx: ctx.into(), secrets, limits: Limits::DurableObjects, responses_bounds: Bounds::default(), client_signal: None, telemetry: Default::default() }
    }

    /// The client request's signal, so a hang-up before the first byte ends the attempts.
    pub fn with_client_signal(mut self, signal: Option<wasm_bindgen::JsValue>) -> Self {
        self.client_signal = signal.filter(|s| !s.is_undefined() && !s.is_null());
        self
    }

    /// Use the limits store the snapshot's settings chose.
    pub fn with_settings(mut self, s: &Settings) -> Self {
        self.limits = match s.limits_backend {
            LimitsBackend::DurableObjects => Limits::DurableObjects,
            LimitsBackend::Redis => Limits::Redis(redis::from_env(&self.env, s.redis_timeout_ms)),
        };
        self.responses_bounds = s.responses_bounds();
        self.telemetry = super::observe::Telemetry::from_settings(&self.env, s);
        super::breakers::configure(super::breakers::config(s));
        self
    }
}

const LIMITER_TIMEOUT_MS: u64 = 5_000;

/// The limits store as the leases see it: the Limiter Durable Object or Redis, per settings.
struct LimitsStore {
    env: Env,
    limits: Limits,
    clock_offset_ms: i64,
}

impl LeaseStore for LimitsStore {
    fn sync(&self, scope: &str, msg: SyncMsg) -> LocalBoxFuture<'static, Result<Grant, String>> {
        let (env, limits, scope) = (self.env.clone(), self.limits.clone(), scope.to_string());
        Box::pin(async move {
            match limits {
                Limits::DurableObjects => {
                    // Bounded like Redis calls are: an unanswered Limiter must not hold the requests
                    // of its scope (they wait for the lease) past a deadline.
                    let call = std::pin::pin!(limiter::sync(&env, &scope, &msg));
                    match futures::future::select(call, Delay::from(Duration::from_millis(LIMITER_TIMEOUT_MS))).await {
                        futures::future::Either::Left((r, _)) => r.map_err(|e| e.to_string()),
                        futures::future::Either::Right(_) => Err(format!("the Limiter did not answer within {LIMITER_TIMEOUT_MS} ms")),
                    }
                }
                Limits::Redis(Some(r)) => crate::limits::redis::sync(&r.client, &r.prefix, &scope, &msg).await.map_err(|e| format!("redis: {e}")),
                Limits::Redis(None) => Err(redis::NOT_CONFIGURED.to_string()),
            }
        })
    }
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(Delay::from(Duration::from_millis(ms)))
    }
    fn now_ms(&self) -> u64 {
        (js_sys::Date::now() as i64 + self.clock_offset_ms) as u64
    }
    fn log(&self, line: &str) {
        worker::console_error!("{line}");
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The runtime's global fetch.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &web_sys::RequestInit) -> js_sys::Promise;
}

/// Origin bodies up to this size that declare a Content-Length are read in one piece.
const WHOLE_BODY_MAX: usize = 4 << 20;

impl WorkerPlatform {
    pub(super) fn env(&self) -> &Env {
        &self.env
    }

    /// A scope's rule states as its store counts them, without taking anything (`GET /v1/me`).
    pub(super) async fn limit_states(&self, scope: &str, rules: &[crate::limits::Rule]) -> Result<Vec<crate::limits::RuleState>, String> {
        let msg = crate::limits::SyncMsg { rules: rules.to_vec(), now_ms: Timer::now_ms(self), want: 0, returns: Vec::new(), tokens: 0 };
        self.limits_store().sync(scope, msg).await.map(|g| g.decision.states)
    }

    fn limits_store(&self) -> std::rc::Rc<dyn LeaseStore> {
        std::rc::Rc::new(LimitsStore { env: self.env.clone(), limits: self.limits.clone(), clock_offset_ms: self.secrets.clock_offset_ms })
    }

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
        (js_sys::Date::now() as i64 + self.secrets.clock_offset_ms) as u64
    }
}

impl Origins for WorkerPlatform {
    async fn fetch(&self, out: Outbound) -> Result<OriginReply, String> {
        // Straight through the runtime's fetch: workers-rs's wrapper reads each answer's `cf`
        // and `webSocket` and reads bodies through a stream reader even when whole; on the hot
        // path those JS calls cost more than the gateway's own logic.
        let js = |e: wasm_bindgen::JsValue| worker::Error::from(e).to_string();
        let headers = web_sys::Headers::new().map_err(js)?;
        for (k, v) in &out.headers {
            headers.set(k, v).map_err(|e| format!("bad header {k}: {}", js(e)))?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(out.method.as_str());
        init.set_headers(&headers);
        if let Some(b) = &out.body {
            init.set_body(&js_sys::Uint8Array::from(b.as_slice()));
        }
        let controller = web_sys::AbortController::new().map_err(js)?;
        init.set_signal(Some(&controller.signal()));
        let mut guard = AbortOnDrop(Some(controller));
        let resp: web_sys::Response = JsFuture::from(global_fetch(&out.url, &init)).await.map_err(js)?.unchecked_into();
        let status = resp.status();
        let headers: Vec<(String, String)> = worker::Headers(resp.headers()).entries().collect();
        let length = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse::<usize>().ok());
        if length.is_some_and(|n| n <= WHOLE_BODY_MAX) {
            // A body of known, modest size is a finished answer, not a stream (SSE and NDJSON
            // streams come chunked): one arrayBuffer read costs one promise where a reader costs
            // one per chunk plus a lock to release, and once it is read there is nothing to abort.
            // Read here, under the caller's first-byte deadline, so the body is ready when the
            // caller reads it (no second deadline timer).
            let buf = JsFuture::from(resp.array_buffer().map_err(js)?).await.map_err(js)?;
            guard.disarm();
            let bytes: Result<Vec<u8>, String> = Ok(js_sys::Uint8Array::new(&buf).to_vec());
            return Ok(OriginReply { status, headers, body: futures::stream::iter([bytes]).boxed_local(), native: None });
        }
        let (body, native): (ByteStream, _) = match resp.body() {
            Some(s) => super::pump::upstream(&s, guard),
            None => {
                guard.disarm();
                (futures::stream::empty().boxed_local(), None)
            }
        };
        Ok(OriginReply { status, headers, body, native })
    }

    fn open_secret(&self, sealed: &str) -> Option<String> {
        let key = self.secrets.sealer.open(sealed);
        if key.is_none() {
            worker::console_error!("a node API key could not be opened: was SECRETS_KEY changed?");
        }
        key
    }
}

impl Routing for WorkerPlatform {
    fn random(&self) -> f64 {
        js_sys::Math::random()
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

    fn attempt_begins(&self, node_id: i64, model: &str, force: bool) -> bool {
        super::breakers::claim(node_id, model, js_sys::Date::now() as u64, force)
    }

    fn attempt_ended(&self, node_id: i64, model: &str, scope: crate::origins::failure::Scope, outcome: &crate::routing::breaker::Outcome) {
        if let crate::routing::breaker::Outcome::Failure { reason, .. } = outcome {
            worker::console_warn!("attempt on node {node_id} for '{model}' failed ({reason}); counted against the {scope:?}");
        }
        if let Some(send) = super::breakers::record(&self.env, node_id, model, scope, outcome, js_sys::Date::now() as u64) {
            self.background(send);
        }
    }

    async fn clear_breakers(&self, node_id: i64) {
        super::breakers::clear(&self.env, node_id).await;
    }
}

impl Client for WorkerPlatform {
    fn client_gone(&self) -> bool {
        self.client_signal.as_ref().is_some_and(signal_aborted)
    }

    fn client_left(&self) -> LocalBoxFuture<'static, ()> {
        match &self.client_signal {
            Some(s) => {
                let p = JsFuture::from(on_abort(s));
                Box::pin(async move {
                    let _ = p.await;
                })
            }
            None => Box::pin(futures::future::pending()),
        }
    }
}

impl Streams for WorkerPlatform {
    fn stream_started(&self, node_id: i64, lease: &str) {
        NODES.with(|n| n.borrow_mut().entry(node_id).or_default().active_streams += 1);
        let msg = streams::LeaseMsg { id: lease.to_string(), node_id, ttl_ms: STREAM_LEASE_MS };
        if let Some(send) = buffer_lease(self.env.clone(), msg) {
            self.background(send);
        }
    }

    fn stream_ended(&self, node_id: i64, lease: &str) {
        NODES.with(|n| {
            let mut n = n.borrow_mut();
            let l = n.entry(node_id).or_default();
            l.active_streams = l.active_streams.saturating_sub(1);
        });
        let msg = streams::LeaseMsg { id: lease.to_string(), node_id, ttl_ms: 0 };
        if let Some(send) = buffer_lease(self.env.clone(), msg) {
            self.background(send);
        }
    }

    async fn active_streams(&self) -> Result<HashMap<i64, u32>, String> {
        streams::counts(&self.env).await.map_err(|e| e.to_string())
    }
}

impl Accounting for WorkerPlatform {
    fn request_id(&self) -> String {
        let a = (js_sys::Math::random() * 4294967296.0) as u64;
        let b = (js_sys::Math::random() * 4294967296.0) as u64;
        let t = js_sys::Date::now() as u64;
        format!("req_{t:x}{a:08x}{b:08x}")
    }

    async fn admit(&self, scope: &str, rules: &[Rule], _now_ms: u64) -> Result<(Decision, Ticket), String> {
        let leases = LEASES.with(|l| l.clone());
        leases.admit(self.limits_store(), scope, rules).await
    }

    fn finish(&self, record: UsageRecord, settle: Vec<Settlement>) {
        let tokens = record.prompt_tokens + record.completion_tokens;
        let release = !record.reached_origin;
        // Each scope's flush (one per lease, shared by its requests) is kept alive by every
        // request that used the lease, so leftovers and tokens reach the store when it ends.
        let mut flushes: Vec<LocalBoxFuture<'static, ()>> = Vec::new();
        if !settle.is_empty() {
            let store = self.limits_store();
            LEASES.with(|l| {
                flushes.extend(settle.iter().filter_map(|s| if s.cost { l.finish(store.clone(), &s.scope, s.ticket, record.cost_micros, true) } else { l.finish(store.clone(), &s.scope, s.ticket, tokens, release) }))
            });
        }
        if self.telemetry.is_on() {
            flushes.extend(self.telemetry.finish(&self.env, &record));
        }
        // Postgres refuses NUL and overlong index keys: a record is made safe before it is stored.
        flushes.extend(buffer_usage(self.env.clone(), record.sanitized()));
        if !flushes.is_empty() {
            self.background(async move {
                futures::future::join_all(flushes).await;
            });
        }
    }

    fn log_payload(&self, entry: crate::observe::entry::PayloadEntry) {
        if let Some(send) = super::observe::log_payload(&self.env, entry) {
            self.background(send);
        }
    }

    fn trace_content(&self, request_id: &str, body: &[u8], max: usize) {
        super::observe::keep_content(request_id, body, max);
    }
}

impl Credentials for WorkerPlatform {
    fn jwt_secret(&self) -> &[u8] {
        &self.secrets.jwt_secret
    }

    async fn verify_rs256(&self, n: &str, e: &str, message: &[u8], signature: &[u8]) -> Result<bool, String> {
        super::webcrypto::verify_rs256(n, e, message, signature).await
    }
}

impl ResponseState for WorkerPlatform {
    async fn load_responses(&self, user_id: i64, lookup: &Lookup) -> Result<Vec<Rc<StoredResponse>>, String> {
        let now = self.now_ms();
        let (mut found, rest) = RECENT_RESPONSES.with(|c| {
            let mut c = c.borrow_mut();
            crate::state::response_store::resolve_with(lookup, |id| c.get(user_id, id, now))
        });
        if !rest.is_empty() {
            let more = response_store::load(&self.env, user_id, &rest).await.map_err(|e| format!("the response store is unavailable: {e}"))?;
            for r in more {
                if !found.iter().any(|f| f.id == r.id) {
                    found.push(r);
                }
            }
        }
        Ok(found)
    }

    fn store_response(&self, user_id: i64, record: StoredResponse) {
        let bytes = if record.size > 0 { record.size } else { record.to_json().len() };
        RECENT_RESPONSES.with(|c| c.borrow_mut().insert(user_id, Rc::new(record.clone()), bytes, self.now_ms()));
        if let Some(send) = buffer_response(self.env.clone(), (user_id, self.responses_bounds, record)) {
            self.background(send);
        }
    }

    async fn delete_response(&self, user_id: i64, id: &str) -> Result<bool, String> {
        let local = RECENT_RESPONSES.with(|c| {
            let mut c = c.borrow_mut();
            let had = c.get(user_id, id, self.now_ms()).is_some();
            c.remove(user_id, id);
            had
        });
        batch::retain(&RESPONSE_BATCH, |(u, _, r)| !(*u == user_id && r.id == id));
        let stored = response_store::delete(&self.env, user_id, id).await.map_err(|e| format!("the response store is unavailable: {e}"))?;
        Ok(stored || local)
    }
}
