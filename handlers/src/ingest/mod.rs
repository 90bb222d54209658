//! Ingestion of one batch of events: parse every body, store accepted records
//! in the ledger and rejected ones in the dead-letter store.
//!
//! The same code serves the Event Hub function, `chargeback ingest` and the
//! demo. Per batch, received = accepted + duplicates + dead-lettered +
//! ignored, always, counted in records: an event of API Management resource
//! logs holds many (`docs/record-format.md`, section 4), each with its own
//! outcome. Streamed records without usage are counted by us with the
//! tokenizer of their model; which model a deployment serves comes from the
//! tenant's directory as it is when the batch is counted, so a deployment
//! added over the API picks the tokenizer of the next batch.

mod attribution;
mod counting;
mod origin;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tracing::{info, instrument};

pub use attribution::{DEFAULT_GRACE, Received, Settled, settle_overdue};
pub use counting::{Counted, PendingCount, apply as apply_counts, count_pending};
pub use origin::{ContentIdentities, ContentRef, EventOrigin, content_digest, content_id};

use crate::directory::Directory;
use crate::domain::{Fingerprinter, GatewayLog, LlmLog, RecordId, RejectReason, Tenant, TokenSource, UsageRecord};
use crate::records::{EventItem, ParseContext, ParsedRecord, parse_event, redact_secrets};
use crate::storage::{DeadLetter, DeadLetterStore, GatewayLogStore, Ledger, StorageError};

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
    /// Records received: one per event, or the records of a resource-log event.
    pub received: u64,
    /// Records newly written to the ledger.
    pub accepted: u64,
    /// Records already in the ledger (replays).
    pub duplicates: u64,
    /// Events written to the dead-letter store.
    pub dead_lettered: u64,
    /// Resource-log records of categories we do not use.
    pub ignored: u64,
    /// Of the accepted and duplicate records, those still waiting for a token count.
    pub pending_count: u64,
    /// Calls of API Management resource logs counted in the ledger by this
    /// batch (both halves joined, or the grace period passed).
    pub calls: Settled,
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
        self.ignored += other.ignored;
        self.pending_count += other.pending_count;
        self.calls.add(other.calls);
        for (reason, n) in &other.reasons {
            *self.reasons.entry(reason).or_default() += n;
        }
    }

    /// Whether every received record is accounted for.
    pub fn balances(&self) -> bool {
        self.received == self.accepted + self.duplicates + self.dead_lettered + self.ignored
    }
}

/// A batch after parsing, before storage.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    /// Records received (events, or the records of resource-log events).
    pub received: u64,
    /// Records for the ledger.
    pub records: Vec<UsageRecord>,
    /// Language-model halves of API Management resource logs.
    pub llm_logs: Vec<Received<LlmLog>>,
    /// Gateway halves of API Management resource logs.
    pub gateway_logs: Vec<Received<GatewayLog>>,
    /// Resource-log records of categories we do not use.
    pub ignored: u64,
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
        self.received += other.received;
        self.ignored += other.ignored;
        self.records.extend(other.records);
        self.llm_logs.extend(other.llm_logs);
        self.gateway_logs.extend(other.gateway_logs);
        self.letters.extend(other.letters);
    }
}

