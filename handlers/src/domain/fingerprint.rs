//! Keyed fingerprints of API Management subscription keys.
//!
//! A raw subscription key is a credential: it must never reach the ledger, the
//! dead-letter store or a log. We keep an HMAC-SHA-256 of it under a secret
//! configured for the deployment, so the same key always maps to the same
//! fingerprint (and can be attributed to an application), while the key cannot
//! be recovered from the fingerprint, nor confirmed by guessing without the
//! secret.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `fp_` followed by 32 hex digits (the first 128 bits of the HMAC).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The textual form, e.g. `fp_3f1c…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts a fingerprint written by us earlier (e.g. in a mapping file).
    pub fn parse(raw: &str) -> Option<Self> {
        let hex = raw.strip_prefix("fp_")?;
        (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self(raw.to_ascii_lowercase()))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Computes fingerprints with one secret. Cheap to clone and share.
#[derive(Clone)]
pub struct Fingerprinter {
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprinter { secret: <redacted> }")
    }
}

impl Fingerprinter {
    /// A fingerprinter for `secret` (any length; 32 random bytes recommended).
    pub fn new(secret: &[u8]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let keyed = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
        Self { keyed }
    }

    /// The fingerprint of a subscription key. Surrounding white space is not
    /// part of a key.
    pub fn fingerprint(&self, subscription_key: &str) -> Fingerprint {
        let mut mac = self.keyed.clone();
        mac.update(subscription_key.trim().as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut text = String::with_capacity(35);
        text.push_str("fp_");
        text.push_str(&hex::encode(&digest[..16]));
        Fingerprint(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_gives_the_same_fingerprint_and_never_contains_the_key() {
        let f = Fingerprinter::new(b"secret");
        let a = f.fingerprint("0123456789abcdef0123456789abcdef");
        assert_eq!(a, f.fingerprint(" 0123456789abcdef0123456789abcdef "));
        assert!(!a.as_str().contains("0123456789abcdef"));
        assert!(Fingerprint::parse(a.as_str()).is_some());
    }

    #[test]
    fn another_secret_gives_another_fingerprint() {
        let key = "0123456789abcdef0123456789abcdef";
        assert_ne!(Fingerprinter::new(b"one").fingerprint(key), Fingerprinter::new(b"two").fingerprint(key));
    }
}
