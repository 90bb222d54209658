//! The ledger on Azure Table Storage (keys in [`super::table_keys`]).
//!
//! An append writes, in this order, each step idempotent:
//! 1. a claim per record id (claims table, entity-group transactions of up to
//!    100 per claim partition). A claim that already exists tells which ledger
//!    partition the id went to first, so an id arriving again with another day
//!    or party is still counted once;
//! 2. the partition index (one upsert per ledger partition touched);
//! 3. the ledger rows, at the claimed partition, in transactions of up to 100
//!    per partition. A row that already exists is a duplicate.
//!
//! A transaction is atomic but comes back as `Ok` even when it failed, with
//! the failed status inside; every operation's status is checked. On a 409
//! inside a transaction the batch falls back to one request per entity. If
//! any step fails the append fails (nothing may be assumed written) and a
//! retry completes it: a claim without its ledger row is finished then.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use azure_data_tables::prelude::{Filter, Select, TableClient};
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Map, Value};

use super::connection::{StorageAccount, is_status};
use super::table_keys::{
    claim_entity, claim_pk, day_key, escape, get_i64, get_i64_or_zero, get_opt, get_str, ledger_entity, ledger_pk,
    partition_entity, record_rk,
};
use crate::domain::{Tenant, TokenTotals, UsageAggregate, UsageRecord};
use crate::storage::sql::ledger::{from_hours, from_micros, parse_day, record_id, to_u64, token_source};
use crate::storage::{AppendOutcome, CapacityCell, Ledger, LedgerEntry, LedgerPartition, LedgerRange, StorageError};

/// Entities per entity-group transaction (the service's limit).
const PER_TRANSACTION: usize = 100;
/// Requests in flight per append.
const CONCURRENCY: usize = 32;

/// The Table Storage ledger.
#[derive(Debug, Clone)]
pub struct TableLedger {
    ledger: TableClient,
    claims: TableClient,
    partitions: TableClient,
}

/// What one transaction did.
enum Batch {
    /// Every entity was inserted.
    Done,
    /// One of them already existed: nothing was written.
    Conflict,
}

impl TableLedger {
    /// Opens the ledger in tables `<prefix>ledger`, `<prefix>claims` and
    /// `<prefix>partitions` (created when missing). `prefix` is letters and
    /// digits, starting with a letter.
    pub async fn open(account: &StorageAccount, prefix: &str) -> Result<Self, StorageError> {
        let service = account.table_service()?;
        let this = Self {
            ledger: service.table_client(format!("{prefix}ledger")),
            claims: service.table_client(format!("{prefix}claims")),
            partitions: service.table_client(format!("{prefix}partitions")),
        };
        for table in [&this.ledger, &this.claims, &this.partitions] {
            match table.create().await {
                Ok(_) => {}
                Err(e) if is_status(&e, 409) => {}
                Err(source) => return Err(account.create_failed(format!("table {}", table.table_name()), source)),
            }
        }
        Ok(this)
    }

    /// Inserts entities of one partition in one transaction.
    async fn insert_batch(table: &TableClient, pk: &str, entities: &[Value]) -> Result<Batch, StorageError> {
        let mut transaction = table.partition_key_client(pk).transaction();
        for entity in entities {
            transaction = transaction.insert(entity)?;
        }
        let response = transaction.await?;
        let statuses: Vec<u16> = response.operation_responses.iter().map(|r| u16::from(r.status_code)).collect();
        if statuses.len() == entities.len() && statuses.iter().all(|s| (200..300).contains(s)) {
            return Ok(Batch::Done);
        }
        if statuses.contains(&409) {
            return Ok(Batch::Conflict);
        }
        Err(StorageError::Refused(format!(
            "transaction on {} partition {pk} answered with statuses {statuses:?}",
            table.table_name()
        )))
    }

