//! Limits in Redis (`backend.limits = redis`): the same fixed windows, leases and decisions as
//! the Limiter Durable Object. One Lua script per lease call gives back, adds tokens, and
//! grants (all rules of the scope or none), atomically in Redis.
//!
//! Keys: `{prefix}lim:{scope}:{rule}:{window_start_ms}`, a hash with `r` (requests) and `t`
//! (tokens). The braces make the scope a hash tag, so a scope's keys share a cluster slot.
//! Each key expires when its window ends (plus `SLACK_MS`), so Redis holds only live windows.

use super::{Grant, Rule, SyncMsg, Window, FAIR_SHARE};
use crate::redis::{Client, Error, Script, Transport, Value};

pub const SYNC: Script = Script::new(include_str!("sync.lua"));

/// Keys outlive their window by this much, so a settlement racing the window's end still finds
/// the counts it belongs to (it only ever writes the current window).
pub const SLACK_MS: u64 = 60_000;

pub fn window_key(prefix: &str, scope: &str, rule: &str, start_ms: u64) -> String {
    format!("{prefix}lim:{{{scope}}}:{rule}:{start_ms}")
}

/// Relative TTL: computed from the gateway's clock, so clock skew with Redis cannot expire a
/// window early.
fn ttl_ms(rule: &Rule, now_ms: u64) -> u64 {
    rule.period.end(now_ms) - now_ms + SLACK_MS
}

fn limit(v: Option<u64>) -> String {
    v.map(|m| m.to_string()).unwrap_or_else(|| "-1".into())
}

/// KEYS and ARGV for `sync.lua`. Give-backs are resolved to the current windows here: units
/// granted in an earlier window are not returned anywhere.
pub fn sync_call(prefix: &str, scope: &str, m: &SyncMsg) -> (Vec<String>, Vec<String>) {
    let keys = m.rules.iter().map(|r| window_key(prefix, scope, &r.name, r.period.start(m.now_ms))).collect();
    let mut args = vec![m.want.to_string(), m.tokens.to_string(), FAIR_SHARE.to_string()];
    for r in &m.rules {
        let back: u64 = m.returns.iter().filter(|x| r.period.start(x.granted_ms) == r.period.start(m.now_ms)).map(|x| x.units).sum();
        args.extend([limit(r.max_requests), limit(r.max_tokens), back.to_string(), ttl_ms(r, m.now_ms).to_string(), r.reserve.to_string()]);
    }
    (keys, args)
}

/// The script's answer -> the grant. The counts it read (after give-backs and tokens) are fed
/// to the same pure `limits::grant` the Durable Object runs, so states, headers and retry-after
/// are identical across backends; the script's own grant must agree with it.
pub fn grant(m: &SyncMsg, reply: Value) -> Result<Grant, Error> {
    let items = reply.into_array()?;
    if items.len() != 1 + 2 * m.rules.len() {
        return Err(Error::Type(format!("sync script returned {} values for {} rules", items.len(), m.rules.len())));
    }
    let granted = items[0].as_int()?.max(0) as u64;
    let mut windows = Vec::with_capacity(m.rules.len());
    for (i, r) in m.rules.iter().enumerate() {
        windows.push(Window { start_ms: r.period.start(m.now_ms), requests: items[1 + 2 * i].as_int()?.max(0) as u64, tokens: items[2 + 2 * i].as_int()?.max(0) as u64 });
    }
    let (g, _) = super::grant(&m.rules, m.now_ms, m.want, &windows);
    if g.granted != granted {
        // Only a divergence between sync.lua and limits::grant can get here.
        return Err(Error::Type(format!("sync script granted {granted}, the limits core says {}", g.granted)));
    }
    Ok(g)
}

