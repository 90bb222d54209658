//! The two halves of API Management's resource logs, from a batch to the
//! ledger: store each half by its identity, then count every call that can be
//! counted now (`docs/record-format.md`, section 4).
//!
//! A call is counted once, as one usage record whose identity is its
//! correlation id: attributed to its APIM subscription as soon as a chunk with
//! counts and its gateway half are both stored, whatever their order and
//! batch; unattributed once the grace period since its first chunk passed
//! without the gateway half. The record goes to the ledger first, then the
//! call is marked counted, so a crash in between only makes the next run
//! append a duplicate.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::{GatewayLog, LlmLog, RecordId, Settlement, Tenant, settle};
use crate::storage::{GatewayLogStore, Ledger, OpenCall, StorageError};

/// Calls counted per sweep of overdue calls (the rest wait for the next).
pub const SWEEP_LIMIT: usize = 5_000;

/// The grace period when none is configured.
pub const DEFAULT_GRACE: TimeDelta = crate::domain::DEFAULT_ATTRIBUTION_GRACE;

/// A half of a resource log as received, with what its dead letter would need.
#[derive(Debug, Clone)]
pub struct Received<T> {
    /// The half.
    pub half: T,
    /// Its letter's identity (the event's and its position).
    pub letter_id: RecordId,
    /// Where it came from.
    pub origin: String,
    /// The record as received (credentials not yet redacted).
    pub raw: String,
}

/// Calls counted by one settling step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Settled {
    /// Calls counted with their caller.
    pub attributed: u64,
    /// Calls counted without one (the grace period passed).
    pub unattributed: u64,
}

impl std::fmt::Display for Settled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "calls from API Management resource logs counted: {} attributed, {} unattributed",
            self.attributed, self.unattributed
        )
    }
}

impl Settled {
    /// Whether any call was counted.
    pub fn any(&self) -> bool {
        self.attributed + self.unattributed > 0
    }

    /// Adds another step's counts.
    pub fn add(&mut self, other: Settled) {
        self.attributed += other.attributed;
        self.unattributed += other.unattributed;
    }
}

/// Counts the calls among `calls` that can be counted at `now`.
pub async fn settle_calls(
    ledger: &dyn Ledger,
    store: &dyn GatewayLogStore,
    tenant: &Tenant,
    calls: &[OpenCall],
    now: DateTime<Utc>,
    grace: TimeDelta,
) -> Result<Settled, StorageError> {
    let mut settled = Settled::default();
    let mut records = Vec::new();
    let mut ids = Vec::new();
    for call in calls {
        match settle(&call.chunks, call.gateway.as_ref(), call.first_received, now, grace) {
            Settlement::Attributed(record) => {
                settled.attributed += 1;
                records.push(record);
            }
            Settlement::Unattributed(record) => {
                settled.unattributed += 1;
                records.push(record);
            }
            Settlement::Wait => continue,
        }
        ids.push(call.correlation_id.clone());
    }
    if !records.is_empty() {
        ledger.append(&records).await?;
        store.settle(tenant, &ids, now).await?;
    }
    Ok(settled)
}

/// Counts the calls of these halves that can be counted now, then every call
/// of their tenants whose grace period has passed, and forgets gateway halves
/// that found no partner within it.
pub async fn settle_touched(
    ledger: &dyn Ledger,
    store: &dyn GatewayLogStore,
    llm: &[LlmLog],
    gateway: &[GatewayLog],
    now: DateTime<Utc>,
    grace: TimeDelta,
) -> Result<Settled, StorageError> {
    let mut touched: BTreeMap<Tenant, BTreeSet<RecordId>> = BTreeMap::new();
    for (tenant, id) in
        llm.iter().map(|l| (&l.tenant, &l.correlation_id)).chain(gateway.iter().map(|g| (&g.tenant, &g.correlation_id)))
    {
        touched.entry(tenant.clone()).or_default().insert(id.clone());
    }
    let mut settled = Settled::default();
    for (tenant, ids) in touched {
        let ids: Vec<RecordId> = ids.into_iter().collect();
        let calls = store.open_calls(&tenant, &ids).await?;
        settled.add(settle_calls(ledger, store, &tenant, &calls, now, grace).await?);
        settled.add(settle_overdue(ledger, store, &tenant, now, grace).await?);
    }
    Ok(settled)
}

/// Counts every call of `tenant` whose grace period has passed by `now`
/// (unattributed unless its gateway half came), and forgets gateway halves
/// older than the grace period that have no LLM partner. Run after each batch
/// with halves, by the nightly maintenance, and before the monthly rollup
/// (the timer's and `chargeback rollup`'s), so a quiet estate's calls do not
/// wait for more traffic.
pub async fn settle_overdue(
    ledger: &dyn Ledger,
    store: &dyn GatewayLogStore,
    tenant: &Tenant,
    now: DateTime<Utc>,
    grace: TimeDelta,
) -> Result<Settled, StorageError> {
    let cutoff = now.checked_sub_signed(grace).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut settled = Settled::default();
    loop {
        let calls = store.overdue_calls(tenant, cutoff, SWEEP_LIMIT).await?;
        let full = calls.len() >= SWEEP_LIMIT;
        let step = settle_calls(ledger, store, tenant, &calls, now, grace).await?;
        settled.add(step);
        if !full || step.attributed + step.unattributed == 0 {
            break;
        }
    }
    store.purge_unmatched(tenant, cutoff).await?;
    Ok(settled)
}
