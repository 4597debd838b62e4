//! Node API keys are sealed with AES-256-GCM before they reach Postgres (and so the snapshot
//! and KV); only an isolate holding the Worker secret can open them. Format: `v1.` +
//! base64url(nonce || ciphertext+tag). The key is derived from SECRETS_KEY (or, when unset,
//! from JWT_SECRET with a different label) so no secret is ever used for two purposes.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    pub fn new(secret: &[u8]) -> Sealer {
        let key = Sha256::new().chain_update(b"maestro-edge/seal/").chain_update(secret).finalize();
        Sealer { cipher: Aes256Gcm::new(&key) }
    }

    /// `nonce` must be fresh random bytes for every call.
    pub fn seal(&self, plaintext: &str, nonce: [u8; 12]) -> String {
        let ct = self.cipher.encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes()).expect("AES-GCM encryption cannot fail for in-memory data");
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&ct);
        format!("v1.{}", B64.encode(raw))
    }

    pub fn open(&self, sealed: &str) -> Option<String> {
        let raw = B64.decode(sealed.strip_prefix("v1.")?).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self.cipher.decrypt(Nonce::from_slice(nonce), ct).ok()?;
        String::from_utf8(pt).ok()
    }
}

/// Sealed custom-header values opened for an origin request. A value that is not in the sealed
/// format is plain text (written before sealing, e.g. by an older Worker during a deploy) and
/// is sent as is; a sealed one that does not open (SECRETS_KEY changed) is dropped, never sent
/// as ciphertext.
pub fn open_headers(headers: &[(String, String)], open: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| if v.starts_with("v1.") { open(v).map(|p| (k.clone(), p)) } else { Some((k.clone(), v.clone())) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_open_and_never_go_out_sealed() {
        let s = Sealer::new(b"k");
        let h = vec![("X-Auth".to_string(), s.seal("hdr-secret", [1; 12])), ("X-Plain".to_string(), "legacy".to_string()), ("X-Lost".to_string(), Sealer::new(b"old").seal("x", [2; 12]))];
        let open = open_headers(&h, |v| s.open(v));
        assert_eq!(open, vec![("X-Auth".to_string(), "hdr-secret".to_string()), ("X-Plain".to_string(), "legacy".to_string())]);
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let s = Sealer::new(b"k");
        let sealed = s.seal("sk-secret", [7; 12]);
        assert!(!sealed.contains("sk-secret"));
        assert_eq!(s.open(&sealed).as_deref(), Some("sk-secret"));
        assert_eq!(Sealer::new(b"other").open(&sealed), None);
        let mut bad = sealed.clone();
        bad.pop();
        assert_eq!(s.open(&bad), None);
        assert_eq!(s.open("plaintext"), None);
    }
}
