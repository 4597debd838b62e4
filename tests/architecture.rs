//! The shape of `src/`, checked so it stays true (README "Architecture"):
//! - no import cycles between files: every file depends in one direction. An edge is any path
//!   a file names — `use crate::…`, `use super::…`, `self::…`, a child module's `child::item`,
//!   and the same paths written inline in code — resolved to the file that defines the longest
//!   matching module prefix. A cycle means shared vocabulary sits in the wrong file; move it to
//!   a leaf both sides can import;
//! - no file over `MAX_LINES` lines outside tests (`#[cfg(test)]` modules, test files).
//!
//! It reads the source as text (comments and string literals removed first), so it needs no
//! build of the crate and runs in milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

type Module = Vec<String>;

struct File {
    path: PathBuf,
    module: Module,
    /// Declared under `#[cfg(test)]` (or inside such a module).
    test: bool,
    /// The code with comments, strings and inline `#[cfg(test)]` modules removed.
    code: String,
    /// Lines outside inline test modules.
    lines: usize,
    /// `mod x;` declarations (file modules), with whether they are test-only.
    children: Vec<(String, bool)>,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn module_of(rel: &Path) -> Module {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && !(parts.is_empty() && stem == "lib") {
        parts.push(stem.to_string());
    }
    parts
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Comments and the contents of string and char literals blanked (newlines kept, so line
/// numbers still match).
fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    let keep_newlines = |s: &[u8], out: &mut String| {
        for c in s {
            if *c == b'\n' {
                out.push('\n');
            }
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let start = i;
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            keep_newlines(&b[start..i.min(b.len())], &mut out);
        } else if c == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) && !prev_ident(b, i) {
            // Raw string r"…" / r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c as char);
                i += 1;
                continue;
            }
            let start = i;
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == b'"' && b[j + 1..].iter().take(hashes).filter(|h| **h == b'#').count() == hashes && b.len() >= j + 1 + hashes {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            keep_newlines(&b[start..j.min(b.len())], &mut out);
            i = j;
        } else if c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
            keep_newlines(&b[start..i.min(b.len())], &mut out);
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): only literals are skipped.
            let close = if b.get(i + 1) == Some(&b'\\') { b[i + 2..].iter().position(|x| *x == b'\'').map(|p| i + 2 + p) } else if b.get(i + 2) == Some(&b'\'') { Some(i + 2) } else { None };
            match close {
                Some(end) if end - i <= 12 => {
                    out.push_str("' '");
                    i = end + 1;
                }
                _ => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            // Multi-byte UTF-8 characters are copied whole.
            let len = utf8_len(c);
            out.push_str(std::str::from_utf8(&b[i..(i + len).min(b.len())]).unwrap_or(" "));
            i += len;
        }
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn prev_ident(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Remove `#[cfg(test)] mod name { … }` blocks; returns the code and how many lines they took.
fn drop_test_blocks(code: &str) -> (String, usize) {
    let mut out = String::with_capacity(code.len());
    let mut removed = 0;
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = &rest[at + "#[cfg(test)]".len()..];
        let mut body = after.trim_start();
        // Further attributes (`#[allow(...)]`) and a visibility may stand between.
        while body.starts_with("#[") {
            body = body[body.find(']').map_or(body.len(), |k| k + 1)..].trim_start();
        }
        for vis in ["pub(crate) ", "pub(super) ", "pub "] {
            body = body.strip_prefix(vis).unwrap_or(body);
        }
        let is_inline_mod = body.strip_prefix("mod ").is_some_and(|m| {
            let name_end = m.find(|c: char| !is_ident(c)).unwrap_or(m.len());
            m[name_end..].trim_start().starts_with('{')
        });
        if !is_inline_mod {
            out.push_str(&rest[..at + 1]);
            rest = &rest[at + 1..];
            continue;
        }
        out.push_str(&rest[..at]);
        let open = at + rest[at..].find('{').expect("a brace");
        let mut depth = 0usize;
        let mut end = rest.len();
        for (k, ch) in rest[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        removed += rest[at..end].matches('\n').count();
        rest = &rest[end..];
    }
    out.push_str(rest);
    (out, removed)
}

/// `mod x;` declarations (not inline modules), with whether `#[cfg(test)]` gates them.
fn child_modules(code: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = code.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        let t = line.trim();
        let t = t.strip_prefix("pub(crate) ").or_else(|| t.strip_prefix("pub(super) ")).or_else(|| t.strip_prefix("pub ")).unwrap_or(t);
        if let Some(name) = t.strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
            let gated = lines[..n].iter().rev().take_while(|l| l.trim().starts_with("#[")).any(|l| l.contains("cfg(test)"));
            out.push((name.trim().to_string(), gated));
        }
    }
    out
}

/// Expand a `use` tree (`a::{b, c::{d, self}}`, `x as y`, `*`) into paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn go(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
        let s = s.trim();
        if s.is_empty() {
            return;
        }
        if let Some(open) = s.find('{') {
            let head: Vec<String> = s[..open].split("::").map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect();
            let close = s.rfind('}').unwrap_or(s.len());
            let inner = &s[open + 1..close];
            let mut p = prefix.to_vec();
            p.extend(head);
            // Split the group at top-level commas.
            let mut depth = 0;
            let mut start = 0;
            for (k, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        go(&p, &inner[start..k], out);
                        start = k + 1;
                    }
                    _ => {}
                }
            }
            go(&p, &inner[start..], out);
            return;
        }
        let s = s.split(" as ").next().unwrap_or(s);
        let mut p = prefix.to_vec();
        for seg in s.split("::").map(str::trim).filter(|x| !x.is_empty()) {
            if seg != "self" || p.is_empty() {
                p.push(seg.to_string());
            }
        }
        out.push(p);
    }
    let mut out = Vec::new();
    go(&[], tree, &mut out);
    out
}

