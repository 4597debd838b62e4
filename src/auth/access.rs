//! Cloudflare Access assertions (`Cf-Access-Jwt-Assertion`): RS256 JWTs signed by the team's
//! keys (`https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`). This module is the pure
//! part: split and decode the token, check algorithm, audience, issuer and times, pick the key
//! by `kid` from a JWKS document. The signature itself is checked by the platform (WebCrypto in
//! the Worker, so no RSA code is compiled into the wasm module).

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// Clock skew tolerated on `nbf` / `iat` (Access and the Worker clocks are both NTP-synced).
const SKEW_S: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessError {
    Malformed(&'static str),
    Algorithm(String),
    Audience,
    Issuer,
    Expired,
    NotYetValid,
    NoEmail,
    UnknownKey(String),
    BadSignature,
    Keys(String),
}

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessError::Malformed(what) => write!(f, "malformed Access token: {what}"),
            AccessError::Algorithm(a) => write!(f, "Access token algorithm '{a}' is not RS256"),
            AccessError::Audience => write!(f, "Access token is for another application (audience)"),
            AccessError::Issuer => write!(f, "Access token is from another team (issuer)"),
            AccessError::Expired => write!(f, "Access token expired"),
            AccessError::NotYetValid => write!(f, "Access token not yet valid"),
            AccessError::NoEmail => write!(f, "Access token carries no email"),
            AccessError::UnknownKey(k) => write!(f, "Access token signed by an unknown key '{k}'"),
            AccessError::BadSignature => write!(f, "Access token signature is invalid"),
            AccessError::Keys(e) => write!(f, "Access signing keys unavailable: {e}"),
        }
    }
}

/// A decoded, not yet verified assertion.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub kid: String,
    /// `header.payload`, the bytes the signature covers.
    pub signed: Vec<u8>,
    pub signature: Vec<u8>,
    pub email: String,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// What the deployment expects of an assertion.
pub struct Expect<'a> {
    pub audience: &'a str,
    /// `https://<team domain>`; checked when the token names an issuer.
    pub issuer: &'a str,
    pub now_s: i64,
}

/// Decode and check everything except the signature.
pub fn decode(token: &str, want: &Expect) -> Result<Assertion, AccessError> {
    if token.len() > 16 * 1024 {
        return Err(AccessError::Malformed("too long"));
    }
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(AccessError::Malformed("expected three dot-separated parts"));
    };
    let header: Header = serde_json::from_slice(&B64.decode(h).map_err(|_| AccessError::Malformed("header is not base64url"))?).map_err(|_| AccessError::Malformed("header is not JSON"))?;
    if header.alg != "RS256" {
        return Err(AccessError::Algorithm(header.alg.chars().take(20).collect()));
    }
    let kid = header.kid.filter(|k| !k.is_empty()).ok_or(AccessError::Malformed("header has no kid"))?;
    let claims: Value = serde_json::from_slice(&B64.decode(p).map_err(|_| AccessError::Malformed("payload is not base64url"))?).map_err(|_| AccessError::Malformed("payload is not JSON"))?;
    let signature = B64.decode(s).map_err(|_| AccessError::Malformed("signature is not base64url"))?;
    let aud_ok = match &claims["aud"] {
        Value::String(a) => a == want.audience,
        Value::Array(list) => list.iter().any(|a| a.as_str() == Some(want.audience)),
        _ => false,
    };
    if want.audience.is_empty() || !aud_ok {
        return Err(AccessError::Audience);
    }
    if let Some(iss) = claims["iss"].as_str() {
        if iss.trim_end_matches('/') != want.issuer.trim_end_matches('/') {
            return Err(AccessError::Issuer);
        }
    }
    match claims["exp"].as_i64() {
        Some(exp) if exp > want.now_s => {}
        Some(_) => return Err(AccessError::Expired),
        None => return Err(AccessError::Malformed("no exp")),
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > want.now_s + SKEW_S) || claims["iat"].as_i64().is_some_and(|iat| iat > want.now_s + SKEW_S) {
        return Err(AccessError::NotYetValid);
    }
    let email = claims["email"].as_str().map(|e| e.trim().to_ascii_lowercase()).filter(|e| e.contains('@') && e.len() <= 320).ok_or(AccessError::NoEmail)?;
    Ok(Assertion { kid, signed: format!("{h}.{p}").into_bytes(), signature, email })
}

/// An RSA public key from a JWKS document (base64url modulus and exponent, as WebCrypto
/// imports them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub kid: String,
    pub n: String,
    pub e: String,
}

