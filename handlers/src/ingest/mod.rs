//! Ingestion of one batch of events: parse every body, store accepted records
//! in the ledger and rejected ones in the dead-letter store.
//!
//! The same code serves the Event Hub function, `chargeback ingest` and the
//! demo. Per batch, received = accepted + duplicates + dead-lettered, always.
//! Streamed records without usage are counted by us with the tokenizer of
//! their model; which model a deployment serves comes from the tenant's
//! directory as it is when the batch is counted, so a deployment added over
//! the API picks the tokenizer of the next batch.

mod counting;
mod origin;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use tracing::{info, instrument};

pub use counting::{Counted, PendingCount, apply as apply_counts, count_pending};
pub use origin::{ContentIdentities, ContentRef, EventOrigin, content_digest, content_id};

use crate::directory::Directory;
use crate::domain::{Fingerprinter, RejectReason, Tenant, TokenSource, UsageRecord};
use crate::records::{ParseContext, ParsedRecord, parse_record, redact_secrets};
use crate::storage::{DeadLetter, DeadLetterStore, Ledger, StorageError};

/// One received event: its body and where it was read from.
#[derive(Debug, Clone)]
pub struct Event {
    /// The body as received (one usage record, normally JSON).
    pub body: Vec<u8>,
    /// Where it was read from; gives the identity of records without an id.
    pub origin: EventOrigin,
}

/// Counts of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchOutcome {
    /// Events received.
    pub received: u64,
    /// Records newly written to the ledger.
    pub accepted: u64,
    /// Records already in the ledger (replays).
    pub duplicates: u64,
    /// Events written to the dead-letter store.
    pub dead_lettered: u64,
    /// Of the accepted and duplicate records, those still waiting for a token count.
    pub pending_count: u64,
    /// Dead-lettered events by reason.
    pub reasons: BTreeMap<&'static str, u64>,
}

impl BatchOutcome {
    /// Adds another batch's counts to these.
    pub fn add(&mut self, other: &BatchOutcome) {
        self.received += other.received;
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.dead_lettered += other.dead_lettered;
        self.pending_count += other.pending_count;
        for (reason, n) in &other.reasons {
            *self.reasons.entry(reason).or_default() += n;
        }
    }

    /// Whether every received event is accounted for.
    pub fn balances(&self) -> bool {
        self.received == self.accepted + self.duplicates + self.dead_lettered
    }
}

/// A batch after parsing, before storage.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    /// Records for the ledger.
    pub records: Vec<UsageRecord>,
    /// Events for the dead-letter store.
    pub letters: Vec<DeadLetter>,
    /// Records streamed without usage whose bodies we can count.
    pub pending: Vec<PendingCount>,
    /// Records and letters identified by their content at occurrence 0
    /// (events of [`EventOrigin::Line`]): see [`ContentIdentities::settle`].
    pub content: Vec<ContentRef>,
}

impl PreparedBatch {
    /// Appends another counted and settled batch (no pending counts, no
    /// content identities to number) to this one.
    pub fn extend(&mut self, other: PreparedBatch) {
        debug_assert!(other.pending.is_empty(), "count a batch before joining it to another");
        debug_assert!(other.content.is_empty(), "settle a batch's identities before joining it to another");
        self.records.extend(other.records);
        self.letters.extend(other.letters);
    }
}

/// Parses and stores batches.
#[derive(Debug, Clone)]
pub struct Ingestor {
    ledger: Arc<dyn Ledger>,
    dead_letters: Arc<dyn DeadLetterStore>,
    directory: Directory,
    fingerprinter: Fingerprinter,
    default_tenant: Tenant,
}

/// Threads that may count one batch's streamed records.
const COUNTING_THREADS: usize = 2;

impl Ingestor {
    /// An ingestor writing to these stores; `directory` says which model a
    /// deployment serves, `fingerprinter` hides subscription keys, and
    /// records that name no tenant are `default_tenant`'s.
    pub fn new(
        ledger: Arc<dyn Ledger>,
        dead_letters: Arc<dyn DeadLetterStore>,
        directory: Directory,
        fingerprinter: Fingerprinter,
        default_tenant: Tenant,
    ) -> Self {
        Self { ledger, dead_letters, directory, fingerprinter, default_tenant }
    }

