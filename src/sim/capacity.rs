//! The capacity model: each shared object's calls per second as a function of requests per
//! second `r`, isolates `i`, concurrent streams and nodes, from the same constants the Worker
//! uses. `table()` renders it for README (a test keeps README's copy identical) and the traffic
//! simulation checks the formulas against measured rates.

use crate::limits::lease::LEASE_MS;
use crate::routing::breaker::VIEW_REFRESH_MS;
use crate::state::response_store::BATCH_MS as RESPONSES_BATCH_MS;
use crate::state::fanout::{PULL_MS, PUSH_MS, STREAM_BATCH_MS, STREAM_SHARDS, VERSION_REPLICAS};
use crate::state::usage_shards::{BATCH_MS, FLUSH_MAX, GATHER_MS, KICK_SHARDS, SHARDS};

/// Cloudflare's soft limit for one Durable Object, and the target: below half of it.
pub const DO_LIMIT: f64 = 1_000.0;
pub const TARGET: f64 = DO_LIMIT / 2.0;

#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub rps: f64,
    pub isolates: f64,
    pub streams: f64,
    pub nodes: f64,
    pub refresh_s: f64,
    /// Requests per second of the busiest round-robin name, and of the busiest limited user.
    pub round_robin_rps: f64,
    pub user_rps: f64,
    /// Isolates serving the busiest limited model (a per-model limit).
    pub model_isolates: f64,
    pub publishes_per_s: f64,
}

/// The target: 10,000 requests/s, 5,000 isolates, 20,000 concurrent streams.
pub const TARGET_LOAD: Load =
    Load { rps: 10_000.0, isolates: 5_000.0, streams: 20_000.0, nodes: 8.0, refresh_s: 2.0, round_robin_rps: 400.0, user_rps: 20.0, model_isolates: 200.0, publishes_per_s: 0.1 };

/// Calls per second one isolate makes with `events_per_s` events batched for `window_s`.
pub fn batched(events_per_s: f64, window_s: f64) -> f64 {
    (1.0 - (-events_per_s * window_s).exp()) / window_s
}

impl Load {
    fn lambda(&self) -> f64 {
        self.rps / self.isolates
    }
    /// Version polls per isolate per second: the first request after `refresh_s` polls.
    fn polls(&self) -> f64 {
        1.0 / (self.refresh_s + 1.0 / self.lambda())
    }
    pub fn replica(&self) -> f64 {
        self.isolates * self.polls() / VERSION_REPLICAS as f64
    }
    /// Replicas' pulls (at most one per replica per `PULL_MS`), node totals, publishes, cron.
    pub fn authority(&self) -> f64 {
        let per_replica = self.replica().min(1000.0 / PULL_MS as f64);
        VERSION_REPLICAS as f64 * per_replica + self.nodes * 1000.0 / PUSH_MS as f64 + self.publishes_per_s + 3.0 / 60.0
    }
    pub fn usage_shard(&self) -> f64 {
        self.isolates * batched(self.lambda(), BATCH_MS as f64 / 1000.0) / SHARDS as f64 + self.shard_flushes() + 1.0 / 60.0
    }
    /// Alarm flushes per shard per second: one per `GATHER_MS` while records arrive, more
    /// (back to back) when a flush takes a full `FLUSH_MAX`.
    pub fn shard_flushes(&self) -> f64 {
        let records = self.rps / SHARDS as f64;
        let gather = GATHER_MS as f64 / 1000.0;
        batched(records, gather).max(records / FLUSH_MAX as f64)
    }
    pub fn stream_part(&self) -> f64 {
        // Starts and ends on one node from one isolate, batched per STREAM_BATCH_MS.
        let events = 2.0 * self.lambda() / self.nodes;
        self.isolates * batched(events, STREAM_BATCH_MS as f64 / 1000.0) / STREAM_SHARDS as f64
    }
    pub fn stream_node(&self) -> f64 {
        STREAM_SHARDS as f64 * 1000.0 / PUSH_MS as f64
    }
    /// A limited user's store: a sync when a request lands on an isolate without a live lease,
    /// a flush at the end of each lease, and near the limit the syncs of isolates whose cached
    /// refusal ended (the simulation measures up to ~3 per request/s).
    pub fn limiter_user(&self) -> f64 {
        3.0 * self.user_rps.min(self.isolates * 1000.0 / LEASE_MS as f64)
    }
    pub fn limiter_model(&self) -> f64 {
        2.0 * self.model_isolates * 1000.0 / LEASE_MS as f64
    }
    pub fn counters(&self) -> f64 {
        self.round_robin_rps
    }
    /// The one `Breakers` object: each isolate's view poll (the first request after
    /// `VIEW_REFRESH_MS`), plus reports of breaker state changes, which follow failures, not
    /// traffic (at most one call per isolate per 100 ms while its breakers change; counted
    /// here as one opening and one closing per node per second across the deployment).
    pub fn breaker(&self) -> f64 {
        let refresh_s = VIEW_REFRESH_MS as f64 / 1000.0;
        self.isolates / (refresh_s + 1.0 / self.lambda()) + 2.0 * self.nodes
    }
    /// One user's ResponseStore: at most one batched write per stored request (per isolate per
    /// batch), and at worst one read per request whose references the isolate's cache lacks.
    pub fn responses_user(&self) -> f64 {
        self.user_rps.min(self.isolates * 1000.0 / RESPONSES_BATCH_MS as f64) + self.user_rps
    }
    pub fn hyperdrive_flushes(&self) -> f64 {
        SHARDS as f64 * self.shard_flushes()
    }

