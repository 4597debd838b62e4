//! Incremental line framing for SSE and NDJSON bodies. Bytes arrive in arbitrary pieces; a
//! line is released once its `\n` arrives (a trailing `\r` is dropped). A line longer than the
//! cap is an error, never a silent drop.

pub const DEFAULT_MAX_LINE: usize = 4 * 1024 * 1024;

#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    max: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub struct LineTooLong(pub usize);

impl LineFramer {
    pub fn new(max: usize) -> Self {
        LineFramer { buf: Vec::new(), max }
    }

    /// Feed bytes; `f` is called once per complete line (without the terminator).
    pub fn push(&mut self, mut chunk: &[u8], mut f: impl FnMut(&[u8])) -> Result<(), LineTooLong> {
        while let Some(pos) = memchr::memchr(b'\n', chunk) {
            let piece = &chunk[..pos];
            if self.buf.is_empty() {
                f(trim_cr(piece));
            } else {
                self.buf.extend_from_slice(piece);
                let line = std::mem::take(&mut self.buf);
                f(trim_cr(&line));
            }
            chunk = &chunk[pos + 1..];
        }
        self.buf.extend_from_slice(chunk);
        if self.buf.len() > self.max {
            return Err(LineTooLong(self.buf.len()));
        }
        Ok(())
    }

    /// The unterminated remainder at end of stream (NDJSON's last line may lack its `\n`).
    pub fn take_rest(&mut self) -> Option<Vec<u8>> {
        let rest = std::mem::take(&mut self.buf);
        let trimmed = trim_cr(&rest);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(trimmed.to_vec())
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The payload of an SSE `data:` line (one optional space after the colon is part of the syntax).
pub fn sse_data(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"data:")?;
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_all(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut fr = LineFramer::new(1024);
        let mut out = Vec::new();
        for p in pieces {
            fr.push(p, |l| out.push(l.to_vec())).unwrap();
        }
        if let Some(r) = fr.take_rest() {
            out.push(r);
        }
        out
    }

    #[test]
    fn lines_survive_every_split_point() {
        let text = b"data: {\"a\":1}\r\n\r\ndata: [DONE]\n\n{\"x\":true}";
        let whole = frame_all(&[text]);
        for i in 0..=text.len() {
            for j in i..=text.len() {
                assert_eq!(frame_all(&[&text[..i], &text[i..j], &text[j..]]), whole, "split at {i},{j}");
            }
        }
        assert_eq!(whole[0], b"data: {\"a\":1}");
        assert_eq!(whole[1], b"");
        assert_eq!(whole.last().unwrap(), b"{\"x\":true}");
    }

    #[test]
    fn overlong_line_is_an_error() {
        let mut fr = LineFramer::new(8);
        assert!(fr.push(b"0123456789", |_| {}).is_err());
    }

    #[test]
    fn sse_data_field() {
        assert_eq!(sse_data(b"data: x"), Some(&b"x"[..]));
        assert_eq!(sse_data(b"data:x"), Some(&b"x"[..]));
        assert_eq!(sse_data(b"event: y"), None);
    }
}
