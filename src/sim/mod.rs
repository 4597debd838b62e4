//! The scale simulation (native only): the policies of the usage pipeline, the snapshot-version
//! fan-out and the sharded stream tracking (`traffic`), and the real lease logic of
//! `limits::lease` (`leases`), driven on virtual time, checked against the capacity model
//! (`capacity`) that README prints. `cargo test sim` runs a short version and asserts its
//! bounds; `make sim` (part of `make bench`) runs the full one and prints the tables.

pub mod capacity;
pub mod leases;
pub mod rng;
pub mod traffic;

use std::fmt::Write;

pub use rng::Rng;

/// The model's prediction for a kind of object the traffic simulation measures.
pub fn predicted(kind: &str, l: &capacity::Load) -> f64 {
    match kind {
        "Coordinator replica" => l.replica(),
        "Coordinator authority" => l.authority(),
        "UsageBuffer shard" => l.usage_shard(),
        "Streams part" => l.stream_part(),
        "Streams node total" => l.stream_node(),
        _ => f64::NAN,
    }
}

pub fn load_of(cfg: &traffic::TrafficConfig) -> capacity::Load {
    capacity::Load {
        rps: cfg.rps,
        isolates: cfg.isolates as f64,
        streams: cfg.rps * cfg.stream_s,
        nodes: cfg.nodes as f64,
        refresh_s: cfg.refresh_ms as f64 / 1000.0,
        publishes_per_s: cfg.publishes.len() as f64 / cfg.secs as f64,
        ..capacity::TARGET_LOAD
    }
}

