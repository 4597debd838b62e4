//! The one test platform of every native test (admin dispatch, the cron's budget, the attempt
//! loop, `tests/pipeline.rs`): every role trait, with a scripted origin and a virtual clock,
//! recording what the core told it. Not compiled into the Worker (native builds only, so
//! integration tests under `tests/` can use it too).
//!
//! The origin is a function from the request to an `Answer`; `Answer` covers what
//! `tests/e2e/fake-origin.mjs` does on demand (answer, stream, error status with
//! `Retry-After`, HTML, refuse, hang before the headers, hang or break mid-body).

use super::{Accounting, Client, Credentials, Origins, ResponseState, Routing, Settlement, Streams, Timer};
use crate::limits::lease::Ticket;
use crate::limits::{Decision, Rule};
use crate::net::{ByteStream, OriginReply, Outbound};
use crate::origins::failure::Scope;
use crate::routing::breaker::{Gate, Outcome};
use crate::routing::plan::NodeState;
use crate::usage::UsageRecord;
use futures::future::LocalBoxFuture;
use futures::StreamExt;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

/// One piece of a scripted body.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Bytes(Vec<u8>),
    /// The connection breaks here (a reset mid-body).
    Break(String),
    /// Nothing more arrives, and the connection stays open.
    Hang,
}

/// What the scripted origin does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Status, headers and the body in pieces (ends after the last piece unless it hangs).
    Reply { status: u16, headers: Vec<(String, String)>, body: Vec<Chunk> },
    /// The connection is refused or reset before any answer.
    Refuse(String),
    /// No answer, ever (the first-byte deadline decides).
    Hang,
}

impl Answer {
    /// A whole JSON answer.
    pub fn json(status: u16, v: &Value) -> Answer {
        Answer::Reply { status, headers: vec![("content-type".into(), "application/json".into())], body: vec![Chunk::Bytes(serde_json::to_vec(v).unwrap_or_default())] }
    }
    /// A whole answer of this content type.
    pub fn raw(status: u16, content_type: &str, body: &[u8]) -> Answer {
        Answer::Reply { status, headers: vec![("content-type".into(), content_type.into())], body: vec![Chunk::Bytes(body.to_vec())] }
    }
    /// A 200 stream of these pieces.
    pub fn stream(content_type: &str, body: Vec<Chunk>) -> Answer {
        Answer::Reply { status: 200, headers: vec![("content-type".into(), content_type.into())], body }
    }
    pub fn with_header(mut self, name: &str, value: &str) -> Answer {
        if let Answer::Reply { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

/// How `sleep` behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sleep {
    /// Every deadline passes as soon as it is polled (the clock jumps ahead by it): whatever
    /// is not ready when first asked loses its race against a deadline.
    Instant,
    /// No deadline ever passes.
    Never,
}

/// The limits store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limits {
    /// Unreachable: `admit` fails (what `limits.fail_open` decides).
    Down,
    /// Every request is admitted.
    Admit,
}

pub type Script = Box<dyn Fn(&Outbound) -> Answer>;

pub struct FakePlatform {
    pub origin: Script,
    pub sleep: Sleep,
    pub limits: Limits,
    pub now: Rc<Cell<u64>>,
    /// The client hangs up as soon as the first request to an origin is sent.
    pub leave_on_fetch: Cell<bool>,
    gone: Rc<Cell<bool>>,
    /// Every request sent to an origin, in order.
    pub fetches: RefCell<Vec<Outbound>>,
    /// `attempt_ended` calls: (node, model, scope, outcome).
    pub ended: RefCell<Vec<(i64, String, Scope, Outcome)>>,
    /// `finish` calls: the usage records, and the settlements handed over with them.
    pub records: RefCell<Vec<UsageRecord>>,
    pub settled: RefCell<Vec<Settlement>>,
    /// `stream_started` (true) and `stream_ended` (false) calls, in order.
    pub streams: RefCell<Vec<(i64, bool)>>,
    /// How often the cross-isolate stream counts were asked for.
    pub stream_counts: Cell<u32>,
    /// What they answer (`None`: unreachable).
    pub active: RefCell<Option<HashMap<i64, u32>>>,
    pub jwt_secret: Vec<u8>,
    /// Sealed value -> what it opens to.
    pub secrets: HashMap<String, String>,
    ids: Cell<u64>,
}

impl FakePlatform {
    /// A platform whose origin answers every request with `script`.
    pub fn new(script: impl Fn(&Outbound) -> Answer + 'static) -> FakePlatform {
        FakePlatform {
            origin: Box::new(script),
            sleep: Sleep::Instant,
            limits: Limits::Down,
            now: Rc::new(Cell::new(1_000)),
            leave_on_fetch: Cell::new(false),
            gone: Rc::new(Cell::new(false)),
            fetches: RefCell::default(),
            ended: RefCell::default(),
            records: RefCell::default(),
            settled: RefCell::default(),
            streams: RefCell::default(),
            stream_counts: Cell::new(0),
            active: RefCell::new(Some(HashMap::new())),
            jwt_secret: b"test-secret".to_vec(),
            secrets: HashMap::new(),
            ids: Cell::new(0),
        }
    }

    /// An origin that refuses every connection.
    pub fn offline() -> FakePlatform {
        FakePlatform::new(|_| Answer::Refuse("offline".into()))
    }

