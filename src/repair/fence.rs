//! Markdown code-fence tracking over streamed text, so markup shown inside ``` or ~~~ blocks is
//! left alone. Fed incrementally; costs a `memchr` per line for ordinary text.
//!
//! A CommonMark-lite reading: a line indented at most three spaces that starts with three or
//! more backticks or tildes opens a fence when the line ends; a later line starting with at least
//! as many of the same character, and nothing else but whitespace, closes it. Text on the opening
//! line itself (the info string) is still outside the fence.

#[derive(Debug, Clone)]
pub(crate) struct Fence {
    /// The open fence's character and run length.
    open: Option<(u8, usize)>,
    line: Line,
}

#[derive(Debug, Clone, Copy)]
enum Line {
    /// At the start of a line: `indent` spaces, then `run` copies of `ch` (0 before the run).
    Start { indent: u8, ch: u8, run: usize },
    /// A run of at least three fence characters ended; `tail` says non-space text followed it.
    Fenceish { ch: u8, run: usize, tail: bool },
    /// Not a fence line; nothing to look at until the next newline.
    Other,
}

const LINE_START: Line = Line::Start { indent: 0, ch: 0, run: 0 };

impl Default for Fence {
    fn default() -> Self {
        Fence { open: None, line: LINE_START }
    }
}

impl Fence {
    pub fn in_fence(&self) -> bool {
        self.open.is_some()
    }

    /// The text that follows is in the middle of a line (e.g. after removed markup).
    pub fn mid_line(&mut self) {
        self.line = Line::Other;
    }

    /// The text that follows starts a fresh line, outside any fence.
    pub fn reset(&mut self) {
        *self = Fence::default();
    }

    pub fn feed(&mut self, s: &str) {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match self.line {
                Line::Other => match memchr::memchr(b'\n', &b[i..]) {
                    Some(off) => {
                        i += off + 1;
                        self.end_line();
                    }
                    None => return,
                },
                Line::Start { indent, ch, run } => {
                    let c = b[i];
                    i += 1;
                    self.line = if c == b'\n' {
                        self.end_line();
                        continue;
                    } else if run == 0 && c == b' ' && indent < 3 {
                        Line::Start { indent: indent + 1, ch, run }
                    } else if (c == b'`' || c == b'~') && (run == 0 || c == ch) {
                        Line::Start { indent, ch: c, run: run + 1 }
                    } else if run >= 3 {
                        Line::Fenceish { ch, run, tail: !c.is_ascii_whitespace() }
                    } else {
                        Line::Other
                    };
                }
                Line::Fenceish { ch, run, tail } => {
                    let c = b[i];
                    i += 1;
                    if c == b'\n' {
                        self.end_line();
                    } else if !tail && !c.is_ascii_whitespace() {
                        self.line = Line::Fenceish { ch, run, tail: true };
                    }
                }
            }
        }
    }

    fn end_line(&mut self) {
        let (ch, run, tail) = match self.line {
            Line::Start { ch, run, .. } if run >= 3 => (ch, run, false),
            Line::Fenceish { ch, run, tail } => (ch, run, tail),
            _ => {
                self.line = LINE_START;
                return;
            }
        };
        self.open = match self.open {
            None => Some((ch, run)),
            Some((open_ch, open_run)) if open_ch == ch && run >= open_run && !tail => None,
            still_open => still_open,
        };
        self.line = LINE_START;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(chunks: &[&str]) -> bool {
        let mut f = Fence::default();
        for c in chunks {
            f.feed(c);
        }
        f.in_fence()
    }

    #[test]
    fn opens_and_closes() {
        assert!(!fed(&["text\n"]));
        assert!(fed(&["intro\n```rust\ncode\n"]));
        assert!(!fed(&["```\ncode\n```\n"]));
        assert!(fed(&["~~~\n"]));
        assert!(!fed(&["~~~\nx\n~~~~\n"]));
        // the opening line itself is outside until it ends
        assert!(!fed(&["```rust"]));
    }

    #[test]
    fn closing_needs_same_char_enough_run_and_no_info() {
        assert!(fed(&["````\n```\n"]));
        assert!(fed(&["```\n~~~\n"]));
        assert!(fed(&["```\n```python\n"]));
        assert!(!fed(&["```\n```  \n"]));
        assert!(!fed(&["    ```\n"]));
        assert!(fed(&["   ```\n"]));
        assert!(!fed(&["a ```\n"]));
        assert!(!fed(&["``\n"]));
    }

    #[test]
    fn split_anywhere_gives_the_same_state() {
        let text = "a\n  ```js\nlet x = 1;\n  ```\nb\n~~~~\nc\n";
        let whole = fed(&[text]);
        for i in 0..=text.len() {
            assert_eq!(fed(&[&text[..i], &text[i..]]), whole, "split at {i}");
        }
        let mut f = Fence::default();
        for (i, _) in text.char_indices() {
            f.feed(&text[i..i + 1]);
        }
        assert_eq!(f.in_fence(), whole);
    }
}
