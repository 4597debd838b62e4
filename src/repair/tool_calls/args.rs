//! Tool-call names and arguments from the loose forms models write: JSON objects, `key=value`
//! pairs, a bare command line, and single parameter values. Every argument string produced here
//! is a JSON object.

use serde_json::{Map, Value};

/// Leading words a model puts before a command line; dropped from `command`.
const COMMAND_LABELS: &[&str] = &["command", "run", "execute", "tool", "toolrun", "bash", "shell"];

/// `s` trimmed, when it is a JSON object. The model's own text is kept (already valid JSON).
pub fn json_object(s: &str) -> Option<String> {
    let t = s.trim();
    if !t.starts_with('{') {
        return None;
    }
    match serde_json::from_str::<Value>(t) {
        Ok(Value::Object(_)) => Some(t.to_owned()),
        _ => None,
    }
}

/// A map as argument text.
pub fn object_text(map: Map<String, Value>) -> String {
    Value::Object(map).to_string()
}

/// A parameter value: JSON numbers, booleans, null, arrays and objects become JSON; anything
/// else (including a quoted JSON string) is the trimmed text. Integers too large to hold exactly
/// stay text, so ids are not rounded.
pub fn literal(raw: &str) -> Value {
    let t = raw.trim();
    let maybe_json = t.bytes().next().is_some_and(|c| matches!(c, b'{' | b'[' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'));
    if maybe_json {
        match serde_json::from_str::<Value>(t) {
            Ok(Value::Number(n)) if exact_number(&n, t) => return Value::Number(n),
            Ok(v @ (Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_))) => return v,
            _ => {}
        }
    }
    Value::String(t.to_owned())
}

fn exact_number(n: &serde_json::Number, text: &str) -> bool {
    n.is_i64() || n.is_u64() || text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E'))
}

/// `key=value` pairs separated by whitespace or commas. Values are `"double"` (with `\"` and
/// `\\` escapes) or `'single'` quoted strings, or bare words read as `literal`. The whole text
/// must be pairs.
pub fn pairs(s: &str) -> Option<Map<String, Value>> {
    let b = s.as_bytes();
    let n = b.len();
    let mut i = 0;
    let mut map = Map::new();
    loop {
        while i < n && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
        if i == n {
            break;
        }
        let k0 = i;
        if !(b[i].is_ascii_alphabetic() || b[i] == b'_') {
            return None;
        }
        while i < n && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'-' | b'.')) {
            i += 1;
        }
        let key = &s[k0..i];
        while i < n && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        if i == n || b[i] != b'=' {
            return None;
        }
        i += 1;
        while i < n && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        let value = if i < n && (b[i] == b'"' || b[i] == b'\'') {
            let (v, next) = quoted(s, i)?;
            i = next;
            Value::String(v)
        } else {
            let v0 = i;
            while i < n && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            literal(s[v0..i].strip_suffix(',').unwrap_or(&s[v0..i]))
        };
        map.insert(key.to_owned(), value);
    }
    (!map.is_empty()).then_some(map)
}

/// The quoted string starting at `s[q]`: its unescaped contents and the index after the quote.
fn quoted(s: &str, q: usize) -> Option<(String, usize)> {
    let b = s.as_bytes();
    let quote = b[q];
    let mut v = String::new();
    let (mut i, mut seg) = (q + 1, q + 1);
    while i < b.len() {
        if b[i] == quote {
            v.push_str(&s[seg..i]);
            return Some((v, i + 1));
        }
        if quote == b'"' && b[i] == b'\\' && i + 1 < b.len() && matches!(b[i + 1], b'"' | b'\\') {
            v.push_str(&s[seg..i]);
            seg = i + 1;
            i += 2;
            continue;
        }
        i += 1;
    }
    None
}

/// A command line: at least two shell words; leading label words (`bash`, `run:` …) are
/// dropped and the rest is kept as written (quotes included) under `command`.
pub fn command(s: &str) -> Option<Map<String, Value>> {
    let words = shell_words(s);
    if words.len() < 2 {
        return None;
    }
    let first = words.iter().position(|&(a, e)| !is_label(&s[a..e]))?;
    let rest = s[words[first].0..].trim();
    let mut map = Map::new();
    map.insert("command".to_owned(), Value::String(rest.to_owned()));
    Some(map)
}