pub fn render(cfg: &traffic::TrafficConfig, t: &traffic::TrafficReport, l: Option<(&leases::LimitsConfig, &leases::LimitsReport)>) -> String {
    let model = load_of(cfg);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "simulation: {} isolates, {} req/s, {:.0} concurrent streams on {} nodes, {} s virtual, refresh {} ms, publishes at {:?} s, Postgres down {:?} s",
        cfg.isolates,
        cfg.rps,
        cfg.rps * cfg.stream_s,
        cfg.nodes,
        cfg.secs,
        cfg.refresh_ms,
        cfg.publishes,
        cfg.outage
    );
    let _ = writeln!(s, "\n| object | objects | busiest (calls in its busiest second) | mean calls/s per object | model | limit/2 |\n|---|---|---|---|---|---|");
    for x in &t.loads {
        let _ = writeln!(s, "| {} | {} | {} | {:.1} | {:.1} | {} |", x.kind, x.objects, x.peak, x.mean, predicted(x.kind, &model), capacity::TARGET);
    }
    let _ = writeln!(
        s,
        "\nusage: {} records made, {} flushed, {} still buffered at the end, {} lost; {} flushes; Hyperdrive {} connections in the busiest second, {} at once at most",
        t.generated,
        t.flushed,
        t.backlog_end,
        t.generated - t.flushed - t.backlog_end,
        t.flushes,
        t.hyperdrive_peak_per_s,
        t.hyperdrive_concurrent_max
    );
    let _ = writeln!(s, "usage backlog (records buffered) every 10 s: {}", t.backlog.iter().map(|(sec, b)| format!("{sec}s:{b}")).collect::<Vec<_>>().join(" "));
    let _ = writeln!(s, "backlog at most {} records; back under one second of traffic {} after Postgres returned", t.backlog_max, t.drain_s.map_or("never".into(), |d| format!("{d:.0} s")));
    let _ = writeln!(
        s,
        "snapshot propagation (publish to installed, per isolate): p99 {:.0} ms, max {:.0} ms; requests served stale past refresh + {:.1} s after a publish by an isolate busy when its poll was due: {}",
        t.propagation_p99_ms,
        t.propagation_max_ms,
        crate::state::fanout::PROPAGATION_SLACK_MS as f64 / 1000.0,
        t.stale_busy
    );
    if let Some((c, r)) = l {
        let _ = writeln!(
            s,
            "limits (real leases, {} isolates, {} users at {} req/s, daily limit {}{}): {} requests, {} admitted; overshoot {}, miscounted scopes {}, largest shortfall at the end {}; Limiter calls/s: user scope at most {}, model scope at most {}",
            c.isolates,
            c.users,
            c.user_rps,
            c.limit,
            c.model_limit.map_or(String::new(), |m| format!(", a per-minute model limit of {m} on every request")),
            r.requests,
            r.admitted,
            r.overshoot,
            r.miscounted,
            r.undershoot,
            r.max_user_calls_per_s,
            r.max_model_calls_per_s
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::traffic::TrafficConfig;
    use super::*;

    fn check(cfg: &TrafficConfig, t: &traffic::TrafficReport) {
        let model = load_of(cfg);
        for x in &t.loads {
            assert!((x.peak as f64) < capacity::TARGET, "{} peaks at {} calls/s", x.kind, x.peak);
            let p = predicted(x.kind, &model);
            assert!(x.mean <= p * 1.15 + 1.0, "{}: measured {:.1}/s, the model says {:.1}/s", x.kind, x.mean, p);
        }
        assert_eq!(t.generated, t.flushed + t.backlog_end, "records lost or counted twice");
        let outage_s = cfg.outage.map_or(0, |(a, b)| b - a) as f64;
        assert!((t.backlog_max as f64) <= cfg.rps * (outage_s + 10.0), "backlog {} unbounded", t.backlog_max);
        assert!((t.backlog_end as f64) <= cfg.rps * 3.0, "backlog {} not drained", t.backlog_end);
        assert_eq!(t.stale_busy, 0, "a busy isolate served an old snapshot past the documented time");
    }

    #[test]
    fn sim_small_stays_within_the_bounds() {
        // The target's density (2 req/s per isolate, 2 streams each) at a fifth of its size.
        let cfg = TrafficConfig { isolates: 1_000, rps: 2_000.0, stream_s: 2.0, nodes: 2, secs: 40, refresh_ms: 2_000, publishes: vec![10, 25], outage: Some((12, 20)), seed: 7 };
        let t = traffic::run(&cfg);
        check(&cfg, &t);
        let lc = leases::LimitsConfig { isolates: 100, users: 10, user_rps: 10.0, limit: 150, model_limit: Some(100_000), secs: 30, seed: 3 };
        let l = leases::run(&lc);
        eprintln!("{}", render(&cfg, &t, Some((&lc, &l))));
        assert_eq!(l.overshoot, 0, "a limit was exceeded");
        assert_eq!(l.miscounted, 0, "the store's count differs from what was admitted");
        assert!(l.admitted == 10 * 150, "demand exceeded every limit: each user gets exactly its limit, got {}", l.admitted);
        let model = capacity::Load { user_rps: lc.user_rps, model_isolates: lc.isolates as f64, ..capacity::TARGET_LOAD };
        assert!((l.max_user_calls_per_s as f64) <= model.limiter_user() + 2.0, "user scope: {} calls/s", l.max_user_calls_per_s);
        assert!((l.max_model_calls_per_s as f64) <= model.limiter_model() + 2.0, "model scope: {} calls/s", l.max_model_calls_per_s);
    }

    #[test]
    fn readme_carries_the_capacity_table() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let (begin, end) = ("<!-- capacity:begin (generated by `make sim`, checked by cargo test) -->\n", "<!-- capacity:end -->");
        let a = readme.find(begin).expect("README has the capacity markers") + begin.len();
        let b = readme[a..].find(end).expect("end marker") + a;
        assert_eq!(readme[a..b].trim_end(), capacity::table().trim_end(), "README's capacity table is out of date: run `make sim` and paste it");
    }

    /// `make sim`: the target load, with a 30 s Postgres outage, and the table.
    #[test]
    #[ignore]
    fn sim_full() {
        let cfg = TrafficConfig { isolates: 5_000, rps: 10_000.0, stream_s: 2.0, nodes: 8, secs: 150, refresh_ms: 2_000, publishes: vec![20, 50, 100, 130], outage: Some((60, 90)), seed: 11 };
        let t = traffic::run(&cfg);
        let lc = leases::LimitsConfig { isolates: 1_000, users: 50, user_rps: 20.0, limit: 400, model_limit: Some(1_000_000), secs: 40, seed: 5 };
        let l = leases::run(&lc);
        println!("{}", render(&cfg, &t, Some((&lc, &l))));
        println!("capacity model (README):\n\n{}", capacity::table());
        check(&cfg, &t);
        assert_eq!((l.overshoot, l.miscounted), (0, 0));
    }
}
