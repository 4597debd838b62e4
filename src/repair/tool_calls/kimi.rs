//! Kimi K2 raw tool calls. The model writes its calls between special-token markers:
//! `<|tool_calls_section_begin|>` then, per call, `<|tool_call_begin|>functions.NAME:IDX`
//! `<|tool_call_argument_begin|>{json}<|tool_call_end|>`, then `<|tool_calls_section_end|>`.
//!
//! - Name: the text before the argument marker, trimmed, without a leading `functions.`, cut at
//!   the last `:` (the call index).
//! - Arguments must be a JSON object (empty means `{}`). A call that is malformed or has bad
//!   arguments comes out as Text in its place; a section with no valid call comes out whole.
//! - Whitespace between calls inside a section is dropped; any other stray text there is Text.
//! - A stray `<|tool_calls_section_end|>` outside a section is removed (a special token, never prose).
//! - Markers are special tokens, so code fences do not hide them.

use super::args::{json_object, valid_name};
use super::{BlockRepair, Grammar, Opener};
use crate::repair::piece::{emit_text, Piece, Repair, ToolCall};

const SECTION_BEGIN: &str = "<|tool_calls_section_begin|>";
const SECTION_END: &str = "<|tool_calls_section_end|>";
const CALL_BEGIN: &str = "<|tool_call_begin|>";
const CALL_END: &str = "<|tool_call_end|>";
const ARG_BEGIN: &str = "<|tool_call_argument_begin|>";

#[derive(Debug, Default)]
struct Kimi;

impl Grammar for Kimi {
    const FENCE_AWARE: bool = false;

    fn opener(&self, s: &str, p: usize) -> Opener {
        let tail = &s[p..];
        if tail.starts_with(SECTION_BEGIN) {
            Opener::Block(p + SECTION_BEGIN.len())
        } else if tail.starts_with(SECTION_END) {
            Opener::Strip(p + SECTION_END.len())
        } else if is_partial(tail, SECTION_BEGIN) || is_partial(tail, SECTION_END) {
            Opener::Partial
        } else {
            Opener::No
        }
    }

    fn begin(&mut self, _opener: &str) {}

    fn close(&mut self, block: &str, scan: &mut usize) -> Option<usize> {
        let hay = &block.as_bytes()[*scan..];
        match memchr::memmem::find(hay, SECTION_END.as_bytes()) {
            Some(off) => Some(*scan + off + SECTION_END.len()),
            None => {
                // The end marker may have started in the last few bytes.
                *scan = block.len().saturating_sub(SECTION_END.len() - 1).max(*scan);
                None
            }
        }
    }

    fn parse(&self, block: &str) -> Vec<Piece> {
        let inner = &block[SECTION_BEGIN.len()..block.len() - SECTION_END.len()];
        let mut out = Vec::new();
        let mut rest = inner;
        while let Some(b) = rest.find(CALL_BEGIN) {
            stray(&rest[..b], &mut out);
            let call = &rest[b..];
            let Some(e) = call.find(CALL_END) else {
                emit_text(&mut out, call);
                return out;
            };
            let body = &call[CALL_BEGIN.len()..e];
            let raw = &call[..e + CALL_END.len()];
            match parse_call(body) {
                Some(tc) => out.push(Piece::ToolCall(tc)),
                None => emit_text(&mut out, raw),
            }
            rest = &call[e + CALL_END.len()..];
        }
        stray(rest, &mut out);
        out
    }
}

fn stray(s: &str, out: &mut Vec<Piece>) {
    if !s.trim().is_empty() {
        emit_text(out, s);
    }
}

fn parse_call(body: &str) -> Option<ToolCall> {
    let (head, args) = body.split_once(ARG_BEGIN)?;
    let head = head.trim();
    let head = head.strip_prefix("functions.").unwrap_or(head);
    let name = head.rsplit_once(':').map_or(head, |(n, _)| n).trim();
    if !valid_name(name) {
        return None;
    }
    let arguments = if args.trim().is_empty() { "{}".to_owned() } else { json_object(args)? };
    Some(ToolCall { name: name.to_owned(), arguments })
}

fn is_partial(tail: &str, marker: &str) -> bool {
    tail.len() < marker.len() && marker.starts_with(tail)
}

