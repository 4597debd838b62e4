//! `<think>…</think>` splitting: reasoning that a model writes into its content becomes
//! `Piece::Reasoning`, the rest stays `Piece::Text`. Streams reasoning as it arrives.
//!
//! Behaviour for the cases a stream leaves open (documented choices):
//! - `<think>` opens reasoning wherever it appears in text, except inside a fenced code block.
//!   Whitespace before a `<think>` at the very start of the output is dropped.
//! - `</think>` closes reasoning. Whitespace right after `<think>`, right before the closing
//!   `</think>` and right after it is dropped; nothing else is trimmed.
//! - A lone `</think>` in text (some chat templates put `<think>` in the prompt, so the model
//!   starts reasoning without writing it) is removed and nothing else changes: the text before it
//!   stays Text. A stream cannot know that text is reasoning until the tag arrives, and by then
//!   it has been released.
//! - Inside reasoning, `<think>` is just reasoning text (no nesting).
//! - If the stream ends inside reasoning, what came after `<think>` was and stays Reasoning
//!   (it has been streamed as such already); a held partial tag comes out as reasoning too.

use super::fence::Fence;
use super::piece::{emit_text, Piece, Repair};

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing but whitespace seen yet (held, so it can be dropped before an opening `<think>`).
    Start,
    Text,
    Reasoning,
}

#[derive(Debug)]
pub struct ThinkSplitter {
    mode: Mode,
    /// Held back: leading whitespace (Start), a partial tag, or reasoning's trailing whitespace.
    held: String,
    /// Drop whitespace at the start of what follows (right after a tag).
    skip_ws: bool,
    /// Fence state of the Text seen so far; reasoning is not tracked.
    fence: Fence,
}

impl Default for ThinkSplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl ThinkSplitter {
    pub fn new() -> Self {
        ThinkSplitter { mode: Mode::Start, held: String::new(), skip_ws: false, fence: Fence::default() }
    }

    fn run(&mut self, s: &str, out: &mut Vec<Piece>) {
        let mut i = 0;
        loop {
            match self.mode {
                Mode::Start => {
                    let rest = &s[i..];
                    let t = rest.trim_start();
                    if t.is_empty() || (t.len() < OPEN.len() && OPEN.starts_with(t)) {
                        self.held.push_str(rest);
                        return;
                    }
                    if t.starts_with(OPEN) {
                        self.mode = Mode::Reasoning;
                        self.skip_ws = true;
                        i = s.len() - t.len() + OPEN.len();
                    } else {
                        // The leading whitespace is ordinary text after all.
                        self.mode = Mode::Text;
                    }
                }
                Mode::Text => match self.text(s, i, out) {
                    Some(next) => i = next,
                    None => return,
                },
                Mode::Reasoning => match self.reasoning(s, i, out) {
                    Some(next) => i = next,
                    None => return,
                },
            }
        }
    }

    /// Text from `i`: returns where to continue after a tag, or None when `s` is used up.
    fn text(&mut self, s: &str, mut i: usize, out: &mut Vec<Piece>) -> Option<usize> {
        if self.skip_ws {
            let k = skip_ws(s, i);
            self.fence.feed(&s[i..k]);
            i = k;
            if i == s.len() {
                return None;
            }
            self.skip_ws = false;
        }
        let (mut from, mut fed) = (i, i);
        while let Some(off) = memchr::memchr(b'<', &s.as_bytes()[from..]) {
            let p = from + off;
            self.fence.feed(&s[fed..p]);
            fed = p;
            from = p + 1;
            if self.fence.in_fence() {
                continue;
            }
            let tail = &s[p..];
            if tail.starts_with(OPEN) {
                emit_text(out, &s[i..p]);
                self.mode = Mode::Reasoning;
                self.skip_ws = true;
                return Some(p + OPEN.len());
            }
            if tail.starts_with(CLOSE) {
                // A lone closing tag: drop it, keep everything around it.
                emit_text(out, &s[i..p]);
                self.fence.mid_line();
                return Some(p + CLOSE.len());
            }
            if is_partial(tail, OPEN) || is_partial(tail, CLOSE) {
                emit_text(out, &s[i..p]);
                self.held.push_str(tail);
                return None;
            }
        }
        self.fence.feed(&s[fed..]);
        emit_text(out, &s[i..]);
        None
    }

    fn reasoning(&mut self, s: &str, mut i: usize, out: &mut Vec<Piece>) -> Option<usize> {
        if self.skip_ws {
            i = skip_ws(s, i);
            if i == s.len() {
                return None;
            }
            self.skip_ws = false;
        }
        let mut from = i;
        while let Some(off) = memchr::memchr(b'<', &s.as_bytes()[from..]) {
            let p = from + off;
            from = p + 1;
            let tail = &s[p..];
            if tail.starts_with(CLOSE) {
                emit_reasoning(out, s[i..p].trim_end());
                self.mode = Mode::Text;
                self.skip_ws = true;
                self.fence.reset();
                return Some(p + CLOSE.len());
            }
            if is_partial(tail, CLOSE) {
                self.release_reasoning(&s[i..], p - i, out);
                return None;
            }
        }
        self.release_reasoning(&s[i..], s.len() - i, out);
        None
    }

    /// Emit `body[..upto]` as reasoning but hold its trailing whitespace (and `body[upto..]`):
    /// whitespace before a closing tag is dropped, so it cannot go out until we know.
    fn release_reasoning(&mut self, body: &str, upto: usize, out: &mut Vec<Piece>) {
        let kept = body[..upto].trim_end().len();
        emit_reasoning(out, &body[..kept]);
        self.held.push_str(&body[kept..]);
    }
}

