//! Amazon Bedrock nodes (`node_type: bedrock`): where a request goes, how it is authenticated,
//! and what Bedrock's errors mean.
//!
//! - Inference: `POST /model/{modelId}/converse` (whole answer) or `/converse-stream` (AWS
//!   event-stream framing, `eventstream`) on `bedrock-runtime.{region}.amazonaws.com`;
//!   translation in `dialect::bedrock`.
//! - Discovery: `GET /foundation-models` and `GET /inference-profiles` on
//!   `bedrock.{region}.amazonaws.com` (`discovery`).
//! - A node's `base_url`, when set, replaces both hosts (one proxy, VPC endpoint or test fake
//!   serving the whole API); empty means the region's public endpoints.
//! - Authentication: a Bedrock API key (`Authorization: Bearer`, the node's `api_key`) when
//!   one is set, otherwise SigV4 (`sigv4`, service `bedrock`) with the node's access key,
//!   secret and optional session token. Secrets are opened only here, per request.

pub mod discovery;
pub mod eventstream;
pub mod sigv4;

use super::failure::{Failure, Scope};
use crate::state::snapshot::Node;

/// How a node authenticates, with its secrets opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    ApiKey(String),
    SigV4 { access_key_id: String, secret_access_key: String, session_token: Option<String> },
}

/// The node's credentials, opened with `open` (the Worker's sealing key). `Err` says what is
/// missing (a node saved without credentials, or sealed with another key).
pub fn auth(node: &Node, open: impl Fn(&str) -> Option<String>) -> Result<Auth, String> {
    if let Some(k) = node.api_key_sealed.as_deref().and_then(&open).filter(|k| !k.is_empty()) {
        return Ok(Auth::ApiKey(k));
    }
    let aws = node.aws.as_ref().ok_or("the bedrock node has no credentials")?;
    let access_key_id = aws.access_key_id.clone().filter(|k| !k.is_empty()).ok_or("the bedrock node has neither an API key nor an access key id")?;
    let secret_access_key = aws.secret_sealed.as_deref().and_then(&open).ok_or("the bedrock node's secret access key is missing or cannot be opened (SECRETS_KEY changed?)")?;
    let session_token = aws.session_token_sealed.as_deref().and_then(&open).filter(|t| !t.is_empty());
    Ok(Auth::SigV4 { access_key_id, secret_access_key, session_token })
}

pub fn region(node: &Node) -> &str {
    node.aws.as_ref().map(|a| a.region.as_str()).filter(|r| !r.is_empty()).unwrap_or("us-east-1")
}

fn base(node: &Node, host: &str) -> String {
    let b = node.base_url.trim().trim_end_matches('/');
    if b.is_empty() {
        format!("https://{host}.{}.amazonaws.com", region(node))
    } else {
        b.to_string()
    }
}

/// The runtime endpoint (inference).
pub fn runtime_base(node: &Node) -> String {
    base(node, "bedrock-runtime")
}

/// The control-plane endpoint (model listings).
pub fn control_base(node: &Node) -> String {
    base(node, "bedrock")
}

/// The Converse (or ConverseStream) URL for a model id or inference profile (ARNs included:
/// the id is one path segment, its `:` and `/` percent-encoded as the SDKs do).
pub fn converse_url(node: &Node, model_id: &str, stream: bool) -> String {
    let op = if stream { "converse-stream" } else { "converse" };
    format!("{}/model/{}/{op}", runtime_base(node), sigv4::uri_encode(model_id, false))
}

/// (host as the Host header carries it, path, query) of an absolute URL.
fn split_url(url: &str) -> (String, String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let (authority, path_query) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    // Default ports are not part of the Host header a client sends.
    let host = match (scheme, authority.rsplit_once(':')) {
        ("https", Some((h, "443"))) | ("http", Some((h, "80"))) => h,
        _ => authority,
    };
    (host.to_ascii_lowercase(), path.to_string(), query.to_string())
}

/// The headers of a Bedrock request: `base` (content type, the node's custom headers) plus the
/// authentication for `auth`, signed over `body` at `now_ms` for SigV4.
pub fn authorize(base: Vec<(String, String)>, auth: &Auth, region: &str, method: &str, url: &str, body: &[u8], now_ms: u64) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = base.into_iter().filter(|(k, _)| !matches!(k.as_str(), "authorization" | "x-amz-date" | "x-amz-security-token")).collect();
    match auth {
        Auth::ApiKey(k) => h.push(("authorization".into(), format!("Bearer {k}"))),
        Auth::SigV4 { access_key_id, secret_access_key, session_token } => {
            let (host, path, query) = split_url(url);
            // Only the content type is signed besides host and date: the node's custom headers
            // may be rewritten by a proxy without breaking the signature.
            let signed: Vec<(String, String)> = h.iter().filter(|(k, _)| k == "content-type").cloned().collect();
            let req = sigv4::Request { method, host: &host, path: &path, query: &query, headers: &signed, payload: body };
            let creds = sigv4::Credentials { access_key_id, secret_access_key, session_token: session_token.as_deref() };
            h.extend(sigv4::sign(&req, &creds, region, "bedrock", &sigv4::amz_date(now_ms)));
        }
    }
    h
}