    /// Inserts one entity; `false` if it already existed.
    async fn insert_one(table: &TableClient, entity: &Value) -> Result<bool, StorageError> {
        match table.insert::<_, Value>(entity)?.await {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 409) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Inserts entities grouped by partition; returns, per entity (in the
    /// given order), whether it was new.
    async fn insert_all(table: &TableClient, entities: Vec<(String, Value)>) -> Result<Vec<bool>, StorageError> {
        let mut by_partition: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, (pk, _)) in entities.iter().enumerate() {
            by_partition.entry(pk.clone()).or_default().push(i);
        }
        let chunks: Vec<(String, Vec<usize>)> = by_partition
            .into_iter()
            .flat_map(|(pk, idx)| idx.chunks(PER_TRANSACTION).map(|c| (pk.clone(), c.to_vec())).collect::<Vec<_>>())
            .collect();
        let entities = &entities;
        let results: Vec<Vec<(usize, bool)>> = stream::iter(chunks)
            .map(|(pk, idx)| async move {
                let batch: Vec<Value> = idx.iter().map(|&i| entities[i].1.clone()).collect();
                match Self::insert_batch(table, &pk, &batch).await? {
                    Batch::Done => Ok(idx.iter().map(|&i| (i, true)).collect()),
                    Batch::Conflict => {
                        let mut out = Vec::with_capacity(idx.len());
                        for &i in &idx {
                            out.push((i, Self::insert_one(table, &entities[i].1).await?));
                        }
                        Ok::<_, StorageError>(out)
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut new = vec![false; entities.len()];
        for (i, was_new) in results.into_iter().flatten() {
            new[i] = was_new;
        }
        Ok(new)
    }

    /// The ledger partition an existing claim points at.
    async fn claimed_partition(&self, tenant: &Tenant, record: &UsageRecord) -> Result<String, StorageError> {
        let response = self
            .claims
            .partition_key_client(claim_pk(tenant, &record.id))
            .entity_client(record_rk(&record.id))
            .get::<Map<String, Value>>()
            .await?;
        Ok(get_str(&response.entity, "LedgerPartition")?.to_owned())
    }

    /// Entities of a key range of one table, with the given columns.
    async fn query_range(
        table: &TableClient,
        from: &str,
        to: &str,
        columns: &'static str,
    ) -> Result<Vec<Map<String, Value>>, StorageError> {
        let filter = format!("PartitionKey ge '{from}' and PartitionKey lt '{to}'");
        let mut pages = table.query().filter(Filter::new(filter)).select(Select::new(columns)).into_stream();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            out.extend(page?.entities);
        }
        Ok(out)
    }
}

impl TableLedger {
    /// The ledger entities of the days a time range touches (a key range per
    /// tenant; the caller drops those outside the exact range).
    async fn range_entities(
        &self,
        range: &LedgerRange,
        columns: &'static str,
    ) -> Result<Vec<Map<String, Value>>, StorageError> {
        let (first, end) = day_range(range.from, range.to);
        Self::query_range(&self.ledger, &day_key(&range.tenant, first), &day_key(&range.tenant, end), columns).await
    }
}

fn day_range(from: DateTime<Utc>, to: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let last = (to - ChronoDuration::microseconds(1)).date_naive();
    (from.date_naive(), last.succ_opt().unwrap_or(last))
}

const TOTALS_COLUMNS: &str = "OccurredAtUs,Day,Party,Model,Deployment,TokenSource,PromptTokens,CompletionTokens,\
     CachedTokens,ReasoningTokens,ServiceTier,SpilledFrom,CacheWriteTokens,AudioPromptTokens,AudioCompletionTokens,\
     AcceptedPredictionTokens,RejectedPredictionTokens";
const CAPACITY_COLUMNS: &str = "OccurredAtUs,Deployment,Status,LatencyMs,PromptTokens,CompletionTokens";
const SCAN_COLUMNS: &str = "RecordId,OccurredAtUs,Model,Deployment,TokenSource,PromptTokens,CompletionTokens,\
     CachedTokens,ReasoningTokens,ServiceTier,SpilledFrom,CacheWriteTokens,AudioPromptTokens,AudioCompletionTokens,\
     AcceptedPredictionTokens,RejectedPredictionTokens";

#[async_trait]
impl Ledger for TableLedger {
    async fn append(&self, records: &[UsageRecord]) -> Result<AppendOutcome, StorageError> {
        // Within one call, the first record of an id counts.
        let mut seen = HashSet::new();
        let unique: Vec<&UsageRecord> = records.iter().filter(|r| seen.insert((&r.tenant, &r.id))).collect();
        let received = u64::try_from(records.len()).unwrap_or(u64::MAX);

        // 1. Claims.
        let own_pk: Vec<String> = unique
            .iter()
            .map(|r| ledger_pk(&r.tenant, r.occurred_at.date_naive(), r.caller.chargeable_party()))
            .collect();
        let claims: Vec<(String, Value)> = unique
            .iter()
            .zip(&own_pk)
            .map(|(r, pk)| (claim_pk(&r.tenant, &r.id), claim_entity(&r.tenant, &r.id, pk)))
            .collect();
        let claimed_now = Self::insert_all(&self.claims, claims).await?;
        let mut target_pk = own_pk;
        let earlier: Vec<usize> = (0..unique.len()).filter(|&i| !claimed_now[i]).collect();
        let unique_ref = &unique;
        let found: Vec<(usize, String)> = stream::iter(earlier)
            .map(|i| async move {
                let record = unique_ref[i];
                Ok::<_, StorageError>((i, self.claimed_partition(&record.tenant, record).await?))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        for (i, pk) in found {
            target_pk[i] = pk;
        }

        // 2. The partition index (upserts: repeating them changes nothing).
        let mut index: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        for (r, pk) in unique.iter().zip(&target_pk) {
            let day = r.occurred_at.date_naive();
            let party = r.caller.chargeable_party();
            if *pk == ledger_pk(&r.tenant, day, party) {
                let entity = partition_entity(&r.tenant, day, party);
                index.entry(day_key(&r.tenant, day)).or_default().insert(escape(party), entity);
            }
        }
        let upserts: Vec<(String, Vec<(String, Value)>)> =
            index.into_iter().map(|(pk, rows)| (pk, rows.into_iter().collect())).collect();
        stream::iter(upserts)
            .map(|(pk, rows)| async move {
                for chunk in rows.chunks(PER_TRANSACTION) {
                    let mut transaction = self.partitions.partition_key_client(&pk).transaction();
                    for (rk, entity) in chunk {
                        transaction = transaction.insert_or_replace(rk, entity)?;
                    }
                    let response = transaction.await?;
                    if response.operation_responses.len() != chunk.len()
                        || response.operation_responses.iter().any(|r| !(200..300).contains(&u16::from(r.status_code)))
                    {
                        return Err(StorageError::Refused(format!("partition index upsert on {pk}")));
                    }
                }
                Ok(())
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;

        // 3. Ledger rows, at the claimed partition.
        let rows: Vec<(String, Value)> =
            unique.iter().zip(target_pk).map(|(r, pk)| (pk.clone(), ledger_entity(&pk, r))).collect();
        let new = Self::insert_all(&self.ledger, rows).await?;
        let inserted = u64::try_from(new.iter().filter(|n| **n).count()).unwrap_or(u64::MAX);
        Ok(AppendOutcome { inserted, duplicates: received - inserted })
    }

    async fn health(&self) -> Result<(), StorageError> {
        let mut pages = self.partitions.query().filter(Filter::new("PartitionKey eq 'health'")).into_stream::<Value>();
        if let Some(page) = pages.next().await {
            page?;
        }
        Ok(())
    }

    async fn partitions(
        &self,
        tenant: &Tenant,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<LedgerPartition>, StorageError> {
        let entities =
            Self::query_range(&self.partitions, &day_key(tenant, from), &day_key(tenant, to), "Day,Party").await?;
        let mut out = entities
            .iter()
            .map(|e| {
                Ok(LedgerPartition {
                    tenant: tenant.clone(),
                    day: parse_day(get_str(e, "Day")?)?,
                    party: get_str(e, "Party")?.to_owned(),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        out.sort();
        Ok(out)
    }

    async fn scan(&self, partition: &LedgerPartition) -> Result<Vec<LedgerEntry>, StorageError> {
        let pk = ledger_pk(&partition.tenant, partition.day, &partition.party);
        let filter = format!("PartitionKey eq '{pk}'");
        let mut pages = self.ledger.query().filter(Filter::new(filter)).select(Select::new(SCAN_COLUMNS)).into_stream();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            for e in page?.entities {
                let e: Map<String, Value> = e;
                out.push(LedgerEntry {
                    id: record_id(get_str(&e, "RecordId")?)?,
                    occurred_at: from_micros(get_i64(&e, "OccurredAtUs")?)?,
                    model: get_opt(&e, "Model"),
                    deployment: get_opt(&e, "Deployment"),
                    token_source: token_source(get_str(&e, "TokenSource")?)?,
                    service_tier: get_opt(&e, "ServiceTier").unwrap_or_default(),
                    spilled_from: get_opt(&e, "SpilledFrom").unwrap_or_default(),
                    tokens: entity_tokens(&e)?,
                });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn usage_cells(&self, range: &LedgerRange) -> Result<Vec<UsageAggregate>, StorageError> {
        let entities = self.range_entities(range, TOTALS_COLUMNS).await?;
        let (from, to) = (range.from.timestamp_micros(), range.to.timestamp_micros());
        type Key = (String, String, String, String, String, String, String);
        let mut cells: BTreeMap<Key, TokenTotals> = BTreeMap::new();
        for e in &entities {
            let at = get_i64(e, "OccurredAtUs")?;
            if at < from || at >= to {
                continue;
            }
            let key = (
                get_str(e, "Day")?.to_owned(),
                get_str(e, "Party")?.to_owned(),
                get_opt(e, "Model").unwrap_or_default(),
                get_opt(e, "Deployment").unwrap_or_default(),
                get_str(e, "TokenSource")?.to_owned(),
                get_opt(e, "ServiceTier").unwrap_or_default(),
                get_opt(e, "SpilledFrom").unwrap_or_default(),
            );
            *cells.entry(key).or_default() += entity_tokens(e)?;
        }
        cells
            .into_iter()
            .map(|((day, party, model, deployment, source, service_tier, spilled_from), tokens)| {
                Ok(UsageAggregate {
                    day: parse_day(&day)?,
                    party,
                    model,
                    deployment,
                    token_source: token_source(&source)?,
                    service_tier,
                    spilled_from,
                    tokens,
                })
            })
            .collect()
    }

    async fn capacity_cells(&self, range: &LedgerRange) -> Result<Vec<CapacityCell>, StorageError> {
        let entities = self.range_entities(range, CAPACITY_COLUMNS).await?;
        let (from, to) = (range.from.timestamp_micros(), range.to.timestamp_micros());
        type Key = (Option<String>, i64, Option<i64>, Option<i64>);
        let mut cells: BTreeMap<Key, [u64; 2]> = BTreeMap::new();
        for e in &entities {
            let at = get_i64(e, "OccurredAtUs")?;
            if at < from || at >= to {
                continue;
            }
            let optional = |name: &str| if e.contains_key(name) { get_i64(e, name).map(Some) } else { Ok(None) };
            let key =
                (get_opt(e, "Deployment"), at.div_euclid(3_600_000_000), optional("Status")?, optional("LatencyMs")?);
            let sums = cells.entry(key).or_default();
            sums[0] += 1;
            let tokens = to_u64(get_i64(e, "PromptTokens")?).saturating_add(to_u64(get_i64(e, "CompletionTokens")?));
            sums[1] = sums[1].saturating_add(tokens);
        }
        cells
            .into_iter()
            .map(|((deployment, hour, status, latency), [requests, tokens])| {
                Ok(CapacityCell {
                    deployment,
                    hour: from_hours(hour)?,
                    status: status.and_then(|s| u16::try_from(s).ok()),
                    latency_ms: latency.map(to_u64),
                    requests,
                    tokens,
                })
            })
            .collect()
    }
}

/// The counts of one ledger entity (one request).
fn entity_tokens(e: &Map<String, Value>) -> Result<TokenTotals, StorageError> {
    Ok(TokenTotals {
        requests: 1,
        prompt: to_u64(get_i64(e, "PromptTokens")?),
        completion: to_u64(get_i64(e, "CompletionTokens")?),
        cached: to_u64(get_i64(e, "CachedTokens")?),
        reasoning: to_u64(get_i64(e, "ReasoningTokens")?),
        cache_write: to_u64(get_i64_or_zero(e, "CacheWriteTokens")?),
        audio_prompt: to_u64(get_i64_or_zero(e, "AudioPromptTokens")?),
        audio_completion: to_u64(get_i64_or_zero(e, "AudioCompletionTokens")?),
        accepted_prediction: to_u64(get_i64_or_zero(e, "AcceptedPredictionTokens")?),
        rejected_prediction: to_u64(get_i64_or_zero(e, "RejectedPredictionTokens")?),
    })
}
