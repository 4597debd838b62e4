//! The ports the core needs from its host, as role traits: a piece of the core asks only for
//! the roles it uses (`origins::call` needs `Timer + Origins`, the maintenance jobs add
//! `Streams`), and a test fake implements only those. `Platform` is all of them: what the
//! request pipeline and the admin API take. The Worker implements them in `edge/`; native
//! tests use `fake::FakePlatform`. Futures are `!Send` (JS promises), hence no Send bounds.

#[cfg(not(target_arch = "wasm32"))]
pub mod fake;
pub mod timer;

use crate::limits::lease::Ticket;
use crate::limits::{Decision, Rule};
use crate::net::{OriginReply, Outbound};
use crate::origins::failure::Scope;
use crate::routing::breaker::Outcome;
use crate::routing::plan::NodeState;
use crate::state::response_store::{Lookup, StoredResponse};
use crate::usage::UsageRecord;
use std::collections::HashMap;
pub use timer::Timer;

/// Reaching origins: the network and the node credentials a request to a node carries.
#[allow(async_fn_in_trait)]
pub trait Origins {
    /// Send a request to an origin. `Err` is a transport failure (refused, reset, DNS).
    async fn fetch(&self, req: Outbound) -> Result<OriginReply, String>;
    /// Open a sealed node API key.
    fn open_secret(&self, sealed: &str) -> Option<String>;
}

/// What routing reads and tells: node health (breakers), round-robin positions, randomness.
#[allow(async_fn_in_trait)]
pub trait Routing {
    /// Uniform in [0, 1).
    fn random(&self) -> f64;
    /// Round-robin counters: returns each key's value and increments it (globally consistent).
    async fn counters(&self, keys: &[String]) -> HashMap<String, u64>;
    fn nodes(&self) -> &dyn NodeState;
    /// An attempt on (node, model) is about to start: false when its breaker is half-open and
    /// another request holds the probe. `force`: the all-open fallback goes through anyway.
    fn attempt_begins(&self, node_id: i64, model: &str, force: bool) -> bool;
    /// How it went, scoped by what failed (see `origins::failure`), for the circuit breakers
    /// of this isolate and, batched, of all of them.
    fn attempt_ended(&self, node_id: i64, model: &str, scope: Scope, outcome: &Outcome);
    /// Forget the breakers of a node (and its pairs) in every isolate (admin health check,
    /// toggle). Best effort: logged when the shared view is unreachable.
    async fn clear_breakers(&self, node_id: i64);
}

/// The client on the other end of the request.
pub trait Client {
    /// The client hung up before its answer began.
    fn client_gone(&self) -> bool {
        false
    }
    /// Resolves when the client hangs up (never, where the host cannot tell).
    fn client_left(&self) -> futures::future::LocalBoxFuture<'static, ()> {
        Box::pin(futures::future::pending())
    }
}

/// Streams in flight per node, across isolates (least-busy routing, maintenance, the load view).
#[allow(async_fn_in_trait)]
pub trait Streams {
    /// A stream to a node began / ended; `lease` identifies it (the request id). Recorded
    /// globally as an expiring lease, never awaited on the client's path.
    fn stream_started(&self, node_id: i64, lease: &str);
    fn stream_ended(&self, node_id: i64, lease: &str);
    /// Active streams per node across all isolates (maintenance and the admin load view).
    async fn active_streams(&self) -> Result<HashMap<i64, u32>, String>;
}

/// Limits and usage: admission, and the one record per request.
#[allow(async_fn_in_trait)]
pub trait Accounting {
    /// A unique id for a request (usage records are idempotent on it).
    fn request_id(&self) -> String;
    /// Admit one request against a scope's rules: never more than the limits allow (the Worker
    /// admits from a lease the scope's store granted, see `limits::lease`). `Err` = the limits
    /// store is unreachable (bounded by a deadline). The ticket goes back in `finish`.
    async fn admit(&self, scope: &str, rules: &[Rule], now_ms: u64) -> Result<(Decision, Ticket), String>;
    /// The request is over (any outcome): settle the admitted scopes (tokens, or a release when
    /// no origin was reached) and queue the usage record. Must not block the client: the
    /// Worker runs it under `wait_until`.
    fn finish(&self, record: UsageRecord, settle: Vec<Settlement>);

    /// Keep a logged payload (`observe::payload`): written in the background, batched, never
    /// delaying the answer. Hosts without a store drop it.
    fn log_payload(&self, _entry: crate::observe::entry::PayloadEntry) {}
    /// The request body to put on this request's span (`otel.capture_content`), cut to `max`.
    fn trace_content(&self, _request_id: &str, _body: &[u8], _max: usize) {}
}

/// Verifying who is calling: the user-token secret and Access assertions.
#[allow(async_fn_in_trait)]
pub trait Credentials {
    fn jwt_secret(&self) -> &[u8];
    /// Verify an RS256 signature (RSASSA-PKCS1-v1_5, SHA-256) of `message` with the RSA public
    /// key given as a JWK's base64url modulus and exponent (Cloudflare Access assertions).
    /// `Err` = this platform cannot verify (the Worker uses WebCrypto).
    async fn verify_rs256(&self, _n: &str, _e: &str, _message: &[u8], _signature: &[u8]) -> Result<bool, String> {
        Err("RS256 verification is not available on this platform".into())
    }
}

/// Stored Responses of one user (`state::response_store`).
#[allow(async_fn_in_trait)]
pub trait ResponseState {
    /// The records a lookup names that exist and have not expired (this isolate's recent
    /// writes first). `Err` = the store is unreachable. Hosts without a store find nothing.
    async fn load_responses(&self, _user_id: i64, _lookup: &Lookup) -> Result<Vec<std::rc::Rc<StoredResponse>>, String> {
        Ok(Vec::new())
    }
    /// Keep a record: visible to this isolate at once, written to the store in the background
    /// (batched), never delaying the answer.
    fn store_response(&self, _user_id: i64, _record: StoredResponse) {}
    /// Delete one record; Ok(false) when there was none.
    async fn delete_response(&self, _user_id: i64, _id: &str) -> Result<bool, String> {
        Ok(false)
    }
}

/// Every role: what the request pipeline and the admin API take.
pub trait Platform: Timer + Origins + Routing + Client + Streams + Accounting + Credentials + ResponseState + 'static {}

impl<T: Timer + Origins + Routing + Client + Streams + Accounting + Credentials + ResponseState + 'static> Platform for T {}

/// A scope a request was admitted into, to settle when it ends.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub scope: String,
    pub rules: Vec<Rule>,
    pub admitted_ms: u64,
    pub ticket: Ticket,
    /// A budget (`costs::budget`): settled with the record's cost instead of its tokens, and
    /// always given back (what goes back is the request's reservation; the cost replaces it).
    pub cost: bool,
}
