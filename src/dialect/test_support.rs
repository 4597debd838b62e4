//! Helpers the dialect tests share: a JSON object from `json!`, and an SSE answer split into
//! (event, data) pairs with its framing checked.
use super::wire::JsonMap;
use serde_json::Value;

pub fn obj(v: Value) -> JsonMap {
    v.as_object().unwrap().clone()
}

/// Parse an SSE byte stream into (event, data) pairs: every event ends with a blank line, names
/// its type in `event:` and again in `data.type`.
pub fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let s = std::str::from_utf8(bytes).unwrap();
    assert!(s.ends_with("\n\n"));
    s.split("\n\n")
        .filter(|b| !b.is_empty())
        .map(|b| {
            let (ev, data) = b.split_once('\n').unwrap();
            let ev = ev.strip_prefix("event: ").unwrap().to_string();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], ev.as_str(), "event name matches data.type");
            (ev, data)
        })
        .collect()
}
