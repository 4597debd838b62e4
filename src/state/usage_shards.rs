//! How usage records move from requests to Postgres, as plain policy shared by the UsageBuffer
//! Durable Object, the cron and the simulation (`sim`):
//! - an isolate batches its records for `batch_ms` and sends each batch to one shard, chosen by
//!   the hash of the batch's first record id, so `SHARDS` objects share the append load;
//! - a shard flushes itself: its alarm fires `GATHER_MS` after the first record it holds, writes
//!   up to `FLUSH_MAX` records through Hyperdrive in one statement, deletes them once Postgres
//!   committed, and fires again at once while records remain (so flushing capacity follows the
//!   backlog), or after a growing back-off when Postgres is down;
//! - the cron kicks every shard once a minute (alarms give up after repeated failures), and
//!   alerts when the backlog grows.

/// Shards of the usage buffer. Changing it is safe: every shard drains itself, and the cron
/// kicks `0..KICK_SHARDS`, which covers every count this release or an earlier one used.
pub const SHARDS: u32 = 32;
/// Shards the cron kicks: today's and any smaller count of earlier releases (they used 4).
pub const KICK_SHARDS: u32 = SHARDS;
/// Records one flush moves: one storage list, one insert, `FLUSH_MAX / 128` storage deletes.
pub const FLUSH_MAX: usize = 2000;
/// A shard's first record waits this long for company before the flush.
pub const GATHER_MS: u64 = 1_000;
/// A flush that left records behind is followed by the next one this soon.
pub const AGAIN_MS: u64 = 50;
/// Back-off after failed flushes (Postgres down): 2 s, 5 s, 15 s, 30 s, then every 60 s.
const RETRY_MS: [u64; 5] = [2_000, 5_000, 15_000, 30_000, 60_000];
/// A shard holding more than this answers appends with `slow`: isolates then batch for
/// `SLOW_BATCH_MS` instead of `BATCH_MS`, ten times fewer calls for the same records.
pub const BACKLOG_SLOW: u64 = 20_000;
/// Total backlog (all shards) at which readiness and the cron raise the alert.
pub const BACKLOG_ALERT: u64 = 100_000;
/// A shard with records whose last flush is older than this is reported as stalled.
pub const STALL_S: u64 = 300;
pub const BATCH_MS: u64 = 100;
pub const SLOW_BATCH_MS: u64 = 1_000;

/// FNV-1a: stable across isolates and releases.
pub fn shard_of(id: &str) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for b in id.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    h % SHARDS
}

/// How long an isolate batches, given what the shard said about its backlog last time.
pub fn batch_ms(slow: bool) -> u64 {
    if slow {
        SLOW_BATCH_MS
    } else {
        BATCH_MS
    }
}

/// What one flush did, as far as scheduling the next is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushResult {
    /// Moved what it took; `more` when it took a full batch (records remain).
    Done { more: bool },
    /// Postgres could not be reached or refused the batch for a reason that is not the data:
    /// the `failures`-th in a row.
    Failed { failures: u32 },
}

/// When the shard's alarm should fire next (None: when the next record arrives).
pub fn next_alarm(now_ms: u64, r: FlushResult) -> Option<u64> {
    match r {
        FlushResult::Done { more: true } => Some(now_ms + AGAIN_MS),
        FlushResult::Done { more: false } => None,
        FlushResult::Failed { failures } => Some(now_ms + RETRY_MS[(failures.max(1) as usize - 1).min(RETRY_MS.len() - 1)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_ids_and_schedules_follow_the_backlog() {
        let mut seen = vec![0u32; SHARDS as usize];
        for i in 0..32_000 {
            seen[shard_of(&format!("req_{:x}{:08x}", 1_700_000_000_000u64 + i, i * 7919)) as usize] += 1;
        }
        assert!(seen.iter().all(|n| (700..1300).contains(n)), "{seen:?}");
        assert_eq!(next_alarm(10, FlushResult::Done { more: true }), Some(10 + AGAIN_MS));
        assert_eq!(next_alarm(10, FlushResult::Done { more: false }), None);
        assert_eq!(next_alarm(0, FlushResult::Failed { failures: 1 }), Some(2_000));
        assert_eq!(next_alarm(0, FlushResult::Failed { failures: 99 }), Some(60_000));
        assert_eq!(batch_ms(true), 10 * batch_ms(false));
    }
}