impl Repair for ThinkSplitter {
    fn push(&mut self, text: &str, out: &mut Vec<Piece>) {
        if text.is_empty() {
            return;
        }
        // Fast path: nothing held and no tag can start in this chunk.
        if self.held.is_empty() && !self.skip_ws && memchr::memchr(b'<', text.as_bytes()).is_none() {
            match self.mode {
                Mode::Text => {
                    self.fence.feed(text);
                    out.push(Piece::Text(text.to_owned()));
                    return;
                }
                Mode::Reasoning if !text.ends_with(char::is_whitespace) => {
                    out.push(Piece::Reasoning(text.to_owned()));
                    return;
                }
                _ => {}
            }
        }
        if self.held.is_empty() {
            self.run(text, out);
        } else {
            let mut s = std::mem::take(&mut self.held);
            s.push_str(text);
            self.run(&s, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<Piece>) {
        let held = std::mem::take(&mut self.held);
        match self.mode {
            Mode::Start | Mode::Text => emit_text(out, &held),
            Mode::Reasoning => emit_reasoning(out, held.trim_end()),
        }
        *self = ThinkSplitter::new();
    }
}

fn emit_reasoning(out: &mut Vec<Piece>, s: &str) {
    if !s.is_empty() {
        out.push(Piece::Reasoning(s.to_owned()));
    }
}

/// `tail` is a proper prefix of `marker` (it may still become the marker).
fn is_partial(tail: &str, marker: &str) -> bool {
    tail.len() < marker.len() && marker.starts_with(tail)
}

fn skip_ws(s: &str, i: usize) -> usize {
    s.len() - s[i..].trim_start().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::merge_adjacent;
    use Piece::{Reasoning as R, Text as T};

    fn t(s: &str) -> Piece {
        T(s.to_owned())
    }
    fn r(s: &str) -> Piece {
        R(s.to_owned())
    }

    fn run_chunks(chunks: &[&str]) -> Vec<Piece> {
        let mut sp = ThinkSplitter::new();
        let mut out = Vec::new();
        for c in chunks {
            sp.push(c, &mut out);
        }
        sp.finish(&mut out);
        assert!(out.iter().all(|p| !matches!(p, T(s) | R(s) if s.is_empty())), "empty piece in {out:?}");
        merge_adjacent(out)
    }

    /// The expected output, checked whole, split in two at every char boundary, and char by char.
    fn check(input: &str, expected: &[Piece]) {
        assert_eq!(run_chunks(&[input]), expected, "whole input {input:?}");
        for (i, _) in input.char_indices().skip(1) {
            assert_eq!(run_chunks(&[&input[..i], &input[i..]]), expected, "split at {i} of {input:?}");
        }
        let chars: Vec<String> = input.chars().map(String::from).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(run_chunks(&refs), expected, "char by char {input:?}");
    }

    #[test]
    fn plain_text_is_untouched() {
        for s in ["hello", "  leading and trailing  ", "a < b > c", "<thinking> is not a tag", "\n\n", "x </thin"] {
            check(s, &[t(s)]);
        }
        check("", &[]);
    }

    #[test]
    fn splits_reasoning_and_answer() {
        check("<think>plan it</think>answer", &[r("plan it"), t("answer")]);
        check("\n <think>\nplan it\n</think>\n\nThe answer.", &[r("plan it"), t("The answer.")]);
        check("Intro <think>hmm</think> rest", &[t("Intro "), r("hmm"), t("rest")]);
        check("<think>a</think>b<think>c</think>d", &[r("a"), t("b"), r("c"), t("d")]);
    }

    #[test]
    fn empty_reasoning_emits_nothing() {
        check("<think>\n\n</think>\n\nanswer", &[t("answer")]);
        check("<think></think>", &[]);
    }

    #[test]
    fn reasoning_keeps_inner_whitespace_and_nested_open_tag() {
        check("<think>a \n b</think>", &[r("a \n b")]);
        check("<think>a<think>b</think>c", &[r("a<think>b"), t("c")]);
        check("<think>x < y </thinking> z</think>", &[r("x < y </thinking> z")]);
    }

    #[test]
    fn lone_closing_tag_is_removed_and_text_stays() {
        check("I reasoned here</think>\n\nAnswer", &[t("I reasoned here\n\nAnswer")]);
    }

    #[test]
    fn unterminated_reasoning_stays_reasoning() {
        check("<think>still thinking", &[r("still thinking")]);
        check("<think>still thinking </thi", &[r("still thinking </thi")]);
        check("<think>a  ", &[r("a")]);
    }

    #[test]
    fn partial_tags_that_are_not_tags_come_back_as_text() {
        check("ends with <thin", &[t("ends with <thin")]);
        check("ends with <", &[t("ends with <")]);
        check("<thi", &[t("<thi")]);
        check("  <thi", &[t("  <thi")]);
        check("a </thinker>", &[t("a </thinker>")]);
    }

    #[test]
    fn fenced_tags_are_text() {
        let s = "Use it like this:\n```\n<think>x</think>\n```\ndone";
        check(s, &[t(s)]);
        check("```\n<think>\n```\n<think>r</think>x", &[t("```\n<think>\n```\n"), r("r"), t("x")]);
    }

    #[test]
    fn every_tag_split_point_across_two_chunks() {
        let input = "A<think>B</think>C";
        for i in 0..=input.len() {
            assert_eq!(run_chunks(&[&input[..i], &input[i..]]), [t("A"), r("B"), t("C")], "split at {i}");
        }
    }

    #[test]
    fn fast_path_forwards_unchanged_chunks() {
        let mut sp = ThinkSplitter::new();
        let mut out = Vec::new();
        sp.push("x", &mut out);
        sp.push("hello world", &mut out);
        assert_eq!(out, [t("x"), t("hello world")]);
    }
}
