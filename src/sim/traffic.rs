//! The request-path objects under load, on a virtual clock (microseconds): `isolates` isolates
//! take `rps` requests per second (Poisson, spread evenly), each a stream on one of `nodes`
//! nodes lasting `stream_s` on average, then a usage record. Everything that reaches a Durable
//! Object follows the policies the Worker uses (`state::usage_shards`, `state::fanout`,
//! `snapshot.refresh_ms`); each object's calls are counted per virtual second.

use super::rng::Rng;
use crate::state::fanout::{Pusher, PROPAGATION_SLACK_MS, PULL_MS, STREAM_BATCH_MS, STREAM_SHARDS, VERSION_REPLICAS};
use crate::state::usage_shards::{self as us, FlushResult, BACKLOG_SLOW, FLUSH_MAX, GATHER_MS, SHARDS};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const MS: u64 = 1_000;
const S: u64 = 1_000_000;
/// Round trip of one Durable Object call, and of a KV read.
pub const DO_RTT_US: u64 = 10 * MS;
pub const KV_READ_US: u64 = 30 * MS;
/// One flush's insert through Hyperdrive: a fixed cost plus per record.
pub const FLUSH_BASE_US: u64 = 60 * MS;
pub const FLUSH_PER_RECORD_US: u64 = 25;
/// A flush against a Postgres that does not answer gives up after the connect deadline.
pub const CONNECT_TIMEOUT_US: u64 = 5 * S;
/// The documented propagation time is `snapshot.refresh_ms` plus this (`fanout`).
pub const PROPAGATION_SLACK_US: u64 = PROPAGATION_SLACK_MS * MS;

#[derive(Debug, Clone)]
pub struct TrafficConfig {
    pub isolates: usize,
    pub rps: f64,
    pub stream_s: f64,
    pub nodes: usize,
    pub secs: u64,
    pub refresh_ms: u64,
    /// Publishes (admin changes) at these seconds.
    pub publishes: Vec<u64>,
    /// Postgres unreachable from..to (seconds).
    pub outage: Option<(u64, u64)>,
    pub seed: u64,
}

/// Calls per second of the busiest object of a kind, and of an average one.
#[derive(Debug, Clone, Default)]
pub struct Load {
    pub kind: &'static str,
    pub objects: usize,
    pub peak: u32,
    pub mean: f64,
}

#[derive(Debug, Clone, Default)]
pub struct TrafficReport {
    pub loads: Vec<Load>,
    /// (second, records buffered) every 10 s, and the most at any second.
    pub backlog: Vec<(u64, u64)>,
    pub backlog_max: u64,
    pub backlog_end: u64,
    pub generated: u64,
    pub flushed: u64,
    pub flushes: u64,
    pub hyperdrive_peak_per_s: u32,
    pub hyperdrive_concurrent_max: u32,
    /// Seconds from the end of the outage until the backlog was back under one second of traffic.
    pub drain_s: Option<f64>,
    /// Over isolates that served a request within a second after the bound: publish to install.
    pub propagation_p99_ms: f64,
    pub propagation_max_ms: f64,
    /// Requests served with an older version later than `refresh_ms` + `PROPAGATION_SLACK_MS` after a publish, by
    /// an isolate that served a request within a second after its poll was due.
    pub stale_busy: u64,
    pub requests: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrival,
    Publish,
    Sample,
    Cron,
    End { iso: u32, node: u16 },
    UsageSend { iso: u32 },
    StreamSend { iso: u32 },
    PollDone { iso: u32, version: u64 },
    Installed { iso: u32, version: u64 },
    PartPush { node: u16, k: u16, at: u64 },
    NodePush { node: u16, at: u64 },
    ShardAlarm { s: u16, at: u64 },
    FlushDone { s: u16, n: u32, failed: bool },
}

#[derive(Default, Clone)]
struct Iso {
    version: u64,
    checked: u64,
    refreshing: bool,
    busy_when_due: bool,
    usage: Option<(u32, u32)>,
    slow: bool,
    streams_open: bool,
    ops: Vec<(u16, i32)>,
    part: u16,
}