fn is_label(word: &str) -> bool {
    let w = word.trim_end_matches(':');
    COMMAND_LABELS.iter().any(|l| l.eq_ignore_ascii_case(w))
}

/// Byte ranges of shell words; quotes group, an unterminated quote runs to the end.
fn shell_words(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            if b[i] == b'"' || b[i] == b'\'' {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            i = (i + 1).min(b.len());
        }
        words.push((start, i));
    }
    words
}

/// Arguments from plain text: `key=value` pairs, else (when allowed) a command line.
pub fn plain_text(s: &str, allow_command: bool) -> Option<Map<String, Value>> {
    pairs(s).or_else(|| if allow_command { command(s) } else { None })
}

/// A plausible function name: non-empty, short, no whitespace or markup/JSON punctuation.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\'' | '{' | '}' | '[' | ']' | '=' | '`' | ',' | ';' | '(' | ')')
        })
}

/// The contents of `<![CDATA[…]]>` when `t` is exactly one such section.
pub fn cdata(t: &str) -> Option<&str> {
    t.strip_prefix("<![CDATA[")?.strip_suffix("]]>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_objects_only() {
        assert_eq!(json_object("  {\"a\": 1} \n").as_deref(), Some("{\"a\": 1}"));
        assert_eq!(json_object("[1]"), None);
        assert_eq!(json_object("{\"a\": }"), None);
        assert_eq!(json_object("\"x\""), None);
    }

    #[test]
    fn literals() {
        assert_eq!(literal(" 42 "), json!(42));
        assert_eq!(literal("-1.5"), json!(-1.5));
        assert_eq!(literal("true"), json!(true));
        assert_eq!(literal("null"), json!(null));
        assert_eq!(literal("[1, \"a\"]"), json!([1, "a"]));
        assert_eq!(literal("{\"k\": [true]}"), json!({"k": [true]}));
        assert_eq!(literal(" /tmp/x "), json!("/tmp/x"));
        assert_eq!(literal("\"quoted\""), json!("\"quoted\""));
        assert_eq!(literal("007"), json!("007"));
        assert_eq!(literal("123456789012345678901234567890"), json!("123456789012345678901234567890"));
        assert_eq!(literal("nothing"), json!("nothing"));
        assert_eq!(literal(""), json!(""));
    }

    #[test]
    fn key_value_pairs() {
        let m = pairs(r#"path="/a b/c.txt" limit=10, flag=true name='x y' esc="say \"hi\" \\ ok""#).unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"path": "/a b/c.txt", "limit": 10, "flag": true, "name": "x y", "esc": "say \"hi\" \\ ok"})
        );
        assert_eq!(pairs("a = 1").map(Value::Object), Some(json!({"a": 1})));
        assert_eq!(pairs("a="), Some(Map::from_iter([("a".to_owned(), json!(""))])));
        assert!(pairs("ls -la").is_none());
        assert!(pairs("a=1 stray").is_none());
        assert!(pairs("a=\"open").is_none());
        assert!(pairs("").is_none());
    }

    #[test]
    fn command_lines() {
        let cmd = |s: &str| command(s).map(|m| m["command"].as_str().unwrap().to_owned());
        assert_eq!(cmd("ls -la").as_deref(), Some("ls -la"));
        assert_eq!(cmd("bash: echo \"a  b\"").as_deref(), Some("echo \"a  b\""));
        assert_eq!(cmd("Run ls").as_deref(), Some("ls"));
        assert_eq!(cmd("ls"), None);
        assert_eq!(cmd("bash shell"), None);
        assert_eq!(cmd("echo 'unterminated quote"), Some("echo 'unterminated quote".to_owned()));
        assert_eq!(plain_text("ls -la", false), None);
        assert!(plain_text("a=1", false).is_some());
    }

    #[test]
    fn names() {
        for ok in ["Read", "mcp__fs__read_file", "get-weather", "a.b:c", "日本"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "two words", "a<b", "{x}", "a\"b", &"x".repeat(300)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn cdata_sections() {
        assert_eq!(cdata("<![CDATA[a < b]]>"), Some("a < b"));
        assert_eq!(cdata("<![CDATA[]]>"), Some(""));
        assert_eq!(cdata("plain"), None);
    }
}
