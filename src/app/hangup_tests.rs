//! The attempt loop when the client hangs up before the first byte (`Platform::client_left`):
//! the attempt is dropped, no other starts, and nothing is blamed. (Locally workerd does not
//! surface a client's disconnect before the response starts, so this is tested here, against
//! a fake platform, rather than end to end.)

use super::infer;
use crate::net::Inbound;
use crate::origins::failure::Scope;
use crate::platform::fake::{Answer, FakePlatform, Sleep};
use crate::routes;
use crate::routing::breaker::Outcome;
use crate::state::snapshot::{Health, Node, NodeKind, NodeModel, Snapshot, User};
use std::rc::Rc;

/// How the origin behaves once the client has gone.
#[derive(Clone, Copy)]
enum Origin {
    /// Never answers.
    Hang,
    /// Resets the connection (after the client left).
    Reset,
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

fn run(origin: Origin, leaves: bool) -> (Rc<FakePlatform>, u16) {
    let answer = match origin {
        Origin::Hang => Answer::Hang,
        Origin::Reset => Answer::Refuse("Network connection lost.".into()),
    };
    let p = FakePlatform::new(move |_| answer.clone()).with_sleep(Sleep::Never);
    p.leave_on_fetch.set(leaves);
    let p = Rc::new(p);
    let snap = Rc::new(snapshot());
    let user = User { id: 1, username: "u".into(), active: true, all_models: true, ..Default::default() };
    let req = Inbound { method: crate::net::Method::POST, path: "/api/chat".into(), body: br#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":false}"#.to_vec(), ..Default::default() };
    let ep = routes::resolve("POST", "/api/chat").unwrap_or_else(|_| panic!("route"));
    let reply = futures::executor::block_on(infer::run(&p, &snap, &user, &ep, &req));
    (p, reply.status)
}

#[test]
fn a_client_leaving_before_the_first_byte_ends_the_chain() {
    for origin in [Origin::Hang, Origin::Reset] {
        let (p, status) = run(origin, true);
        assert_eq!(p.fetches.borrow().len(), 1, "no attempt after the client left");
        assert_eq!(p.ended.borrow().iter().map(|(n, _, s, o)| (*n, *s, o.clone())).collect::<Vec<_>>(), vec![(1, Scope::Nothing, Outcome::Neutral)], "the abandoned attempt blames nobody");
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
    assert_eq!(ended.iter().map(|(n, _, s, _)| (*n, *s)).collect::<Vec<_>>(), vec![(1, Scope::Node), (2, Scope::Node)]);
    assert!(ended.iter().all(|(_, _, _, o)| matches!(o, Outcome::Failure { .. })));
    assert_eq!(status, 502);
}