/// Every `use` path and every inline `a::b::c` path in the code.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // Use statements.
    let mut rest = code;
    let mut non_use = String::with_capacity(code.len());
    while let Some(at) = find_word(rest, "use") {
        let Some(semi) = rest[at..].find(';') else { break };
        non_use.push_str(&rest[..at]);
        let tree = &rest[at + 3..at + semi];
        out.extend(expand_use(tree));
        rest = &rest[at + semi + 1..];
    }
    non_use.push_str(rest);
    // Inline paths: runs of identifiers joined by `::`.
    let chars: Vec<char> = non_use.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if is_ident(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            let mut segs = Vec::new();
            let mut j = i;
            loop {
                let s = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                segs.push(chars[s..j].iter().collect::<String>());
                if j + 2 < chars.len() && chars[j] == ':' && chars[j + 1] == ':' && is_ident(chars[j + 2]) {
                    j += 2;
                } else {
                    break;
                }
            }
            if segs.len() > 1 {
                out.push(segs);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn find_word(s: &str, w: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(k) = s[from..].find(w) {
        let at = from + k;
        let before = s[..at].chars().next_back();
        let after = s[at + w.len()..].chars().next();
        if !before.is_some_and(is_ident) && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + w.len();
    }
    None
}

/// The module a path names, relative to `from`; None for external crates and local items.
fn absolute(from: &Module, children: &BTreeSet<String>, path: &[String]) -> Option<Module> {
    let mut segs = path.iter();
    let first = segs.next()?;
    let mut base: Module = match first.as_str() {
        "crate" => Vec::new(),
        "self" => from.clone(),
        "super" => from[..from.len().checked_sub(1)?].to_vec(),
        child if children.contains(child) => {
            let mut m = from.clone();
            m.push(child.to_string());
            m
        }
        _ => return None,
    };
    for s in segs {
        if s == "super" {
            base.pop();
        } else {
            base.push(s.clone());
        }
    }
    Some(base)
}

fn load() -> Vec<File> {
    let root = src_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut out: Vec<File> = files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read a source file");
            let stripped = strip(&text);
            let (code, test_lines) = drop_test_blocks(&stripped);
            let children = child_modules(&code);
            File { module: module_of(path.strip_prefix(&root).expect("under src")), test: false, lines: text.lines().count().saturating_sub(test_lines), code, children, path }
        })
        .collect();
    // Test-only files: declared under #[cfg(test)], or below such a module.
    let gated: BTreeSet<Module> = out
        .iter()
        .flat_map(|f| {
            f.children.iter().filter(|(_, t)| *t).map(|(c, _)| {
                let mut m = f.module.clone();
                m.push(c.clone());
                m
            })
        })
        .collect();
    for f in &mut out {
        f.test = (1..=f.module.len()).any(|k| gated.contains(&f.module[..k].to_vec()));
    }
    out
}

