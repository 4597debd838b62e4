//! The Upstash REST wire format, without I/O: a command is a JSON array of strings POSTed to the
//! base URL (`/pipeline` and `/multi-exec` take an array of them); a reply is
//! `{"result": ...}` or `{"error": "..."}` (an array of those for pipelines and transactions).
//! With `Upstash-Encoding: base64` every string in a result is base64 except the status "OK",
//! which keeps binary values exact through JSON (what the official client asks for too).

use base64::Engine;
use serde_json::Value as Json;
use std::fmt;

/// How the server should encode strings in results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Strings as JSON strings (non-UTF-8 bytes are lossy).
    Json,
    /// `Upstash-Encoding: base64`: strings are base64, so any bytes survive.
    Base64,
}

/// One Redis command: its name and arguments, all sent as strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd(pub Vec<String>);

impl Cmd {
    pub fn new(name: &str) -> Cmd {
        Cmd(vec![name.to_string()])
    }
    pub fn arg(mut self, a: impl fmt::Display) -> Cmd {
        self.0.push(a.to_string());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: fmt::Display>(mut self, a: I) -> Cmd {
        self.0.extend(a.into_iter().map(|s| s.to_string()));
        self
    }
    pub fn name(&self) -> &str {
        self.0.first().map(String::as_str).unwrap_or("")
    }
}

/// A decoded result. RESP2 has no other shapes (status replies arrive as strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Nil,
    Int(i64),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
}

impl Value {
    pub fn as_int(&self) -> Result<i64, Error> {
        match self {
            Value::Int(n) => Ok(*n),
            // Lua numbers and INCRBYFLOAT come back as strings; integers parse.
            Value::Bytes(b) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).ok_or_else(|| self.wrong("an integer")),
            _ => Err(self.wrong("an integer")),
        }
    }
    pub fn into_bytes(self) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Value::Nil => Ok(None),
            Value::Bytes(b) => Ok(Some(b)),
            Value::Int(n) => Ok(Some(n.to_string().into_bytes())),
            other => Err(other.wrong("a string")),
        }
    }
    pub fn into_array(self) -> Result<Vec<Value>, Error> {
        match self {
            Value::Array(a) => Ok(a),
            Value::Nil => Ok(Vec::new()),
            other => Err(other.wrong("an array")),
        }
    }
    /// True for the "OK" status reply.
    pub fn is_ok(&self) -> bool {
        matches!(self, Value::Bytes(b) if b == b"OK")
    }
    fn wrong(&self, wanted: &str) -> Error {
        Error::Type(format!("expected {wanted}, got {self:?}"))
    }
}

/// Why a call failed. `Unreachable`, `Http` and `Auth` mean the store cannot be used right now;
/// `Server` is Redis refusing a command (wrong type, unknown script...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No answer: refused, reset, DNS, or past the deadline.
    Unreachable(String),
    /// 401/403: wrong or missing token.
    Auth(String),
    /// Any other HTTP failure (e.g. 5xx while the database is away).
    Http { status: u16, message: String },
    /// An error reply from Redis.
    Server(String),
    /// A body that is not the protocol.
    Protocol(String),
    /// A result of another type than the command returns.
    Type(String),
}

