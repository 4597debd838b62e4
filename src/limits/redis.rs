//! Limits in Redis (`backend.limits = redis`): the same fixed windows and the same decisions as
//! the Limiter Durable Object. One Lua script per admission checks every rule of the scope and
//! counts the request only if all pass (atomic in Redis); settlement is a second script.
//!
//! Keys: `{prefix}lim:{scope}:{rule}:{window_start_ms}`, a hash with `r` (requests) and `t`
//! (tokens). The braces make the scope a hash tag, so a scope's keys share a cluster slot.
//! Each key expires when its window ends (plus `SLACK_MS`), so Redis holds only live windows.

use super::{Decision, Rule, Window};
use crate::redis::{Client, Error, Script, Transport, Value};

pub const ADMIT: Script = Script::new(include_str!("admit.lua"));
pub const SETTLE: Script = Script::new(include_str!("settle.lua"));

/// Keys outlive their window by this much, so a settlement racing the window's end still finds
/// the counts it belongs to (it only ever writes the current window).
pub const SLACK_MS: u64 = 60_000;

pub fn window_key(prefix: &str, scope: &str, rule: &str, start_ms: u64) -> String {
    format!("{prefix}lim:{{{scope}}}:{rule}:{start_ms}")
}

/// Relative TTL: computed from the gateway's clock, so clock skew with Redis cannot expire a
/// window early.
fn ttl_ms(rule: &Rule, now_ms: u64) -> u64 {
    rule.period.start(now_ms) + rule.period.len_ms() - now_ms + SLACK_MS
}

fn limit(v: Option<u64>) -> String {
    v.map(|m| m.to_string()).unwrap_or_else(|| "-1".into())
}

/// KEYS and ARGV for `admit.lua`.
pub fn admit_call(prefix: &str, scope: &str, rules: &[Rule], now_ms: u64) -> (Vec<String>, Vec<String>) {
    let keys = rules.iter().map(|r| window_key(prefix, scope, &r.name, r.period.start(now_ms))).collect();
    let args = rules.iter().flat_map(|r| [limit(r.max_requests), limit(r.max_tokens), ttl_ms(r, now_ms).to_string()]).collect();
    (keys, args)
}

/// The script's answer -> the decision. The counts it read before counting are fed to the same
/// pure `limits::admit` the Durable Object runs, so states, headers and retry-after are
/// identical across backends; the script's own verdict must agree with it.
pub fn decision(rules: &[Rule], now_ms: u64, reply: Value) -> Result<Decision, Error> {
    let items = reply.into_array()?;
    if items.len() != 1 + 2 * rules.len() {
        return Err(Error::Type(format!("admit script returned {} values for {} rules", items.len(), rules.len())));
    }
    let admitted = items[0].as_int()? == 1;
    let mut before = std::collections::HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        let w = Window { start_ms: r.period.start(now_ms), requests: items[1 + 2 * i].as_int()?.max(0) as u64, tokens: items[2 + 2 * i].as_int()?.max(0) as u64 };
        before.insert(r.name.as_str(), w);
    }
    let (d, _) = super::admit(rules, now_ms, |name| before.get(name).copied().unwrap_or_default());
    if d.admitted != admitted {
        // Only a divergence between admit.lua and limits::admit can get here.
        return Err(Error::Type(format!("admit script said admitted={admitted}, the limits core says {}", d.admitted)));
    }
    Ok(d)
}

/// KEYS and ARGV for `settle.lua` (see `limits::settle`).
pub fn settle_call(prefix: &str, scope: &str, rules: &[Rule], now_ms: u64, admitted_ms: u64, tokens: u64, release: bool) -> (Vec<String>, Vec<String>) {
    let keys = rules.iter().map(|r| window_key(prefix, scope, &r.name, r.period.start(now_ms))).collect();
    let mut args = vec![tokens.to_string()];
    for r in rules {
        let same_window = r.period.start(admitted_ms) == r.period.start(now_ms);
        args.push(if release && same_window { "1" } else { "0" }.to_string());
        args.push(ttl_ms(r, now_ms).to_string());
    }
    (keys, args)
}

/// Admit one request into `scope` (all of its rules or none).
pub async fn admit<T: Transport>(client: &Client<T>, prefix: &str, scope: &str, rules: &[Rule], now_ms: u64) -> Result<Decision, Error> {
    let (keys, args) = admit_call(prefix, scope, rules, now_ms);
    let reply = client.run(&ADMIT, &keys, &args).await?;
    decision(rules, now_ms, reply)
}

