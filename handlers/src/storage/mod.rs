//! Where records go: the ledger (accepted records) and the dead-letter store
//! (rejected ones, with their reason).
//!
//! Each store is a small async trait held as `Arc<dyn …>`, with an embedded
//! implementation (SQLite + a local folder) chosen when no Azure settings are
//! given. The traits are shaped for Azure Table Storage and Blob Storage too:
//! an append is a set of records whose identity is (tenant, record id) — a
//! table's partition key and row key — and a dead letter is one blob.

pub mod folder;
pub mod sqlite;

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{RecordId, Tenant, TokenSource, UsageRecord};
use crate::records::RejectReason;

/// A failure of a store itself (not of a record). The invocation fails so the
/// Functions host retries the batch; ingestion is idempotent, so the retry
/// counts nothing twice.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend answered with an error or could not be reached.
    #[error("storage backend: {0}")]
    Backend(String),
    /// A local file could not be read or written.
    #[error("storage i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        Self::Backend(e.to_string())
    }
}

/// The result of appending records to the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Records that were new.
    pub inserted: u64,
    /// Records whose identity was already in the ledger (replays).
    pub duplicates: u64,
}

/// What to group usage totals by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// The chargeable party (application, subscription or key fingerprint);
    /// business units are derived from it by the application mapping.
    Party,
    /// The model.
    Model,
    /// The deployment.
    Deployment,
    /// The UTC day.
    Day,
}

/// A usage question: one tenant, a half-open time range, a grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// Whose data.
    pub tenant: Tenant,
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// Grouping.
    pub group_by: Grouping,
}

/// Token totals of one group and one token source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The group's value (`(none)` where the records do not say).
    pub key: String,
    /// Where the counts come from.
    pub token_source: TokenSource,
    /// Number of records.
    pub requests: u64,
    /// Prompt tokens (cached included).
    pub prompt: u64,
    /// Completion tokens (reasoning included).
    pub completion: u64,
    /// Cached prompt tokens.
    pub cached: u64,
    /// Reasoning completion tokens.
    pub reasoning: u64,
}

/// The ledger of accepted usage records.
#[async_trait]
pub trait Ledger: Send + Sync + fmt::Debug {
    /// Appends records. A record whose (tenant, id) is already stored is a
    /// duplicate and changes nothing, also within one call. On error nothing
    /// may be assumed written; calling again with the same records is safe.
    async fn append(&self, records: &[UsageRecord]) -> Result<AppendOutcome, StorageError>;

    /// Token totals per group and token source.
    async fn totals(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StorageError>;

    /// Checks that the store answers.
    async fn health(&self) -> Result<(), StorageError>;
}

/// A rejected event, kept as received except that credentials are replaced by
/// their fingerprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The tenant the event was received for.
    pub tenant: Tenant,
    /// The event's identity (its own id, else where it was read from):
    /// storing the same letter again replaces it.
    pub id: RecordId,
    /// Why it was rejected.
    pub reason: RejectReason,
    /// Explanation naming the field concerned.
    pub detail: String,
    /// Where it came from (Event Hub partition and sequence number, or file and line).
    pub origin: String,
    /// When we received it.
    pub received_at: DateTime<Utc>,
    /// The body as received, credentials redacted.
    pub body: String,
}

/// The dead-letter store.
#[async_trait]
pub trait DeadLetterStore: Send + Sync + fmt::Debug {
    /// Stores letters; a letter with an identity already stored replaces it.
    async fn put(&self, letters: &[DeadLetter]) -> Result<(), StorageError>;

    /// All letters of a tenant, ordered by identity.
    async fn list(&self, tenant: &Tenant) -> Result<Vec<DeadLetter>, StorageError>;
}