/// One lease call (see `limits::lease`). A settle-only call with nothing to settle costs nothing.
pub async fn sync<T: Transport>(client: &Client<T>, prefix: &str, scope: &str, m: &SyncMsg) -> Result<Grant, Error> {
    if m.want == 0 && m.tokens == 0 && m.returns.iter().all(|r| r.units == 0) {
        let (g, _) = super::grant(&m.rules, m.now_ms, 0, &[]);
        return Ok(g);
    }
    let (keys, args) = sync_call(prefix, scope, m);
    let reply = client.run(&SYNC, &keys, &args).await?;
    grant(m, reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Period, Return, DAY_MS, MINUTE_MS};
    use crate::redis::client::tests::{client, Recorder};
    use futures::executor::block_on;

    const T0: u64 = 1_790_000_000_000;

    fn rules() -> Vec<Rule> {
        vec![
            Rule { name: "day".into(), period: Period::Day, max_requests: Some(10), max_tokens: None, reserve: 0 },
            Rule { name: "minute".into(), period: Period::Minute, max_requests: Some(2), max_tokens: Some(500), reserve: 0 },
        ]
    }

    fn msg(now: u64, want: u64, returns: Vec<Return>, tokens: u64) -> SyncMsg {
        SyncMsg { rules: rules(), now_ms: now, want, returns, tokens }
    }

    #[test]
    fn keys_are_per_window_with_the_scope_as_hash_tag_and_expire_with_it() {
        let (keys, args) = sync_call("p:", "user:7", &msg(T0, 4, vec![], 9));
        assert_eq!(keys, vec![format!("p:lim:{{user:7}}:day:{}", Period::Day.start(T0)), format!("p:lim:{{user:7}}:minute:{}", Period::Minute.start(T0))]);
        let day_ttl = Period::Day.start(T0) + DAY_MS - T0 + SLACK_MS;
        let min_ttl = Period::Minute.start(T0) + MINUTE_MS - T0 + SLACK_MS;
        let expect: Vec<String> = ["4", "9", "8", "10", "-1", "0", &day_ttl.to_string(), "0", "2", "500", "0", &min_ttl.to_string(), "0"].iter().map(|s| s.to_string()).collect();
        assert_eq!(args, expect);
    }

    #[test]
    fn give_backs_go_to_the_window_that_counted_them_only() {
        let next_minute = Period::Minute.start(T0) + MINUTE_MS;
        let (_, args) = sync_call("", "s", &msg(next_minute, 0, vec![Return { granted_ms: T0, units: 3 }], 0));
        assert_eq!((args[5].as_str(), args[10].as_str()), ("3", "0"), "the day window is the same, the minute rolled over");
    }

    #[test]
    fn grants_match_the_core_for_the_counts_the_script_read() {
        // Read: day 3 requests, minute 1 request / 100 tokens -> one granted (the minute rule's
        // fair share of its last request); the states show the counts after the grant.
        let ok = grant(&msg(T0, 4, vec![], 0), Value::Array(vec![Value::Int(1), Value::Int(3), Value::Int(0), Value::Int(1), Value::Int(100)])).unwrap();
        assert_eq!(ok.granted, 1);
        assert_eq!((ok.decision.states[0].used_requests, ok.decision.states[1].used_requests, ok.decision.states[1].used_tokens), (4, 2, 100));
        // The minute rule is full: blocked by it, with its retry-after.
        let no = grant(&msg(T0, 4, vec![], 0), Value::Array(vec![Value::Int(0), Value::Int(3), Value::Int(0), Value::Int(2), Value::Int(0)])).unwrap();
        assert!(!no.decision.admitted);
        assert_eq!(no.decision.blocked_by.as_deref(), Some("minute"));
        assert_eq!(no.decision.retry_after, (Period::Minute.start(T0) + MINUTE_MS - T0).div_ceil(1000));
        assert_eq!(no.decision.states[0].used_requests, 3, "a refusal is counted nowhere");
        // A grant that contradicts the core is an error, not a guess.
        assert!(grant(&msg(T0, 4, vec![], 0), Value::Array(vec![Value::Int(1), Value::Int(3), Value::Int(0), Value::Int(2), Value::Int(0)])).is_err());
        assert!(grant(&msg(T0, 4, vec![], 0), Value::Array(vec![Value::Int(1)])).is_err());
    }

    #[test]
    fn runs_the_script_by_digest_and_an_empty_settle_costs_nothing() {
        let rec = Recorder::default();
        let c = client(&rec);
        rec.answer(200, r#"{"result":[1,0,0,0,0]}"#);
        assert_eq!(block_on(sync(&c, "", "user:1", &msg(T0, 1, vec![], 0))).unwrap().granted, 1);
        assert_eq!(rec.body(0)[0], "EVALSHA");
        assert_eq!(rec.body(0)[1], SYNC.sha1());
        block_on(sync(&c, "", "user:1", &msg(T0, 0, vec![], 0))).unwrap();
        assert_eq!(rec.sent.borrow().len(), 1, "nothing to take or settle: no round trip");
    }
}
