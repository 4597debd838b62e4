//! The subrequests one cron invocation may make (`maintenance.subrequest_budget`). Workers cap
//! them per invocation (Free plan: 50 to the internet and 1,000 to Cloudflare services; Paid:
//! 10,000), and a run over the cap fails its remaining calls, usage flush included. So every
//! call is counted here, whatever it goes to: origins (fetch), KV, Durable Objects, Hyperdrive
//! connections and Upstash Redis, all against one budget, which keeps a run under both Free
//! caps. The steps after the maintenance jobs (publish, Redis pointer, clean-up, one usage
//! shard) are reserved before the jobs spend on origins, so they always fit; the usage flush
//! then drains further shards with whatever the jobs left.

use serde::Serialize;
use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Origin,
    Kv,
    DurableObject,
    Hyperdrive,
    Redis,
}

/// Subrequests made, by kind (reported with the cron run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Used {
    pub origin: u32,
    pub kv: u32,
    pub durable_objects: u32,
    pub hyperdrive: u32,
    pub redis: u32,
}

impl Used {
    pub fn total(&self) -> u32 {
        self.origin + self.kv + self.durable_objects + self.hyperdrive + self.redis
    }
    fn add(&mut self, kind: Kind, n: i64) {
        let slot = match kind {
            Kind::Origin => &mut self.origin,
            Kind::Kv => &mut self.kv,
            Kind::DurableObject => &mut self.durable_objects,
            Kind::Hyperdrive => &mut self.hyperdrive,
            Kind::Redis => &mut self.redis,
        };
        *slot = (*slot as i64 + n).max(0) as u32;
    }
}

/// One invocation's budget. Interior mutability: the jobs share it by reference.
#[derive(Debug)]
pub struct Budget {
    cap: Cell<u32>,
    reserved: Cell<u32>,
    used: Cell<Used>,
}

impl Budget {
    pub fn new(cap: u32) -> Self {
        Budget { cap: Cell::new(cap), reserved: Cell::new(0), used: Cell::new(Used::default()) }
    }
    /// The cap comes from the settings, which the first connection reads.
    pub fn set_cap(&self, cap: u32) {
        self.cap.set(cap);
    }
    pub fn cap(&self) -> u32 {
        self.cap.get()
    }
    pub fn used(&self) -> Used {
        self.used.get()
    }
    /// What is left for calls that are not reserved.
    pub fn left(&self) -> u32 {
        self.cap.get().saturating_sub(self.used.get().total()).saturating_sub(self.reserved.get())
    }
    /// Keep `n` for later steps: `try_take` cannot spend it until `release`.
    pub fn reserve(&self, n: u32) {
        self.reserved.set(n);
    }
    pub fn release(&self) {
        self.reserved.set(0);
    }
    /// Take the calls of one step (all or nothing): false when they do not fit.
    pub fn try_take(&self, calls: &[(Kind, u32)]) -> bool {
        let n: u32 = calls.iter().map(|c| c.1).sum();
        if n > self.left() {
            return false;
        }
        self.charge(calls);
        true
    }
    /// Count calls made whatever the budget says (the first connection, before the cap is known).
    pub fn charge(&self, calls: &[(Kind, u32)]) {
        let mut u = self.used.get();
        for &(k, n) in calls {
            u.add(k, n as i64);
        }
        self.used.set(u);
    }
    /// Give back calls taken for a worst case that did not happen.
    pub fn refund(&self, kind: Kind, n: u32) {
        let mut u = self.used.get();
        u.add(kind, -(n as i64));
        self.used.set(u);
    }
}

/// One Hyperdrive connection (`with_db`): its queries ride the same socket.
pub const DB: (Kind, u32) = (Kind::Hyperdrive, 1);

/// A snapshot publish: a connection, the KV copies (version and current), the Coordinator's
/// version; with Redis configured, its pointer (EVALSHA, and EVAL when the script is not cached).
pub fn publish(redis: bool) -> Vec<(Kind, u32)> {
    let mut c = vec![DB, (Kind::Kv, 2), (Kind::DurableObject, 1)];
    if redis {
        c.push((Kind::Redis, 2));
    }
    c
}

