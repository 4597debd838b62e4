//! The AWS event-stream framing (`application/vnd.amazon.eventstream`), which ConverseStream
//! answers in. One message:
//!
//! ```text
//! total length u32 | headers length u32 | prelude CRC32 u32 | headers | payload | message CRC32 u32
//! ```
//!
//! (big-endian; the prelude CRC covers the first 8 bytes, the message CRC everything before
//! it). A header is a name (u8 length + bytes), a type byte and a typed value; strings (type 7)
//! carry `:message-type`, `:event-type`, `:exception-type`, `:error-code`, `:error-message`.
//!
//! The decoder is incremental: bytes arrive in arbitrary pieces (a message may be split at any
//! offset, several may share one chunk), a message is released once all of it is there, and
//! both CRCs are checked. A bad CRC or an impossible length is an error: the stream is corrupt
//! and nothing after it can be trusted (no resynchronisation).

/// Largest message accepted (AWS limits a message to 16 MiB; headers to 128 KiB).
pub const MAX_MESSAGE: usize = 16 << 20;
const MAX_HEADERS: usize = 128 << 10;
/// Prelude (12 bytes) + message CRC (4).
const OVERHEAD: usize = 16;

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE 802.3, the one event-stream uses).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for b in data {
        c = CRC_TABLE[((c ^ *b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    PreludeCrc,
    MessageCrc,
    Length(usize),
    Headers(&'static str),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::PreludeCrc => write!(f, "event-stream prelude checksum mismatch"),
            FrameError::MessageCrc => write!(f, "event-stream message checksum mismatch"),
            FrameError::Length(n) => write!(f, "event-stream message length {n} is out of bounds"),
            FrameError::Headers(why) => write!(f, "malformed event-stream headers: {why}"),
        }
    }
}

/// One decoded message, borrowing the decoder's buffer.
#[derive(Debug)]
pub struct Message<'a> {
    headers: &'a [u8],
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// A string header's value (`None` when absent or not a string).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        let mut h = self.headers;
        while !h.is_empty() {
            let (n, value_type, value, rest) = split_header(h).ok()?;
            if n == name.as_bytes() && value_type == 7 {
                return std::str::from_utf8(value).ok();
            }
            h = rest;
        }
        None
    }
}

fn take(h: &[u8], n: usize) -> Result<(&[u8], &[u8]), FrameError> {
    (h.len() >= n).then(|| h.split_at(n)).ok_or(FrameError::Headers("truncated"))
}

/// (name, value type, value bytes, the headers after it).
type Header<'a> = (&'a [u8], u8, &'a [u8], &'a [u8]);

/// The first header in `h`.
fn split_header(h: &[u8]) -> Result<Header<'_>, FrameError> {
    let (len, h) = take(h, 1)?;
    let (name, h) = take(h, len[0] as usize)?;
    let (t, h) = take(h, 1)?;
    let fixed = match t[0] {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        4 => 4,
        5 | 8 => 8,
        9 => 16,
        6 | 7 => {
            let (l, h) = take(h, 2)?;
            let (v, rest) = take(h, u16::from_be_bytes([l[0], l[1]]) as usize)?;
            return Ok((name, t[0], v, rest));
        }
        _ => return Err(FrameError::Headers("unknown value type")),
    };
    let (v, rest) = take(h, fixed)?;
    Ok((name, t[0], v, rest))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The first message in `buf` is complete (its prelude is there and says it is).
pub fn has_message(buf: &[u8]) -> bool {
    buf.len() >= 12 && buf.len() >= be32(&buf[..4]) as usize
}

