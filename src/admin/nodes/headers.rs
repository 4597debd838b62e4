//! Custom node headers are secrets, whatever their name: an origin's auth header may be called
//! `X-Custom-Auth`, `X-Auth` or `Ocp-Apim-Subscription-Key`, and no keyword list can know that.
//! So every value is sealed at rest like a node API key (`auth::secrets`), shown as
//! [`MASK`], never written to the audit log, and opened only to build an origin request.
//!
//! Editing without retyping: on update, a value equal to [`MASK`] keeps the stored value of that
//! header, so a client (the dashboard) can send back what it was shown plus its changes.

use crate::error::GatewayError;
use serde_json::{Map, Value};

/// What every header value reads as in the admin API and the audit log.
pub const MASK: &str = "[redacted]";
const MAX_HEADERS: usize = 50;
const MAX_NAME: usize = 100;
const MAX_VALUE: usize = 8192;

/// Headers the gateway owns: the connection's own (hop-by-hop, RFC 9110 §7.6.1), the target
/// host, and the body's framing and type. A node cannot set them.
const REFUSED: &[&str] =
    &["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization", "content-length", "content-type"];

fn bad(message: String) -> GatewayError {
    GatewayError::bad_field("headers", message)
}

/// Check a `headers` object as the admin sent it (absent or null: None).
pub fn validate(raw: Option<&Value>) -> Result<Option<Map<String, Value>>, GatewayError> {
    let m = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(bad("'headers' must be an object of header name to value".into())),
    };
    if m.len() > MAX_HEADERS {
        return Err(bad(format!("at most {MAX_HEADERS} headers per node")));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in m {
        let name_ok = !k.is_empty() && k.len() <= MAX_NAME && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        // Visible characters, spaces and tabs only: anything else would split the request or
        // make the runtime refuse it.
        let val_ok = v.as_str().is_some_and(|s| s.len() <= MAX_VALUE && !s.chars().any(|c| c.is_control() && c != '\t'));
        if !name_ok || !val_ok {
            return Err(bad(format!("header '{k}' must have a token name (A-Z, 0-9, '-', '_'; up to {MAX_NAME}) and a single-line string value of up to {MAX_VALUE} bytes")));
        }
        let lower = k.to_ascii_lowercase();
        if REFUSED.contains(&lower.as_str()) {
            return Err(bad(format!("header '{k}' cannot be set on a node: the gateway sets connection (hop-by-hop), Host and body headers itself")));
        }
        if !seen.insert(lower) {
            return Err(bad(format!("header '{k}' is given twice (names are case-insensitive)")));
        }
    }
    Ok(Some(m.clone()))
}

/// The stored form of `wanted`: every value sealed, a [`MASK`] value replaced by the stored one
/// of the same name (`stored`: name -> sealed value). `open_plain` tells a stored value that is
/// still plain text (a row not yet sealed by migration 4) so it is sealed now.
pub fn seal_all(wanted: &Map<String, Value>, stored: &Map<String, Value>, stored_sealed: bool, seal: &dyn Fn(&str) -> String) -> Result<Map<String, Value>, GatewayError> {
    let mut out = Map::new();
    for (k, v) in wanted {
        let v = v.as_str().unwrap_or_default();
        let value = if v == MASK {
            let kept = stored.iter().find(|(sk, _)| sk.eq_ignore_ascii_case(k)).and_then(|(_, sv)| sv.as_str());
            match kept {
                Some(s) if stored_sealed => s.to_string(),
                Some(s) => seal(s),
                None => return Err(bad(format!("header '{k}' reads {MASK}, which keeps a stored value, but the node has no header '{k}': send its value"))),
            }
        } else {
            seal(v)
        };
        out.insert(k.clone(), Value::String(value));
    }
    Ok(out)
}

/// What the admin API and the audit log show: names, never values.
pub fn masked(headers: &Value) -> Value {
    match headers {
        Value::Object(m) => Value::Object(m.keys().map(|k| (k.clone(), Value::String(MASK.into()))).collect()),
        _ => Value::Object(Map::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seal(s: &str) -> String {
        format!("v1.sealed({s})")
    }

    #[test]
    fn hop_by_hop_host_and_body_headers_are_refused_by_name() {
        for name in ["Host", "connection", "Keep-Alive", "Transfer-Encoding", "TE", "Upgrade", "Proxy-Authorization", "Content-Length", "content-type", "Trailer"] {
            let e = validate(Some(&json!({ name: "x" }))).unwrap_err();
            assert_eq!(e.field(), Some("headers"));
            assert!(e.to_string().contains(&format!("'{name}'")), "{e}");
        }
        assert!(validate(Some(&json!({"X-Custom-Auth": "s", "Ocp-Apim-Subscription-Key": "k", "Authorization": "Bearer t"}))).unwrap().is_some());
    }

    #[test]
    fn bad_names_values_and_shapes_are_400() {
        for bad in [json!({"X-A": "v\r\nX-Evil: 1"}), json!({"X A": "v"}), json!({"X-A": 5}), json!({"": "v"}), json!({"X-A": "a\u{7}"}), json!("x"), json!({"X-A": "x".repeat(9000)})] {
            assert_eq!(validate(Some(&bad)).unwrap_err().field(), Some("headers"), "{bad}");
        }
        assert!(validate(Some(&json!({"X-A": "1", "x-a": "2"}))).unwrap_err().to_string().contains("twice"));
        let many: Map<String, Value> = (0..51).map(|i| (format!("X-{i}"), json!("v"))).collect();
        assert!(validate(Some(&Value::Object(many))).is_err());
        assert_eq!(validate(None).unwrap(), None);
        assert_eq!(validate(Some(&Value::Null)).unwrap(), None);
    }

    #[test]
    fn every_value_is_sealed_and_a_mask_keeps_the_stored_one() {
        let wanted = json!({"X-Auth": "new-secret", "X-Team": MASK});
        let stored = json!({"x-team": "v1.old", "X-Gone": "v1.gone"});
        let out = seal_all(wanted.as_object().unwrap(), stored.as_object().unwrap(), true, &seal).unwrap();
        assert_eq!(Value::Object(out), json!({"X-Auth": "v1.sealed(new-secret)", "X-Team": "v1.old"}));
        // A stored value still in plain text (before migration 4 sealed it) is sealed on the way.
        let out = seal_all(wanted.as_object().unwrap(), json!({"X-Team": "red"}).as_object().unwrap(), false, &seal).unwrap();
        assert_eq!(out["X-Team"], "v1.sealed(red)");
        let e = seal_all(json!({"X-New": MASK}).as_object().unwrap(), &Map::new(), true, &seal).unwrap_err();
        assert_eq!(e.field(), Some("headers"));
    }

    #[test]
    fn masked_shows_names_only() {
        assert_eq!(masked(&json!({"X-Auth": "v1.abc", "X-Team": "red"})), json!({"X-Auth": MASK, "X-Team": MASK}));
        assert_eq!(masked(&Value::Null), json!({}));
    }
}
