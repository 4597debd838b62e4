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

/// One top-level member of a JSON object: its decoded key, where its key starts (the opening
/// quote) and the byte range of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub key: String,
    pub key_start: usize,
    pub value: (usize, usize),
}

/// Every top-level member of a JSON object, in document order, and the index of its closing
/// brace. None when `json` is not a well-formed object at the top level.
pub fn top_level_members(json: &[u8]) -> Option<(Vec<Member>, usize)> {
    let ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let n = json.len();
    let mut i = json.iter().position(|b| !ws(*b))?;
    if json[i] != b'{' {
        return None;
    }
    i += 1;
    let mut members = Vec::new();
    loop {
        while i < n && ws(json[i]) {
            i += 1;
        }
        match *json.get(i)? {
            b'}' if members.is_empty() => return Some((members, i)),
            b'"' => {}
            _ => return None,
        }
        let key_start = i;
        let kend = string_end(json, i + 1)?;
        let raw_key = &json[i + 1..kend];
        let key = if raw_key.contains(&b'\\') { serde_json::from_slice::<String>(&json[i..=kend]).ok()? } else { String::from_utf8(raw_key.to_vec()).ok()? };
        i = kend + 1;
        while i < n && ws(json[i]) {
            i += 1;
        }
        if json.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        while i < n && ws(json[i]) {
            i += 1;
        }
        let vend = value_end(json, i)?;
        members.push(Member { key, key_start, value: (i, vend) });
        i = vend;
        while i < n && ws(json[i]) {
            i += 1;
        }
        match *json.get(i)? {
            b',' => i += 1,
            b'}' => return Some((members, i)),
            _ => return None,
        }
    }
}

/// `raw` (a JSON object whose parse is `before`) changed into `after` with the fewest bytes
/// touched: members whose value did not change keep their exact bytes (spacing, key order,
/// number spelling, escapes), changed values are re-serialised in place, removed members are
/// cut out and new ones appended before the closing brace. None (the caller serialises
/// `after` whole) when the bytes cannot be matched to `before` (e.g. duplicate keys).
pub fn splice_object(raw: &[u8], before: &serde_json::Map<String, serde_json::Value>, after: &serde_json::Map<String, serde_json::Value>) -> Option<Vec<u8>> {
    let (members, close) = top_level_members(raw)?;
    if members.len() != before.len() {
        return None; // duplicate keys: the parse kept only the last one
    }
    let mut out = Vec::with_capacity(raw.len() + 64);
    let first = members.first().map_or(close, |m| m.key_start);
    out.extend_from_slice(&raw[..first]);
    let mut emitted = false;
    let mut prev_end = first;
    for m in &members {
        let gap = &raw[prev_end..m.key_start];
        prev_end = m.value.1;
        let Some(new) = after.get(&m.key) else { continue };
        if emitted {
            // The separator the client wrote (a comma and its spacing); after a removed first
            // member, the first kept one needs none.
            out.extend_from_slice(if gap.contains(&b',') { gap } else { b"," });
        }
        out.extend_from_slice(&raw[m.key_start..m.value.0]);
        let old_raw = &raw[m.value.0..m.value.1];
        match before.get(&m.key) {
            Some(old) if old == new => out.extend_from_slice(old_raw),
            Some(old) => splice_value(&mut out, old_raw, old, new)?,
            None => serde_json::to_writer(&mut out, new).ok()?,
        }
        emitted = true;
    }
    for (k, v) in after {
        if before.contains_key(k) {
            continue;
        }
        if emitted {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, k).ok()?;
        out.push(b':');
        serde_json::to_writer(&mut out, v).ok()?;
        emitted = true;
    }
    let tail = members.last().map_or(close, |m| m.value.1);
    out.extend_from_slice(&raw[tail..]);
    Some(out)
}

/// A changed value, written with the fewest bytes touched: an object or array whose parts
/// partly survived keeps their bytes (so a policy that inserts one system block or strips one
/// thinking block leaves every other block of the client's body byte for byte); anything else
/// is re-serialised.
fn splice_value(out: &mut Vec<u8>, raw: &[u8], before: &serde_json::Value, after: &serde_json::Value) -> Option<()> {
    use serde_json::Value;
    let spliced = match (before, after) {
        (Value::Object(b), Value::Object(a)) => splice_object(raw, b, a),
        (Value::Array(b), Value::Array(a)) => splice_array(raw, b, a),
        _ => None,
    };
    match spliced {
        Some(bytes) => out.extend_from_slice(&bytes),
        None => serde_json::to_writer(&mut *out, after).ok()?,
    }
    Some(())
}