/// Incremental decoder: `push` bytes as they come; each complete message goes to `f`.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
    failed: bool,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes of an incomplete message still held (0 at a clean end of stream).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    pub fn push(&mut self, bytes: &[u8], mut f: impl FnMut(Message<'_>)) -> Result<(), FrameError> {
        if self.failed {
            return Ok(());
        }
        // Whole messages straight from the chunk when nothing is held (the common case: no copy).
        let mut rest = bytes;
        if self.buf.is_empty() {
            let used = frames(rest, &mut f).inspect_err(|_| self.failed = true)?;
            rest = &rest[used..];
            self.buf.extend_from_slice(rest);
            return Ok(());
        }
        self.buf.extend_from_slice(rest);
        let used = frames(&self.buf, &mut f).inspect_err(|_| self.failed = true)?;
        self.buf.drain(..used);
        Ok(())
    }
}

/// Decode every complete message at the start of `buf`; returns the bytes consumed.
fn frames(buf: &[u8], f: &mut impl FnMut(Message<'_>)) -> Result<usize, FrameError> {
    let mut at = 0;
    loop {
        let b = &buf[at..];
        if b.len() < 12 {
            return Ok(at);
        }
        let total = be32(&b[..4]) as usize;
        let headers_len = be32(&b[4..8]) as usize;
        // The prelude is checked before its lengths are believed (a corrupt length would
        // otherwise make us wait for bytes that never come).
        if crc32(&b[..8]) != be32(&b[8..12]) {
            return Err(FrameError::PreludeCrc);
        }
        if !(OVERHEAD..=MAX_MESSAGE).contains(&total) {
            return Err(FrameError::Length(total));
        }
        if headers_len > MAX_HEADERS || headers_len > total - OVERHEAD {
            return Err(FrameError::Headers("longer than the message"));
        }
        if b.len() < total {
            return Ok(at);
        }
        if crc32(&b[..total - 4]) != be32(&b[total - 4..total]) {
            return Err(FrameError::MessageCrc);
        }
        let headers = &b[12..12 + headers_len];
        // Every header must parse, so a lookup never misreads a truncated one.
        let mut h = headers;
        while !h.is_empty() {
            h = split_header(h)?.3;
        }
        f(Message { headers, payload: &b[12 + headers_len..total - 4] });
        at += total;
    }
}

/// The message of an exception event or an error answer (`message` or `Message`).
pub fn message_of(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("message").or_else(|| v.get("Message")).and_then(serde_json::Value::as_str).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(payload).chars().take(300).collect())
}

/// What one ConverseStream message means for the stream: an event, or a typed failure.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// An event (`:message-type: event`) of this `:event-type`.
    Event(String),
    /// An exception (`:exception-type`, e.g. `throttlingException`) with its message.
    Exception { kind: String, message: String },
}

pub fn classify(m: &Message<'_>) -> Event {
    match m.header(":message-type") {
        Some("exception") => Event::Exception { kind: m.header(":exception-type").unwrap_or("exception").to_string(), message: message_of(m.payload) },
        Some("error") => Event::Exception { kind: m.header(":error-code").unwrap_or("error").to_string(), message: m.header(":error-message").unwrap_or("").to_string() },
        _ => Event::Event(m.header(":event-type").unwrap_or("").to_string()),
    }
}