#[derive(Default, Clone)]
struct Pushing {
    count: i64,
    pusher: Pusher,
    at: Option<u64>,
}

#[derive(Default, Clone)]
struct Shard {
    backlog: u64,
    alarm: Option<u64>,
    flushing: bool,
    failures: u32,
}

struct Sim<'a> {
    cfg: &'a TrafficConfig,
    now: u64,
    seq: u64,
    heap: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    rng: Rng,
    isos: Vec<Iso>,
    parts: Vec<Pushing>,
    nodes: Vec<Pushing>,
    node_parts: Vec<Vec<u32>>,
    shards: Vec<Shard>,
    replica_version: Vec<u64>,
    replica_pulled: Vec<Option<u64>>,
    authority_version: u64,
    published: Vec<(u64, u64)>,
    /// Calls this second, per object (dense ids, see `obj`), and the folded loads.
    calls: Vec<u32>,
    peak: Vec<u32>,
    total: Vec<u64>,
    second: u64,
    hd_this_second: u32,
    hd_open: u32,
    rep: TrafficReport,
    delays: Vec<u64>,
    outage_end_backlog_ok: Option<u64>,
}

// Dense object ids: replicas, the authority, usage shards, stream parts, node totals.
fn replica(k: u32) -> usize {
    k as usize
}
const AUTH: usize = VERSION_REPLICAS as usize;
fn shard_obj(s: u32) -> usize {
    AUTH + 1 + s as usize
}
fn part_obj(node: u16, k: u16) -> usize {
    AUTH + 1 + SHARDS as usize + node as usize * STREAM_SHARDS as usize + k as usize
}

impl<'a> Sim<'a> {
    fn node_obj(&self, node: u16) -> usize {
        AUTH + 1 + SHARDS as usize + self.cfg.nodes * STREAM_SHARDS as usize + node as usize
    }