/// The error type of a Bedrock error answer: `x-amzn-errortype` (`ValidationException:http://…`)
/// or the body's `__type`.
fn error_type(headers: &[(String, String)], body: &[u8]) -> String {
    let from_header = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-errortype")).map(|(_, v)| v.split(':').next().unwrap_or("").trim().to_string());
    let from_body = || serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v.get("__type").and_then(|t| t.as_str()).map(|t| t.rsplit('#').next().unwrap_or(t).to_string()));
    from_header.filter(|t| !t.is_empty()).or_else(from_body).unwrap_or_default()
}

const CREDENTIAL_ERRORS: &[&str] =
    &["UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException", "MissingAuthenticationTokenException", "ExpiredTokenException", "InvalidClientTokenId"];

/// A Bedrock error answer (HTTP status, headers, body) as a typed failure.
pub fn failure(status: u16, retry_after_ms: Option<u64>, headers: &[(String, String)], body: &[u8]) -> Failure {
    let kind = error_type(headers, body);
    let text = eventstream::message_of(body);
    let message = if kind.is_empty() { text } else { format!("{kind}: {text}") };
    let api = serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
    match kind.as_str() {
        k if CREDENTIAL_ERRORS.contains(&k) => Failure::Credentials { status, message, scope: Scope::Node },
        // No access to this model (not enabled for the account, or not in its region).
        "AccessDeniedException" => Failure::Credentials { status, message, scope: Scope::Pair },
        _ if status == 401 || status == 403 => Failure::Credentials { status, message, scope: Scope::Node },
        // The model failed while processing: another node may serve it.
        "ModelErrorException" => Failure::Status { status: 502, retry_after_ms, message, api },
        _ => Failure::Status { status, retry_after_ms, message, api },
    }
}

/// An exception event of a ConverseStream (`:exception-type`) as a typed failure, for one that
/// arrives before anything went to the client (so another node can still be tried).
pub fn exception_failure(kind: &str, message: &str) -> Failure {
    let message = format!("{kind}: {message}");
    let status = match kind {
        "throttlingException" | "modelNotReadyException" => 429,
        "validationException" => 400,
        "resourceNotFoundException" => 404,
        "modelTimeoutException" => 408,
        "serviceUnavailableException" => 503,
        "internalServerException" => 500,
        "accessDeniedException" => return Failure::Credentials { status: 403, message, scope: Scope::Pair },
        // modelStreamErrorException and anything new: the model failed mid-answer.
        _ => 502,
    };
    Failure::Status { status, retry_after_ms: None, message, api: true }
}

