//! Routing-snapshot copies and the version pointer in Redis (`backend.cache = redis`): the
//! alternative to KV (copies) and the Coordinator Durable Object (version) that isolates poll.
//!
//! Keys (the `{snapshot}` hash tag keeps them in one cluster slot for the publish script):
//! `{prefix}{snapshot}:version` the newest published version; `{prefix}{snapshot}:current` its
//! JSON; `{prefix}{snapshot}:v{N}` each version's JSON for a week.

use crate::redis::{Client, Cmd, Error, Script, Transport};

pub const PUBLISH: Script = Script::new(include_str!("snapshot_publish.lua"));

/// Versioned copies are kept this long (like the KV copies): isolates only ever need recent ones.
pub const VERSIONED_TTL_S: u64 = 7 * 86_400;

pub fn pointer_key(prefix: &str) -> String {
    format!("{prefix}{{snapshot}}:version")
}
pub fn current_key(prefix: &str) -> String {
    format!("{prefix}{{snapshot}}:current")
}
pub fn version_key(prefix: &str, version: u64) -> String {
    format!("{prefix}{{snapshot}}:v{version}")
}

fn parse_version(v: Option<Vec<u8>>) -> u64 {
    v.and_then(|b| String::from_utf8(b).ok()).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// The version pointer (0 when nothing was published to this Redis yet).
pub async fn pointer<T: Transport>(client: &Client<T>, prefix: &str) -> Result<u64, Error> {
    Ok(parse_version(client.get(&pointer_key(prefix)).await?))
}

/// A cold start's one round trip: the pointer and the current copy.
pub async fn head<T: Transport>(client: &Client<T>, prefix: &str) -> Result<(u64, Option<Vec<u8>>), Error> {
    let mut r = client.pipeline(&[Cmd::get(&pointer_key(prefix)), Cmd::get(&current_key(prefix))]).await?.into_iter();
    let pointer = parse_version(r.next().unwrap_or(Ok(crate::redis::Value::Nil))?.into_bytes()?);
    let current = r.next().unwrap_or(Ok(crate::redis::Value::Nil))?.into_bytes()?;
    Ok((pointer, current))
}

/// One version's copy, if Redis has it.
pub async fn copy<T: Transport>(client: &Client<T>, prefix: &str, version: u64) -> Result<Option<Vec<u8>>, Error> {
    client.get(&version_key(prefix, version)).await
}

/// Publish `version`: with `json`, its copies and the pointer; without, only the pointer (the
/// copies are in KV). Returns the pointer afterwards (never lower than before).
pub async fn publish<T: Transport>(client: &Client<T>, prefix: &str, version: u64, json: Option<&str>) -> Result<u64, Error> {
    let keys = vec![pointer_key(prefix), current_key(prefix), version_key(prefix, version)];
    let args = vec![version.to_string(), json.unwrap_or("").to_string(), VERSIONED_TTL_S.to_string()];
    client.run(&PUBLISH, &keys, &args).await?.as_int().map(|v| v.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::client::tests::{client, Recorder};
    use futures::executor::block_on;

    #[test]
    fn keys_share_a_hash_tag() {
        assert_eq!(pointer_key("m:"), "m:{snapshot}:version");
        assert_eq!(current_key("m:"), "m:{snapshot}:current");
        assert_eq!(version_key("m:", 12), "m:{snapshot}:v12");
    }

    #[test]
    fn head_reads_pointer_and_current_in_one_pipeline() {
        let rec = Recorder::default();
        let c = client(&rec);
        rec.answer(200, r#"[{"result":"Nw=="},{"result":"eyJ2ZXJzaW9uIjo3fQ=="}]"#);
        let (p, cur) = block_on(head(&c, "m:")).unwrap();
        assert_eq!((p, cur.as_deref()), (7, Some(&b"{\"version\":7}"[..])));
        assert!(rec.sent.borrow()[0].url.ends_with("/pipeline"));
        rec.answer(200, r#"[{"result":null},{"result":null}]"#);
        assert_eq!(block_on(head(&c, "m:")).unwrap(), (0, None));
    }

    #[test]
    fn publish_sends_copies_or_only_the_pointer() {
        let rec = Recorder::default();
        let c = client(&rec);
        rec.answer(200, r#"{"result":5}"#);
        assert_eq!(block_on(publish(&c, "m:", 5, Some("{}"))).unwrap(), 5);
        let b = rec.body(0);
        assert_eq!(b[0], "EVALSHA");
        assert_eq!((b[2].as_str(), b[3].as_str(), b[6].as_str(), b[7].as_str()), (Some("3"), Some("m:{snapshot}:version"), Some("5"), Some("{}")));
        rec.answer(200, r#"{"result":9}"#);
        assert_eq!(block_on(publish(&c, "m:", 6, None)).unwrap(), 9, "an older version never moves the pointer back");
        assert_eq!(rec.body(1)[7], "");
    }
}