/// Byte ranges of a JSON array's elements, and the index of its closing bracket.
fn array_elements(json: &[u8]) -> Option<(Vec<(usize, usize)>, usize)> {
    let ws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let n = json.len();
    let mut i = json.iter().position(|b| !ws(*b))?;
    if json[i] != b'[' {
        return None;
    }
    i += 1;
    let mut elems = Vec::new();
    loop {
        while i < n && ws(json[i]) {
            i += 1;
        }
        if *json.get(i)? == b']' && elems.is_empty() {
            return Some((elems, i));
        }
        let end = value_end(json, i)?;
        elems.push((i, end));
        i = end;
        while i < n && ws(json[i]) {
            i += 1;
        }
        match *json.get(i)? {
            b',' => i += 1,
            b']' => return Some((elems, i)),
            _ => return None,
        }
    }
}

/// How far ahead an unchanged element is looked for: edits are a few insertions or removals,
/// and the bound keeps a rewritten array linear.
const LOOKAHEAD: usize = 4;

/// `raw` (an array whose parse is `before`) changed into `after`: elements found unchanged (in
/// order, within `LOOKAHEAD`) keep their bytes and the separators between them, elements
/// skipped over are cut out, a changed element in place is spliced, others are written new.
fn splice_array(raw: &[u8], before: &[serde_json::Value], after: &[serde_json::Value]) -> Option<Vec<u8>> {
    let (elems, close) = array_elements(raw)?;
    if elems.len() != before.len() {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len() + 64);
    let first = elems.first().map_or(close, |e| e.0);
    out.extend_from_slice(&raw[..first]);
    let mut j = 0; // next unconsumed element of `before`
    let mut last_kept: Option<usize> = None; // index of the last element written from `raw`
    for (n, a) in after.iter().enumerate() {
        let found = (j..before.len().min(j + LOOKAHEAD)).find(|k| before[*k] == *a);
        let (from_raw, k) = match found {
            Some(k) => (true, Some(k)),
            // The next element is the client's next one: this one is new (an inserted block).
            None if after.get(n + 1).is_some_and(|next| before.get(j) == Some(next)) => (false, None),
            // Same place, changed inside: spliced (an object losing one block, say).
            None if j < before.len() && std::mem::discriminant(&before[j]) == std::mem::discriminant(a) && (a.is_object() || a.is_array()) => (false, Some(j)),
            None => (false, None),
        };
        if n > 0 {
            // Two neighbours from the client's bytes keep the separator it wrote.
            match (last_kept, k) {
                (Some(p), Some(k)) if k == p + 1 => out.extend_from_slice(&raw[elems[p].1..elems[k].0]),
                _ => out.push(b','),
            }
        }
        match k {
            Some(k) if from_raw => out.extend_from_slice(&raw[elems[k].0..elems[k].1]),
            Some(k) => splice_value(&mut out, &raw[elems[k].0..elems[k].1], &before[k], a)?,
            None => serde_json::to_writer(&mut out, a).ok()?,
        }
        if let Some(k) = k {
            last_kept = Some(k);
            j = k + 1;
        } else {
            last_kept = None;
        }
    }
    let tail = elems.last().map_or(close, |e| e.1);
    out.extend_from_slice(&raw[tail..]);
    Some(out)
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

    #[test]
    fn members_in_order_with_escaped_keys() {
        let j = br#" { "a" : 1 , "m\u006fdel":"x", "o":{"k":[1,2]} } "#;
        let (m, close) = top_level_members(j).unwrap();
        let keys: Vec<&str> = m.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["a", "model", "o"]);
        assert_eq!(&j[m[2].value.0..m[2].value.1], br#"{"k":[1,2]}"#);
        assert_eq!(j[close], b'}');
        assert_eq!(top_level_members(b"{}").unwrap().0.len(), 0);
        for bad in [&b"[1]"[..], b"{\"a\":}", b"{\"a\" 1}", b"{\"a\":1,}", b"{\"a\":1", b""] {
            assert!(top_level_members(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }

    fn obj(j: &[u8]) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_slice(j).unwrap()
    }

    #[test]
    fn splice_touches_only_what_changed() {
        let raw = br#"{"model": "claude", "z":1.0,"messages":[{"role":"user","content":[{"type":"thinking","thinking":"t","signature":"c2ln\/=="}]}], "tools":[{"name":"a","cache_control":{"type":"ephemeral"}}],"x":"\u00e9"}"#;
        let before = obj(raw);
        let mut after = before.clone();
        after.insert("model".into(), "real-1".into());
        let out = splice_object(raw, &before, &after).unwrap();
        let want = String::from_utf8(raw.to_vec()).unwrap().replace(r#""model": "claude""#, r#""model": "real-1""#);
        assert_eq!(String::from_utf8(out).unwrap(), want, "only the model value changed");

        after.remove("z");
        after.remove("x");
        after.insert("system".into(), serde_json::json!("S"));
        let out = splice_object(raw, &before, &after).unwrap();
        assert_eq!(obj(&out), after);
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains(r#""signature":"c2ln\/==""#) && s.ends_with(r#","system":"S"}"#), "{s}");

        let mut first_gone = before.clone();
        first_gone.remove("model");
        let out = splice_object(raw, &before, &first_gone).unwrap();
        assert_eq!(obj(&out), first_gone);
        assert!(out.starts_with(br#"{"z":1.0,"#));

        let e = obj(b"{ }");
        let mut added = e.clone();
        added.insert("a".into(), 1.into());
        assert_eq!(splice_object(b"{ }", &e, &added).unwrap(), br#"{ "a":1}"#);
        assert!(splice_object(br#"{"a":1,"a":2}"#, &obj(br#"{"a":2}"#), &added).is_none(), "duplicate keys fall back");
    }

    #[test]
    fn nested_edits_keep_the_bytes_around_them() {
        // A system block inserted after the first: both client blocks keep their bytes.
        let raw = br#"{"system": [ {"type":"text","text":"H!"} ,  {"type":"text","text":"S","cache_control":{"type" : "ephemeral"}} ],"m":1}"#;
        let before = obj(raw);
        let mut after = before.clone();
        after["system"].as_array_mut().unwrap().insert(1, serde_json::json!({"type":"text","text":"N"}));
        let out = String::from_utf8(splice_object(raw, &before, &after).unwrap()).unwrap();
        assert_eq!(obj(out.as_bytes()), after);
        assert_eq!(out, r#"{"system": [ {"type":"text","text":"H!"},{"text":"N","type":"text"},{"type":"text","text":"S","cache_control":{"type" : "ephemeral"}} ],"m":1}"#);

        // One block cut out of one message: every other message and block byte for byte.
        let raw = br#"{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"thinking","thinking":"x","signature":""}, {"type":"tool_use","id":"t\/1","name":"R","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t\/1","content":"ok"}]}]}"#;
        let before = obj(raw);
        let mut after = before.clone();
        after["messages"][1]["content"].as_array_mut().unwrap().remove(0);
        let out = String::from_utf8(splice_object(raw, &before, &after).unwrap()).unwrap();
        assert_eq!(obj(out.as_bytes()), after);
        assert_eq!(out, String::from_utf8(raw.to_vec()).unwrap().replace(r#"{"type":"thinking","thinking":"x","signature":""}, "#, ""));

        // A whole message removed, one appended, one replaced by a string.
        let mut after2 = before.clone();
        let msgs = after2["messages"].as_array_mut().unwrap();
        msgs.remove(1);
        msgs.push(serde_json::json!({"role":"user","content":"more"}));
        let out = splice_object(raw, &before, &after2).unwrap();
        assert_eq!(obj(&out), after2);
        assert!(String::from_utf8(out).unwrap().contains(r#""tool_use_id":"t\/1""#));
        let mut after3 = before.clone();
        after3["messages"][0] = serde_json::json!("odd");
        assert_eq!(obj(&splice_object(raw, &before, &after3).unwrap()), after3);
        let mut emptied = before.clone();
        emptied["messages"] = serde_json::json!([]);
        assert_eq!(splice_object(raw, &before, &emptied).unwrap(), br#"{"messages":[]}"#);
    }
}
