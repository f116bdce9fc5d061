//! The prescriber's electronic signature. A hospital plugs in its CA-backed
//! signing service (e.g. a 医师电子签名 platform) by implementing `Signer`;
//! the default records a SHA-256 hash over the signed content, the signer
//! and the time, so any later change to a stored prescription is visible.

use sha2::{Digest, Sha256};

pub struct Signature {
    /// How it was signed, e.g. `sha256` or the CA's method name.
    pub method: String,
    pub value: String,
}

pub trait Signer: Send + Sync {
    /// Sign `content` (a canonical text of the prescription) as `signer_id` at `at_ms`.
    fn sign(&self, signer_id: &str, at_ms: i64, content: &str) -> Signature;
}

/// The prescriber's signer of this server (a part of the state, built at assembly).
pub struct RxSigner(pub Box<dyn Signer>);

pub fn signer(state: &crate::state::AppState) -> &dyn Signer {
    state.part::<RxSigner>().0.as_ref()
}

/// Default: a content hash, no external service.
pub struct HashSigner;

impl Signer for HashSigner {
    fn sign(&self, signer_id: &str, at_ms: i64, content: &str) -> Signature {
        let mut h = Sha256::new();
        h.update(signer_id.as_bytes());
        h.update(b"\n");
        h.update(at_ms.to_string().as_bytes());
        h.update(b"\n");
        h.update(content.as_bytes());
        Signature {
            method: "sha256".into(),
            value: hex::encode(h.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_changes_with_content_signer_or_time() {
        let a = HashSigner.sign("d1", 1, "阿莫西林 x14").value;
        assert_eq!(a, HashSigner.sign("d1", 1, "阿莫西林 x14").value);
        assert_ne!(a, HashSigner.sign("d1", 1, "阿莫西林 x15").value);
        assert_ne!(a, HashSigner.sign("d2", 1, "阿莫西林 x14").value);
        assert_ne!(a, HashSigner.sign("d1", 2, "阿莫西林 x14").value);
    }
}