/// The RSA signing keys of a JWKS document (`{"keys": [...]}`); other key types are skipped.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<RsaKey>, AccessError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| AccessError::Keys("the certs document is not JSON".into()))?;
    let keys = v["keys"].as_array().ok_or_else(|| AccessError::Keys("the certs document has no keys".into()))?;
    Ok(keys
        .iter()
        .filter(|k| k["kty"] == "RSA" && k["use"].as_str().is_none_or(|u| u == "sig") && k["alg"].as_str().is_none_or(|a| a == "RS256"))
        .filter_map(|k| Some(RsaKey { kid: k["kid"].as_str()?.to_string(), n: k["n"].as_str()?.to_string(), e: k["e"].as_str()?.to_string() }))
        .collect())
}

/// The certs URL of a team domain (`myteam` or `myteam.cloudflareaccess.com`).
pub fn certs_url(team_domain: &str) -> String {
    format!("{}/cdn-cgi/access/certs", issuer(team_domain))
}

/// `https://<team>.cloudflareaccess.com`, the issuer Access puts in its tokens.
pub fn issuer(team_domain: &str) -> String {
    let d = team_domain.trim().trim_start_matches("https://").trim_end_matches('/');
    if d.contains('.') {
        format!("https://{d}")
    } else {
        format!("https://{d}.cloudflareaccess.com")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(header: Value, claims: Value) -> String {
        format!("{}.{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()), B64.encode(b"sig"))
    }
    const WANT: Expect = Expect { audience: "aud-1", issuer: "https://team.cloudflareaccess.com", now_s: 1_000 };

    #[test]
    fn a_good_assertion_decodes() {
        let t = token(json!({"alg": "RS256", "kid": "k1"}), json!({"aud": ["aud-1"], "iss": "https://team.cloudflareaccess.com", "exp": 2_000, "iat": 900, "email": "Ann@Example.com"}));
        let a = decode(&t, &WANT).unwrap();
        assert_eq!((a.kid.as_str(), a.email.as_str(), a.signature.as_slice()), ("k1", "ann@example.com", b"sig".as_slice()));
        assert!(a.signed.starts_with(b"ey"));
    }

    #[test]
    fn each_failure_is_named() {
        let h = json!({"alg": "RS256", "kid": "k1"});
        let ok = json!({"aud": "aud-1", "exp": 2_000, "email": "a@b.c"});
        let with = |k: &str, v: Value| {
            let mut c = ok.clone();
            c[k] = v;
            c
        };
        assert_eq!(decode(&token(json!({"alg": "HS256", "kid": "k"}), ok.clone()), &WANT).unwrap_err(), AccessError::Algorithm("HS256".into()));
        assert_eq!(decode(&token(json!({"alg": "none"}), ok.clone()), &WANT).unwrap_err(), AccessError::Algorithm("none".into()));
        assert_eq!(decode(&token(json!({"alg": "RS256"}), ok.clone()), &WANT).unwrap_err(), AccessError::Malformed("header has no kid"));
        assert_eq!(decode(&token(h.clone(), with("aud", json!("other"))), &WANT).unwrap_err(), AccessError::Audience);
        assert_eq!(decode(&token(h.clone(), with("aud", json!(["x", "y"]))), &WANT).unwrap_err(), AccessError::Audience);
        assert_eq!(decode(&token(h.clone(), with("iss", json!("https://evil.cloudflareaccess.com"))), &WANT).unwrap_err(), AccessError::Issuer);
        assert_eq!(decode(&token(h.clone(), with("exp", json!(1_000))), &WANT).unwrap_err(), AccessError::Expired);
        assert_eq!(decode(&token(h.clone(), with("nbf", json!(1_100))), &WANT).unwrap_err(), AccessError::NotYetValid);
        assert_eq!(decode(&token(h.clone(), with("email", json!(null))), &WANT).unwrap_err(), AccessError::NoEmail);
        assert!(matches!(decode("a.b", &WANT), Err(AccessError::Malformed(_))));
        assert!(matches!(decode("!!.??.**", &WANT), Err(AccessError::Malformed(_))));
        let no_aud = Expect { audience: "", ..WANT };
        assert_eq!(decode(&token(h, ok), &no_aud).unwrap_err(), AccessError::Audience, "an unset audience accepts nothing");
    }

    #[test]
    fn jwks_and_urls() {
        let doc = json!({"keys": [
            {"kid": "a", "kty": "RSA", "alg": "RS256", "use": "sig", "n": "nn", "e": "AQAB"},
            {"kid": "b", "kty": "EC", "crv": "P-256", "x": "x", "y": "y"},
            {"kid": "c", "kty": "RSA", "n": "n2", "e": "AQAB"}
        ], "public_cert": {"kid": "a", "cert": "..."}});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), vec!["a", "c"]);
        assert!(parse_jwks(b"nope").is_err());
        assert_eq!(certs_url("team"), "https://team.cloudflareaccess.com/cdn-cgi/access/certs");
        assert_eq!(certs_url("https://team.cloudflareaccess.com/"), "https://team.cloudflareaccess.com/cdn-cgi/access/certs");
    }
}
