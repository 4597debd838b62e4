//! The cron's jobs against a scripted database and counting origins: every subrequest they make
//! (origin fetches, the stream-count Durable Object call) is counted by the budget, and the
//! reserve for the steps after them is never spent.

use super::budget::{self, Budget};
use super::cron;
use crate::platform::fake::{Answer, FakePlatform, Sleep};
use crate::state::db::{Db, DbError, Param};
use futures::executor::block_on;
use serde_json::{json, Value};

/// Answers each maintenance query by what it selects.
struct ScriptedDb {
    nodes: Value,
    budget: u32,
    never_discovered: bool,
}

impl Db for ScriptedDb {
    async fn json(&self, sql: &str, _: &[Param]) -> Result<Value, DbError> {
        Ok(if sql.contains("FROM settings") {
            json!({ "maintenance.subrequest_budget": self.budget, "warmup.max_per_node": 2 })
        } else if sql.contains("FROM nodes n WHERE") {
            self.nodes.clone()
        } else if sql.contains("json_build_array(health_status") {
            json!(["healthy", 0, 0])
        } else if sql.contains("NOT EXISTS (SELECT 1 FROM node_models") {
            json!(self.never_discovered)
        } else if sql.contains("FROM model_mappings") {
            json!(["a:latest", "b:latest", "c:latest"])
        } else {
            json!([])
        })
    }
    async fn exec(&self, _: &str, _: &[Param]) -> Result<u64, DbError> {
        Ok(0)
    }
    async fn batch(&self, _: &str) -> Result<(), DbError> {
        Ok(())
    }
}

/// Ollama-shaped origins that answer everything (the fake counts every call the jobs make).
fn origins() -> FakePlatform {
    FakePlatform::new(|out| {
        let body = if out.url.ends_with("/api/tags") {
            json!({"models": [{"name": "a:latest"}, {"name": "b:latest"}, {"name": "c:latest"}]})
        } else if out.url.ends_with("/api/ps") {
            json!({"models": []})
        } else {
            json!({})
        };
        Answer::json(200, &body)
    })
    .with_sleep(Sleep::Never)
}

fn fetches(p: &FakePlatform) -> u32 {
    p.fetches.borrow().len() as u32
}

fn nodes(n: i64) -> Value {
    Value::Array((1..=n).map(|id| json!({"id": id, "name": format!("n{id}"), "kind": "ollama", "base_url": format!("http://10.0.0.{id}:11434"), "active": true, "warmup": true, "health": "healthy"})).collect())
}

/// One invocation as the edge runs it: the jobs' connection charged first, the tail reserved.
fn invocation(db: &ScriptedDb, p: &FakePlatform, minute: u64, tail: u32) -> (cron::Report, Budget) {
    let b = Budget::new(45);
    b.charge(&[budget::DB]);
    let report = block_on(cron::run(db, p, minute * 60_000, &b, tail)).unwrap();
    (report, b)
}

#[test]
fn every_call_the_jobs_make_is_counted_and_the_reserve_is_kept() {
    let tail = budget::tail_reserve(true, 4);
    // Many nodes, all never discovered and warm-up on: far more work than one run may do.
    let db = ScriptedDb { nodes: nodes(30), budget: 50, never_discovered: true };
    let p = origins();
    let (report, b) = invocation(&db, &p, 7, tail);
    let used = b.used();
    assert_eq!(used.origin, fetches(&p), "origin calls counted: {:?}", p.urls());
    assert_eq!(used.durable_objects, p.stream_counts.get(), "the stream-count call is counted");
    assert_eq!(used.hyperdrive, 1);
    assert!(used.total() + tail <= 50, "the jobs left the reserve alone: used {used:?}, tail {tail}");
    assert_eq!(report.subrequests, used);
    assert!(report.deferred > 0, "the rest waits for later runs");
    // The tail fits in what is left once the reserve is released.
    b.release();
    assert!(b.try_take(&budget::publish(true)) && b.try_take(&budget::pointer_sync(true)));
    assert!(b.try_take(&[budget::DB]), "the clean-up");
    assert!(b.try_take(&budget::FLUSH_SHARD), "one usage shard at least");
    assert!(b.used().total() <= 50);
}

#[test]
fn discovery_and_warm_up_calls_stay_within_what_they_took() {
    // Discovery's worst case (tags + 8 shows) is taken up front; a node with fewer models
    // makes fewer calls, so counted >= made, and warm-up counts each load.
    let db = ScriptedDb { nodes: nodes(2), budget: 200, never_discovered: true };
    let p = origins();
    let (report, b) = invocation(&db, &p, 0, budget::tail_reserve(false, 4));
    let used = b.used();
    assert!(used.origin >= fetches(&p), "taken {} < made {}", used.origin, fetches(&p));
    assert_eq!(p.stream_counts.get(), 1);
    assert_eq!(used.durable_objects, 1);
    assert_eq!(report.health.len(), 2);
    assert_eq!(report.discovery.len(), 2);
    let warmed: usize = report.warmup.iter().map(|w| w.warmed.len()).sum();
    assert_eq!(warmed, 4, "two models per node (warmup.max_per_node)");
    assert_eq!(report.deferred, 0);
}

#[test]
fn a_small_budget_still_reaches_every_node_in_turn() {
    // 15 = the jobs' connection + the reserve (8) + 6 probes; 12 nodes take two runs.
    let db = ScriptedDb { nodes: nodes(12), budget: 15, never_discovered: false };
    let tail = budget::tail_reserve(false, 4);
    let mut probed = std::collections::HashSet::new();
    for minute in 1..=2 {
        let p = origins();
        let (report, b) = invocation(&db, &p, minute, tail);
        assert_eq!(report.health.len(), 6);
        assert_eq!(b.used().origin, fetches(&p));
        assert_eq!(p.stream_counts.get(), 0, "no budget left for warm-up's stream counts");
        assert_eq!(b.used().total() + tail, 15);
        probed.extend(report.health.iter().map(|h| h.node_id));
    }
    assert_eq!(probed.len(), 12, "rotation reaches every node: {probed:?}");
}
