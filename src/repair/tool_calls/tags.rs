//! A forgiving scanner for the XML-like tags DeepSeek-style models write, DSML-prefixed names
//! included (`<｜DSML｜invoke name="x">`, `</|DSML|parameter>`, with ASCII `|` or full-width `｜`).
//!
//! Not an XML parser, on purpose: model output is rarely well-formed (raw `<` in code values,
//! no entity escaping). No entities are decoded; an attribute value may not contain `>`; a tag
//! is decided within its first [`MAX_TAG`] bytes, so scanning cost and hold-back stay bounded.

/// Longest tag we recognise, attributes included.
pub const MAX_TAG: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    pub close: bool,
    /// Without any DSML prefix.
    pub name: &'a str,
    pub attrs: &'a str,
    pub self_closing: bool,
    /// Index just past the `>`.
    pub end: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Scan<'a> {
    Tag(Tag<'a>),
    /// The text ends inside what may still become a tag. `name` is the name so far and
    /// `name_done` says whether it can still grow.
    Partial { close: bool, name: &'a str, name_done: bool },
    NotTag,
}

/// What `s[p]` (a `<`) starts.
pub fn scan(s: &str, p: usize) -> Scan<'_> {
    let b = s.as_bytes();
    let lim = b.len().min(p + MAX_TAG);
    // Running out of input is Partial only while the tag could still fit in MAX_TAG.
    let ran_out = |partial: Scan<'static>| if b.len() < p + MAX_TAG { partial } else { Scan::NotTag };
    let mut i = p + 1;
    if i >= lim {
        return ran_out(Scan::Partial { close: false, name: "", name_done: false });
    }
    let close = b[i] == b'/';
    if close {
        i += 1;
    }
    if i < lim && (b[i] == b'|' || b[i] == 0xEF) {
        match dsml(b, i, lim) {
            Ok(next) => i = next,
            Err(true) => return ran_out(Scan::Partial { close, name: "", name_done: false }),
            Err(false) => return Scan::NotTag,
        }
    }
    let n0 = i;
    while i < lim && is_name_byte(b[i]) {
        i += 1;
    }
    if i == n0 {
        return if i >= lim { ran_out(Scan::Partial { close, name: "", name_done: false }) } else { Scan::NotTag };
    }
    if !(b[n0].is_ascii_alphabetic() || b[n0] == b'_') {
        return Scan::NotTag;
    }
    let name = &s[n0..i];
    if i >= lim {
        return if b.len() < p + MAX_TAG { Scan::Partial { close, name, name_done: false } } else { Scan::NotTag };
    }
    if close {
        while i < lim && b[i].is_ascii_whitespace() {
            i += 1;
        }
        return match b.get(i) {
            _ if i >= lim => {
                if b.len() < p + MAX_TAG {
                    Scan::Partial { close, name, name_done: true }
                } else {
                    Scan::NotTag
                }
            }
            Some(b'>') => Scan::Tag(Tag { close, name, attrs: "", self_closing: false, end: i + 1 }),
            _ => Scan::NotTag,
        };
    }
    if !(b[i] == b'>' || b[i] == b'/' || b[i].is_ascii_whitespace()) {
        return Scan::NotTag;
    }
    match memchr::memchr2(b'>', b'<', &b[i..lim]) {
        Some(off) if b[i + off] == b'>' => {
            let raw = s[i..i + off].trim_end();
            let (attrs, self_closing) = match raw.strip_suffix('/') {
                Some(a) => (a.trim(), true),
                None => (raw.trim(), false),
            };
            Scan::Tag(Tag { close, name, attrs, self_closing, end: i + off + 1 })
        }
        Some(_) => Scan::NotTag,
        None if b.len() < p + MAX_TAG => Scan::Partial { close, name, name_done: true },
        None => Scan::NotTag,
    }
}

