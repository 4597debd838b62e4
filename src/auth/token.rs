//! JWT issue/verify for user tokens and admin sessions. HS256 only: `alg: none` and every other
//! algorithm fail in `jwt-compact`'s validator (the header's alg must equal the validator's).
//! User and admin tokens use different keys (domain-separated from the one secret) and a
//! `typ` claim, so one can never stand in for the other.

use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header, UntrustedToken};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenClaims {
    pub sub: String,
    pub jti: String,
    pub typ: String,
}

pub const USER_TYP: &str = "user";
pub const ADMIN_TYP: &str = "admin";

fn key(secret: &[u8], typ: &str) -> Hs256Key {
    let mut h = Sha256::new();
    h.update(b"maestro-edge/");
    h.update(typ.as_bytes());
    h.update(b"/");
    h.update(secret);
    Hs256Key::new(h.finalize())
}

pub fn hash_jti(jti: &str) -> String {
    hex(&Sha256::digest(jti.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Sign a token. `jti` must be unpredictable (the caller draws it from a CSPRNG).
pub fn issue(secret: &[u8], typ: &str, sub: &str, jti: &str, iat: i64, exp: Option<i64>) -> Result<String, String> {
    let mut claims = Claims::new(TokenClaims { sub: sub.into(), jti: jti.into(), typ: typ.into() });
    claims.issued_at = chrono::DateTime::from_timestamp(iat, 0);
    claims.expiration = exp.and_then(|e| chrono::DateTime::from_timestamp(e, 0));
    Hs256.token(&Header::empty(), &claims, &key(secret, typ)).map_err(|e| e.to_string())
}

pub fn verify_user(token: &str, secret: &[u8], now_secs: i64) -> Result<TokenClaims, String> {
    verify(token, secret, USER_TYP, now_secs)
}

pub fn verify(token: &str, secret: &[u8], typ: &str, now_secs: i64) -> Result<TokenClaims, String> {
    if token.len() > 4096 {
        return Err("token too long".into());
    }
    let untrusted = UntrustedToken::new(token).map_err(|_| "malformed token".to_string())?;
    let checked = Hs256
        .validator::<TokenClaims>(&key(secret, typ))
        .validate(&untrusted)
        .map_err(|e| match e {
            jwt_compact::ValidationError::AlgorithmMismatch { .. } => "unsupported algorithm".to_string(),
            jwt_compact::ValidationError::InvalidSignature => "bad signature".to_string(),
            _ => "invalid token".to_string(),
        })?;
    // Expiry and `nbf` are checked against the caller's clock (injectable in tests), not the
    // system one; `jwt-compact` checks neither unless asked.
    let claims = checked.claims();
    if let Some(exp) = claims.expiration {
        if exp.timestamp() <= now_secs {
            return Err("token expired".into());
        }
    }
    if let Some(nbf) = claims.not_before {
        if nbf.timestamp() > now_secs {
            return Err("token not yet valid (nbf)".into());
        }
    }
    if claims.custom.typ != typ {
        return Err("wrong token type".into());
    }
    if claims.custom.sub.is_empty() || claims.custom.jti.is_empty() {
        return Err("token lacks sub or jti".into());
    }
    Ok(claims.custom.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const S: &[u8] = b"test-secret-test-secret-test-secret";

    #[test]
    fn round_trip_and_type_separation() {
        let t = issue(S, USER_TYP, "alice", "j1", 1000, None).unwrap();
        let c = verify_user(&t, S, 2000).unwrap();
        assert_eq!(c.sub, "alice");
        assert_eq!(c.jti, "j1");
        assert!(verify(&t, S, ADMIN_TYP, 2000).is_err(), "a user token is not an admin session");
        assert!(verify_user(&t, b"other-secret", 2000).is_err());
    }

    #[test]
    fn expiry_is_enforced_with_the_given_clock() {
        let t = issue(S, ADMIN_TYP, "root", "s1", 1000, Some(1500)).unwrap();
        assert!(verify(&t, S, ADMIN_TYP, 1499).is_ok());
        assert_eq!(verify(&t, S, ADMIN_TYP, 1500).unwrap_err(), "token expired");
    }

    #[test]
    fn not_before_is_enforced_with_the_given_clock() {
        let mut claims = Claims::new(TokenClaims { sub: "alice".into(), jti: "j1".into(), typ: USER_TYP.into() });
        claims.not_before = chrono::DateTime::from_timestamp(2000, 0);
        let t = Hs256.token(&Header::empty(), &claims, &key(S, USER_TYP)).unwrap();
        assert_eq!(verify_user(&t, S, 1999).unwrap_err(), "token not yet valid (nbf)");
        assert!(verify_user(&t, S, 2000).is_ok());
        assert!(verify_user(&t, S, 5000).is_ok());
    }

    #[test]
    fn alg_none_and_tampering_are_rejected() {
        let t = issue(S, USER_TYP, "alice", "j1", 1000, None).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none_header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let forged = format!("{none_header}.{}.", parts[1]);
        assert!(verify_user(&forged, S, 2000).is_err());
        let hs512 = b64.encode(br#"{"alg":"HS512"}"#);
        assert!(verify_user(&format!("{hs512}.{}.{}", parts[1], parts[2]), S, 2000).is_err());
        let payload = b64.encode(br#"{"sub":"mallory","jti":"j1","typ":"user"}"#);
        assert_eq!(verify_user(&format!("{}.{payload}.{}", parts[0], parts[2]), S, 2000).unwrap_err(), "bad signature");
        assert!(verify_user("not-a-jwt", S, 2000).is_err());
        assert!(verify_user("", S, 2000).is_err());
    }
}