/// Encode one message with string headers (tests, and the shape the fake origin mirrors).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (k, v) in headers {
        h.push(k.len() as u8);
        h.extend_from_slice(k.as_bytes());
        h.push(7);
        h.extend_from_slice(&(v.len() as u16).to_be_bytes());
        h.extend_from_slice(v.as_bytes());
    }
    let total = OVERHEAD + h.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(kind: &str, payload: &str) -> Vec<u8> {
        encode(&[(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")], payload.as_bytes())
    }

    fn decode_pieces(pieces: &[&[u8]]) -> Result<Vec<(String, String)>, FrameError> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for p in pieces {
            d.push(p, |m| out.push((m.header(":event-type").unwrap_or("").to_string(), String::from_utf8(m.payload.to_vec()).unwrap())))?;
        }
        assert_eq!(d.pending(), 0, "a complete stream leaves nothing held");
        Ok(out)
    }

    fn stream() -> Vec<u8> {
        let mut s = event("messageStart", r#"{"role":"assistant"}"#);
        s.extend(event("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"Hé"}}"#));
        s.extend(event("messageStop", r#"{"stopReason":"end_turn"}"#));
        s
    }

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn decodes_the_documented_example_message() {
        // The AWS SDKs' event-stream test vector "all_headers"-style minimal case: an empty
        // message is 16 bytes, 0x00000010 0x00000000 prelude CRC 0x05c248eb, message CRC 0x7d98c8ff.
        let empty = encode(&[], b"");
        assert_eq!(empty, [0, 0, 0, 0x10, 0, 0, 0, 0, 0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff]);
        let mut n = 0;
        Decoder::new()
            .push(&empty, |m| {
                assert!(m.payload.is_empty());
                n += 1;
            })
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn every_split_point_gives_the_same_messages() {
        let s = stream();
        let whole = decode_pieces(&[&s]).unwrap();
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[1], ("contentBlockDelta".into(), r#"{"contentBlockIndex":0,"delta":{"text":"Hé"}}"#.into()));
        for i in 0..=s.len() {
            assert_eq!(decode_pieces(&[&s[..i], &s[i..]]).unwrap(), whole, "split at {i}");
        }
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(decode_pieces(&bytes).unwrap(), whole, "one byte at a time");
    }

    proptest! {
        #[test]
        fn any_chunking_decodes_identically(cuts in proptest::collection::vec(0usize..400, 0..12)) {
            let s = stream();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (s.len() + 1)).collect();
            cuts.sort();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&s[at..c]);
                at = c;
            }
            pieces.push(&s[at..]);
            prop_assert_eq!(decode_pieces(&pieces).unwrap(), decode_pieces(&[&s]).unwrap());
        }

        #[test]
        fn corrupting_any_byte_is_detected(at in 0usize..400, flip in 1u8..=255) {
            // CRC-32 catches every error burst up to 32 bits, so a changed byte anywhere (prelude,
            // headers, payload or a checksum) fails the stream; it never yields a wrong message.
            let mut s = stream();
            let at = at % s.len();
            s[at] ^= flip;
            let mut seen = Vec::new();
            let r = Decoder::new().push(&s, |m| seen.push(m.payload.to_vec()));
            prop_assert!(r.is_err(), "corruption at {} went unnoticed", at);
            prop_assert!(seen.len() < 3, "the corrupt message itself was delivered");
        }
    }

    #[test]
    fn bad_checksums_and_lengths_are_errors() {
        let mut s = event("messageStart", "{}");
        let last = s.len() - 1;
        s[last] ^= 1;
        assert_eq!(decode_pieces(&[&s]), Err(FrameError::MessageCrc));
        let mut s = event("messageStart", "{}");
        s[9] ^= 1;
        assert_eq!(decode_pieces(&[&s]), Err(FrameError::PreludeCrc));
        // A length beyond the limit, with a correct prelude CRC.
        let mut p = ((MAX_MESSAGE + 1) as u32).to_be_bytes().to_vec();
        p.extend_from_slice(&0u32.to_be_bytes());
        let c = crc32(&p);
        p.extend_from_slice(&c.to_be_bytes());
        assert_eq!(decode_pieces(&[&p]), Err(FrameError::Length(MAX_MESSAGE + 1)));
    }

    #[test]
    fn exception_headers_are_readable() {
        let m = encode(&[(":message-type", "exception"), (":exception-type", "throttlingException")], br#"{"message":"slow down"}"#);
        Decoder::new()
            .push(&m, |msg| {
                assert_eq!(msg.header(":message-type"), Some("exception"));
                assert_eq!(msg.header(":exception-type"), Some("throttlingException"));
                assert_eq!(msg.header(":event-type"), None);
            })
            .unwrap();
        assert!(has_message(&m) && !has_message(&m[..m.len() - 1]) && !has_message(&m[..5]));
    }
}