impl Error {
    /// EVALSHA of a script Redis has not seen (yet, or since a restart): send it with EVAL.
    pub fn is_noscript(&self) -> bool {
        matches!(self, Error::Server(m) if m.starts_with("NOSCRIPT"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unreachable(m) => write!(f, "unreachable: {m}"),
            Error::Auth(m) => write!(f, "not authorized (check UPSTASH_REDIS_REST_TOKEN): {m}"),
            Error::Http { status, message } => write!(f, "HTTP {status}: {message}"),
            Error::Server(m) => write!(f, "{m}"),
            Error::Protocol(m) => write!(f, "unexpected answer: {m}"),
            Error::Type(m) => write!(f, "unexpected result: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Which endpoint a body goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Single,
    Pipeline,
    MultiExec,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Single => "",
            Endpoint::Pipeline => "pipeline",
            Endpoint::MultiExec => "multi-exec",
        }
    }
}

/// A POST to send. The transport adds nothing: URL, headers and body are complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// Build the request for one command (`Single`) or several.
pub fn request(base_url: &str, token: &str, encoding: Encoding, endpoint: Endpoint, cmds: &[Cmd]) -> HttpRequest {
    let base = base_url.trim_end_matches('/');
    let url = match endpoint.path() {
        "" => base.to_string(),
        p => format!("{base}/{p}"),
    };
    let body = match endpoint {
        Endpoint::Single => serde_json::to_string(&cmds.first().map(|c| &c.0)).unwrap_or_default(),
        _ => serde_json::to_string(&cmds.iter().map(|c| &c.0).collect::<Vec<_>>()).unwrap_or_default(),
    };
    let mut headers = vec![("Authorization".to_string(), format!("Bearer {token}")), ("Content-Type".to_string(), "application/json".to_string())];
    if encoding == Encoding::Base64 {
        headers.push(("Upstash-Encoding".to_string(), "base64".to_string()));
    }
    HttpRequest { url, headers, body }
}

fn short(s: &str) -> String {
    let mut end = s.len().min(200);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Parse a body, classifying failures that are not Redis's own error replies.
fn parse(resp: &HttpResponse) -> Result<Json, Error> {
    if resp.status == 401 || resp.status == 403 {
        let msg = serde_json::from_str::<Json>(&resp.body).ok().and_then(|j| j.get("error").and_then(Json::as_str).map(String::from)).unwrap_or_else(|| short(&resp.body));
        return Err(Error::Auth(msg));
    }
    let json: Json = match serde_json::from_str(&resp.body) {
        Ok(j) => j,
        Err(e) if resp.status == 200 => return Err(Error::Protocol(format!("{e}: {}", short(&resp.body)))),
        Err(_) => return Err(Error::Http { status: resp.status, message: short(&resp.body) }),
    };
    if resp.status >= 500 {
        let msg = json.get("error").and_then(Json::as_str).map(String::from).unwrap_or_else(|| short(&resp.body));
        return Err(Error::Http { status: resp.status, message: msg });
    }
    Ok(json)
}

fn value(j: &Json, encoding: Encoding) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Int(*b as i64),
        Json::Number(n) => n.as_i64().map(Value::Int).unwrap_or_else(|| Value::Bytes(n.to_string().into_bytes())),
        Json::String(s) if encoding == Encoding::Base64 && s != "OK" => {
            // Like the official client: a string that is not base64 was not encoded.
            Value::Bytes(base64::engine::general_purpose::STANDARD.decode(s).unwrap_or_else(|_| s.clone().into_bytes()))
        }
        Json::String(s) => Value::Bytes(s.clone().into_bytes()),
        Json::Array(a) => Value::Array(a.iter().map(|x| value(x, encoding)).collect()),
        Json::Object(_) => Value::Bytes(j.to_string().into_bytes()),
    }
}

/// `{"result": x}` -> x; `{"error": m}` -> `Server(m)`.
fn entry(j: &Json, encoding: Encoding) -> Result<Value, Error> {
    if let Some(e) = j.get("error").filter(|e| !e.is_null()) {
        return Err(Error::Server(e.as_str().map(String::from).unwrap_or_else(|| e.to_string())));
    }
    match j.get("result") {
        Some(r) => Ok(value(r, encoding)),
        None => Err(Error::Protocol(format!("neither result nor error in {}", short(&j.to_string())))),
    }
}

/// The answer to a single command.
pub fn decode_one(resp: &HttpResponse, encoding: Encoding) -> Result<Value, Error> {
    entry(&parse(resp)?, encoding)
}

/// The answer to a pipeline or transaction of `n` commands: one result per command, in order.
/// A transaction refused as a whole (EXECABORT) is the outer error.
pub fn decode_many(resp: &HttpResponse, encoding: Encoding, n: usize) -> Result<Vec<Result<Value, Error>>, Error> {
    let json = parse(resp)?;
    match json {
        Json::Array(items) if items.len() == n => Ok(items.iter().map(|j| entry(j, encoding)).collect()),
        Json::Array(items) => Err(Error::Protocol(format!("{} results for {n} commands", items.len()))),
        other => Err(entry(&other, encoding).err().unwrap_or_else(|| Error::Protocol(format!("not an array: {}", short(&other.to_string()))))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, body: body.to_string() }
    }

    #[test]
    fn commands_are_json_arrays_of_strings_with_bearer_auth() {
        let set = Cmd::new("SET").arg("k").arg("v \"q\"").arg("EX").arg(100);
        let r = request("https://db.upstash.io/", "tok", Encoding::Base64, Endpoint::Single, &[set.clone()]);
        assert_eq!(r.url, "https://db.upstash.io");
        assert_eq!(r.body, r#"["SET","k","v \"q\"","EX","100"]"#);
        assert!(r.headers.contains(&("Authorization".into(), "Bearer tok".into())));
        assert!(r.headers.contains(&("Upstash-Encoding".into(), "base64".into())));
        let p = request("https://db.upstash.io", "tok", Encoding::Json, Endpoint::Pipeline, &[set, Cmd::new("GET").arg("k")]);
        assert_eq!(p.url, "https://db.upstash.io/pipeline");
        assert_eq!(p.body, r#"[["SET","k","v \"q\"","EX","100"],["GET","k"]]"#);
        assert!(!p.headers.iter().any(|(k, _)| k == "Upstash-Encoding"));
        assert_eq!(request("http://h:1", "t", Encoding::Json, Endpoint::MultiExec, &[]).url, "http://h:1/multi-exec");
    }

    #[test]
    fn base64_results_decode_except_ok() {
        let b64 = Encoding::Base64;
        assert_eq!(decode_one(&resp(200, r#"{"result":"OK"}"#), b64), Ok(Value::Bytes(b"OK".to_vec())));
        assert_eq!(decode_one(&resp(200, r#"{"result":"aGVsbG8="}"#), b64), Ok(Value::Bytes(b"hello".to_vec())));
        assert_eq!(decode_one(&resp(200, r#"{"result":"/w=="}"#), b64), Ok(Value::Bytes(vec![0xff])), "binary survives");
        assert_eq!(decode_one(&resp(200, r#"{"result":["YQ==",null,3,["Yg=="]]}"#), b64), Ok(Value::Array(vec![Value::Bytes(b"a".to_vec()), Value::Nil, Value::Int(3), Value::Array(vec![Value::Bytes(b"b".to_vec())])])));
        assert_eq!(decode_one(&resp(200, r#"{"result":"aGVsbG8="}"#), Encoding::Json), Ok(Value::Bytes(b"aGVsbG8=".to_vec())), "plain mode leaves strings alone");
        assert_eq!(decode_one(&resp(200, r#"{"result":null}"#), b64), Ok(Value::Nil));
    }

    #[test]
    fn errors_are_classified() {
        let e = Encoding::Json;
        assert_eq!(decode_one(&resp(400, r#"{"error":"ERR value is not an integer or out of range"}"#), e), Err(Error::Server("ERR value is not an integer or out of range".into())));
        assert!(decode_one(&resp(400, r#"{"error":"NOSCRIPT No matching script. Please use EVAL."}"#), e).unwrap_err().is_noscript());
        assert_eq!(decode_one(&resp(401, r#"{"error":"Unauthorized"}"#), e), Err(Error::Auth("Unauthorized".into())));
        assert!(matches!(decode_one(&resp(502, "<html>bad gateway</html>"), e), Err(Error::Http { status: 502, .. })));
        assert!(matches!(decode_one(&resp(500, r#"{"error":"ERR redis unavailable"}"#), e), Err(Error::Http { status: 500, .. })));
        assert!(matches!(decode_one(&resp(200, "not json"), e), Err(Error::Protocol(_))));
        assert!(matches!(decode_one(&resp(200, r#"{"x":1}"#), e), Err(Error::Protocol(_))));
    }

    #[test]
    fn pipelines_and_transactions_keep_per_command_errors() {
        let e = Encoding::Json;
        let r = decode_many(&resp(200, r#"[{"result":"OK"},{"error":"ERR value is not an integer or out of range"},{"result":2}]"#), e, 3).unwrap();
        assert_eq!(r[0], Ok(Value::Bytes(b"OK".to_vec())));
        assert!(matches!(r[1], Err(Error::Server(_))));
        assert_eq!(r[2], Ok(Value::Int(2)));
        assert_eq!(decode_many(&resp(400, r#"{"error":"EXECABORT Transaction discarded"}"#), e, 2), Err(Error::Server("EXECABORT Transaction discarded".into())));
        assert!(matches!(decode_many(&resp(200, r#"[{"result":1}]"#), e, 2), Err(Error::Protocol(_))));
    }

    #[test]
    fn typed_accessors() {
        assert_eq!(Value::Int(5).as_int(), Ok(5));
        assert_eq!(Value::Bytes(b"12".to_vec()).as_int(), Ok(12));
        assert!(Value::Nil.as_int().is_err());
        assert_eq!(Value::Nil.into_bytes(), Ok(None));
        assert!(Value::Bytes(b"OK".to_vec()).is_ok());
        assert_eq!(Value::Nil.into_array(), Ok(vec![]));
    }
}