    /// Answers in order, one per request (then refuses).
    pub fn answering(answers: Vec<Answer>) -> FakePlatform {
        let queue = RefCell::new(VecDeque::from(answers));
        FakePlatform::new(move |_| queue.borrow_mut().pop_front().unwrap_or(Answer::Refuse("no more scripted answers".into())))
    }

    pub fn with_sleep(mut self, sleep: Sleep) -> FakePlatform {
        self.sleep = sleep;
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> FakePlatform {
        self.limits = limits;
        self
    }

    pub fn gone(&self) -> bool {
        self.gone.get()
    }

    /// The URLs requested, in order.
    pub fn urls(&self) -> Vec<String> {
        self.fetches.borrow().iter().map(|o| o.url.clone()).collect()
    }
}

fn body(chunks: Vec<Chunk>) -> ByteStream {
    futures::stream::unfold(VecDeque::from(chunks), |mut rest| async move {
        match rest.pop_front()? {
            Chunk::Bytes(b) => Some((Ok(b), rest)),
            Chunk::Break(e) => Some((Err(e), VecDeque::new())),
            Chunk::Hang => futures::future::pending().await,
        }
    })
    .boxed_local()
}

impl NodeState for FakePlatform {
    fn gate(&self, _: i64, _: &str, _: u64) -> Gate {
        Gate::Closed
    }
    fn active_streams(&self, _: i64) -> u32 {
        0
    }
}

impl Timer for FakePlatform {
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        match self.sleep {
            // The clock moves when the deadline is looked at, i.e. when it decides a race
            // (`select` polls the work first: ready work wins and time stands still).
            Sleep::Instant => {
                let now = self.now.clone();
                Box::pin(async move { now.set(now.get() + ms) })
            }
            Sleep::Never => Box::pin(futures::future::pending()),
        }
    }
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
}

impl Origins for FakePlatform {
    async fn fetch(&self, req: Outbound) -> Result<OriginReply, String> {
        let answer = (self.origin)(&req);
        self.fetches.borrow_mut().push(req);
        if self.leave_on_fetch.get() {
            self.gone.set(true);
        }
        match answer {
            Answer::Reply { status, headers, body: chunks } => Ok(OriginReply { status, headers, body: body(chunks), native: None }),
            Answer::Refuse(e) => Err(e),
            Answer::Hang => futures::future::pending().await,
        }
    }
    fn open_secret(&self, sealed: &str) -> Option<String> {
        self.secrets.get(sealed).cloned()
    }
}

impl Routing for FakePlatform {
    fn random(&self) -> f64 {
        0.5
    }
    async fn counters(&self, _: &[String]) -> HashMap<String, u64> {
        HashMap::new()
    }
    fn nodes(&self) -> &dyn NodeState {
        self
    }
    fn attempt_begins(&self, _: i64, _: &str, _: bool) -> bool {
        true
    }
    fn attempt_ended(&self, node: i64, model: &str, scope: Scope, outcome: &Outcome) {
        self.ended.borrow_mut().push((node, model.to_string(), scope, outcome.clone()));
    }
    async fn clear_breakers(&self, _: i64) {}
}

impl Client for FakePlatform {
    fn client_gone(&self) -> bool {
        self.gone.get()
    }
    fn client_left(&self) -> LocalBoxFuture<'static, ()> {
        if !self.leave_on_fetch.get() && !self.gone.get() {
            return Box::pin(futures::future::pending());
        }
        // Checked on every poll (the fetch sets it while the attempt runs).
        let gone = self.gone.clone();
        Box::pin(futures::future::poll_fn(move |cx| {
            if gone.get() {
                return std::task::Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }))
    }
}

impl Streams for FakePlatform {
    fn stream_started(&self, node_id: i64, _: &str) {
        self.streams.borrow_mut().push((node_id, true));
    }
    fn stream_ended(&self, node_id: i64, _: &str) {
        self.streams.borrow_mut().push((node_id, false));
    }
    async fn active_streams(&self) -> Result<HashMap<i64, u32>, String> {
        self.stream_counts.set(self.stream_counts.get() + 1);
        self.active.borrow().clone().ok_or_else(|| "the stream registry is unreachable".to_string())
    }
}

impl Accounting for FakePlatform {
    fn request_id(&self) -> String {
        let n = self.ids.get();
        self.ids.set(n + 1);
        if n == 0 {
            "req_test".into()
        } else {
            format!("req_test{n}")
        }
    }
    async fn admit(&self, _: &str, _: &[Rule], now_ms: u64) -> Result<(Decision, Ticket), String> {
        match self.limits {
            Limits::Down => Err("the limits store is down in this test".into()),
            Limits::Admit => Ok((Decision { admitted: true, retry_after: 0, blocked_by: None, states: Vec::new() }, Ticket { generation: 0, granted_ms: now_ms })),
        }
    }
    fn finish(&self, record: UsageRecord, settle: Vec<Settlement>) {
        self.records.borrow_mut().push(record);
        self.settled.borrow_mut().extend(settle);
    }
}

impl Credentials for FakePlatform {
    fn jwt_secret(&self) -> &[u8] {
        &self.jwt_secret
    }
}

impl ResponseState for FakePlatform {}
