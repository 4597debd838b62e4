//! Byte-level helpers for JSON we pass through: find or replace one top-level field without
//! parsing the document. Streaming chunks are rewritten with these, so a passthrough chunk
//! costs a short scan instead of a parse and a re-serialisation. Only depth-1 keys match: a
//! `"model"` inside tool arguments or message content is never touched.

/// Byte range of the raw value of top-level field `key` (strings include their quotes).
pub fn top_level_value(json: &[u8], key: &str) -> Option<(usize, usize)> {
    let n = json.len();
    let mut i = 0;
    let mut depth = 0usize;
    // True right after `{` or `,` at depth 1: the next string is a key.
    let mut expect_key = false;
    while i < n {
        match json[i] {
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && json[i] == b'{';
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                expect_key = false;
                i += 1;
            }
            b',' => {
                expect_key = depth == 1;
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let end = string_end(json, start)?;
                let is_key = expect_key && depth == 1;
                expect_key = false;
                i = end + 1;
                if is_key && &json[start..end] == key.as_bytes() {
                    let mut j = i;
                    while j < n && matches!(json[j], b' ' | b'\t' | b'\r' | b'\n' | b':') {
                        j += 1;
                    }
                    let vend = value_end(json, j)?;
                    return Some((j, vend));
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// End (exclusive) of the JSON value starting at `start`.
fn value_end(json: &[u8], start: usize) -> Option<usize> {
    match *json.get(start)? {
        b'"' => string_end(json, start + 1).map(|e| e + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < json.len() {
                match json[i] {
                    b'"' => i = string_end(json, i + 1)?,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            let len = json[start..].iter().position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')).unwrap_or(json.len() - start);
            (len > 0).then_some(start + len)
        }
    }
}

/// Index of the closing quote of a string whose contents start at `start`.
fn string_end(json: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < json.len() {
        let off = memchr::memchr2(b'"', b'\\', &json[i..])?;
        let p = i + off;
        if json[p] == b'\\' {
            i = p + 2;
        } else {
            return Some(p);
        }
    }
    None
}

/// Contents (still escaped, without quotes) of a top-level string field.
pub fn top_level_str<'a>(json: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let (s, e) = top_level_value(json, key)?;
    (json[s] == b'"').then(|| &json[s + 1..e - 1])
}

/// Replace the value of a top-level string field with `value` (JSON-escaped here). Returns None
/// when the field is absent or not a string, so callers forward the original bytes.
pub fn set_top_level_str(json: &[u8], key: &str, value: &str) -> Option<Vec<u8>> {
    let (s, e) = top_level_value(json, key)?;
    if json[s] != b'"' {
        return None;
    }
    let escaped = escape(value);
    if &json[s + 1..e - 1] == escaped.as_bytes() {
        return None;
    }
    let mut out = Vec::with_capacity(json.len() + escaped.len());
    out.extend_from_slice(&json[..s + 1]);
    out.extend_from_slice(escaped.as_bytes());
    out.extend_from_slice(&json[e - 1..]);
    Some(out)
}

/// True when the top-level field exists and its raw value is exactly `raw` (e.g. `true`).
pub fn top_level_is(json: &[u8], key: &str, raw: &[u8]) -> bool {
    top_level_value(json, key).is_some_and(|(s, e)| &json[s..e] == raw)
}

/// JSON-escape a string's contents (without the quotes).
pub fn escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_top_level_keys() {
        let j = br#"{"id":"x","choices":[{"delta":{"model":"inner"}}],"model":"real"}"#;
        assert_eq!(top_level_str(j, "model").unwrap(), b"real");
        let j2 = br#"{"message":{"content":"\"model\":\"real\""},"model":"m"}"#;
        assert_eq!(top_level_str(j2, "model").unwrap(), b"m");
        assert!(top_level_value(br#"{"a":"model","b":1}"#, "model").is_none());
        assert!(top_level_str(b"{\"model\":1}", "model").is_none());
    }

    #[test]
    fn values_of_every_type() {
        let j = br#"{"done": true, "n":12,"o":{"a":[1,{"b":"}"}]},"s":"x\"y","z":null}"#;
        let get = |k| top_level_value(j, k).map(|(s, e)| std::str::from_utf8(&j[s..e]).unwrap().to_string());
        assert_eq!(get("done").unwrap(), "true");
        assert_eq!(get("n").unwrap(), "12");
        assert_eq!(get("o").unwrap(), r#"{"a":[1,{"b":"}"}]}"#);
        assert_eq!(get("s").unwrap(), r#""x\"y""#);
        assert_eq!(get("z").unwrap(), "null");
        assert!(top_level_is(j, "done", b"true"));
    }

    #[test]
    fn set_replaces_and_escapes() {
        let j = br#"{"model":"llama3:latest","created_at":"t","done":false}"#;
        let out = set_top_level_str(j, "model", "my \"fav\"").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "my \"fav\"");
        assert_eq!(v["done"], false);
        assert!(set_top_level_str(j, "model", "llama3:latest").is_none(), "unchanged value needs no copy");
    }

    #[test]
    fn broken_input_is_not_a_panic() {
        for s in [&br#"{"model":"abc"#[..], br#"{"mod"#, b"", b"{", br#"{"a":{"#, br#"{"a":"#, b"\"", b"}}}]]"] {
            let _ = top_level_value(s, "model");
            let _ = top_level_value(s, "a");
        }
    }
}