/// Kimi K2 section markers -> `Piece::ToolCall`.
#[derive(Debug)]
pub struct KimiToolCalls(BlockRepair<Kimi>);

impl Default for KimiToolCalls {
    fn default() -> Self {
        Self::new()
    }
}

impl KimiToolCalls {
    pub fn new() -> Self {
        KimiToolCalls(BlockRepair::new(Kimi))
    }
    pub fn saw_tool_call(&self) -> bool {
        self.0.saw_tool_call()
    }
    pub(crate) fn push_owned(&mut self, text: String, out: &mut Vec<Piece>) {
        self.0.push_owned(text, out)
    }
    pub(crate) fn interrupt(&mut self, out: &mut Vec<Piece>) {
        self.0.interrupt(out)
    }
}

impl Repair for KimiToolCalls {
    fn push(&mut self, text: &str, out: &mut Vec<Piece>) {
        self.0.push(text, out)
    }
    fn finish(&mut self, out: &mut Vec<Piece>) {
        self.0.finish(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::merge_adjacent;

    fn t(s: &str) -> Piece {
        Piece::Text(s.to_owned())
    }
    fn call(name: &str, args: &str) -> Piece {
        Piece::ToolCall(ToolCall { name: name.to_owned(), arguments: args.to_owned() })
    }

    fn run_chunks(chunks: &[&str]) -> (Vec<Piece>, bool) {
        let mut k = KimiToolCalls::new();
        let mut out = Vec::new();
        for c in chunks {
            k.push(c, &mut out);
        }
        k.finish(&mut out);
        assert!(out.iter().all(|p| !matches!(p, Piece::Text(s) if s.is_empty())), "empty piece in {out:?}");
        (merge_adjacent(out), k.saw_tool_call())
    }

    /// Whole, split in two at every char boundary, and char by char: all must agree.
    fn check(input: &str, expected: &[Piece]) {
        let (whole, saw) = run_chunks(&[input]);
        assert_eq!(whole, expected, "whole input {input:?}");
        assert_eq!(saw, expected.iter().any(|p| matches!(p, Piece::ToolCall(_))));
        for (i, _) in input.char_indices().skip(1) {
            assert_eq!(run_chunks(&[&input[..i], &input[i..]]).0, expected, "split at {i} of {input:?}");
        }
        let chars: Vec<String> = input.chars().map(String::from).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(run_chunks(&refs).0, expected, "char by char");
    }

    fn section(calls: &str) -> String {
        format!("{SECTION_BEGIN}{calls}{SECTION_END}")
    }
    fn one(id: &str, args: &str) -> String {
        format!("{CALL_BEGIN}{id}{ARG_BEGIN}{args}{CALL_END}")
    }

    #[test]
    fn plain_text_untouched() {
        for s in ["hello", "a <| b |>", "<|tool_calls_section", "x <|tool_call_begin|> y", "<"] {
            check(s, &[t(s)]);
        }
    }

    #[test]
    fn single_call_with_text_before_and_after() {
        let input = format!("Let me read it.\n{}\n\nDone.", section(&one("functions.Read:0", r#"{"file_path": "/a.rs"}"#)));
        check(&input, &[t("Let me read it.\n"), call("Read", r#"{"file_path": "/a.rs"}"#), t("Done.")]);
    }

    #[test]
    fn multiple_calls_in_order_with_whitespace_between() {
        let calls = format!(
            " {} \n {} ",
            one(" functions.Read:0 ", r#"{"a":1}"#),
            one("functions.mcp:server:tool:1", " {\"b\": [2]} ")
        );
        check(&section(&calls), &[call("Read", r#"{"a":1}"#), call("mcp:server:tool", r#"{"b": [2]}"#)]);
    }

    #[test]
    fn names_without_prefix_or_index_and_empty_args() {
        check(&section(&one("get_time", "")), &[call("get_time", "{}")]);
    }

    #[test]
    fn invalid_call_is_text_in_place() {
        let bad = one("functions.Bad:1", "{not json");
        let input = section(&format!("{}{}", one("functions.A:0", "{}"), bad));
        check(&input, &[call("A", "{}"), t(&bad)]);
        // non-object JSON is invalid too
        let arr = one("functions.B:0", "[1]");
        check(&section(&format!("{}{arr}", one("functions.A:0", "{}"))), &[call("A", "{}"), t(&arr)]);
        // missing argument marker
        let no_args = format!("{CALL_BEGIN}functions.C:0{CALL_END}");
        check(&section(&format!("{no_args}{}", one("functions.A:0", "{}"))), &[t(&no_args), call("A", "{}")]);
    }

    #[test]
    fn section_without_valid_calls_is_text_verbatim() {
        let input = section(&one("functions.X:0", "nope"));
        check(&format!("a{input}b"), &[t(&format!("a{input}b"))]);
        let empty = section("  ");
        check(&empty, &[t(&empty)]);
    }

    #[test]
    fn stray_text_inside_section_is_kept() {
        let input = section(&format!("note {}", one("functions.A:0", "{}")));
        check(&input, &[t("note "), call("A", "{}")]);
        let unterminated = format!("{CALL_BEGIN}functions.B:0{ARG_BEGIN}{{}}");
        let input = section(&format!("{}{unterminated}", one("functions.A:0", "{}")));
        check(&input, &[call("A", "{}"), t(&unterminated)]);
    }

    #[test]
    fn unterminated_section_is_text_at_finish() {
        let input = format!("hi {SECTION_BEGIN}{}", one("functions.A:0", "{}"));
        check(&input, &[t(&input)]);
    }

    #[test]
    fn stray_section_end_is_removed() {
        check(&format!("a{SECTION_END}b"), &[t("ab")]);
    }

    #[test]
    fn every_marker_split_point() {
        let input = format!("x{}y", section(&one("functions.Read:0", "{}")));
        for i in 0..=input.len() {
            if input.is_char_boundary(i) {
                let (out, saw) = run_chunks(&[&input[..i], &input[i..]]);
                assert_eq!(out, [t("x"), call("Read", "{}"), t("y")], "split at {i}");
                assert!(saw);
            }
        }
    }

    #[test]
    fn fences_do_not_hide_special_tokens() {
        let input = format!("```\n{}\n```", section(&one("functions.A:0", "{}")));
        check(&input, &[t("```\n"), call("A", "{}"), t("```")]);
    }

    #[test]
    fn text_before_the_block_is_released_immediately() {
        let mut k = KimiToolCalls::new();
        let mut out = Vec::new();
        k.push("before <|tool_calls_section_begin|><|tool_call_begin|>functions.A:0", &mut out);
        assert_eq!(out, [t("before ")]);
        k.push("<|tool_call_argument_begin|>{}<|tool_call_end|><|tool_calls_section_end|>after", &mut out);
        assert_eq!(out, [t("before "), call("A", "{}"), t("after")]);
    }

    #[test]
    fn oversized_section_is_text() {
        let input = format!("{SECTION_BEGIN}{}{SECTION_END}", " ".repeat(100));
        let mut k = KimiToolCalls(BlockRepair::new(Kimi).with_max_block(64));
        let mut out = Vec::new();
        k.push(&input, &mut out);
        k.finish(&mut out);
        // The first 64 bytes go out as text; scanning resumes there, where the end marker is a
        // stray one and is removed like any other.
        assert_eq!(merge_adjacent(out), [t(&input[..input.len() - SECTION_END.len()])]);
    }

    #[test]
    fn golden_streamed_transcript() {
        // Chunks as a Kimi K2 deployment streams them: markers arrive split and glued to text.
        let chunks = [
            "I'll check both files",
            " before answering.",
            "<|tool_calls_section_begin|>",
            "<|tool_call_begin|>",
            "functions.Read:0",
            "<|tool_call_argument_begin|>",
            "{\"file_path\": \"/src/",
            "main.rs\"}",
            "<|tool_call_end|><|tool_call_begin|>functions.Grep:1<|tool_call_arg",
            "ument_begin|>{\"pattern\": \"fn main\", \"path\": \"src\"}<|tool_call_end|>",
            "<|tool_calls_sec",
            "tion_end|>",
        ];
        let (out, saw) = run_chunks(&chunks);
        assert_eq!(
            out,
            [
                t("I'll check both files before answering."),
                call("Read", r#"{"file_path": "/src/main.rs"}"#),
                call("Grep", r#"{"pattern": "fn main", "path": "src"}"#),
            ]
        );
        assert!(saw);
    }
}