/// Parses and stores batches.
#[derive(Debug, Clone)]
pub struct Ingestor {
    ledger: Arc<dyn Ledger>,
    dead_letters: Arc<dyn DeadLetterStore>,
    directory: Directory,
    gateway_logs: Option<Arc<dyn GatewayLogStore>>,
    grace: TimeDelta,
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
        Self {
            ledger,
            dead_letters,
            directory,
            gateway_logs: None,
            grace: DEFAULT_GRACE,
            fingerprinter,
            default_tenant,
        }
    }

    /// Keeps the halves of API Management resource logs in `store` until their
    /// calls are counted; a call without its gateway half is counted
    /// unattributed once `grace` has passed since its first chunk arrived.
    /// Without a store, such halves are dead-lettered (never dropped).
    pub fn with_gateway_logs(mut self, store: Arc<dyn GatewayLogStore>, grace: TimeDelta) -> Self {
        self.gateway_logs = Some(store);
        self.grace = grace;
        self
    }

    /// The store of resource-log halves, if any.
    pub fn gateway_logs(&self) -> Option<&Arc<dyn GatewayLogStore>> {
        self.gateway_logs.as_ref()
    }

    /// The grace period of calls awaiting attribution.
    pub fn grace(&self) -> TimeDelta {
        self.grace
    }

    /// Counts every call of `tenant` whose grace period has passed by `now`
    /// (run by the nightly maintenance and before the monthly rollup, the
    /// timer's and `chargeback rollup`'s, so a month's report counts them
    /// without waiting for more traffic).
    pub async fn settle_overdue(&self, tenant: &Tenant, now: DateTime<Utc>) -> Result<Settled, StorageError> {
        match &self.gateway_logs {
            Some(store) => settle_overdue(self.ledger.as_ref(), store.as_ref(), tenant, now, self.grace).await,
            None => Ok(Settled::default()),
        }
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
        self.ingest_at(events, Utc::now()).await
    }

    /// [`Ingestor::ingest`] as if it were `now` (when halves of resource logs
    /// are received, and how old waiting calls are).
    pub async fn ingest_at(&self, events: &[Event], now: DateTime<Utc>) -> Result<BatchOutcome, StorageError> {
        let mut batch = self.prepare(events);
        self.count(&mut batch).await;
        self.store_at(batch, now).await
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
    pub async fn store(&self, batch: PreparedBatch) -> Result<BatchOutcome, StorageError> {
        self.store_at(batch, Utc::now()).await
    }

    /// Stores a prepared batch as if it were `now`. Halves of resource logs
    /// are stored first (conflicting chunks become dead letters), then the
    /// dead letters, then the records in one ledger append, then every call
    /// the halves make countable is counted; each step is idempotent.
    pub async fn store_at(&self, mut batch: PreparedBatch, now: DateTime<Utc>) -> Result<BatchOutcome, StorageError> {
        let halves = self.store_halves(&mut batch, now).await?;
        let mut outcome = BatchOutcome {
            received: batch.received,
            ignored: batch.ignored,
            accepted: halves.inserted,
            duplicates: halves.duplicates,
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
            outcome.accepted += appended.inserted;
            outcome.duplicates += appended.duplicates;
        }
        if let Some(store) = &self.gateway_logs
            && (!batch.llm_logs.is_empty() || !batch.gateway_logs.is_empty())
        {
            let llm: Vec<LlmLog> = batch.llm_logs.into_iter().map(|l| l.half).collect();
            let gateway: Vec<GatewayLog> = batch.gateway_logs.into_iter().map(|g| g.half).collect();
            outcome.calls =
                attribution::settle_touched(self.ledger.as_ref(), store.as_ref(), &llm, &gateway, now, self.grace)
                    .await?;
        }
        info!(
            batch.received = outcome.received,
            batch.accepted = outcome.accepted,
            batch.duplicates = outcome.duplicates,
            batch.dead_lettered = outcome.dead_lettered,
            batch.ignored = outcome.ignored,
            batch.calls_attributed = outcome.calls.attributed,
            batch.calls_unattributed = outcome.calls.unattributed,
            "batch ingested"
        );
        Ok(outcome)
    }
}

impl Ingestor {
    /// Stores the batch's halves of resource logs; a chunk that contradicts
    /// its call becomes a dead letter (`conflicting_chunks`). Without a store
    /// for them, every half is dead-lettered with that reason.
    async fn store_halves(
        &self,
        batch: &mut PreparedBatch,
        now: DateTime<Utc>,
    ) -> Result<crate::storage::HalvesOutcome, StorageError> {
        if batch.llm_logs.is_empty() && batch.gateway_logs.is_empty() {
            return Ok(Default::default());
        }
        let Some(store) = &self.gateway_logs else {
            let detail = "no store for API Management resource logs is configured for this ledger";
            let reason = RejectReason::UnknownShape;
            for half in std::mem::take(&mut batch.llm_logs) {
                let tenant = half.half.tenant.clone();
                batch.letters.push(self.half_letter(tenant, half, reason, detail.to_owned(), now));
            }
            for half in std::mem::take(&mut batch.gateway_logs) {
                let tenant = half.half.tenant.clone();
                batch.letters.push(self.half_letter(tenant, half, reason, detail.to_owned(), now));
            }
            return Ok(Default::default());
        };
        let llm: Vec<LlmLog> = batch.llm_logs.iter().map(|l| l.half.clone()).collect();
        let gateway: Vec<GatewayLog> = batch.gateway_logs.iter().map(|g| g.half.clone()).collect();
        let outcome = store.put(&llm, &gateway, now).await?;
        let mut conflicting: Vec<usize> = Vec::with_capacity(outcome.conflicts.len());
        for (index, detail) in &outcome.conflicts {
            if let Some(half) = batch.llm_logs.get(*index) {
                let tenant = half.half.tenant.clone();
                let reason = RejectReason::ConflictingChunks;
                let letter = self.half_letter(tenant, half.clone(), reason, detail.clone(), now);
                batch.letters.push(letter);
                conflicting.push(*index);
            }
        }
        let mut index = 0;
        batch.llm_logs.retain(|_| {
            let keep = !conflicting.contains(&index);
            index += 1;
            keep
        });
        Ok(outcome)
    }