    fn at(&mut self, t: u64, e: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((t, self.seq, e)));
    }

    fn call(&mut self, obj: usize) {
        self.calls[obj] += 1;
    }

    fn fold_second(&mut self) {
        for (i, c) in self.calls.iter_mut().enumerate() {
            self.peak[i] = self.peak[i].max(*c);
            self.total[i] += *c as u64;
            *c = 0;
        }
        self.rep.hyperdrive_peak_per_s = self.rep.hyperdrive_peak_per_s.max(self.hd_this_second);
        self.hd_this_second = 0;
    }

    fn down(&self) -> bool {
        self.cfg.outage.is_some_and(|(a, b)| self.now >= a * S && self.now < b * S)
    }

    fn arm_shard(&mut self, s: u32, at: u64) {
        let sh = &mut self.shards[s as usize];
        if sh.alarm.is_some_and(|a| a <= at) {
            return;
        }
        sh.alarm = Some(at);
        self.at(at, Ev::ShardAlarm { s: s as u16, at });
    }

    fn start_flush(&mut self, s: u32) {
        let sh = &mut self.shards[s as usize];
        if sh.flushing || sh.backlog == 0 {
            return;
        }
        sh.flushing = true;
        let n = sh.backlog.min(FLUSH_MAX as u64) as u32;
        self.hd_this_second += 1;
        self.hd_open += 1;
        self.rep.hyperdrive_concurrent_max = self.rep.hyperdrive_concurrent_max.max(self.hd_open);
        self.rep.flushes += 1;
        if self.down() {
            self.at(self.now + CONNECT_TIMEOUT_US, Ev::FlushDone { s: s as u16, n: 0, failed: true });
        } else {
            self.at(self.now + FLUSH_BASE_US + n as u64 * FLUSH_PER_RECORD_US, Ev::FlushDone { s: s as u16, n, failed: false });
        }
    }

    fn push_due(&mut self, part: Option<(u16, u16)>, node: u16) {
        let (p, key) = match part {
            Some((n, k)) => (&mut self.parts[n as usize * STREAM_SHARDS as usize + k as usize], Some((n, k))),
            None => (&mut self.nodes[node as usize], None),
        };
        let Some(due) = p.pusher.due(p.count.max(0) as u32, self.now / MS) else { return };
        let due = due * MS;
        if p.at.is_some_and(|a| a <= due) {
            return;
        }
        p.at = Some(due);
        match key {
            Some((n, k)) => self.at(due, Ev::PartPush { node: n, k, at: due }),
            None => self.at(due, Ev::NodePush { node, at: due }),
        }
    }

    fn step(&mut self, e: Ev) {
        match e {
            Ev::Arrival => {
                self.rep.requests += 1;
                let iso = self.rng.below(self.isos.len() as u64) as u32;
                let node = self.rng.below(self.cfg.nodes as u64) as u16;
                let now = self.now;
                let refresh = self.cfg.refresh_ms * MS;
                let latest = self.published.last().copied();
                let i = &mut self.isos[iso as usize];
                if let Some((v, at)) = latest {
                    // Busy when its poll was due (its last poll with the old version ended by
                    // `at + PULL_MS + 2 RTT`: a replica's copy is at most PULL_MS old): it served
                    // a request within a second of then.
                    let due = at + refresh + PULL_MS * MS + 2 * DO_RTT_US;
                    if now >= due && now <= due + S {
                        i.busy_when_due = true;
                    }
                    if i.version < v && now > at + refresh + PROPAGATION_SLACK_US && i.busy_when_due {
                        self.rep.stale_busy += 1;
                    }
                }
                let poll = !i.refreshing && now >= i.checked + refresh;
                if poll {
                    i.refreshing = true;
                }
                i.ops.push((node, 1));
                let open_streams = !std::mem::replace(&mut i.streams_open, true);
                if poll {
                    let k = self.rng.below(VERSION_REPLICAS as u64) as u32;
                    self.call(replica(k));
                    // A replica's copy older than PULL_MS is refreshed from the authority first.
                    let mut latency = DO_RTT_US;
                    if self.replica_pulled[k as usize].is_none_or(|p| now >= p + PULL_MS * MS) {
                        self.replica_pulled[k as usize] = Some(now);
                        self.call(AUTH);
                        self.replica_version[k as usize] = self.authority_version;
                        latency += DO_RTT_US;
                    }
                    let version = self.replica_version[k as usize];
                    self.at(now + latency, Ev::PollDone { iso, version });
                }
                if open_streams {
                    self.at(now + STREAM_BATCH_MS * MS, Ev::StreamSend { iso });
                }
                let d = (self.rng.exp() * self.cfg.stream_s * S as f64) as u64;
                self.at(now + d, Ev::End { iso, node });
                let gap = (self.rng.exp() * S as f64 / self.cfg.rps) as u64;
                self.at(now + gap.max(1), Ev::Arrival);
            }
            Ev::End { iso, node } => {
                self.rep.generated += 1;
                let now = self.now;
                let id = format!("req_{:x}{:08x}", now / MS, self.rng.next() as u32);
                let i = &mut self.isos[iso as usize];
                i.ops.push((node, -1));
                let open_streams = !std::mem::replace(&mut i.streams_open, true);
                let open_usage = i.usage.is_none();
                match &mut i.usage {
                    Some((_, n)) => *n += 1,
                    None => i.usage = Some((us::shard_of(&id), 1)),
                }
                let delay = us::batch_ms(i.slow) * MS;
                if open_streams {
                    self.at(now + STREAM_BATCH_MS * MS, Ev::StreamSend { iso });
                }
                if open_usage {
                    self.at(now + delay, Ev::UsageSend { iso });
                }
            }
            Ev::UsageSend { iso } => {
                let Some((s, n)) = self.isos[iso as usize].usage.take() else { return };
                self.call(shard_obj(s));
                let sh = &mut self.shards[s as usize];
                sh.backlog += n as u64;
                let slow = sh.backlog >= BACKLOG_SLOW;
                self.isos[iso as usize].slow = slow;
                self.arm_shard(s, self.now + GATHER_MS * MS);
            }
            Ev::StreamSend { iso } => {
                let i = &mut self.isos[iso as usize];
                i.streams_open = false;
                let mut ops = std::mem::take(&mut i.ops);
                let k = i.part;
                ops.sort_unstable();
                let mut j = 0;
                while j < ops.len() {
                    let node = ops[j].0;
                    let mut delta = 0;
                    while j < ops.len() && ops[j].0 == node {
                        delta += ops[j].1 as i64;
                        j += 1;
                    }
                    self.call(part_obj(node, k));
                    self.parts[node as usize * STREAM_SHARDS as usize + k as usize].count += delta;
                    self.push_due(Some((node, k)), node);
                }
            }
            Ev::PollDone { iso, version } => {
                let i = &mut self.isos[iso as usize];
                if version > i.version {
                    self.at(self.now + KV_READ_US, Ev::Installed { iso, version });
                } else {
                    i.checked = self.now;
                    i.refreshing = false;
                }
            }
            Ev::Installed { iso, version } => {
                let i = &mut self.isos[iso as usize];
                i.version = i.version.max(version);
                i.checked = self.now;
                i.refreshing = false;
                if let Some((_, at)) = self.published.iter().find(|(v, _)| *v == version) {
                    self.delays.push(self.now - at);
                }
            }
            Ev::Publish => {
                let v = self.published.last().map_or(1, |(v, _)| v + 1);
                self.published.push((v, self.now));
                for i in &mut self.isos {
                    i.busy_when_due = false;
                }
                self.call(AUTH);
                self.authority_version = v;
            }
            Ev::PartPush { node, k, at } => {
                let idx = node as usize * STREAM_SHARDS as usize + k as usize;
                if self.parts[idx].at != Some(at) {
                    return;
                }
                self.parts[idx].at = None;
                let count = self.parts[idx].count.max(0) as u32;
                let now_ms = self.now / MS;
                self.parts[idx].pusher.pushed(count, now_ms);
                let obj = self.node_obj(node);
                self.call(obj);
                self.node_parts[node as usize][k as usize] = count;
                self.nodes[node as usize].count = self.node_parts[node as usize].iter().map(|c| *c as i64).sum();
                self.push_due(None, node);
                self.push_due(Some((node, k)), node);
            }
            Ev::NodePush { node, at } => {
                if self.nodes[node as usize].at != Some(at) {
                    return;
                }
                self.nodes[node as usize].at = None;
                let count = self.nodes[node as usize].count.max(0) as u32;
                self.nodes[node as usize].pusher.pushed(count, self.now / MS);
                self.call(AUTH);
                self.push_due(None, node);
            }
            Ev::ShardAlarm { s, at } => {
                if self.shards[s as usize].alarm != Some(at) {
                    return;
                }
                self.shards[s as usize].alarm = None;
                if self.shards[s as usize].flushing {
                    self.arm_shard(s as u32, self.now + us::AGAIN_MS * MS);
                } else {
                    self.start_flush(s as u32);
                }
            }
            Ev::FlushDone { s, n, failed } => {
                self.hd_open -= 1;
                let now_ms = self.now / MS;
                let sh = &mut self.shards[s as usize];
                sh.flushing = false;
                let result = if failed {
                    sh.failures += 1;
                    FlushResult::Failed { failures: sh.failures }
                } else {
                    sh.failures = 0;
                    sh.backlog -= n as u64;
                    self.rep.flushed += n as u64;
                    FlushResult::Done { more: n as usize >= FLUSH_MAX }
                };
                let backlog = sh.backlog;
                match us::next_alarm(now_ms, result) {
                    Some(t) => self.arm_shard(s as u32, t * MS),
                    None if backlog > 0 => self.arm_shard(s as u32, self.now + GATHER_MS * MS),
                    None => {}
                }
            }
            Ev::Cron => {
                for s in 0..us::KICK_SHARDS {
                    self.call(shard_obj(s));
                    self.start_flush(s);
                }
                self.at(self.now + 60 * S, Ev::Cron);
            }
            Ev::Sample => {
                let sec = self.now / S;
                let b: u64 = self.shards.iter().map(|s| s.backlog).sum();
                self.rep.backlog_max = self.rep.backlog_max.max(b);
                if sec % 10 == 0 {
                    self.rep.backlog.push((sec, b));
                }
                if let Some((_, end)) = self.cfg.outage {
                    if sec >= end && self.outage_end_backlog_ok.is_none() && (b as f64) < self.cfg.rps {
                        self.outage_end_backlog_ok = Some(sec - end);
                    }
                }
                self.at(self.now + S, Ev::Sample);
            }
        }
    }
}

