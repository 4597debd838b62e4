//! The Postgres side of a usage flush: one shard's batch in one statement, and when Postgres
//! refuses it as data (a value it cannot store), the batch is split in halves until the
//! refused records stand alone; those go to `usage_quarantine` as JSON text, counted and shown
//! by readiness, so one bad record never holds back the others. Anything else (Postgres down,
//! a missing table) stops the shard's flush with nothing acknowledged: the records stay
//! buffered and the next flush tries again. Inserts are idempotent on the record id.

use crate::state::db::{Db, DbError, Param};
use crate::usage::{clean_text, UsageRecord, TEXT_MAX_CHARS};

const QUARANTINE_SQL: &str = "INSERT INTO usage_quarantine (id, shard, reason, record) VALUES ($1::text, ($2::bigint)::int, $3::text, $4::text) ON CONFLICT (id) DO NOTHING";

const STATS_SQL: &str = "INSERT INTO usage_shards (shard, backlog, flushed_total, last_flush_at, last_error, updated_at)
    VALUES (($1::bigint)::int, $2::bigint, $3::bigint, CASE WHEN $4::text IS NULL THEN now() END, $4::text, now())
    ON CONFLICT (shard) DO UPDATE SET backlog = EXCLUDED.backlog, flushed_total = usage_shards.flushed_total + EXCLUDED.flushed_total,
      last_flush_at = COALESCE(EXCLUDED.last_flush_at, usage_shards.last_flush_at), last_error = EXCLUDED.last_error, updated_at = now()";

/// Backlog and quarantine over all shards, for readiness and the cron's alert.
pub const STATUS_SQL: &str = "SELECT json_build_object(
    'backlog', COALESCE((SELECT sum(backlog) FROM usage_shards), 0),
    'quarantined', (SELECT count(*) FROM usage_quarantine),
    'stalled_shards', COALESCE((SELECT json_agg(shard ORDER BY shard) FROM usage_shards WHERE backlog > 0 AND (last_flush_at IS NULL OR last_flush_at < now() - $1::bigint * interval '1 second')), '[]'::json),
    'last_error', (SELECT last_error FROM usage_shards WHERE last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1))::text";

/// What became of one shard's batch, by index into it.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    /// In `usage_records` (now or by an earlier flush): acknowledge.
    pub inserted: Vec<usize>,
    /// In `usage_quarantine`: acknowledge.
    pub quarantined: Vec<usize>,
    /// Refused as data even by the quarantine table: keep aside in the buffer.
    pub held: Vec<usize>,
    /// Why the flush stopped early; the records not listed above stay buffered as they are.
    pub error: Option<String>,
}

impl Outcome {
    pub fn acked(&self) -> impl Iterator<Item = usize> + '_ {
        self.inserted.iter().chain(&self.quarantined).copied()
    }
}

/// Write `records` (already sanitised); see the module comment.
pub async fn write<D: Db>(db: &D, shard: u32, records: &[UsageRecord]) -> Outcome {
    let mut out = Outcome::default();
    // Ranges still to write, the next on top; halves are pushed right first so the batch is
    // written in order.
    let mut todo = vec![(0, records.len())];
    while let Some((a, b)) = todo.pop() {
        if a >= b {
            continue;
        }
        let batch = match serde_json::to_value(&records[a..b]) {
            Ok(v) => v,
            Err(e) => {
                out.error = Some(format!("records not serialisable: {e}"));
                break;
            }
        };
        // The insert also rolls the records it inserted up into the `/metrics` counters.
        match db.exec(crate::observe::metrics::rollup_sql(), &[Param::Json(Some(batch))]).await {
            Ok(_) => out.inserted.extend(a..b),
            Err(DbError::Invalid(_)) if b - a > 1 => {
                let mid = a + (b - a) / 2;
                todo.push((mid, b));
                todo.push((a, mid));
            }
            Err(DbError::Invalid(reason)) => quarantine(db, shard, &records[a], a, &reason, &mut out).await,
            Err(e) => {
                out.error = Some(describe(&e));
                break;
            }
        }
    }
    out
}

async fn quarantine<D: Db>(db: &D, shard: u32, r: &UsageRecord, i: usize, reason: &str, out: &mut Outcome) {
    // serde_json escapes every control character (NUL as \u0000), so the text is storable.
    let text = serde_json::to_string(r).unwrap_or_default();
    let reason = clean_text(reason, TEXT_MAX_CHARS).unwrap_or_else(|| reason.to_string());
    let params = [Param::Text(Some(r.id.clone())), Param::Int(Some(shard as i64)), Param::Text(Some(reason.clone())), Param::Text(Some(text))];
    match db.exec(QUARANTINE_SQL, &params).await {
        Ok(_) => {
            crate::log::platform_log(&format!("usage record {} quarantined (shard {shard}): {reason}", r.id));
            out.quarantined.push(i);
        }
        Err(DbError::Invalid(e)) => {
            crate::log::platform_log(&format!("usage record {} refused even by the quarantine, held in shard {shard}: {e}", r.id));
            out.held.push(i);
        }
        Err(e) => out.error = Some(describe(&e)),
    }
}