/// The first ConverseStream message, when it is an exception (read before the relay starts).
pub fn first_failure(first: &[u8]) -> Option<Failure> {
    let mut found = None;
    let mut d = eventstream::Decoder::new();
    let r = d.push(first, |m| {
        if found.is_none() {
            if let eventstream::Event::Exception { kind, message } = eventstream::classify(&m) {
                found = Some(exception_failure(&kind, &message));
            }
        }
    });
    match r {
        Err(e) => Some(Failure::OriginError(format!("unreadable stream: {e}"))),
        Ok(()) => found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::secrets::Sealer;
    use crate::state::snapshot::AwsAuth;

    fn node(base: &str) -> Node {
        Node { base_url: base.into(), aws: Some(AwsAuth { region: "eu-west-3".into(), ..Default::default() }), ..Default::default() }
    }

    #[test]
    fn endpoints_follow_the_region_unless_overridden() {
        let n = node("");
        assert_eq!(runtime_base(&n), "https://bedrock-runtime.eu-west-3.amazonaws.com");
        assert_eq!(control_base(&n), "https://bedrock.eu-west-3.amazonaws.com");
        assert_eq!(converse_url(&n, "anthropic.claude-3-haiku-20240307-v1:0", true), "https://bedrock-runtime.eu-west-3.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream");
        let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0";
        assert!(converse_url(&n, arn, false).ends_with("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"));
        let fake = node("http://127.0.0.1:9999/");
        assert_eq!(runtime_base(&fake), "http://127.0.0.1:9999");
        assert_eq!(control_base(&fake), "http://127.0.0.1:9999");
        assert_eq!(split_url("https://h.example:443/a/b?x=1"), ("h.example".into(), "/a/b".into(), "x=1".into()));
        assert_eq!(split_url("http://127.0.0.1:9999"), ("127.0.0.1:9999".into(), "/".into(), "".into()));
    }

    #[test]
    fn the_api_key_wins_and_secrets_are_opened_per_request() {
        let s = Sealer::new(b"k");
        let open = |v: &str| s.open(v);
        let mut n = node("");
        n.aws = Some(AwsAuth {
            region: "us-east-1".into(),
            access_key_id: Some("AKIDEXAMPLE00000".into()),
            secret_sealed: Some(s.seal("secret", [1; 12])),
            session_token_sealed: Some(s.seal("tok", [2; 12])),
        });
        assert_eq!(auth(&n, open), Ok(Auth::SigV4 { access_key_id: "AKIDEXAMPLE00000".into(), secret_access_key: "secret".into(), session_token: Some("tok".into()) }));
        n.api_key_sealed = Some(s.seal("br-key", [3; 12]));
        assert_eq!(auth(&n, open), Ok(Auth::ApiKey("br-key".into())));
        let mut lost = node("");
        lost.aws =
            Some(AwsAuth { region: "us-east-1".into(), access_key_id: Some("AKIDEXAMPLE00000".into()), secret_sealed: Some(Sealer::new(b"old").seal("x", [4; 12])), session_token_sealed: None });
        assert!(auth(&lost, open).unwrap_err().contains("cannot be opened"));
    }

    #[test]
    fn signed_requests_carry_the_signature_and_never_a_stale_authorization() {
        let base = vec![("content-type".to_string(), "application/json".to_string()), ("authorization".to_string(), "Basic stale".to_string()), ("x-team".to_string(), "a".to_string())];
        let a = Auth::SigV4 { access_key_id: "AKIDEXAMPLE".into(), secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(), session_token: None };
        let h = authorize(base.clone(), &a, "us-east-1", "POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m%3A0/converse", b"{}", 1_440_938_160_000);
        let auths: Vec<&String> = h.iter().filter(|(k, _)| k == "authorization").map(|(_, v)| v).collect();
        assert_eq!(auths.len(), 1);
        assert!(auths[0].starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="), "{}", auths[0]);
        assert!(h.contains(&("x-amz-date".into(), "20150830T123600Z".into())) && h.contains(&("x-team".into(), "a".into())));
        let k = authorize(base, &Auth::ApiKey("abc".into()), "us-east-1", "POST", "https://x/", b"", 0);
        assert_eq!(k.iter().filter(|(k, _)| k == "authorization").map(|(_, v)| v.as_str()).collect::<Vec<_>>(), ["Bearer abc"]);
    }

    #[test]
    fn errors_are_typed() {
        let hdr = |t: &str| vec![("X-Amzn-ErrorType".to_string(), format!("{t}:http://internal.amazon.com/coral/com.amazon.bedrock/"))];
        let sig = failure(403, None, &hdr("InvalidSignatureException"), br#"{"message":"The request signature we calculated does not match"}"#);
        assert!(matches!(&sig, Failure::Credentials { status: 403, scope: Scope::Node, message } if message.starts_with("InvalidSignatureException: The request signature")), "{sig:?}");
        let thr = failure(429, Some(1000), &hdr("ThrottlingException"), br#"{"message":"Too many requests, please wait before trying again."}"#);
        assert!(matches!(thr, Failure::Status { status: 429, api: true, retry_after_ms: Some(1000), .. }));
        let val = failure(400, None, &[], br#"{"__type":"com.amazon.coral.validate#ValidationException","message":"Malformed input request"}"#);
        assert_eq!(val.origin_message(), "ValidationException: Malformed input request");
        assert!(matches!(failure(403, None, &hdr("AccessDeniedException"), b"{}"), Failure::Credentials { scope: Scope::Pair, .. }));
        assert!(matches!(exception_failure("throttlingException", "slow"), Failure::Status { status: 429, .. }));
        let first = eventstream::encode(&[(":message-type", "exception"), (":exception-type", "validationException")], br#"{"message":"bad"}"#);
        assert!(matches!(first_failure(&first), Some(Failure::Status { status: 400, .. })));
        assert_eq!(first_failure(&eventstream::encode(&[(":message-type", "event"), (":event-type", "messageStart")], b"{}")), None);
    }
}