/// Past a `|DSML|` prefix (either bar) starting at `b[i]`; Err(true) if the input ends inside it.
fn dsml(b: &[u8], i: usize, lim: usize) -> Result<usize, bool> {
    let i = bar(b, i, lim)?;
    let i = expect(b, i, lim, b"DSML")?;
    bar(b, i, lim)
}

fn bar(b: &[u8], i: usize, lim: usize) -> Result<usize, bool> {
    match b.get(i) {
        _ if i >= lim => Err(true),
        Some(b'|') => Ok(i + 1),
        _ => expect(b, i, lim, "｜".as_bytes()),
    }
}

fn expect(b: &[u8], i: usize, lim: usize, lit: &[u8]) -> Result<usize, bool> {
    let end = (i + lit.len()).min(lim);
    if b[i..end] != lit[..end - i] {
        Err(false)
    } else if end < i + lit.len() {
        Err(true)
    } else {
        Ok(end)
    }
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b':' | b'.')
}

const CDATA_OPEN: &str = "<![CDATA[";
const CDATA_END: &[u8] = b"]]>";

pub enum Cdata {
    /// A complete section; index just past `]]>`.
    Complete(usize),
    /// The opener is complete but `]]>` has not come yet; its contents start at this index.
    Unclosed(usize),
    /// The text ends inside the opener itself.
    Partial,
    No,
}

/// Whether `s[p]` starts a CDATA section.
pub fn cdata_at(s: &str, p: usize) -> Cdata {
    let tail = &s[p..];
    if tail.starts_with(CDATA_OPEN) {
        let body = p + CDATA_OPEN.len();
        match cdata_end(s.as_bytes(), body) {
            Some(end) => Cdata::Complete(end),
            None => Cdata::Unclosed(body),
        }
    } else if CDATA_OPEN.starts_with(tail) {
        Cdata::Partial
    } else {
        Cdata::No
    }
}

/// Index just past the first `]]>` at or after `from`.
pub fn cdata_end(b: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(&b[from..], CDATA_END).map(|off| from + off + CDATA_END.len())
}

/// Where to resume looking for `]]>` once `b` has grown (its last bytes may start one).
pub fn cdata_resume(b: &[u8], from: usize) -> usize {
    b.len().saturating_sub(CDATA_END.len() - 1).max(from)
}

/// The first closing tag named one of `names` at or after `from` (CDATA skipped): its start and end.
pub fn find_close(s: &str, from: usize, names: &[&str]) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut i = from;
    while let Some(off) = memchr::memchr(b'<', &b[i..]) {
        let p = i + off;
        i = p + 1;
        match cdata_at(s, p) {
            Cdata::Complete(end) => {
                i = end;
                continue;
            }
            Cdata::Unclosed(_) | Cdata::Partial => return None,
            Cdata::No => {}
        }
        if let Scan::Tag(t) = scan(s, p) {
            if t.close && names.contains(&t.name) {
                return Some((p, t.end));
            }
            i = t.end;
        }
    }
    None
}

/// A complete element found by [`elements`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elem<'a> {
    pub name: &'a str,
    pub attrs: &'a str,
    pub body: &'a str,
}

/// `s` read as one or more elements separated only by whitespace; None if anything else is
/// there. An element ends at the first closing tag of its name (no same-name nesting).
pub fn elements(s: &str) -> Option<Vec<Elem<'_>>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        if b[i] != b'<' {
            return None;
        }
        let Scan::Tag(t) = scan(s, i) else { return None };
        if t.close {
            return None;
        }
        if t.self_closing {
            out.push(Elem { name: t.name, attrs: t.attrs, body: "" });
            i = t.end;
            continue;
        }
        let (cs, ce) = find_close(s, t.end, &[t.name])?;
        out.push(Elem { name: t.name, attrs: t.attrs, body: &s[t.end..cs] });
        i = ce;
    }
    (!out.is_empty()).then_some(out)
}