pub fn run(cfg: &TrafficConfig) -> TrafficReport {
    let parts = cfg.nodes * STREAM_SHARDS as usize;
    let objects = AUTH + 1 + SHARDS as usize + parts + cfg.nodes;
    let mut rng = Rng(cfg.seed);
    let isos = (0..cfg.isolates).map(|_| Iso { part: rng.below(STREAM_SHARDS as u64) as u16, checked: (rng.below(cfg.refresh_ms) * MS), ..Default::default() }).collect();
    let mut sim = Sim {
        cfg,
        now: 0,
        seq: 0,
        heap: BinaryHeap::new(),
        rng,
        isos,
        parts: vec![Pushing::default(); parts],
        nodes: vec![Pushing::default(); cfg.nodes],
        node_parts: vec![vec![0; STREAM_SHARDS as usize]; cfg.nodes],
        shards: vec![Shard::default(); SHARDS as usize],
        replica_version: vec![0; VERSION_REPLICAS as usize],
        replica_pulled: vec![None; VERSION_REPLICAS as usize],
        authority_version: 0,
        published: Vec::new(),
        calls: vec![0; objects],
        peak: vec![0; objects],
        total: vec![0; objects],
        second: 0,
        hd_this_second: 0,
        hd_open: 0,
        rep: TrafficReport::default(),
        delays: Vec::new(),
        outage_end_backlog_ok: None,
    };
    sim.at(0, Ev::Arrival);
    sim.at(S, Ev::Sample);
    sim.at(30 * S, Ev::Cron);
    for p in &cfg.publishes {
        sim.at(p * S, Ev::Publish);
    }
    let end = cfg.secs * S;
    while let Some(Reverse((t, _, e))) = sim.heap.pop() {
        if t >= end {
            break;
        }
        while t / S > sim.second {
            sim.fold_second();
            sim.second += 1;
        }
        sim.now = t;
        sim.step(e);
    }
    sim.fold_second();
    let secs = cfg.secs as f64;
    let kinds: [(&'static str, std::ops::Range<usize>); 5] = [
        ("Coordinator replica", 0..AUTH),
        ("Coordinator authority", AUTH..AUTH + 1),
        ("UsageBuffer shard", AUTH + 1..AUTH + 1 + SHARDS as usize),
        ("Streams part", AUTH + 1 + SHARDS as usize..AUTH + 1 + SHARDS as usize + parts),
        ("Streams node total", AUTH + 1 + SHARDS as usize + parts..objects),
    ];
    for (kind, r) in kinds {
        let n = r.len();
        let peak = sim.peak[r.clone()].iter().copied().max().unwrap_or(0);
        let mean = sim.total[r].iter().sum::<u64>() as f64 / secs / n.max(1) as f64;
        sim.rep.loads.push(Load { kind, objects: n, peak, mean });
    }
    // Records still in isolates' open batches are on their way to a shard.
    sim.rep.backlog_end = sim.shards.iter().map(|s| s.backlog).sum::<u64>() + sim.isos.iter().filter_map(|i| i.usage).map(|(_, n)| n as u64).sum::<u64>();
    sim.rep.drain_s = sim.outage_end_backlog_ok.map(|s| s as f64);
    let mut d = std::mem::take(&mut sim.delays);
    d.sort_unstable();
    if !d.is_empty() {
        sim.rep.propagation_p99_ms = d[(d.len() * 99 / 100).min(d.len() - 1)] as f64 / MS as f64;
        sim.rep.propagation_max_ms = *d.last().unwrap() as f64 / MS as f64;
    }
    sim.rep
}
