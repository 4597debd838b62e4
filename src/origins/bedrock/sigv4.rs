//! AWS Signature Version 4 (header form), for Bedrock requests signed with an access key.
//! Pure: the caller passes the time, so signing is deterministic and tested against AWS's
//! published test suite (`aws-sig-v4-test-suite`, credentials `AKIDEXAMPLE`, 2015-08-30).
//!
//! Rules that matter here (and that generic HTTP code gets wrong):
//! - the canonical URI is the path *as sent* percent-encoded once more (every service but S3
//!   double-encodes), so a model id `…-v1:0`, sent as `…-v1%3A0`, is signed as `…-v1%253A0`;
//! - header values are trimmed and inner runs of spaces collapsed; repeated names are joined
//!   with `,` in their order; names are lower-cased and sorted;
//! - the session token of temporary credentials (`x-amz-security-token`) is signed too.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub struct Credentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// One request to sign. `path` is the path as it goes on the wire (already percent-encoded),
/// `query` the raw query string without `?` (may be empty).
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Headers that are sent and signed besides `host`, `x-amz-date` and the session token.
    pub headers: &'a [(String, String)],
    pub payload: &'a [u8],
}

/// `YYYYMMDD'T'HHMMSS'Z'` for a Unix time in milliseconds.
pub fn amz_date(now_ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(now_ms as i64).unwrap_or_default().format("%Y%m%dT%H%M%SZ").to_string()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-._~` (and `/` when asked).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    urlencoding::decode(s).map(|c| c.into_owned()).unwrap_or_else(|_| s.to_string())
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k), false), uri_encode(&percent_decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn collapse(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// (canonical request, signed header names), for the test suite's intermediate checks.
fn canonical(req: &Request, amz_date: &str, token: Option<&str>) -> (String, String) {
    let mut headers: Vec<(String, String)> = vec![("host".into(), req.host.to_string()), ("x-amz-date".into(), amz_date.to_string())];
    if let Some(t) = token {
        headers.push(("x-amz-security-token".into(), t.to_string()));
    }
    headers.extend(req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
    // Stable sort: repeated names keep their order when joined.
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines = String::new();
    let mut names: Vec<&str> = Vec::new();
    for (k, v) in &headers {
        if names.last() == Some(&k.as_str()) {
            lines.pop();
            lines.push(',');
        } else {
            names.push(k);
            lines.push_str(k);
            lines.push(':');
        }
        lines.push_str(&collapse(v));
        lines.push('\n');
    }
    let signed = names.join(";");
    let creq = format!("{}\n{}\n{}\n{}\n{}\n{}", req.method, uri_encode(req.path, true), canonical_query(req.query), lines, signed, sha256_hex(req.payload));
    (creq, signed)
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

/// The headers to add to the request: `x-amz-date`, the session token if any, and
/// `authorization`. The request's own `headers` must be sent unchanged.
pub fn sign(req: &Request, creds: &Credentials, region: &str, service: &str, amz_date: &str) -> Vec<(String, String)> {
    let date = &amz_date[..amz_date.len().min(8)];
    let (creq, signed) = canonical(req, amz_date, creds.session_token);
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(creq.as_bytes()));
    let sig = hex(&hmac(&signing_key(creds.secret_access_key, date, region, service), sts.as_bytes()));
    let mut out = vec![("x-amz-date".to_string(), amz_date.to_string())];
    if let Some(t) = creds.session_token {
        out.push(("x-amz-security-token".into(), t.to_string()));
    }
    out.push(("authorization".into(), format!("AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={sig}", creds.access_key_id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's Signature Version 4 test suite: shared credentials, scope and instant.
    const KEY: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20150830T123600Z";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const STS_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// (suite case, method, path, query, extra headers, token, expected SignedHeaders, Signature)
    #[allow(clippy::type_complexity)]
    fn suite() -> Vec<(&'static str, &'static str, &'static str, &'static str, Vec<(String, String)>, Option<&'static str>, &'static str, &'static str)> {
        vec![
            ("get-vanilla", "GET", "/", "", vec![], None, "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
            ("post-vanilla", "POST", "/", "", vec![], None, "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
            ("get-vanilla-empty-query-key", "GET", "/", "Param1=value1", vec![], None, "host;x-amz-date", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
            ("get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1", vec![], None, "host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
            ("get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", vec![], None, "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
            ("get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", vec![], None, "host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
            (
                "get-vanilla-query-unreserved",
                "GET",
                "/",
                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                vec![],
                None,
                "host;x-amz-date",
                "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
            ),
            ("get-vanilla-utf8-query", "GET", "/", "ሴ=bar", vec![], None, "host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
            (
                "get-unreserved",
                "GET",
                "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                "",
                vec![],
                None,
                "host;x-amz-date",
                "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
            ),
            (
                "get-header-key-duplicate",
                "GET",
                "/",
                "",
                h(&[("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")]),
                None,
                "host;my-header1;x-amz-date",
                "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
            ),
            (
                "get-header-value-order",
                "GET",
                "/",
                "",
                h(&[("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2")]),
                None,
                "host;my-header1;x-amz-date",
                "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
            ),
            (
                "get-header-value-trim",
                "GET",
                "/",
                "",
                h(&[("My-Header1", "value1"), ("My-Header2", "\"a   b   c\"")]),
                None,
                "host;my-header1;my-header2;x-amz-date",
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
            ),
            ("post-header-value-case", "POST", "/", "", h(&[("My-Header1", "VALUE1")]), None, "host;my-header1;x-amz-date", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
            ("post-sts-header-before", "POST", "/", "", vec![], Some(STS_TOKEN), "host;x-amz-date;x-amz-security-token", "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
        ]
    }

    #[test]
    fn matches_the_aws_signature_v4_test_suite() {
        for (name, method, path, query, headers, token, signed, sig) in suite() {
            let req = Request { method, host: "example.amazonaws.com", path, query, headers: &headers, payload: b"" };
            let creds = Credentials { access_key_id: KEY, secret_access_key: SECRET, session_token: token };
            let out = sign(&req, &creds, "us-east-1", "service", DATE);
            let auth = &out.iter().find(|(k, _)| k == "authorization").unwrap().1;
            assert_eq!(auth, &format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={signed}, Signature={sig}"), "{name}");
            assert_eq!(out[0], ("x-amz-date".to_string(), DATE.to_string()));
            assert_eq!(out.iter().any(|(k, _)| k == "x-amz-security-token"), token.is_some(), "{name}");
        }
    }

    #[test]
    fn canonical_requests_match_the_suite_files() {
        // get-vanilla.creq and get-header-value-trim.creq, byte for byte.
        let req = Request { method: "GET", host: "example.amazonaws.com", path: "/", query: "", headers: &[], payload: b"" };
        assert_eq!(canonical(&req, DATE, None).0, format!("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY}"));
        let hs = h(&[("My-Header1", "value1"), ("My-Header2", "\"a   b   c\"")]);
        let req = Request { headers: &hs, ..req };
        assert_eq!(
            canonical(&req, DATE, None).0,
            format!("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n{EMPTY}")
        );
    }

    #[test]
    fn signing_key_matches_the_documented_derivation() {
        // AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
        assert_eq!(hex(&signing_key(SECRET, "20120215", "us-east-1", "iam")), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }

    #[test]
    fn bedrock_paths_are_signed_double_encoded() {
        // The SDKs send a model id's ':' as %3A and sign the path encoded once more.
        let req =
            Request { method: "POST", host: "bedrock-runtime.us-east-1.amazonaws.com", path: "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", query: "", headers: &[], payload: b"{}" };
        let creq = canonical(&req, DATE, None).0;
        assert!(creq.starts_with("POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n\n"), "{creq}");
        assert!(creq.ends_with(&sha256_hex(b"{}")));
        assert_eq!(amz_date(1_440_938_160_000), DATE);
    }
}
