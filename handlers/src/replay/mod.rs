//! Replay from Event Hubs Capture: nothing lost, even when the host gives up.
//!
//! When an invocation's retries are exhausted the Functions host moves the
//! checkpoint past the batch, and the live path never sees it again. Capture
//! has written every event to Blob Storage ([`capture`]); a replay reads the
//! files ([`source`]) and gives each event the Event Hub identity the live
//! path gives it (hub, partition from the file's path, sequence number,
//! enqueued time), so everything already in the ledger is a duplicate and
//! only what was lost is added.
//!
//! - [`Mode::Backfill`] ingests through the same [`Ingestor`] as the live
//!   path (dead letters included) and reports received / accepted /
//!   duplicates / dead-lettered;
//! - [`Mode::Reconcile`] only parses, asks the ledger which identities it
//!   holds ([`crate::storage::Ledger::known_ids`]) and reports what is
//!   missing. It writes nothing.

pub mod capture;
pub mod source;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{info, warn};

use crate::domain::{RecordId, Tenant};
use crate::ingest::{BatchOutcome, Event, Ingestor};
use crate::storage::{Ledger, StorageError};
use capture::{CaptureError, CapturePath};
use source::{CaptureFile, SourceError};

/// Events handed to the ingestor at a time.
const CHUNK: usize = 500;

/// What a replay does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Ingest what is missing.
    Backfill,
    /// Report what is missing; change nothing.
    Reconcile,
}

/// Which events of the files to replay.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Events enqueued at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events enqueued before this time.
    pub to: Option<DateTime<Utc>>,
    /// The hub name the live path saw (`PartitionContext.EventHubName`), when
    /// it differs from the one in Capture's path.
    pub event_hub: Option<String>,
}

impl Window {
    fn holds(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| t >= from) && self.to.is_none_or(|to| t < to)
    }
}

/// What a replay found (and, backfilling, did).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Backfill or reconcile.
    pub mode: Option<Mode>,
    /// Capture files read.
    pub files: u64,
    /// Events in the files, in the window.
    pub received: u64,
    /// Backfill: records added to the ledger. Reconcile: records missing from it.
    pub accepted: u64,
    /// Records the ledger already holds.
    pub duplicates: u64,
    /// Backfill: events dead-lettered. Reconcile: events that would be.
    pub dead_lettered: u64,
    /// Reconcile: the reported tokens of the missing records (streamed
    /// records not counted yet add none). Backfill: 0; the usage reports tell.
    pub missing_tokens: u64,
    /// Events of the files outside the window, skipped.
    pub outside_window: u64,
    /// Events whose enqueued time Capture gave to the second only (no
    /// `x-opt-enqueued-time`): a record of theirs without an id of its own
    /// may not match the live identity, which has milliseconds.
    pub enqueued_to_the_second: u64,
    /// Dead-lettered (or would-be) events by reason.
    pub reasons: BTreeMap<&'static str, u64>,
}

impl Report {
    /// Whether every event is accounted for.
    pub fn balances(&self) -> bool {
        self.received == self.accepted + self.duplicates + self.dead_lettered
    }