    // The previous design, for the "before" column.
    pub fn before_coordinator(&self) -> f64 {
        self.isolates * self.polls()
    }
    pub fn before_streams(&self) -> f64 {
        self.isolates * (batched(2.0 * self.lambda(), 0.1) + self.polls())
    }
    pub fn before_usage_shard(&self) -> f64 {
        self.isolates * batched(self.lambda(), 0.1) / 4.0
    }
}

/// Largest isolate count at `lambda` requests/s per isolate for which `f` stays below TARGET.
fn largest(lambda: f64, f: impl Fn(&Load) -> f64) -> f64 {
    let at = |i: f64| Load { rps: i * lambda, isolates: i, streams: i * lambda * 2.0, ..TARGET_LOAD };
    let (mut lo, mut hi) = (1.0f64, 10_000_000.0f64);
    if f(&at(lo)) >= TARGET {
        return 0.0;
    }
    for _ in 0..60 {
        let mid = (lo * hi).sqrt();
        if f(&at(mid)) < TARGET {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

fn round(x: f64) -> String {
    let x = if x >= 1000.0 {
        (x / 100.0).round() * 100.0
    } else if x >= 10.0 {
        x.round()
    } else {
        (x * 10.0).round() / 10.0
    };
    let s = format!("{x}");
    match s.split_once('.') {
        Some((int, frac)) => format!("{}.{frac}", group(int)),
        None => group(&s),
    }
}

fn group(int: &str) -> String {
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// README's capacity table at `TARGET_LOAD`.
pub fn table() -> String {
    let l = TARGET_LOAD;
    let lambda = l.lambda();
    let iso = |f: &dyn Fn(&Load) -> f64| {
        let n = largest(lambda, f);
        format!("{} isolates ≈ {} req/s", round(n), round(n * lambda))
    };
    let rows: Vec<[String; 5]> = vec![
        [
            format!("`Coordinator(\"replica:k\")` ×{VERSION_REPLICAS}: version polls (with node stream totals)"),
            "i / (refresh + i/r) / 32".into(),
            format!("{} (before, one `global`: {})", round(l.replica()), round(l.before_coordinator())),
            iso(&|x| x.replica()),
            iso(&|x| x.before_coordinator()),
        ],
        [
            "`Coordinator(\"global\")`: replica pulls, node totals, publishes, cron, admin".into(),
            "32 · min(4, replica rate) + 2·nodes + publishes".into(),
            round(l.authority()),
            "any (bounded by the replica count)".into(),
            "(was the poll target)".into(),
        ],
        [
            format!("`UsageBuffer(\"usage:s\")` ×{SHARDS}: appends, alarm flushes, cron kick"),
            format!("i·(1−e^(−0.1·r/i))/0.1 / {SHARDS} + flushes"),
            format!("{} (before, 4 shards: {})", round(l.usage_shard()), round(l.before_usage_shard())),
            iso(&|x| x.usage_shard()),
            format!("{} (and 33 req/s of flushing)", iso(&|x| x.before_usage_shard())),
        ],
        [
            format!("`Streams(\"node:n:k\")` ×{STREAM_SHARDS} per node: stream starts and ends"),
            format!("i·(1−e^(−0.2·r/(i·nodes)))/0.1 / {STREAM_SHARDS}"),
            format!("{} (before, one `global`: {})", round(l.stream_part()), round(l.before_streams())),
            iso(&|x| x.stream_part()),
            iso(&|x| x.before_streams()),
        ],
        ["`Streams(\"node:n\")`: part counts → one node total".into(), format!("≤ {STREAM_SHARDS} parts × 2/s"), round(l.stream_node()), "any".into(), "—".into()],
        [
            "`Limiter(\"user:u\")`: one limited user".into(),
            "3 · min(user r, i / 1 s)".into(),
            format!("{} at {} req/s of one user", round(l.limiter_user()), l.user_rps),
            "users up to 160 req/s each".into(),
            "same".into(),
        ],
        [
            "`Limiter(\"model:p\")`: a per-model limit".into(),
            "2 · (isolates serving the model) / 1 s".into(),
            format!("{} at {} isolates", round(l.limiter_model()), l.model_isolates),
            "≤ 250 isolates serving one limited model".into(),
            "same".into(),
        ],
        [
            "`Counters(name)`: round-robin positions".into(),
            "round-robin requests of that name".into(),
            format!("{} at {} req/s on one name", round(l.counters()), l.round_robin_rps),
            "≤ 500 req/s per round-robin name".into(),
            "same".into(),
        ],
        [
            "`ResponseStore(\"user:u\")`: one user's stored Responses".into(),
            format!("min(user r, i / {RESPONSES_BATCH_MS} ms) writes + ≤ user r reads"),
            format!("{} at {} req/s of one user", round(l.responses_user()), l.user_rps),
            "users up to 250 Responses req/s each".into(),
            "—".into(),
        ],
        [
            "`Breakers(\"global\")`: what is open anywhere (view polls; state changes only)".into(),
            format!("i / ({} s + i/r) + state changes", VIEW_REFRESH_MS / 1000),
            round(l.breaker()),
            iso(&|x| x.breaker()),
            "— (one-strike cooldowns per isolate, nothing shared)".into(),
        ],
    ];
    let mut out = String::from(
        "| object | calls/s (r requests/s, i isolates) | at 10,000 req/s, 5,000 isolates, 20,000 streams, 8 nodes | largest below 500/s (2 req/s per isolate) | before this change |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!("| {} | {} | {} | {} | {} |\n", r[0], r[1], r[2], r[3], r[4]));
    }
    out.push_str(&format!(
        "\nOther shared resources at the same load: **KV** `snapshot:current` and `snapshot:v{{N}}` are written once per publish (KV allows one write per second per key: publishes are admin changes and cron runs that changed something, far below that), and each isolate reads `snapshot:v{{N}}` once per publish. **Hyperdrive**: {} usage flushes/s (one connection each, ~{} records per flush, {} concurrent at most), none on the request path. **Cron** (once a minute): up to {} UsageBuffer kicks (one call each, as many as `maintenance.subrequest_budget` leaves after the probes) and one Coordinator call per publish, whatever the traffic; the records no longer pass through it, so its CPU does not grow with traffic.\n",
        round(l.hyperdrive_flushes()),
        round(l.rps / l.hyperdrive_flushes()),
        round((l.hyperdrive_flushes() * 0.1).ceil()),
        KICK_SHARDS,
    ));
    out
}
