//! How shared state reaches every isolate without one object taking every call (plain policy,
//! used by the Coordinator and Streams Durable Objects, their callers and the simulation):
//! - the snapshot version lives in the authoritative `Coordinator("global")`; isolates poll one
//!   of `VERSION_REPLICAS` replicas, chosen at random per poll, every `snapshot.refresh_ms`; a
//!   replica answers from what it holds and asks the authority again when that is older than
//!   `PULL_MS`. A publish sets the authority only (one call), and the authority sees at most
//!   `VERSION_REPLICAS` calls per `PULL_MS` whatever the number of isolates; a change is live
//!   everywhere within `snapshot.refresh_ms` plus `PROPAGATION_SLACK_MS`;
//! - stream leases go to `Streams("node:{id}:{k}")`, one of `STREAM_SHARDS` per node chosen by
//!   the isolate (so an isolate's starts and ends for a node land on one object and batch); each
//!   part pushes its count to the node's `Streams("node:{id}")` at most every `PUSH_MS`, which
//!   pushes the node's total to the authority the same way; replicas carry the totals to the
//!   isolates with the version. The cron and the admin view read the authority.

use std::collections::HashMap;

pub const VERSION_REPLICAS: u32 = 32;
/// A replica's copy of the authority's answer is refreshed when older than this.
pub const PULL_MS: u64 = 250;
/// What a change takes beyond `snapshot.refresh_ms` to reach a busy isolate: a replica's copy
/// (`PULL_MS`), the gap to the isolate's next request (a second at most for one that serves a
/// request a second), one poll and one KV read.
pub const PROPAGATION_SLACK_MS: u64 = PULL_MS + 1_000 + 150;
pub const AUTHORITY: &str = "global";
pub const STREAM_SHARDS: u32 = 64;
/// An isolate sends its stream starts and ends in one call per node per this long.
pub const STREAM_BATCH_MS: u64 = 100;
/// A count is pushed upward at most this often while it changes...
pub const PUSH_MS: u64 = 500;
/// ...and re-sent this often while it is not zero (a restarted receiver relearns it).
pub const HEARTBEAT_MS: u64 = 20_000;
/// A part or node count not refreshed for this long no longer counts.
pub const STALE_MS: u64 = 3 * HEARTBEAT_MS;

pub fn replica_name(k: u32) -> String {
    format!("replica:{k}")
}

/// A replica for one poll from a uniform random number in [0, 1).
pub fn pick_replica(random: f64) -> u32 {
    ((random * VERSION_REPLICAS as f64) as u32).min(VERSION_REPLICAS - 1)
}

pub fn part_name(node_id: i64, k: u32) -> String {
    format!("node:{node_id}:{k}")
}

pub fn node_name(node_id: i64) -> String {
    format!("node:{node_id}")
}

/// When a count that is now `count` should next be pushed, given the last push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pusher {
    pub last: Option<(u32, u64)>,
}

impl Pusher {
    pub fn due(&self, count: u32, now_ms: u64) -> Option<u64> {
        match self.last {
            None => Some(now_ms),
            Some((c, at)) if c != count => Some((at + PUSH_MS).max(now_ms)),
            Some((c, at)) if c > 0 => Some((at + HEARTBEAT_MS).max(now_ms)),
            Some(_) => None,
        }
    }

    pub fn pushed(&mut self, count: u32, now_ms: u64) {
        self.last = Some((count, now_ms));
    }
}

/// Counts pushed by several senders (parts of a node, or nodes), each replacing its last.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub from: HashMap<String, (u32, u64)>,
}

impl Tally {
    pub fn set(&mut self, sender: &str, count: u32, now_ms: u64) {
        self.from.insert(sender.to_string(), (count, now_ms));
    }

    pub fn total(&self, now_ms: u64) -> u32 {
        self.from.values().filter(|(_, at)| now_ms < at + STALE_MS).map(|(c, _)| c).sum()
    }

    /// Each sender's count that is still fresh (node id -> count for the node totals).
    pub fn fresh(&self, now_ms: u64) -> HashMap<String, u32> {
        self.from.iter().filter(|(_, (_, at))| now_ms < at + STALE_MS).map(|(k, (c, _))| (k.clone(), *c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_are_paced_and_heartbeats_keep_counts_alive() {
        let mut p = Pusher::default();
        assert_eq!(p.due(3, 100), Some(100));
        p.pushed(3, 100);
        assert_eq!(p.due(4, 200), Some(100 + PUSH_MS));
        assert_eq!(p.due(3, 200), Some(100 + HEARTBEAT_MS));
        p.pushed(0, 5000);
        assert_eq!(p.due(0, 6000), None, "a zero is sent once");
        let mut t = Tally::default();
        t.set("a", 2, 0);
        t.set("b", 5, 1000);
        t.set("a", 1, 2000);
        assert_eq!(t.total(2000), 6);
        assert_eq!(t.total(1000 + STALE_MS), 1, "b went stale");
        assert!((0..1000).all(|i| pick_replica(i as f64 / 1000.0) < VERSION_REPLICAS));
    }
}