    fn add(&mut self, outcome: &BatchOutcome, tokens: u64) {
        self.received += outcome.received;
        self.accepted += outcome.accepted;
        self.duplicates += outcome.duplicates;
        self.dead_lettered += outcome.dead_lettered;
        self.missing_tokens += tokens;
        for (reason, n) in &outcome.reasons {
            *self.reasons.entry(reason).or_default() += n;
        }
    }
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Capture files could not be listed or read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A file is not a Capture file.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The ledger or the dead-letter store failed (a backfill can be run
    /// again: it counts nothing twice).
    #[error("a store failed")]
    Storage(#[from] StorageError),
}

/// Replays Capture files through an ingestor.
#[derive(Debug, Clone)]
pub struct Replay {
    ingestor: Ingestor,
    ledger: Arc<dyn Ledger>,
}

impl Replay {
    /// A replay through this ingestor; `ledger` is the one it writes to,
    /// which a reconciliation asks what it holds.
    pub fn new(ingestor: Ingestor, ledger: Arc<dyn Ledger>) -> Self {
        Self { ingestor, ledger }
    }

    /// Replays the files, one at a time, in order.
    pub async fn run(&self, files: &[CaptureFile], window: &Window, mode: Mode) -> Result<Report, ReplayError> {
        let mut report = Report { mode: Some(mode), ..Report::default() };
        // Reconciling: identities already counted as missing in this run.
        let mut seen: HashSet<(Tenant, RecordId)> = HashSet::new();
        for file in files {
            let name = file.name();
            let path = CapturePath::parse(&name)?;
            let hub = window.event_hub.clone().unwrap_or(path.hub);
            let bytes = file.read().await?;
            let captured = capture::read_events(&name, &bytes)?;
            drop(bytes);
            report.files += 1;
            let mut events = Vec::with_capacity(captured.len());
            for event in captured {
                if !window.holds(event.enqueued) {
                    report.outside_window += 1;
                    continue;
                }
                if !event.enqueued_to_the_millisecond {
                    report.enqueued_to_the_second += 1;
                }
                events.push(event.into_event(&hub, &path.partition));
            }
            match mode {
                Mode::Backfill => {
                    for chunk in events.chunks(CHUNK) {
                        // Exactly the live path: parse, count, dead letters, one append.
                        let outcome = self.ingestor.ingest(chunk).await?;
                        report.add(&outcome, 0);
                    }
                }
                Mode::Reconcile => self.reconcile(&events, &mut seen, &mut report).await?,
            }
            info!(capture.file = %name, replay.received = report.received, "capture file replayed");
        }
        if report.enqueued_to_the_second > 0 {
            warn!(
                events = report.enqueued_to_the_second,
                "Capture gave some enqueued times to the second only; records without an id of their own among them may not match their live identity"
            );
        }
        Ok(report)
    }

    /// One file's events: parsed, never stored; the ledger asked once.
    async fn reconcile(
        &self,
        events: &[Event],
        seen: &mut HashSet<(Tenant, RecordId)>,
        report: &mut Report,
    ) -> Result<(), ReplayError> {
        let mut records = Vec::new();
        let mut outcome = BatchOutcome { received: events.len() as u64, ..BatchOutcome::default() };
        for chunk in events.chunks(CHUNK) {
            let batch = self.ingestor.prepare(chunk);
            outcome.dead_lettered += batch.letters.len() as u64;
            for letter in &batch.letters {
                *outcome.reasons.entry(letter.reason.as_str()).or_default() += 1;
            }
            records.extend(batch.records);
        }
        let known = known_ids(self.ledger.as_ref(), &records).await?;
        let mut tokens = 0;
        for record in &records {
            let key = (record.tenant.clone(), record.id.clone());
            if known.contains(&key) || !seen.insert(key) {
                outcome.duplicates += 1;
            } else {
                outcome.accepted += 1;
                tokens += record.usage.total();
            }
        }
        report.add(&outcome, tokens);
        Ok(())
    }
}

/// Which of the records' (tenant, identity) pairs the ledger holds.
async fn known_ids(
    ledger: &dyn Ledger,
    records: &[crate::domain::UsageRecord],
) -> Result<HashSet<(Tenant, RecordId)>, StorageError> {
    let mut by_tenant: BTreeMap<&str, (Tenant, Vec<RecordId>)> = BTreeMap::new();
    for record in records {
        by_tenant
            .entry(record.tenant.as_str())
            .or_insert_with(|| (record.tenant.clone(), Vec::new()))
            .1
            .push(record.id.clone());
    }
    let mut known = HashSet::new();
    for (tenant, ids) in by_tenant.into_values() {
        for id in ledger.known_ids(&tenant, &ids).await? {
            known.insert((tenant.clone(), id));
        }
    }
    Ok(known)
}
