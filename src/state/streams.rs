//! Active streams per node, as leases: a stream takes a lease when it starts and gives it back
//! when it ends. A lease also expires on its own, so an isolate that dies mid-stream cannot
//! leave a node "busy" forever. Feeds the least-busy strategy, warm-up deferral and the admin
//! load view. Held by the `Streams` Durable Object; this is its logic.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub node_id: i64,
    pub expires_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registry {
    pub leases: HashMap<String, Lease>,
}

impl Registry {
    pub fn acquire(&mut self, id: &str, node_id: i64, now_ms: u64, ttl_ms: u64) {
        self.leases.insert(id.to_string(), Lease { node_id, expires_ms: now_ms + ttl_ms });
    }

    /// Ending a stream twice, or one that expired, is harmless.
    pub fn release(&mut self, id: &str) -> bool {
        self.leases.remove(id).is_some()
    }

    /// Drop expired leases; returns how many.
    pub fn prune(&mut self, now_ms: u64) -> usize {
        let before = self.leases.len();
        self.leases.retain(|_, l| l.expires_ms > now_ms);
        before - self.leases.len()
    }

    pub fn counts(&self, now_ms: u64) -> HashMap<i64, u32> {
        let mut c = HashMap::new();
        for l in self.leases.values().filter(|l| l.expires_ms > now_ms) {
            *c.entry(l.node_id).or_insert(0) += 1;
        }
        c
    }

    /// The next expiry, for the object's clean-up alarm.
    pub fn next_expiry(&self) -> Option<u64> {
        self.leases.values().map(|l| l.expires_ms).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_count_release_and_expire() {
        let mut r = Registry::default();
        r.acquire("a", 1, 1000, 500);
        r.acquire("b", 1, 1000, 5000);
        r.acquire("c", 2, 1000, 5000);
        assert_eq!(r.counts(1100).get(&1), Some(&2));
        assert!(r.release("b"));
        assert!(!r.release("b"), "double release is a no-op");
        assert_eq!(r.counts(1100).get(&1), Some(&1));
        // The lease of a stream whose isolate died expires.
        assert_eq!(r.counts(1600).get(&1), None);
        assert_eq!(r.prune(1600), 1);
        assert_eq!(r.next_expiry(), Some(6000));
    }
}
