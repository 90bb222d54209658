//! The stored form of a dead letter, the same JSON for every backend (a file
//! in the embedded folder, a blob on Azure, the columns of the SQL table),
//! and the file name an identity is kept under.

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

/// A file name for an identity: anything but `[A-Za-z0-9._-]` is hex-escaped,
/// so names are portable and distinct identities never share a file.
pub fn file_stem(id: &RecordId) -> String {
    let mut out = String::with_capacity(id.as_str().len());
    for b in id.as_str().bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}