/// The cron's Redis pointer check: the Coordinator's version, then the pointer script.
pub fn pointer_sync(redis: bool) -> Vec<(Kind, u32)> {
    if redis {
        vec![(Kind::DurableObject, 1), (Kind::Redis, 2)]
    } else {
        vec![]
    }
}

/// One usage shard at worst: drain, the insert's connection, the acknowledgement.
pub const FLUSH_SHARD: [(Kind, u32); 3] = [(Kind::DurableObject, 1), DB, (Kind::DurableObject, 1)];
/// Shards whose flush is reserved every run: the flush always makes progress, and the other
/// shards are drained with what the jobs left, in turn (the start rotates with the minute), so
/// neither crowds the other out.
pub const FLUSH_SHARDS_RESERVED: u32 = 1;

/// The order in which this run visits the usage shards (rotating with the minute).
pub fn shard_order(shards: u32, minute: u64) -> Vec<u32> {
    let start = if shards == 0 { 0 } else { (minute % shards as u64) as u32 };
    (0..shards).map(|i| (start + i) % shards).collect()
}

fn total(calls: &[(Kind, u32)]) -> u32 {
    calls.iter().map(|c| c.1).sum()
}

/// What the steps after the maintenance jobs may need at most: kept out of the jobs' reach.
pub fn tail_reserve(redis: bool, shards: u32) -> u32 {
    total(&publish(redis)) + total(&pointer_sync(redis)) + shards.min(FLUSH_SHARDS_RESERVED) * total(&FLUSH_SHARD) + total(&[DB])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_all_or_nothing_and_keeps_the_reserve() {
        let b = Budget::new(10);
        b.reserve(4);
        assert!(b.try_take(&[(Kind::Origin, 5)]));
        assert!(!b.try_take(&[(Kind::Origin, 1), (Kind::DurableObject, 1)]), "only 1 left outside the reserve");
        assert_eq!(b.used().total(), 5, "a refused step takes nothing");
        assert!(b.try_take(&[(Kind::Origin, 1)]));
        b.release();
        assert!(b.try_take(&FLUSH_SHARD));
        assert_eq!(b.left(), 1);
        b.refund(Kind::DurableObject, 1);
        assert_eq!(b.used(), Used { origin: 6, kv: 0, durable_objects: 1, hyperdrive: 1, redis: 0 });
    }

    #[test]
    fn the_reserve_covers_every_step_after_the_jobs() {
        // No Redis: publish 4, one usage shard 3, clean-up 1.
        assert_eq!(tail_reserve(false, 4), 4 + 3 + 1);
        // Redis adds its pointer to the publish and the pointer check.
        assert_eq!(tail_reserve(true, 4), 6 + 3 + 3 + 1);
        // Many shards: one is reserved; the rest use what is left, in turn.
        assert_eq!(tail_reserve(false, 64), tail_reserve(false, 4));
        assert_eq!(tail_reserve(false, 0), 4 + 1);
        assert_eq!(shard_order(4, 6), vec![2, 3, 0, 1]);
        assert_eq!(shard_order(0, 6), Vec::<u32>::new());
    }

    #[test]
    fn the_redis_pointer_costs_what_is_counted() {
        // The pointer script at its worst: NOSCRIPT (Redis restarted), then EVAL.
        use crate::redis::client::tests::{client, Recorder};
        let rec = Recorder::default();
        rec.answer(400, r#"{"error":"NOSCRIPT No matching script. Please use EVAL."}"#);
        rec.answer(200, r#"{"result":7}"#);
        futures::executor::block_on(crate::state::snapshot_redis::publish(&client(&rec), "m:", 7, None)).unwrap();
        let counted = |calls: Vec<(Kind, u32)>| calls.iter().filter(|c| c.0 == Kind::Redis).map(|c| c.1).sum::<u32>();
        assert_eq!(rec.sent.borrow().len() as u32, counted(publish(true)));
        assert_eq!(rec.sent.borrow().len() as u32, counted(pointer_sync(true)));
    }
}
