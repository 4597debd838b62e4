//! Platform-neutral HTTP values that flow through the core. The edge converts
//! `worker::Request`/`Response` to and from these exactly once per request. Methods and header
//! names are the `http` crate's (so a method is one of a closed set of values, not any string).

pub use crate::stream::bytes::{ByteStream, NativeBody};
pub use http::{header, Method};

pub enum Body {
    Empty,
    Full(Vec<u8>),
    Stream(ByteStream),
    /// A relayed origin stream, driven by the edge (see `Relayed::into_stream` for the portable way).
    Relay(crate::stream::relay::Relayed),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => write!(f, "Body::Empty"),
            Body::Full(b) => write!(f, "Body::Full({} bytes)", b.len()),
            Body::Stream(_) => write!(f, "Body::Stream"),
            Body::Relay(r) => write!(f, "Body::{r:?}"),
        }
    }
}

/// An inbound client request with its body already read (bodies are size-capped at the edge).
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub client_ip: Option<String>,
}

/// The client address from the value of the header the runtime (or a proxy the operator
/// controls) sets: one IP address, or a list (`X-Forwarded-For`) whose last entry is the one the
/// nearest proxy added. Anything else is not an address and is ignored.
pub fn client_address(value: &str) -> Option<String> {
    let last = value.rsplit(',').next()?.trim();
    if last.len() > 64 {
        return None;
    }
    last.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

impl Inbound {
    /// Case-insensitive header lookup (names are stored lowercase by the edge, but tests may not).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').filter(|s| !s.is_empty()).find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = urlencoding::decode(k).ok()?;
            if k == name {
                Some(urlencoding::decode(&v.replace('+', " ")).map(|c| c.into_owned()).unwrap_or_default())
            } else {
                None
            }
        })
    }
}

/// What the core answers. Headers are (name, value) pairs; the edge copies them verbatim.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Reply {
    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
    }
    pub fn json_bytes(status: u16, bytes: Vec<u8>) -> Reply {
        Reply { status, headers: vec![(header::CONTENT_TYPE.as_str().into(), "application/json".into())], body: Body::Full(bytes) }
    }
    pub fn empty(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: Body::Empty }
    }
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.set_header(name, value);
        self
    }
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        if let Some(slot) = self.headers.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            slot.1 = value;
        } else {
            self.headers.push((name.to_ascii_lowercase(), value));
        }
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A request to an origin.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// An origin's answer: status and headers arrived; the body is still streaming.
pub struct OriginReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ByteStream,
    /// The same body as the platform sees it, if it can pump it natively (None in tests).
    pub native: Option<NativeBody>,
}

impl OriginReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::client_address;

    #[test]
    fn only_ip_addresses_become_client_addresses() {
        assert_eq!(client_address("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(client_address(" 2001:DB8::1 ").as_deref(), Some("2001:db8::1"));
        assert_eq!(client_address("198.51.100.1, 10.0.0.2").as_deref(), Some("10.0.0.2"));
        for junk in ["", "x".repeat(3000).as_str(), "1.2.3.4.5", "localhost", "1.2.3.4\r\nX: y", "::ffff:zz"] {
            assert_eq!(client_address(junk), None, "{junk}");
        }
    }
}