/// The value of attribute `key`: `key="v"`, `key='v'` or `key=v`.
pub fn attr<'a>(attrs: &'a str, key: &str) -> Option<&'a str> {
    let b = attrs.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let k0 = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' {
            i += 1;
        }
        let k = &attrs[k0..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            // A bare attribute; if it was empty we are stuck on junk, so stop.
            if k.is_empty() {
                return None;
            }
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let (v, next) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let v0 = i + 1;
                let end = memchr::memchr(q, &b[v0..]).map_or(b.len(), |o| v0 + o);
                (&attrs[v0..end], end + 1)
            }
            _ => {
                let v0 = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                (&attrs[v0..i], i)
            }
        };
        if k == key {
            return Some(v);
        }
        i = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> Tag<'_> {
        match scan(s, 0) {
            Scan::Tag(t) => t,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn plain_and_dsml_tags() {
        let t = tag("<invoke name=\"Read\">rest");
        assert_eq!((t.close, t.name, t.attrs, t.end), (false, "invoke", "name=\"Read\"", 20));
        assert_eq!(tag("<｜DSML｜invoke name=\"x\">").name, "invoke");
        assert_eq!(tag("<|DSML|tool_calls>").name, "tool_calls");
        let c = tag("</｜DSML｜parameter >");
        assert!(c.close);
        assert_eq!(c.name, "parameter");
        assert!(tag("<br/>").self_closing);
        assert!(tag("<x a='1' />").self_closing);
    }

    #[test]
    fn not_tags() {
        for s in ["< b", "<1>", "<a<b>", "</a b>", "<|x|y>", "<a=b>", "<<", "<!x>"] {
            assert_eq!(scan(s, 0), Scan::NotTag, "{s}");
        }
    }

    #[test]
    fn partial_tags() {
        assert_eq!(scan("<", 0), Scan::Partial { close: false, name: "", name_done: false });
        assert_eq!(scan("<|DS", 0), Scan::Partial { close: false, name: "", name_done: false });
        assert_eq!(scan("</｜DSML|", 0), Scan::Partial { close: true, name: "", name_done: false });
        assert_eq!(scan("<｜DSML｜too", 0), Scan::Partial { close: false, name: "too", name_done: false });
        assert_eq!(scan("<tool_call name=\"x", 0), Scan::Partial { close: false, name: "tool_call", name_done: true });
        assert_eq!(scan("</tool_calls  ", 0), Scan::Partial { close: true, name: "tool_calls", name_done: true });
    }

    #[test]
    fn a_tag_is_decided_within_max_tag_bytes() {
        let long = format!("<a {}", "x".repeat(MAX_TAG));
        assert_eq!(scan(&long, 0), Scan::NotTag);
        let short = format!("<a {}", "x".repeat(MAX_TAG - 10));
        assert!(matches!(scan(&short, 0), Scan::Partial { .. }));
        let closed = format!("{short}>");
        assert!(matches!(scan(&closed, 0), Scan::Tag(_)));
    }

    #[test]
    fn elements_and_attrs() {
        let e = elements(" <a>1</a>\n<b k='v'><![CDATA[</b>]]></b><c/> ").unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!((e[0].name, e[0].body), ("a", "1"));
        assert_eq!((e[1].attrs, e[1].body), ("k='v'", "<![CDATA[</b>]]>"));
        assert_eq!(e[2].body, "");
        assert!(elements("text <a>1</a>").is_none());
        assert!(elements("<a>1</a> tail").is_none());
        assert!(elements("<a>unclosed").is_none());
        assert!(elements("").is_none());
        assert_eq!(attr("name=\"Read\" string=\"true\"", "string"), Some("true"));
        assert_eq!(attr("name='a b'", "name"), Some("a b"));
        assert_eq!(attr("flag name=x", "name"), Some("x"));
        assert_eq!(attr("name = \"spaced\"", "name"), Some("spaced"));
        assert_eq!(attr("other=1", "name"), None);
        assert_eq!(attr("name=\"unterminated", "name"), Some("unterminated"));
    }
}