/// Add a finished request's tokens; `release` gives its request back.
#[allow(clippy::too_many_arguments)]
pub async fn settle<T: Transport>(client: &Client<T>, prefix: &str, scope: &str, rules: &[Rule], now_ms: u64, admitted_ms: u64, tokens: u64, release: bool) -> Result<(), Error> {
    let (keys, args) = settle_call(prefix, scope, rules, now_ms, admitted_ms, tokens, release);
    if tokens == 0 && !args.iter().skip(1).step_by(2).any(|a| a == "1") {
        return Ok(()); // nothing to write
    }
    client.run(&SETTLE, &keys, &args).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Period, DAY_MS, MINUTE_MS};
    use crate::redis::client::tests::{client, Recorder};
    use futures::executor::block_on;

    const T0: u64 = 1_790_000_000_000;

    fn rules() -> Vec<Rule> {
        vec![
            Rule { name: "day".into(), period: Period::Day, max_requests: Some(10), max_tokens: None },
            Rule { name: "minute".into(), period: Period::Minute, max_requests: Some(2), max_tokens: Some(500) },
        ]
    }

    #[test]
    fn keys_are_per_window_with_the_scope_as_hash_tag_and_expire_with_it() {
        let (keys, args) = admit_call("p:", "user:7", &rules(), T0);
        assert_eq!(keys, vec![format!("p:lim:{{user:7}}:day:{}", Period::Day.start(T0)), format!("p:lim:{{user:7}}:minute:{}", Period::Minute.start(T0))]);
        let day_ttl = Period::Day.start(T0) + DAY_MS - T0 + SLACK_MS;
        let min_ttl = Period::Minute.start(T0) + MINUTE_MS - T0 + SLACK_MS;
        assert_eq!(args, vec!["10".to_string(), "-1".into(), day_ttl.to_string(), "2".into(), "500".into(), min_ttl.to_string()]);
    }

    #[test]
    fn decisions_match_the_core_for_the_counts_the_script_read() {
        let r = rules();
        // Before: day 3 requests, minute 1 request / 100 tokens -> admitted; the states show
        // the counts after this request, as the Durable Object reports them.
        let ok = decision(&r, T0, Value::Array(vec![Value::Int(1), Value::Int(3), Value::Int(0), Value::Int(1), Value::Int(100)])).unwrap();
        assert!(ok.admitted);
        assert_eq!((ok.states[0].used_requests, ok.states[1].used_requests, ok.states[1].used_tokens), (4, 2, 100));
        // The minute rule is full: blocked by it, with its retry-after.
        let no = decision(&r, T0, Value::Array(vec![Value::Int(0), Value::Int(3), Value::Int(0), Value::Int(2), Value::Int(0)])).unwrap();
        assert!(!no.admitted);
        assert_eq!(no.blocked_by.as_deref(), Some("minute"));
        assert_eq!(no.retry_after, (Period::Minute.start(T0) + MINUTE_MS - T0).div_ceil(1000));
        assert_eq!(no.states[0].used_requests, 3, "a refused request is counted nowhere");
        // A verdict that contradicts the core is an error, not a guess.
        assert!(decision(&r, T0, Value::Array(vec![Value::Int(1), Value::Int(3), Value::Int(0), Value::Int(2), Value::Int(0)])).is_err());
        assert!(decision(&r, T0, Value::Array(vec![Value::Int(1)])).is_err());
    }

    #[test]
    fn settlement_releases_only_in_the_admitting_window() {
        let r = rules();
        let (_, same) = settle_call("", "s", &r, T0 + 10, T0, 42, true);
        assert_eq!((same[0].as_str(), same[1].as_str(), same[3].as_str()), ("42", "1", "1"));
        let next_minute = Period::Minute.start(T0) + MINUTE_MS;
        let (keys, later) = settle_call("", "s", &r, next_minute, T0, 0, true);
        assert_eq!((later[1].as_str(), later[3].as_str()), ("1", "0"), "the day window is the same, the minute rolled over");
        assert!(keys[1].ends_with(&format!(":minute:{next_minute}")), "tokens go to the current window");
    }

    #[test]
    fn admit_runs_the_script_by_digest_and_settle_skips_empty_work() {
        let rec = Recorder::default();
        let c = client(&rec);
        let r = rules();
        rec.answer(200, r#"{"result":[1,0,0,0,0]}"#);
        assert!(block_on(admit(&c, "", "user:1", &r, T0)).unwrap().admitted);
        assert_eq!(rec.body(0)[0], "EVALSHA");
        assert_eq!(rec.body(0)[1], ADMIT.sha1());
        block_on(settle(&c, "", "user:1", &r, T0, T0, 0, false)).unwrap();
        assert_eq!(rec.sent.borrow().len(), 1, "no tokens and no release: no round trip");
        rec.answer(200, r#"{"result":1}"#);
        block_on(settle(&c, "", "user:1", &r, T0, T0, 5, false)).unwrap();
        assert_eq!(rec.body(1)[1], SETTLE.sha1());
    }
}
