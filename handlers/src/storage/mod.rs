//! Where records go: the ledger (accepted records) and the dead-letter store
//! (rejected ones, with their reason).
//!
//! Each store is a small async trait held as `Arc<dyn …>`, with an embedded
//! implementation (SQLite + a local folder) chosen when no Azure settings are
//! given, and Azure ones (Table Storage ledger, Blob Storage dead letters,
//! reports and leases) plus a PostgreSQL ledger chosen by
//! configuration ([`crate::startup`]). `docs/storage.md` describes the key
//! design of each. The contract suite in `tests/app/contract/` runs the same
//! behaviour tests against every implementation.

pub mod azure;
pub mod credential;
pub mod dead_letter;
pub mod embedded;
pub mod gateway_logs;
pub mod postgres;
pub mod sql;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{
    Currency, LineKind, Money, Period, RecordId, RejectReason, Tenant, TokenSource, TokenTotals, UsageAggregate,
    UsageRecord,
};
pub use gateway_logs::{GatewayLogStore, HalvesOutcome, OpenCall};

/// A failure of a store itself (not of a record). The invocation fails so the
/// Functions host retries the batch; ingestion is idempotent, so the retry
/// counts nothing twice.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database (SQLite or PostgreSQL) answered with an error or could
    /// not be reached.
    #[error("the database failed")]
    Sql(#[from] sqlx::Error),
    /// The database schema could not be brought up to date.
    #[error("migrating the database failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Azure Storage answered with an error or could not be reached.
    #[error("Azure Storage failed")]
    Azure(#[from] azure_core::Error),
    /// A table, container or queue could not be created.
    #[error("creating {resource} failed")]
    AzureCreate {
        /// What was being created.
        resource: String,
        /// Why it failed.
        #[source]
        source: azure_core::Error,
    },
    /// `AzureWebJobsStorage` does not parse as a connection string.
    #[error("AzureWebJobsStorage is not a connection string")]
    ConnectionString(#[source] azure_core::Error),
    /// The storage settings cannot work (what is missing or contradictory).
    #[error("storage configuration: {0}")]
    Config(String),
    /// A local file could not be read or written.
    #[error("a local file could not be read or written")]
    Io(#[from] std::io::Error),
    /// A stored document could not be written or read as JSON.
    #[error("document {name}")]
    Document {
        /// The document.
        name: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The stored data is not what this code wrote (a bug or a foreign writer).
    #[error("stored data: {0}")]
    Corrupt(String),
    /// The store answered, but refused or only partly did the write.
    #[error("the store refused the write: {0}")]
    Refused(String),
    /// A document name the store cannot keep (a bug of the caller).
    #[error("{0:?} is not a relative document name")]
    InvalidName(String),
    /// Conditional writes kept losing to other writers; retry later.
    #[error("{0} kept changing under concurrent writers; retry")]
    Contended(String),
    /// One query served several partitions and failed; each reports it.
    #[error("a query of several partitions failed")]
    Batch(#[source] Arc<StorageError>),
    /// Azure Storage refused the request's credentials.
    #[error("Azure Storage refused {refusal}")]
    AzureRefused {
        /// Who was refused (never the secret), doing what, and what usually
        /// causes it.
        refusal: String,
        /// The service's answer.
        #[source]
        source: azure_core::Error,
    },
    /// PostgreSQL refused (or could not take) a login with an Entra token.
    #[error("logging in to PostgreSQL {login} failed")]
    EntraLogin {
        /// As which user (the Entra principal's name) with whose token.
        login: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// The app credential could not be set up, or gave no token.
    #[error("the Entra ID credential failed")]
    Credential(#[from] credential::CredentialError),
}

/// An error and its sources, outermost first, as `a: b: c` (a source whose
/// text repeats the one before is skipped), for logs and messages that must
/// carry the cause (a refused token, the service's answer).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

/// The result of appending records to the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Records that were new.
    pub inserted: u64,
    /// Records whose identity was already in the ledger (replays).
    pub duplicates: u64,
}

/// The ledger of accepted usage records.
#[async_trait]
pub trait Ledger: Send + Sync + fmt::Debug {
    /// Appends records. A record whose (tenant, id) is already stored is a
    /// duplicate and changes nothing, also within one call. On error nothing
    /// may be assumed written; calling again with the same records is safe.
    async fn append(&self, records: &[UsageRecord]) -> Result<AppendOutcome, StorageError>;

    /// Checks that the store answers.
    async fn health(&self) -> Result<(), StorageError>;

    /// The ledger's partitions (tenant, UTC day, chargeable party) holding
    /// records of days `from..to` (half-open), ordered by day then party:
    /// the chunks a bulk job (the later rollup) works through one at a time.
    async fn partitions(
        &self,
        tenant: &Tenant,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<LedgerPartition>, StorageError>;

    /// Every record of one partition, ordered by record id.
    async fn scan(&self, partition: &LedgerPartition) -> Result<Vec<LedgerEntry>, StorageError>;

    /// Token totals per UTC day, party, model, deployment and token source of
    /// a time range (model and deployment '' where the records do not say):
    /// what the usage service filters and groups (in Rust, so no filter
    /// value ever reaches a query). The SQL ledgers read the usage cells of
    /// the days the range covers whole and records only for the days it cuts.
    async fn usage_cells(&self, range: &LedgerRange) -> Result<Vec<UsageAggregate>, StorageError>;

    /// Calls per deployment, UTC hour, status and latency of a time range:
    /// what the capacity API turns into rates, status counts and percentiles.
    async fn capacity_cells(&self, range: &LedgerRange) -> Result<Vec<CapacityCell>, StorageError>;

    /// The token totals of one partition per model, deployment and token
    /// source, in key order. The SQL ledgers read the partition's usage
    /// cells; this default (Table Storage) sums a [`Ledger::scan`].
    async fn aggregate(&self, partition: &LedgerPartition) -> Result<Vec<UsageAggregate>, StorageError> {
        Ok(aggregate_entries(partition, &self.scan(partition).await?))
    }

    /// Which of these identities the ledger already holds for the tenant:
    /// what appending them would find to be duplicates (a reconciliation
    /// asks this without writing). By default every partition is scanned;
    /// a ledger that can look identities up by key does so instead.
    async fn known_ids(
        &self,
        tenant: &Tenant,
        ids: &[RecordId],
    ) -> Result<std::collections::HashSet<RecordId>, StorageError> {
        let wanted: std::collections::HashSet<&RecordId> = ids.iter().collect();
        let mut known = std::collections::HashSet::new();
        if wanted.is_empty() {
            return Ok(known);
        }
        let (from, to) = (NaiveDate::from_ymd_opt(1970, 1, 1), NaiveDate::from_ymd_opt(9999, 12, 31));
        let (Some(from), Some(to)) = (from, to) else { return Ok(known) };
        for partition in self.partitions(tenant, from, to).await? {
            for entry in self.scan(&partition).await? {
                if wanted.contains(&entry.id) {
                    known.insert(entry.id);
                }
            }
        }
        Ok(known)
    }

    /// The stored usage cells of a tenant's days `first..=last` next to the
    /// cells recounted from the records of those days, both from one
    /// snapshot of the ledger (what the audit compares). `None` for a
    /// ledger that keeps no cells: Table Storage computes them from the
    /// records whenever they are asked for.
    async fn check_cells(
        &self,
        _tenant: &Tenant,
        _first: NaiveDate,
        _last: NaiveDate,
    ) -> Result<Option<CellCheck>, StorageError> {
        Ok(None)
    }

    /// Replaces the cells of a tenant's days `first..=last` by their
    /// recount from the records, with no append in between (the audit's
    /// repair). `false` for a ledger that keeps no cells.
    async fn rebuild_cells(&self, _tenant: &Tenant, _first: NaiveDate, _last: NaiveDate) -> Result<bool, StorageError> {
        Ok(false)
    }

    /// Makes every append so far durable. Appends are durable when they
    /// return unless the ledger was opened for bulk loading (the embedded
    /// ledger under `chargeback ingest`), which syncs here instead.
    async fn sync(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// [`Ledger::aggregate`] of several partitions (the rollup's batches),
    /// each with its own outcome, in order. By default one `aggregate` per
    /// partition; the SQL ledgers ask once per day of the batch.
    async fn aggregate_each(&self, partitions: &[LedgerPartition]) -> Vec<Result<Vec<UsageAggregate>, StorageError>> {
        let mut out = Vec::with_capacity(partitions.len());
        for partition in partitions {
            out.push(self.aggregate(partition).await);
        }
        out
    }
}

/// A tenant's days as the cells say and as their records say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellCheck {
    /// The stored cells, in key order.
    pub stored: Vec<UsageAggregate>,
    /// The cells computed from the records, in key order.
    pub recounted: Vec<UsageAggregate>,
}

/// One tenant's records in a half-open time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRange {
    /// Whose data.
    pub tenant: Tenant,
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
}

/// Calls of one deployment in one UTC hour with one status and one latency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityCell {
    /// Deployment, where known.
    pub deployment: Option<String>,
    /// Start of the UTC hour.
    pub hour: DateTime<Utc>,
    /// HTTP status, where the record says.
    pub status: Option<u16>,
    /// Latency in milliseconds, where the record says.
    pub latency_ms: Option<u64>,
    /// Number of records.
    pub requests: u64,
    /// Prompt + completion tokens.
    pub tokens: u64,
}

/// Sums a partition's entries per model, deployment, token source, service
/// tier and spilled-from deployment (the key of a usage cell).
pub fn aggregate_entries(partition: &LedgerPartition, entries: &[LedgerEntry]) -> Vec<UsageAggregate> {
    type Key<'e> = (&'e str, &'e str, TokenSource, &'e str, &'e str);
    let mut sums: std::collections::BTreeMap<Key<'_>, TokenTotals> = std::collections::BTreeMap::new();
    for e in entries {
        let key = (
            e.model.as_deref().unwrap_or(""),
            e.deployment.as_deref().unwrap_or(""),
            e.token_source,
            e.service_tier.as_str(),
            e.spilled_from.as_str(),
        );
        *sums.entry(key).or_default() += e.tokens;
    }
    sums.into_iter()
        .map(|((model, deployment, token_source, service_tier, spilled_from), tokens)| UsageAggregate {
            day: partition.day,
            party: partition.party.clone(),
            model: model.to_owned(),
            deployment: deployment.to_owned(),
            token_source,
            service_tier: service_tier.to_owned(),
            spilled_from: spilled_from.to_owned(),
            tokens,
        })
        .collect()
}

/// One line of a month's chargeback as the rollup keeps it
/// (`chargeback_results` in SQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultLine {
    /// What the line is.
    pub kind: LineKind,
    /// Business unit.
    pub business_unit: String,
    /// Application.
    pub application: String,
    /// Model ('' for lines that are not about one model).
    pub model: String,
    /// Deployment ('' when the records do not say).
    pub deployment: String,
    /// Service tier the calls were billed at ('' when not stated).
    pub service_tier: String,
    /// The provisioned deployment the calls spilled over from ('' when not spilled).
    pub spilled_from: String,
    /// Currency of the statement (also of unpriced lines).
    pub currency: Currency,
    /// Requests and tokens.
    pub tokens: TokenTotals,
    /// The cost (a whole number of cents); `None` when the usage has no price.
    pub cost: Option<Money>,
}

/// Where the rollup keeps what it computes: daily aggregates per ledger
/// partition (written by the chunk activities) and a month's results
/// (written by the finish step). Both are replaced, never added to, so any
/// step can run again.
#[async_trait]
pub trait RollupStore: Send + Sync + fmt::Debug {
    /// Replaces the aggregates of one partition by `rows`.
    async fn replace_partition(&self, partition: &LedgerPartition, rows: &[UsageAggregate])
    -> Result<(), StorageError>;

    /// Replaces the aggregates of several partitions, each by its rows: one
    /// [`replace_partition`](Self::replace_partition) after the other unless
    /// the store can do them at once (the SQL stores: one transaction).
    async fn replace_partitions(
        &self,
        partitions: &[(LedgerPartition, Vec<UsageAggregate>)],
    ) -> Result<(), StorageError> {
        for (partition, rows) in partitions {
            self.replace_partition(partition, rows).await?;
        }
        Ok(())
    }

    /// The aggregates of the given partitions of one tenant, in key order.
    async fn aggregates(
        &self,
        tenant: &Tenant,
        partitions: &[LedgerPartition],
    ) -> Result<Vec<UsageAggregate>, StorageError>;

    /// Replaces the results of a month.
    async fn replace_results(&self, tenant: &Tenant, period: Period, lines: &[ResultLine]) -> Result<(), StorageError>;

    /// The results of a month, in statement order.
    async fn results(&self, tenant: &Tenant, period: Period) -> Result<Vec<ResultLine>, StorageError>;
}

/// One chunk of the ledger: one tenant, one UTC day, one chargeable party.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerPartition {
    /// Whose data.
    pub tenant: Tenant,
    /// The UTC day of the records.
    pub day: NaiveDate,
    /// The chargeable party ([`crate::domain::Caller::chargeable_party`]).
    pub party: String,
}

/// What a bulk job reads of one stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Record identity.
    pub id: RecordId,
    /// When the call happened.
    pub occurred_at: DateTime<Utc>,
    /// Model, where known.
    pub model: Option<String>,
    /// Deployment, where known.
    pub deployment: Option<String>,
    /// Where the counts come from.
    pub token_source: TokenSource,
    /// The service tier the response states ('' when it does not).
    pub service_tier: String,
    /// The provisioned deployment the call spilled from ('' when it did not).
    pub spilled_from: String,
    /// The record's counts (one request).
    pub tokens: TokenTotals,
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

/// A held singleton lease: whoever holds it may do the work it names (one
/// rollup, one report) while nobody else does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// What the lease is for.
    pub name: String,
    /// The holder's token (the blob lease id on Azure).
    pub token: String,
    /// How long it lasts unless renewed.
    pub ttl: Duration,
}

/// Leases for singleton work. A lease expires unless renewed in time, so a
/// crashed holder does not block the work for ever.
#[async_trait]
pub trait LeaseStore: Send + Sync + fmt::Debug {
    /// Takes the lease `name` for `ttl` (15–60 s: Blob Storage's bounds);
    /// `None` while someone else holds it.
    async fn acquire(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, StorageError>;

    /// Extends a held lease by its ttl; `false` if it was lost meanwhile.
    async fn renew(&self, lease: &Lease) -> Result<bool, StorageError>;

    /// Gives the lease up (doing nothing if it was lost).
    async fn release(&self, lease: &Lease) -> Result<(), StorageError>;
}

/// A stored document and its version tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The content.
    pub body: Vec<u8>,
    /// Opaque version tag (the blob ETag on Azure); changes on every write.
    pub etag: String,
}

/// When a write may happen (optimistic concurrency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Whatever is stored.
    Always,
    /// Only if nothing is stored under the name.
    IfAbsent,
    /// Only if the stored version is still this one.
    IfMatch(String),
}

/// Named documents written with optimistic concurrency: reports and job state.
#[async_trait]
pub trait ReportStore: Send + Sync + fmt::Debug {
    /// The document and its version, if stored.
    async fn get(&self, name: &str) -> Result<Option<Versioned>, StorageError>;

    /// Writes if `condition` holds and returns the new version; `None` if it
    /// did not hold (someone else wrote first), in which case nothing changed.
    async fn put(&self, name: &str, body: &[u8], condition: WriteCondition) -> Result<Option<String>, StorageError>;
}
