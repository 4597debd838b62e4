//! Raw tool calls written into content text: the streaming machinery the Kimi and DeepSeek
//! repairs share (marker hold-back, block buffering, size cap) and the helpers they both use.
//!
//! Each model's grammar says what opens a block, where the block ends and how it parses; the
//! engine here does the streaming:
//! - text before an opening marker is released at once; a possible partial marker at the end
//!   of a chunk is held until the next chunk decides it (and released as text if it is not one);
//! - a block is buffered until its closing marker, then parsed. A block with at least one valid
//!   call becomes calls (an invalid call inside it comes out as Text, in place); a block with none
//!   comes out verbatim as Text;
//! - after a block that produced calls, whitespace at the start of the following text is dropped
//!   (models put a newline or two there). Nothing else is trimmed;
//! - a block longer than [`MAX_BLOCK`] bytes is not markup: its first `MAX_BLOCK` bytes go out as
//!   Text and scanning resumes there (so memory stays bounded and the result does not depend on
//!   chunking);
//! - at `finish`, an unterminated block or a held partial marker comes out as Text.

mod args;
pub mod deepseek;
pub mod kimi;
mod tags;

use super::fence::Fence;
use super::piece::{emit_text, Piece};

/// Longest block we buffer looking for its end. Large enough for a tool call that writes a big
/// file, small enough for a Worker's memory.
pub const MAX_BLOCK: usize = 1 << 20;

/// What text outside a block holds at a `<`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Opener {
    /// Not markup we care about.
    No,
    /// Could still become an opener once more text arrives.
    Partial,
    /// Opens a block; the opener ends at this index.
    Block(usize),
    /// Stray markup with no meaning on its own; removed. Ends at this index.
    Strip(usize),
}

/// One model's markup.
pub(crate) trait Grammar {
    /// Ignore markup inside fenced code blocks.
    const FENCE_AWARE: bool;
    /// Classify the markup at `s[p]`, which is `<`.
    fn opener(&self, s: &str, p: usize) -> Opener;
    /// A block starts; `opener` is its opening marker.
    fn begin(&mut self, opener: &str);
    /// Look for the block's end in `block`, resuming at `*scan`; return the index just past the
    /// closing marker. Leaves `*scan` where the next search must resume, so the scan over a
    /// growing buffer stays linear.
    fn close(&mut self, block: &str, scan: &mut usize) -> Option<usize>;
    /// Parse a complete block. No `Piece::ToolCall` in the result means the block is plain text.
    fn parse(&self, block: &str) -> Vec<Piece>;
}

/// The streaming engine over one grammar.
#[derive(Debug)]
pub(crate) struct BlockRepair<G> {
    grammar: G,
    /// Outside a block: a held partial opener. Inside: the block so far.
    buf: String,
    in_block: bool,
    scan: usize,
    /// Length of the current block's opener.
    open_end: usize,
    skip_ws: bool,
    fence: Fence,
    saw_call: bool,
    max_block: usize,
}

impl<G: Grammar> BlockRepair<G> {
    pub fn new(grammar: G) -> Self {
        BlockRepair {
            grammar,
            buf: String::new(),
            in_block: false,
            scan: 0,
            open_end: 0,
            skip_ws: false,
            fence: Fence::default(),
            saw_call: false,
            max_block: MAX_BLOCK,
        }
    }

    #[cfg(test)]
    pub fn with_max_block(mut self, max: usize) -> Self {
        self.max_block = max;
        self
    }

    pub fn saw_tool_call(&self) -> bool {
        self.saw_call
    }

    pub fn push(&mut self, text: &str, out: &mut Vec<Piece>) {
        if text.is_empty() {
            return;
        }
        if self.forward(text) {
            out.push(Piece::Text(text.to_owned()));
        } else {
            self.run(text, out);
        }
    }

    /// Same as `push`, but plain text is moved into the output instead of copied.
    pub fn push_owned(&mut self, text: String, out: &mut Vec<Piece>) {
        if text.is_empty() {
            return;
        }
        if self.forward(&text) {
            out.push(Piece::Text(text));
        } else {
            self.run(&text, out);
        }
    }

    /// The fast path: nothing held, and no marker can start in `text`.
    fn forward(&mut self, text: &str) -> bool {
        if self.in_block || !self.buf.is_empty() || self.skip_ws || memchr::memchr(b'<', text.as_bytes()).is_some() {
            return false;
        }
        if G::FENCE_AWARE {
            self.fence.feed(text);
        }
        true
    }

