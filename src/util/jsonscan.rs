//! Byte-level helpers for JSON we pass through: find or replace one top-level string field
//! without parsing the document. Streaming chunks are rewritten with these so a passthrough
//! chunk costs a short scan instead of a parse and a re-serialisation.

/// Locate the value of top-level string field `key` in a JSON object: returns the byte range
/// of the string contents (between the quotes, still escaped). Only depth-1 keys match, so a
/// `"model"` inside tool arguments or message content is never touched.
pub fn find_top_level_str(json: &[u8], key: &str) -> Option<(usize, usize)> {
    let key = key.as_bytes();
    let mut i = 0;
    let n = json.len();
    let mut depth = 0usize;
    // `expect_key` is true right after `{` or `,` at depth 1: the next string is a key.
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
                if expect_key && depth == 1 && &json[start..end] == key {
                    // skip whitespace and ':' then expect a string value
                    let mut j = end + 1;
                    while j < n && matches!(json[j], b' ' | b'\t' | b'\r' | b'\n' | b':') {
                        j += 1;
                    }
                    if j < n && json[j] == b'"' {
                        let vs = j + 1;
                        let ve = string_end(json, vs)?;
                        return Some((vs, ve));
                    }
                    return None;
                }
                expect_key = false;
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Index of the closing quote of a string whose contents start at `start`.
fn string_end(json: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < json.len() {
        match memchr::memchr2(b'"', b'\\', &json[i..]) {
            Some(off) => {
                let p = i + off;
                if json[p] == b'\\' {
                    i = p + 2;
                } else {
                    return Some(p);
                }
            }
            None => return None,
        }
    }
    None
}

/// Replace the top-level string field `key` when its current (escaped) value equals `from`.
/// Returns None when there is nothing to change, so callers forward the original bytes.
pub fn replace_top_level_str(json: &[u8], key: &str, from: &str, to: &str) -> Option<Vec<u8>> {
    let (s, e) = find_top_level_str(json, key)?;
    if &json[s..e] != from.as_bytes() {
        return None;
    }
    let to = escape(to);
    let mut out = Vec::with_capacity(json.len() + to.len());
    out.extend_from_slice(&json[..s]);
    out.extend_from_slice(to.as_bytes());
    out.extend_from_slice(&json[e..]);
    Some(out)
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
        let (s, e) = find_top_level_str(j, "model").unwrap();
        assert_eq!(&j[s..e], b"real");
        let j2 = br#"{"message":{"content":"\"model\":\"real\""},"model":"m"}"#;
        let (s, e) = find_top_level_str(j2, "model").unwrap();
        assert_eq!(&j2[s..e], b"m");
        // a value that merely contains the key text is not a key
        let j3 = br#"{"a":"model","b":1}"#;
        assert!(find_top_level_str(j3, "model").is_none());
        assert!(find_top_level_str(b"{\"model\":1}", "model").is_none());
    }

    #[test]
    fn replaces_when_equal_and_escapes() {
        let j = br#"{"model":"llama3:latest","created_at":"t","done":false}"#;
        let out = replace_top_level_str(j, "model", "llama3:latest", "my \"fav\"").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "my \"fav\"");
        assert!(replace_top_level_str(j, "model", "other", "x").is_none());
    }

    #[test]
    fn unterminated_input_is_not_a_panic() {
        assert!(find_top_level_str(br#"{"model":"abc"#, "model").is_none());
        assert!(find_top_level_str(br#"{"mod"#, "model").is_none());
        assert!(find_top_level_str(b"", "model").is_none());
    }
}
