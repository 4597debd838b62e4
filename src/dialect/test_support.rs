//! Helpers the dialect tests share: a JSON object from `json!`, an SSE answer split into
//! (event, data) pairs with its framing checked, and type confusions of a body.
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

/// Test support: every variant of `v` with one node (object member or array element, at any
/// depth) replaced by a value of another type, or removed. Decoders must answer each with
/// `Ok` or a 400 — never panic.
pub fn type_confusions(v: &Value) -> Vec<Value> {
    fn paths(v: &Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    prefix.push(Seg::Key(k.clone()));
                    out.push(prefix.clone());
                    paths(c, prefix, out);
                    prefix.pop();
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    prefix.push(Seg::Idx(i));
                    out.push(prefix.clone());
                    paths(c, prefix, out);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }
    #[derive(Clone)]
    enum Seg {
        Key(String),
        Idx(usize),
    }
    fn at<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
        path.iter().fold(v, |v, s| match s {
            Seg::Key(k) => &mut v[k.as_str()],
            Seg::Idx(i) => &mut v[*i],
        })
    }
    let junk = [Value::Null, serde_json::json!(-1), serde_json::json!(1.5), serde_json::json!("x"), serde_json::json!(true), serde_json::json!([]), serde_json::json!({}), serde_json::json!([{}])];
    let mut all = Vec::new();
    paths(v, &mut Vec::new(), &mut all);
    let mut out = Vec::new();
    for p in &all {
        for j in &junk {
            let mut c = v.clone();
            *at(&mut c, p) = j.clone();
            out.push(c);
        }
        let mut c = v.clone();
        let (last, parent) = p.split_last().unwrap();
        match (at(&mut c, parent), last) {
            (Value::Object(m), Seg::Key(k)) => {
                m.remove(k);
            }
            (Value::Array(a), Seg::Idx(i)) => {
                a.remove(*i);
            }
            _ => {}
        }
        out.push(c);
    }
    out
}