    /// Parses a batch (no I/O): every event becomes a record or a letter.
    pub fn prepare(&self, events: &[Event]) -> PreparedBatch {
        prepare_batch(events, &self.fingerprinter, &self.default_tenant)
    }

    /// Ingests a batch. Dead letters are stored first, then the records in
    /// one ledger append; both are idempotent, so if either fails the whole
    /// batch can be retried and counts nothing twice.
    #[instrument(skip_all, fields(batch.events = events.len()))]
    pub async fn ingest(&self, events: &[Event]) -> Result<BatchOutcome, StorageError> {
        let mut batch = self.prepare(events);
        self.count(&mut batch).await;
        self.store(events.len(), batch).await
    }

    /// Counts the tokens of streamed records without usage, off the async
    /// runtime, with the deployments of each record's tenant as its
    /// directory says now. Records that cannot be counted stay pending:
    /// kept, reported as pending, never lost. The second half of the CPU
    /// part of [`Ingestor::ingest`], after [`Ingestor::prepare`], for
    /// pipelines that parse on one core while another writes.
    pub async fn count(&self, batch: &mut PreparedBatch) {
        if batch.pending.is_empty() {
            return;
        }
        let mut by_tenant: BTreeMap<Tenant, Vec<PendingCount>> = BTreeMap::new();
        for p in std::mem::take(&mut batch.pending) {
            by_tenant.entry(batch.records[p.index].tenant.clone()).or_default().push(p);
        }
        for (tenant, pending) in by_tenant {
            let deployments = match self.directory.deployment_models(&tenant).await {
                Ok(d) => d,
                Err(e) => {
                    let error = &e as &dyn std::error::Error;
                    tracing::error!(tenant = %tenant, error, "reading the deployments failed; records stay pending");
                    continue;
                }
            };
            let counted =
                tokio::task::spawn_blocking(move || count_pending(&pending, &deployments, COUNTING_THREADS)).await;
            match counted {
                Ok(counted) => apply_counts(&mut batch.records, counted),
                // A panic while counting is a bug; the records stay pending rather than lost.
                Err(e) => {
                    let error = &e as &dyn std::error::Error;
                    tracing::error!(error, "token counting failed; records stay pending");
                }
            }
        }
    }

    /// Checks that the ledger answers (the liveness probe).
    pub async fn health(&self) -> Result<(), StorageError> {
        self.ledger.health().await
    }

    /// Makes everything stored so far durable ([`Ledger::sync`]): the end
    /// of a bulk load.
    pub async fn sync(&self) -> Result<(), StorageError> {
        self.ledger.sync().await
    }

    /// Stores a prepared batch.
    pub async fn store(&self, received: usize, batch: PreparedBatch) -> Result<BatchOutcome, StorageError> {
        let mut outcome = BatchOutcome {
            received: u64::try_from(received).unwrap_or(u64::MAX),
            dead_lettered: u64::try_from(batch.letters.len()).unwrap_or(u64::MAX),
            pending_count: u64::try_from(
                batch.records.iter().filter(|r| r.token_source == TokenSource::Pending).count(),
            )
            .unwrap_or(u64::MAX),
            ..Default::default()
        };
        for letter in &batch.letters {
            *outcome.reasons.entry(letter.reason.as_str()).or_default() += 1;
        }
        if !batch.letters.is_empty() {
            self.dead_letters.put(&batch.letters).await?;
        }
        if !batch.records.is_empty() {
            let appended = self.ledger.append(&batch.records).await?;
            outcome.accepted = appended.inserted;
            outcome.duplicates = appended.duplicates;
        }
        info!(
            batch.received = outcome.received,
            batch.accepted = outcome.accepted,
            batch.duplicates = outcome.duplicates,
            batch.dead_lettered = outcome.dead_lettered,
            "batch ingested"
        );
        Ok(outcome)
    }
}