/// The file-level dependency graph: index → the indices it names.
fn graph(files: &[File]) -> Vec<BTreeSet<usize>> {
    let by_module: BTreeMap<&Module, usize> = files.iter().enumerate().map(|(i, f)| (&f.module, i)).collect();
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let children: BTreeSet<String> = f.children.iter().map(|(c, _)| c.clone()).collect();
            let mut deps = BTreeSet::new();
            for p in paths(&f.code) {
                let Some(mut m) = absolute(&f.module, &children, &p) else { continue };
                // The longest prefix that is a file.
                loop {
                    if let Some(&j) = by_module.get(&m) {
                        if j != i {
                            deps.insert(j);
                        }
                        break;
                    }
                    if m.pop().is_none() {
                        break;
                    }
                }
            }
            deps
        })
        .collect()
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(g: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct T<'a> {
        g: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in t.g[v].iter() {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().expect("on the stack");
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let n = g.len();
    let mut t = T { g, index: vec![None; n], low: vec![0; n], on: vec![false; n], stack: Vec::new(), next: 0, out: Vec::new() };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

/// One concrete loop inside a component, for the message (shortest from its first file).
fn one_loop(g: &[BTreeSet<usize>], comp: &[usize]) -> Vec<usize> {
    let start = comp[0];
    let inside: BTreeSet<usize> = comp.iter().copied().collect();
    let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &g[v] {
            if !inside.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                let mut c = v;
                while let Some(&p) = prev.get(&c) {
                    path.push(p);
                    c = p;
                }
                path.reverse();
                return path;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    comp.to_vec()
}

fn name(f: &File) -> String {
    f.path.strip_prefix(src_dir()).unwrap_or(&f.path).display().to_string()
}

#[test]
fn no_import_cycles_between_files() {
    let files = load();
    assert!(files.len() > 50, "read the source tree");
    let g = graph(&files);
    let found = cycles(&g);
    let report: Vec<String> = found
        .iter()
        .map(|comp| {
            let lp = one_loop(&g, comp);
            let mut chain: Vec<String> = lp.iter().map(|i| name(&files[*i])).collect();
            chain.push(name(&files[lp[0]]));
            format!("{} files: {}\n    e.g. {}", comp.len(), comp.iter().map(|i| name(&files[*i])).collect::<Vec<_>>().join(", "), chain.join(" -> "))
        })
        .collect();
    if std::env::var_os("ARCH_EDGES").is_some() {
        for comp in &found {
            for &a in comp {
                for &b in g[a].iter().filter(|b| comp.contains(b)) {
                    eprintln!("{} -> {}", name(&files[a]), name(&files[b]));
                }
            }
            eprintln!();
        }
    }
    assert!(found.is_empty(), "import cycles between files in src/ (move the shared vocabulary into a file both sides import):\n  {}", report.join("\n  "));
}

#[test]
fn no_file_over_the_size_limit_outside_tests() {
    let files = load();
    let big: Vec<String> = files.iter().filter(|f| !f.test && f.lines > MAX_LINES && !name(f).ends_with("tests.rs")).map(|f| format!("{} ({} lines)", name(f), f.lines)).collect();
    assert!(big.is_empty(), "files over {MAX_LINES} lines outside tests (split them by concern): {}", big.join(", "));
}

// The checker's own parsing, on small inputs.
#[test]
fn the_checker_reads_paths_the_way_rust_resolves_them() {
    let code = strip("use crate::a::{b::{C, d}, self as e};\n// crate::ignored::x\nfn f() { let s = \"crate::nope::x\"; super::g::h(); child::run(); Vec::new(); let c = '\\''; }\n");
    let ps = paths(&code);
    let from: Module = vec!["x".into(), "y".into()];
    let kids: BTreeSet<String> = ["child".to_string()].into();
    let abs: BTreeSet<Module> = ps.iter().filter_map(|p| absolute(&from, &kids, p)).collect();
    let want: BTreeSet<Module> = [vec!["a", "b", "C"], vec!["a", "b", "d"], vec!["a"], vec!["x", "g", "h"], vec!["x", "y", "child", "run"]].into_iter().map(|v| v.into_iter().map(String::from).collect()).collect();
    assert_eq!(abs, want);
    let (kept, removed) = drop_test_blocks("fn a() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\nfn b() {}\n");
    assert_eq!(removed, 3);
    assert!(kept.contains("fn a") && kept.contains("fn b") && !kept.contains("super"));
    let g = vec![BTreeSet::from([1]), BTreeSet::from([2]), BTreeSet::from([0]), BTreeSet::new()];
    assert_eq!(cycles(&g), vec![vec![0, 1, 2]]);
}