    /// Something other than content text (reasoning) comes next. Neither a partial marker nor
    /// an open block continues across it: what is held is text, released before it, so text
    /// keeps its exact place relative to reasoning.
    pub fn interrupt(&mut self, out: &mut Vec<Piece>) {
        let held = std::mem::take(&mut self.buf);
        if held.is_empty() {
            return;
        }
        if !self.in_block {
            self.feed_fence(&held);
        }
        self.in_block = false;
        out.push(Piece::Text(held));
    }

    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        let held = std::mem::take(&mut self.buf);
        if !held.is_empty() {
            out.push(Piece::Text(held));
        }
        self.in_block = false;
        self.skip_ws = false;
        self.fence = Fence::default();
    }

    fn run(&mut self, text: &str, out: &mut Vec<Piece>) {
        if self.in_block {
            self.buf.push_str(text);
            let mut scan = self.scan;
            let end = self.grammar.close(&self.buf, &mut scan);
            self.scan = scan;
            let block = std::mem::take(&mut self.buf);
            match self.block_end(end, &block) {
                BlockEnd::Closed(e) => {
                    self.in_block = false;
                    self.finish_block(&block[..e], out);
                    self.idle(&block[e..], out);
                }
                BlockEnd::TooLong(cut) => {
                    self.in_block = false;
                    out.push(Piece::Text(block[..cut].to_owned()));
                    self.fence.mid_line();
                    self.idle(&block[cut..], out);
                }
                BlockEnd::Open => self.buf = block,
            }
        } else if self.buf.is_empty() {
            self.idle(text, out);
        } else {
            let mut s = std::mem::take(&mut self.buf);
            s.push_str(text);
            self.idle(&s, out);
        }
    }

    /// Decide a block's fate from its end (if found) and what has been buffered.
    fn block_end(&self, end: Option<usize>, block: &str) -> BlockEnd {
        // The cut is never inside the opener, so scanning always moves forward.
        let cut = || block.floor_char_boundary(self.max_block.max(self.open_end));
        match end {
            Some(e) if e <= self.max_block => BlockEnd::Closed(e),
            Some(_) => BlockEnd::TooLong(cut()),
            None if block.len() > self.max_block => BlockEnd::TooLong(cut()),
            None => BlockEnd::Open,
        }
    }

    /// Text outside any block. Leaves the engine either idle with nothing held, idle holding a
    /// partial opener, or inside a block.
    fn idle(&mut self, s: &str, out: &mut Vec<Piece>) {
        let b = s.as_bytes();
        let mut i = 0; // start of text not yet released
        loop {
            if self.skip_ws {
                let k = s.len() - s[i..].trim_start().len();
                self.feed_fence(&s[i..k]);
                i = k;
                if i == s.len() {
                    return;
                }
                self.skip_ws = false;
            }
            let (mut from, mut fed) = (i, i);
            let found = loop {
                let Some(off) = memchr::memchr(b'<', &b[from..]) else { break None };
                let p = from + off;
                from = p + 1;
                if G::FENCE_AWARE {
                    self.fence.feed(&s[fed..p]);
                    fed = p;
                    if self.fence.in_fence() {
                        continue;
                    }
                }
                match self.grammar.opener(s, p) {
                    Opener::No => {}
                    other => break Some((p, other)),
                }
            };
            let Some((p, what)) = found else {
                self.feed_fence(&s[fed..]);
                emit_text(out, &s[i..]);
                return;
            };
            emit_text(out, &s[i..p]);
            match what {
                Opener::No => unreachable!("filtered above"),
                Opener::Partial => {
                    self.buf.push_str(&s[p..]);
                    return;
                }
                Opener::Strip(end) => {
                    self.fence.mid_line();
                    i = end;
                }
                Opener::Block(end) => {
                    self.fence.mid_line();
                    let rest = &s[p..];
                    self.grammar.begin(&rest[..end - p]);
                    self.open_end = end - p;
                    let mut scan = end - p;
                    let close = self.grammar.close(rest, &mut scan);
                    match self.block_end(close, rest) {
                        BlockEnd::Closed(e) => {
                            self.finish_block(&rest[..e], out);
                            i = p + e;
                        }
                        BlockEnd::TooLong(cut) => {
                            out.push(Piece::Text(rest[..cut].to_owned()));
                            i = p + cut;
                        }
                        BlockEnd::Open => {
                            self.buf.push_str(rest);
                            self.scan = scan;
                            self.in_block = true;
                            return;
                        }
                    }
                }
            }
        }
    }

    fn finish_block(&mut self, block: &str, out: &mut Vec<Piece>) {
        let pieces = self.grammar.parse(block);
        if pieces.iter().any(|p| matches!(p, Piece::ToolCall(_))) {
            self.saw_call = true;
            self.skip_ws = true;
            out.extend(pieces);
        } else {
            out.push(Piece::Text(block.to_owned()));
        }
    }

    fn feed_fence(&mut self, s: &str) {
        if G::FENCE_AWARE {
            self.fence.feed(s);
        }
    }
}

enum BlockEnd {
    Closed(usize),
    TooLong(usize),
    Open,
}