fn describe(e: &DbError) -> String {
    match e {
        DbError::Unavailable(m) => format!("database unavailable: {m}"),
        DbError::Invalid(m) | DbError::Other(m) | DbError::Unique(m) | DbError::ForeignKey(m) => m.clone(),
    }
}

/// The shard's row in `usage_shards` after a flush (`error` None: it succeeded).
pub async fn record_stats<D: Db>(db: &D, shard: u32, backlog: u64, flushed: u64, error: Option<&str>) -> Result<(), DbError> {
    let params = [
        Param::Int(Some(shard as i64)),
        Param::Int(Some(backlog as i64)),
        Param::Int(Some(flushed as i64)),
        Param::Text(error.map(|e| clean_text(e, TEXT_MAX_CHARS).unwrap_or_else(|| e.to_string()))),
    ];
    db.exec(STATS_SQL, &params).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::cell::RefCell;

    /// Refuses (as Postgres would, as data) any batch holding a record whose model is "bad";
    /// optionally refuses the quarantine too, or is down.
    #[derive(Default)]
    struct FakeDb {
        rows: RefCell<Vec<String>>,
        quarantine: RefCell<Vec<String>>,
        inserts: RefCell<u32>,
        quarantine_refuses: bool,
        down: bool,
    }

    impl Db for FakeDb {
        async fn json(&self, _: &str, _: &[Param]) -> Result<Value, DbError> {
            Ok(Value::Null)
        }
        async fn exec(&self, sql: &str, params: &[Param]) -> Result<u64, DbError> {
            if self.down {
                return Err(DbError::Unavailable("connection refused".into()));
            }
            if sql == QUARANTINE_SQL {
                if self.quarantine_refuses {
                    return Err(DbError::Invalid("nope".into()));
                }
                let Param::Text(Some(id)) = &params[0] else { panic!() };
                self.quarantine.borrow_mut().push(id.clone());
                return Ok(1);
            }
            *self.inserts.borrow_mut() += 1;
            let Param::Json(Some(Value::Array(batch))) = &params[0] else { panic!() };
            if batch.iter().any(|r| r["requested_model"] == "bad") {
                return Err(DbError::Invalid("unsupported Unicode escape sequence".into()));
            }
            let mut rows = self.rows.borrow_mut();
            for r in batch {
                let id = r["id"].as_str().unwrap().to_string();
                if !rows.contains(&id) {
                    rows.push(id);
                }
            }
            Ok(batch.len() as u64)
        }
        async fn batch(&self, _: &str) -> Result<(), DbError> {
            Ok(())
        }
    }

    fn records(bad: &[usize], n: usize) -> Vec<UsageRecord> {
        (0..n).map(|i| UsageRecord { id: format!("r{i}"), requested_model: if bad.contains(&i) { "bad".into() } else { "m".into() }, ..Default::default() }).collect()
    }

    #[test]
    fn bad_records_are_split_out_and_quarantined_while_the_rest_goes_in() {
        let db = FakeDb::default();
        let rs = records(&[3, 77], 100);
        let out = futures::executor::block_on(write(&db, 5, &rs));
        assert_eq!(out.quarantined, vec![3, 77]);
        assert_eq!(out.inserted.len(), 98);
        assert_eq!(out.error, None);
        assert_eq!(db.rows.borrow().len(), 98);
        assert_eq!(*db.quarantine.borrow(), vec!["r3".to_string(), "r77".to_string()]);
        assert!(*db.inserts.borrow() < 40, "{} inserts", db.inserts.borrow());
        // Everything is acknowledged exactly once.
        let mut acked: Vec<usize> = out.acked().collect();
        acked.sort();
        assert_eq!(acked, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn a_refused_quarantine_holds_the_record_and_an_outage_acks_nothing() {
        let db = FakeDb { quarantine_refuses: true, ..Default::default() };
        let out = futures::executor::block_on(write(&db, 0, &records(&[0], 4)));
        assert_eq!((out.held, out.inserted.len(), out.quarantined.len()), (vec![0], 3, 0));
        let db = FakeDb { down: true, ..Default::default() };
        let out = futures::executor::block_on(write(&db, 0, &records(&[], 4)));
        assert_eq!(out.acked().count(), 0);
        assert!(out.error.unwrap().contains("unavailable"));
    }
}
