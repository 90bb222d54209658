//! Where the two halves of API Management's resource logs wait for each other
//! (`docs/record-format.md`, section 4): every `GatewayLlmLogs` chunk and
//! every `GatewayLogs` record, stored by identity so that either order, any
//! batch and any replay give the same result, until the call is counted in
//! the ledger ("settled").

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StorageError;
use crate::domain::{GatewayLog, LlmLog, OpenCallParts, RecordId, Tenant};

/// What storing a batch of halves did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HalvesOutcome {
    /// Halves that were new.
    pub inserted: u64,
    /// Halves already stored (replays).
    pub duplicates: u64,
    /// LLM chunks not stored because they contradict what is stored of their
    /// call: (index in the chunks given, why).
    pub conflicts: Vec<(usize, String)>,
}

/// A call that is not counted yet, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCall {
    /// Its correlation id.
    pub correlation_id: RecordId,
    /// Its LLM chunks, by sequence number.
    pub chunks: Vec<LlmLog>,
    /// Its gateway half, if it arrived.
    pub gateway: Option<GatewayLog>,
    /// When its first chunk was received.
    pub first_received: DateTime<Utc>,
}

impl OpenCall {
    /// The call as the domain sums usage awaiting attribution.
    pub fn parts(&self) -> OpenCallParts<'_> {
        OpenCallParts { chunks: &self.chunks, gateway: self.gateway.as_ref(), first_received: self.first_received }
    }
}

/// The store of resource-log halves.
#[async_trait]
pub trait GatewayLogStore: Send + Sync + fmt::Debug {
    /// Stores halves received at `received_at`. A half whose identity is
    /// stored already is a duplicate and changes nothing (LLM chunks: tenant,
    /// correlation id and sequence number; gateway halves: tenant and
    /// correlation id). An LLM chunk that states other counts than a stored
    /// chunk of its call, or counts for a call already counted without any,
    /// is not stored and comes back as a conflict. A chunk of a call that is
    /// counted already is stored as counted. On error nothing may be assumed
    /// written; calling again is safe.
    async fn put(
        &self,
        llm: &[LlmLog],
        gateway: &[GatewayLog],
        received_at: DateTime<Utc>,
    ) -> Result<HalvesOutcome, StorageError>;

    /// The calls among `ids` that are not counted yet and have an LLM chunk.
    async fn open_calls(&self, tenant: &Tenant, ids: &[RecordId]) -> Result<Vec<OpenCall>, StorageError>;

    /// Up to `limit` calls not counted yet whose first chunk was received at
    /// or before `cutoff`, oldest first.
    async fn overdue_calls(
        &self,
        tenant: &Tenant,
        cutoff: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OpenCall>, StorageError>;

    /// The calls not counted yet that happened in `from..to` (half-open): the
    /// usage awaiting attribution.
    async fn open_calls_between(
        &self,
        tenant: &Tenant,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<OpenCall>, StorageError>;

    /// Marks calls as counted (their usage record is in the ledger).
    async fn settle(&self, tenant: &Tenant, ids: &[RecordId], at: DateTime<Utc>) -> Result<(), StorageError>;

    /// Deletes gateway halves received before `cutoff` that have no LLM
    /// chunk: calls of other APIs, which are not usage. Returns how many.
    async fn purge_unmatched(&self, tenant: &Tenant, cutoff: DateTime<Utc>) -> Result<u64, StorageError>;
}
