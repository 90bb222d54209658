//! The stored form of a dead letter, the same JSON for every backend (a file
//! in the embedded folder, a blob on Azure, the columns of the SQL table),
//! and the name a letter is kept under.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DeadLetter;
use crate::domain::{RecordId, Tenant};
use crate::records::RejectReason;

/// The stored form of a letter (also the blob body on Azure).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredLetter {
    /// Event identity.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// Machine-readable reason.
    pub reason: String,
    /// Explanation.
    pub detail: String,
    /// Where it came from.
    pub origin: String,
    /// When received.
    pub received_at: DateTime<Utc>,
    /// The redacted body.
    pub body: String,
}

impl StoredLetter {
    /// The stored form of a letter.
    pub fn from_letter(l: &DeadLetter) -> Self {
        Self {
            id: l.id.to_string(),
            tenant: l.tenant.to_string(),
            reason: l.reason.as_str().to_owned(),
            detail: l.detail.clone(),
            origin: l.origin.clone(),
            received_at: l.received_at,
            body: l.body.clone(),
        }
    }

    /// Back to a letter; `None` if the stored form is not one of ours.
    pub fn into_letter(self) -> Option<DeadLetter> {
        Some(DeadLetter {
            tenant: Tenant::parse(&self.tenant).ok()?,
            id: RecordId::parse(&self.id).ok()?,
            reason: RejectReason::parse(&self.reason)?,
            detail: self.detail,
            origin: self.origin,
            received_at: self.received_at,
            body: self.body,
        })
    }
}

/// The name a letter is kept under: 32 hex digits of the SHA-256 of its
/// identity and its (redacted) body. Fixed length, so any identity makes a
/// valid file or blob name; the same letter stored again (a retried batch)
/// replaces itself, while two different bodies that claim one id are two
/// letters.
pub fn letter_name(letter: &DeadLetter) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(letter.id.as_str().as_bytes());
    // Ids are printable: a line break cannot be part of one.
    hash.update(b"\n");
    hash.update(letter.body.as_bytes());
    hex::encode(&hash.finalize()[..16])
}

/// Letters in a stable order: by identity, then body.
pub fn sort_letters(letters: &mut [DeadLetter]) {
    letters.sort_by(|a, b| (&a.id, &a.body).cmp(&(&b.id, &b.body)));
}
