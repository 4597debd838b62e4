//! One request's state across its attempts, and the usage record it owns: created when the
//! request is authenticated, filled in as it goes (what was asked, which node answered), and
//! handed to the platform exactly once (`finish`), whatever the outcome. A streamed answer
//! hands that duty to its relay (`stream_settlement`).

use crate::error::GatewayError;
use crate::net::{Inbound, Reply};
use crate::origins::failure::Failure;
use crate::platform::{Platform, Settlement};
use crate::routes::{Endpoint, Op};
use crate::routing::plan::{Attempt, Planner};
use crate::state::snapshot::{Node, Snapshot, User};
use crate::dialect::{self, ChatRequest};
use crate::types::{Dialect, Usage};
use crate::stream::relay::{FinishHook, Finished};
use crate::usage::UsageRecord;
use serde_json::{Map, Value};
use std::cell::Cell;
use std::rc::Rc;

/// What one attempt produced.
pub enum AttemptResult {
    Served(Reply),
    Failed(Failure),
    /// An error to return as is (untranslatable input).
    Final(GatewayError),
    /// The client left before the first byte: the chain ends and counts against nothing.
    Abandoned,
}

/// One request's state across its attempts.
pub struct Job<'a> {
    pub op: &'a Op,
    pub dialect: Dialect,
    pub requested: String,
    pub stream: bool,
    pub body: Map<String, Value>,
    /// The client body in the internal representation, decoded once when a leg needs it.
    pub ir: Option<ChatRequest>,
    pub headers: Vec<(String, String)>,
    /// The client's body and query as received: same-dialect legs forward them (`origins::wire_body`),
    /// so `body` stays the parse of `raw` (edits go into each attempt's upstream body).
    pub raw: &'a [u8],
    pub query: &'a str,
    pub record: UsageRecord,
    pub started_ms: u64,
    /// Limit scopes this request was admitted into (settled exactly once, in `finish`).
    pub settle: Vec<Settlement>,
    pub finished: bool,
    /// Responses only: what the request said about stored state (`super::stored`).
    pub responses: Option<crate::state::response_store::Turn>,
    /// The attempts left; a recoverable stream takes it along (see `respond::stream`).
    pub planner: Option<Planner>,
    /// The snapshot the request runs on: its prices cost the record (`costs::price_record`).
    pub snap: Rc<Snapshot>,
}

impl<'a> Job<'a> {
    /// A request past authentication: its record starts here (every outcome from now on is
    /// recorded, errors included).
    pub fn new<P: Platform>(p: &P, snap: &Rc<Snapshot>, user: &User, ep: &'a Endpoint, req: &'a Inbound) -> Job<'a> {
        let started_ms = p.now_ms();
        let record = UsageRecord {
            id: p.request_id(),
            created_at_ms: started_ms,
            user_id: Some(user.id),
            key_id: user.key_id,
            username: user.username.clone(),
            endpoint: ep.op.name().to_string(),
            dialect: ep.dialect.as_str().to_string(),
            client: req.header("user-agent").unwrap_or("").chars().take(200).collect(),
            ..Default::default()
        };
        Job {
            op: &ep.op,
            dialect: ep.dialect,
            requested: String::new(),
            stream: false,
            body: Map::new(),
            ir: None,
            headers: req.headers.clone(),
            raw: &req.body,
            query: &req.query,
            record,
            started_ms,
            settle: Vec::new(),
            finished: false,
            responses: None,
            planner: None,
            snap: snap.clone(),
        }
    }

    /// The request failed before (or without) an attempt that settled it.
    pub fn failed<P: Platform>(&mut self, p: &P, e: &GatewayError) {
        if !self.finished {
            self.record.status = e.status();
            self.record.error = Some(e.message());
            self.record.error_class = Some(e.reason().to_string());
            self.record.duration_ms = p.now_ms() - self.started_ms;
            self.finish(p);
        }
    }

    /// The last attempt reached an origin and failed (or its error is answered as is).
    pub fn failed_on<P: Platform>(&mut self, p: &P, attempt: &Attempt, status: u16, error: String) {
        self.record.status = status;
        self.record.error = Some(error);
        self.record.resolved_model = attempt.model.clone();
        self.record.real_model = attempt.real.clone();
        self.record.node_id = Some(attempt.node_id);
        self.record.duration_ms = p.now_ms() - self.started_ms;
        self.record.reached_origin = true;
        self.finish(p);
    }

    /// An origin answered this attempt well: the record names it.
    pub fn reached(&mut self, attempt: &Attempt, node: &Node) {
        self.record.resolved_model = attempt.model.clone();
        self.record.real_model = attempt.real.clone();
        self.record.node_id = Some(node.id);
        self.record.node_name = node.name.clone();
        self.record.reached_origin = true;
    }

    /// A whole answer went out: its usage settles the record.
    pub fn served<P: Platform>(&mut self, p: &P, usage: Usage, body: Vec<u8>) -> AttemptResult {
        self.record.status = 200;
        self.record.set_usage(&usage);
        self.record.duration_ms = p.now_ms() - self.started_ms;
        self.record.ttfb_ms = Some(self.record.duration_ms);
        self.finish(p);
        AttemptResult::Served(Reply::json_bytes(200, body).with_header("x-request-id", self.record.id.clone()))
    }

    /// A streamed answer went out: from here its relay owns the settlement, which runs once when
    /// the stream ends, fails or is dropped (client gone), and also gives the stream lease back
    /// (to the node the stream comes from by then: a recovery moves it).
    pub fn stream_settlement<P: Platform>(&mut self, p: Rc<P>, node: Rc<Cell<i64>>, ttfb_ms: u64, prompt_estimate: u64) -> FinishHook {
        let mut record = self.record.clone();
        record.ttfb_ms = Some(ttfb_ms);
        let settle = std::mem::take(&mut self.settle);
        self.finished = true;
        let started = self.started_ms;
        let prices = self.snap.clone();
        Box::new(move |f: Finished| {
            p.stream_ended(node.get(), &record.id);
            record.duration_ms = p.now_ms() - started;
            record.status = if f.completed { 200 } else if f.client_gone { 499 } else { 502 };
            record.error = f.error;
            if !f.recovered.is_empty() {
                // The usage record says the answer was continued elsewhere (and why).
                let note = format!("recovered mid-stream: {}", f.recovered.join("; "));
                record.error = Some(match record.error.take() {
                    Some(e) => format!("{e} ({note})"),
                    None => note,
                });
            }
            let usage = f.usage.unwrap_or(Usage { prompt_tokens: prompt_estimate, completion_tokens: f.frames, estimated: true, ..Default::default() });
            record.set_usage(&usage);
            crate::costs::price_record(&prices, &mut record);
            p.finish(record, settle);
        })
    }

    /// Hand the record (and the settlements) to the platform; once per request.
    pub fn finish<P: Platform>(&mut self, p: &P) {
        if !self.finished {
            self.finished = true;
            crate::costs::price_record(&self.snap, &mut self.record);
            p.finish(self.record.clone(), std::mem::take(&mut self.settle));
        }
    }

    /// The client's request in the IR (decoded on first use; errors are the client's 400s).
    pub fn ir(&mut self) -> Result<&ChatRequest, GatewayError> {
        if self.ir.is_none() {
            self.ir = Some(dialect::decode_request(self.op, &self.body)?);
        }
        Ok(self.ir.as_ref().expect("set above"))
    }
}