    fn half_letter<T>(
        &self,
        tenant: Tenant,
        half: Received<T>,
        reason: RejectReason,
        detail: String,
        now: DateTime<Utc>,
    ) -> DeadLetter {
        DeadLetter {
            tenant,
            id: half.letter_id,
            reason,
            detail,
            origin: half.origin,
            received_at: now,
            body: redact_secrets(&half.raw, &self.fingerprinter),
        }
    }
}

/// Parses a batch (no I/O): every record of every event becomes a ledger
/// record, a half of a resource log, an ignored record or a dead letter whose
/// body has its credentials redacted.
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
        let letter = |id: RecordId, reason, detail, origin, body: &str| DeadLetter {
            tenant: default_tenant.clone(),
            id,
            reason,
            detail,
            origin,
            received_at,
            body: redact_secrets(body, fingerprinter),
        };
        let body = match std::str::from_utf8(&event.body) {
            Ok(body) => body,
            Err(e) => {
                batch.received += 1;
                let lossy = String::from_utf8_lossy(&event.body);
                let detail = format!("body is not UTF-8: {e}");
                let reason = RejectReason::InvalidEncoding;
                let id = fallback_id();
                note_content(&mut batch, event, from_content.get(), true);
                batch.letters.push(letter(id, reason, detail, event.origin.describe(), &lossy));
                continue;
            }
        };
        let parsed = parse_event(body, ctx);
        batch.received += u64::try_from(parsed.items.len()).unwrap_or(u64::MAX);
        for (position, item) in parsed.items.into_iter().enumerate() {
            match item.outcome {
                Ok(EventItem::Record(ParsedRecord { record, count_input })) => {
                    if let Some(input) = count_input.filter(|i| i.request_body.is_some() || i.response_body.is_some()) {
                        batch.pending.push(PendingCount {
                            index: batch.records.len(),
                            model: record.model.clone(),
                            deployment: record.deployment.clone(),
                            input,
                        });
                    }
                    note_content(&mut batch, event, from_content.get(), false);
                    batch.records.push(record);
                }
                Ok(EventItem::LlmLog(half)) => {
                    let (letter_id, origin) = where_in_event(event, parsed.many, position);
                    batch.llm_logs.push(Received { half, letter_id, origin, raw: item.raw.to_owned() });
                }
                Ok(EventItem::GatewayLog(half)) => {
                    let (letter_id, origin) = where_in_event(event, parsed.many, position);
                    batch.gateway_logs.push(Received { half, letter_id, origin, raw: item.raw.to_owned() });
                }
                Ok(EventItem::Ignored { .. }) => batch.ignored += 1,
                Err(rejection) if parsed.many => {
                    // A record of a resource-log event: its own letter, named by
                    // the event and its position, holding that record only.
                    let (id, origin) = where_in_event(event, true, position);
                    batch.letters.push(letter(id, rejection.reason, rejection.detail, origin, item.raw));
                }
                Err(rejection) => {
                    let id = rejection.own_id.unwrap_or_else(fallback_id);
                    note_content(&mut batch, event, from_content.get(), true);
                    batch.letters.push(letter(id, rejection.reason, rejection.detail, event.origin.describe(), body));
                }
            }
        }
    }
    batch
}

/// The letter identity and origin of the record at `position` (0-based) of
/// an event: the event's own for a single record, with `-r<position>` for a
/// record of a resource-log event.
fn where_in_event(event: &Event, many: bool, position: usize) -> (RecordId, String) {
    if many {
        (
            record_in_event(&event.origin.fallback_id(&event.body), position),
            format!("{} record {position}", event.origin.describe()),
        )
    } else {
        (event.origin.fallback_id(&event.body), event.origin.describe())
    }
}

/// The identity of the record at `position` (0-based) of a resource-log event.
fn record_in_event(event: &RecordId, position: usize) -> RecordId {
    let text = format!("{event}-r{position}");
    RecordId::parse(&text).unwrap_or_else(|_| {
        let digest = content_digest(text.as_bytes());
        RecordId::parse(&format!("record-{}", hex::encode(digest))).unwrap_or_else(|_| unreachable!())
    })
}

/// Notes a record or letter of a single-record event that took its identity
/// from its content (an [`EventOrigin::Line`]), for
/// [`ContentIdentities::settle`] to number.
fn note_content(batch: &mut PreparedBatch, event: &Event, from_content: bool, letter: bool) {
    if let (true, EventOrigin::Line { line, .. }) = (from_content, &event.origin) {
        let digest = content_digest(&event.body);
        let index = if letter { batch.letters.len() } else { batch.records.len() };
        batch.content.push(ContentRef { line: *line, digest, letter, index });
    }
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
