//! Field encryption at rest (AES-256-GCM), keyed blind indexes for lookups
//! of encrypted values, session tokens and password hashing.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
    index_key: [u8; 32],
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([redacted])")
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl Vault {
    pub fn new(master: &[u8; 32]) -> Self {
        let enc = derive(master, b"ihos/field-encryption/v1");
        Self {
            cipher: Aes256Gcm::new(&enc.into()),
            index_key: derive(master, b"ihos/blind-index/v1"),
        }
    }

    /// "v1:" + base64(nonce || ciphertext).
    pub fn encrypt(&self, plain: &str) -> String {
        let nonce: [u8; 12] = rand::random();
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v1:{}", STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Option<String> {
        let raw = STANDARD.decode(stored.strip_prefix("v1:")?).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), ct).ok()?;
        String::from_utf8(plain).ok()
    }

    /// A deterministic keyed hash of `value` in the namespace `kind`, for
    /// unique constraints and lookups without storing the value in clear.
    pub fn blind_index(&self, kind: &str, value: &str) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.index_key)
            .expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A fresh random session token (256 bits).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens are stored only as their SHA-256.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a presented secret equals the configured one. Comparing their
/// hashes keeps the time taken independent of where they first differ.
pub fn same_secret(given: &str, configured: &str) -> bool {
    token_hash(given) == token_hash(configured)
}

pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trips_and_hides_the_value() {
        let v = Vault::new(&[7; 32]);
        let a = v.encrypt("13800138000");
        let b = v.encrypt("13800138000");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("13800138000"));
        assert_eq!(v.decrypt(&a).as_deref(), Some("13800138000"));
        assert_eq!(
            Vault::new(&[8; 32]).decrypt(&a),
            None,
            "another key cannot read it"
        );
    }

    #[test]
    fn blind_indexes_are_stable_and_namespaced() {
        let v = Vault::new(&[7; 32]);
        assert_eq!(v.blind_index("phone", "1"), v.blind_index("phone", "1"));
        assert_ne!(
            v.blind_index("phone", "1"),
            v.blind_index("resident_id", "1")
        );
        assert_ne!(
            v.blind_index("phone", "1"),
            Vault::new(&[8; 32]).blind_index("phone", "1")
        );
    }

    #[test]
    fn passwords_verify_only_when_equal() {
        let h = hash_password("Zhang-2026-hz").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Zhang-2026-hz", &h));
        assert!(!verify_password("zhang-2026-hz", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