/// Parses a batch (no I/O): every event becomes a record or a dead letter
/// whose body has its credentials redacted.
pub fn prepare_batch(events: &[Event], fingerprinter: &Fingerprinter, default_tenant: &Tenant) -> PreparedBatch {
    let received_at = Utc::now();
    let mut batch = PreparedBatch { records: Vec::with_capacity(events.len()), ..Default::default() };
    for event in events {
        let from_content = std::cell::Cell::new(false);
        let fallback_id = || {
            from_content.set(true);
            event.origin.fallback_id(&event.body)
        };
        let ctx = ParseContext { fingerprinter, default_tenant, fallback_id: &fallback_id };
        let parsed = match std::str::from_utf8(&event.body) {
            Ok(body) => parse_record(body, ctx).map_err(|r| (r.reason, r.detail, r.own_id)),
            Err(e) => Err((RejectReason::InvalidEncoding, format!("body is not UTF-8: {e}"), None)),
        };
        match parsed {
            Ok(ParsedRecord { record, count_input }) => {
                if let Some(input) = count_input.filter(|i| i.request_body.is_some() || i.response_body.is_some()) {
                    batch.pending.push(PendingCount {
                        index: batch.records.len(),
                        model: record.model.clone(),
                        deployment: record.deployment.clone(),
                        input,
                    });
                }
                if let (true, EventOrigin::Line { line, .. }) = (from_content.get(), &event.origin) {
                    let digest = content_digest(&event.body);
                    batch.content.push(ContentRef { line: *line, digest, letter: false, index: batch.records.len() });
                }
                batch.records.push(record);
            }
            Err((reason, detail, own_id)) => {
                let body = String::from_utf8_lossy(&event.body);
                let id = own_id.unwrap_or_else(fallback_id);
                if let (true, EventOrigin::Line { line, .. }) = (from_content.get(), &event.origin) {
                    let digest = content_digest(&event.body);
                    batch.content.push(ContentRef { line: *line, digest, letter: true, index: batch.letters.len() });
                }
                batch.letters.push(DeadLetter {
                    tenant: default_tenant.clone(),
                    id,
                    reason,
                    detail,
                    origin: event.origin.describe(),
                    received_at,
                    body: redact_secrets(&body, fingerprinter),
                });
            }
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_settled_after_parsing_get_the_identities_of_lines_numbered_while_reading() {
        let fingerprinter = Fingerprinter::new(b"test");
        let tenant = Tenant::default_tenant();
        let sample =
            r#"{"Timestamp": "10/1/2026 9:00:00 AM", "AppKey": "k", "PromptTokens": "5", "CompletionTokens": "1"}"#;
        let bodies = [sample, r#"{"schema": "usage.v1", "id": "own"}"#, sample, "not json", "not json", sample];
        let mut reading = ContentIdentities::default();
        let numbered: Vec<Event> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| Event { body: b.as_bytes().to_vec(), origin: reading.next("f", i + 1, b.as_bytes()) })
            .collect();
        let expected = prepare_batch(&numbered, &fingerprinter, &tenant);

        let mut settling = ContentIdentities::default();
        let mut got = PreparedBatch::default();
        // Two parsed batches, settled in input order.
        for (offset, part) in [(0, &bodies[..3]), (3, &bodies[3..])] {
            let events: Vec<Event> = part
                .iter()
                .enumerate()
                .map(|(i, b)| Event {
                    body: b.as_bytes().to_vec(),
                    origin: EventOrigin::Line { source: "f".into(), line: u64::try_from(offset + i + 1).unwrap() },
                })
                .collect();
            let mut batch = prepare_batch(&events, &fingerprinter, &tenant);
            settling.settle(&mut batch);
            got.extend(batch);
        }
        let ids = |b: &PreparedBatch| -> (Vec<String>, Vec<String>) {
            (b.records.iter().map(|r| r.id.to_string()).collect(), b.letters.iter().map(|l| l.id.to_string()).collect())
        };
        assert_eq!(ids(&got), ids(&expected));
        let (records, letters) = ids(&got);
        assert_eq!(records.len(), 3, "{records:?}");
        assert!(
            records[2].ends_with("-2") && letters[0] == "own" && letters[2].ends_with("-1"),
            "{records:?} {letters:?}"
        );
    }
}
