//! The attempt loop when the client hangs up before the first byte (`Platform::client_left`):
//! the attempt is dropped, no other starts, and nothing is blamed. (Locally workerd does not
//! surface a client's disconnect before the response starts, so this is tested here, against
//! a fake platform, rather than end to end.)

use super::infer;
use crate::limits::lease::Ticket;
use crate::limits::{Decision, Rule};
use crate::net::{Inbound, OriginReply, Outbound};
use crate::origins::failure::Scope;
use crate::platform::{Platform, Settlement};
use crate::routes;
use crate::routing::breaker::{Gate, Outcome};
use crate::routing::plan::NodeState;
use crate::state::snapshot::{Health, Node, NodeKind, NodeModel, Snapshot, User};
use crate::stream::relay::Timer;
use crate::usage::UsageRecord;
use futures::future::LocalBoxFuture;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// How the origin behaves once the client has gone.
#[derive(Clone, Copy)]
enum Origin {
    /// Never answers.
    Hang,
    /// Resets the connection (after the client left).
    Reset,
}

struct Fake {
    origin: Origin,
    /// The client leaves while the first attempt waits for its first byte.
    leaves: bool,
    gone: Cell<bool>,
    fetches: RefCell<Vec<String>>,
    ended: RefCell<Vec<(i64, Scope, Outcome)>>,
    records: RefCell<Vec<UsageRecord>>,
}

impl NodeState for Fake {
    fn gate(&self, _: i64, _: &str, _: u64) -> Gate {
        Gate::Closed
    }
    fn active_streams(&self, _: i64) -> u32 {
        0
    }
}

impl Timer for Fake {
    fn sleep(&self, _: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(futures::future::pending())
    }
    fn now_ms(&self) -> u64 {
        1_000
    }
}

impl Platform for Fake {
    async fn fetch(&self, req: Outbound) -> Result<OriginReply, String> {
        self.fetches.borrow_mut().push(req.url);
        if self.leaves {
            self.gone.set(true);
        }
        match self.origin {
            Origin::Hang => futures::future::pending().await,
            Origin::Reset => Err("Network connection lost.".into()),
        }
    }
    fn random(&self) -> f64 {
        0.5
    }
    fn request_id(&self) -> String {
        "req_test".into()
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
    fn attempt_ended(&self, node: i64, _: &str, scope: Scope, outcome: &Outcome) {
        self.ended.borrow_mut().push((node, scope, outcome.clone()));
    }
    async fn clear_breakers(&self, _: i64) {}
    fn client_gone(&self) -> bool {
        self.gone.get()
    }
    fn client_left(&self) -> LocalBoxFuture<'static, ()> {
        // Resolves on its first poll after the fetch began (the fetch sets `gone`).
        let gone = self.gone.get();
        let mut polled = false;
        Box::pin(futures::future::poll_fn(move |cx| {
            if gone || polled {
                return std::task::Poll::Ready(());
            }
            polled = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }))
    }
    fn stream_started(&self, _: i64, _: &str) {}
    fn stream_ended(&self, _: i64, _: &str) {}
    async fn active_streams(&self) -> Result<HashMap<i64, u32>, String> {
        Ok(HashMap::new())
    }
    fn jwt_secret(&self) -> &[u8] {
        b"x"
    }
    fn open_secret(&self, _: &str) -> Option<String> {
        None
    }
    async fn admit(&self, _: &str, _: &[Rule], _: u64) -> Result<(Decision, Ticket), String> {
        Err("no limits in this test".into())
    }
    fn finish(&self, record: UsageRecord, _: Vec<Settlement>) {
        self.records.borrow_mut().push(record);
    }
}

fn snapshot() -> Snapshot {
    let node = |id: i64, name: &str, priority: i32| Node {
        id,
        name: name.into(),
        kind: NodeKind::Ollama,
        base_url: format!("http://{name}"),
        priority,
        health: Health::Healthy,
        active: true,
        models: vec![NodeModel { name: "m:latest".into(), available: true, ..Default::default() }],
        ..Default::default()
    };
    Snapshot { nodes: vec![node(1, "first", 10), node(2, "second", 20)], ..Default::default() }.indexed()
}

fn run(origin: Origin, leaves: bool) -> (Rc<Fake>, u16) {
    let p = Rc::new(Fake { origin, leaves, gone: Cell::new(false), fetches: RefCell::default(), ended: RefCell::default(), records: RefCell::default() });
    let snap = Rc::new(snapshot());
    let user = User { id: 1, username: "u".into(), active: true, all_models: true, ..Default::default() };
    let req = Inbound { method: "POST".into(), path: "/api/chat".into(), body: br#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":false}"#.to_vec(), ..Default::default() };
    let ep = routes::resolve("POST", "/api/chat").unwrap_or_else(|_| panic!("route"));
    let reply = futures::executor::block_on(infer::run(&p, &snap, &user, &ep, &req));
    (p, reply.status)
}

#[test]
fn a_client_leaving_before_the_first_byte_ends_the_chain() {
    for origin in [Origin::Hang, Origin::Reset] {
        let (p, status) = run(origin, true);
        assert_eq!(p.fetches.borrow().len(), 1, "no attempt after the client left");
        assert_eq!(*p.ended.borrow(), vec![(1, Scope::Nothing, Outcome::Neutral)], "the abandoned attempt blames nobody");
        assert_eq!(status, 499);
        let records = p.records.borrow();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].status, 499);
    }
}

#[test]
fn with_the_client_still_there_a_reset_blames_the_node_and_fails_over() {
    let (p, status) = run(Origin::Reset, false);
    assert_eq!(p.fetches.borrow().len(), 2);
    let ended = p.ended.borrow();
    assert_eq!(ended.iter().map(|(n, s, _)| (*n, *s)).collect::<Vec<_>>(), vec![(1, Scope::Node), (2, Scope::Node)]);
    assert!(ended.iter().all(|(_, _, o)| matches!(o, Outcome::Failure { .. })));
    assert_eq!(status, 502);
}
