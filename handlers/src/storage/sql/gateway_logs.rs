//! The halves of API Management's resource logs in SQL: one query text for
//! SQLite and PostgreSQL (`migrations/{sqlite,postgres}/0020_gateway_logs.sql`,
//! same columns), written for both pools by [`impl_sql_gateway_logs!`].
//!
//! `gateway_llm_logs` holds one row per LLM chunk, keyed by (tenant,
//! correlation id, sequence); `settled_at_us` is set on every chunk of a call
//! once the call is in the ledger. `gateway_logs` holds one row per gateway
//! half, keyed by (tenant, correlation id).

use chrono::{DateTime, Utc};

use super::ledger::{from_micros, record_id, to_i64, to_u64};
use crate::domain::{GatewayLog, LlmLog, RecordId, ResponseTier, Tenant, TokenUsage};
use crate::storage::StorageError;
use crate::storage::gateway_logs::{GatewayLogStore, HalvesOutcome, OpenCall};

/// Correlation ids per `IN (…)` list.
pub const IDS_PER_STATEMENT: usize = 500;

/// The columns of a chunk, in [`LlmRow`] order.
pub const CHUNK_COLUMNS: &str = "correlation_id, sequence, occurred_at_us, received_at_us, has_counts, \
     prompt_tokens, completion_tokens, cached_tokens, request_id, deployment, model, operation, streamed, region";

/// The columns of a gateway half, in [`GatewayRow`] order.
pub const GATEWAY_COLUMNS: &str = "correlation_id, occurred_at_us, subscription_id, user_id, api_id, operation_id, \
     product_id, backend_id, status, backend_status, latency_ms, served_deployment, spilled_from, service_tier";

/// Whether a call is counted already, and whether any of its chunks states counts.
pub const CALL_STATE_SQL: &str = "SELECT MAX(settled_at_us) AS settled, \
     CAST(COALESCE(SUM(CASE WHEN has_counts THEN 1 ELSE 0 END), 0) AS BIGINT) AS counting \
     FROM gateway_llm_logs WHERE tenant = $1 AND correlation_id = $2";

/// The counts of another chunk of the call that states counts.
pub const OTHER_COUNTS_SQL: &str = "SELECT prompt_tokens, completion_tokens, cached_tokens, sequence \
     FROM gateway_llm_logs WHERE tenant = $1 AND correlation_id = $2 AND has_counts = TRUE AND sequence <> $3 LIMIT 1";

/// Stores a chunk unless its identity is stored.
pub const INSERT_CHUNK_SQL: &str = "INSERT INTO gateway_llm_logs (tenant, correlation_id, sequence, occurred_at_us, \
     received_at_us, has_counts, prompt_tokens, completion_tokens, cached_tokens, request_id, deployment, model, \
     operation, streamed, region, settled_at_us) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
     ON CONFLICT (tenant, correlation_id, sequence) DO NOTHING";

/// Stores a gateway half unless its identity is stored.
pub const INSERT_GATEWAY_SQL: &str = "INSERT INTO gateway_logs (tenant, correlation_id, occurred_at_us, \
     received_at_us, subscription_id, user_id, api_id, operation_id, product_id, backend_id, status, \
     backend_status, latency_ms, served_deployment, spilled_from, service_tier) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
     ON CONFLICT (tenant, correlation_id) DO NOTHING";

/// Open calls whose first chunk was received at or before `$2`, oldest first.
pub const OVERDUE_SQL: &str = "SELECT correlation_id FROM gateway_llm_logs \
     WHERE tenant = $1 AND settled_at_us IS NULL GROUP BY correlation_id \
     HAVING MIN(received_at_us) <= $2 ORDER BY MIN(received_at_us), correlation_id LIMIT $3";

/// Open calls that happened in `$2..$3`.
pub const BETWEEN_SQL: &str = "SELECT DISTINCT correlation_id FROM gateway_llm_logs \
     WHERE tenant = $1 AND settled_at_us IS NULL AND occurred_at_us >= $2 AND occurred_at_us < $3 \
     ORDER BY correlation_id";

/// Gateway halves without any LLM chunk, received before `$2`.
pub const PURGE_SQL: &str = "DELETE FROM gateway_logs WHERE tenant = $1 AND received_at_us < $2 \
     AND NOT EXISTS (SELECT 1 FROM gateway_llm_logs l \
         WHERE l.tenant = gateway_logs.tenant AND l.correlation_id = gateway_logs.correlation_id)";

/// A stored chunk as read.
#[derive(Debug)]
pub struct LlmRow {
    /// Correlation id.
    pub correlation_id: String,
    /// Sequence number.
    pub sequence: i64,
    /// Call time, µs.
    pub occurred_at_us: i64,
    /// Receipt time, µs.
    pub received_at_us: i64,
    /// Whether the chunk states counts.
    pub has_counts: bool,
    /// Prompt, completion and cached tokens.
    pub counts: [i64; 3],
    /// Request id, deployment, model, operation.
    pub texts: [Option<String>; 4],
    /// Streamed.
    pub streamed: bool,
    /// Region.
    pub region: Option<String>,
}

impl LlmRow {
    /// The chunk, for `tenant`.
    pub fn into_llm_log(self, tenant: &Tenant) -> Result<(LlmLog, DateTime<Utc>), StorageError> {
        let [prompt, completion, cached] = self.counts.map(to_u64);
        let usage = if self.has_counts {
            Some(
                TokenUsage::new(prompt, completion, None, cached, 0)
                    .map_err(|e| StorageError::Corrupt(format!("gateway_llm_logs {}: {e}", self.correlation_id)))?,
            )
        } else {
            None
        };
        let [request_id, deployment, model, operation] = self.texts;
        let log = LlmLog {
            tenant: tenant.clone(),
            correlation_id: record_id(&self.correlation_id)?,
            sequence: u32::try_from(self.sequence)
                .map_err(|_| StorageError::Corrupt(format!("gateway_llm_logs sequence {}", self.sequence)))?,
            occurred_at: from_micros(self.occurred_at_us)?,
            request_id,
            deployment,
            model,
            operation,
            streamed: self.streamed,
            region: self.region,
            usage,
        };
        Ok((log, from_micros(self.received_at_us)?))
    }
}

/// A stored gateway half as read.
#[derive(Debug)]
pub struct GatewayRow {
    /// Correlation id.
    pub correlation_id: String,
    /// Call time, µs.
    pub occurred_at_us: i64,
    /// Subscription, user, API, operation, product, backend.
    pub texts: [Option<String>; 6],
    /// Status, backend status, latency.
    pub numbers: [Option<i64>; 3],
    /// Served deployment, spilled from, service tier.
    pub billing: [Option<String>; 3],
}

impl GatewayRow {
    /// The gateway half, for `tenant`.
    pub fn into_gateway_log(self, tenant: &Tenant) -> Result<GatewayLog, StorageError> {
        let [subscription_id, user, api_id, operation_id, product_id, backend_id] = self.texts;
        let [status, backend_status, latency_ms] = self.numbers;
        let [served_deployment, spilled_from, service_tier] = self.billing;
        let service_tier = match service_tier {
            Some(t) => Some(ResponseTier::parse(&t).map_err(|e| StorageError::Corrupt(e.to_string()))?),
            None => None,
        };
        Ok(GatewayLog {
            subscription_id,
            user,
            api_id,
            operation_id,
            product_id,
            backend_id,
            status: super::ledger::to_status(status),
            backend_status: super::ledger::to_status(backend_status),
            latency_ms: latency_ms.map(to_u64),
            served_deployment,
            spilled_from,
            service_tier,
            ..GatewayLog::new(tenant.clone(), record_id(&self.correlation_id)?, from_micros(self.occurred_at_us)?)
        })
    }
}

/// Assembles open calls from their chunks (ordered by correlation id and
/// sequence) and gateway halves.
pub fn assemble(chunks: Vec<(LlmLog, DateTime<Utc>)>, gateways: Vec<GatewayLog>) -> Vec<OpenCall> {
    let mut by_id: std::collections::BTreeMap<RecordId, OpenCall> = std::collections::BTreeMap::new();
    for (chunk, received) in chunks {
        let call = by_id.entry(chunk.correlation_id.clone()).or_insert_with(|| OpenCall {
            correlation_id: chunk.correlation_id.clone(),
            chunks: Vec::new(),
            gateway: None,
            first_received: received,
        });
        call.first_received = call.first_received.min(received);
        call.chunks.push(chunk);
    }
    for gateway in gateways {
        if let Some(call) = by_id.get_mut(&gateway.correlation_id) {
            call.gateway = Some(gateway);
        }
    }
    by_id.into_values().collect()
}

/// The counts a chunk stores: prompt, completion, cached (zero without counts).
pub fn chunk_counts(chunk: &LlmLog) -> [i64; 3] {
    chunk.usage.map(|u| [u.prompt(), u.completion(), u.cached()].map(to_i64)).unwrap_or([0; 3])
}

/// The SQL store of resource-log halves over a typed pool.
#[derive(Debug, Clone)]
pub struct SqlGatewayLogs<P> {
    pool: P,
}

impl<P> SqlGatewayLogs<P> {
    /// A store over `pool` (its migrations already applied).
    pub fn new(pool: P) -> Self {
        Self { pool }
    }
}

/// Writes `impl GatewayLogStore for SqlGatewayLogs<$pool>` with the shared
/// query text.
macro_rules! impl_sql_gateway_logs {
    ($pool:ty, $db:ty) => {
        impl SqlGatewayLogs<$pool> {
            async fn load(&self, tenant: &Tenant, ids: &[RecordId]) -> Result<Vec<OpenCall>, StorageError> {
                use sqlx::Row;
                let mut chunks = Vec::new();
                let mut gateways = Vec::new();
                for part in ids.chunks(IDS_PER_STATEMENT) {
                    let mut query: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(format!(
                        "SELECT {CHUNK_COLUMNS} FROM gateway_llm_logs WHERE tenant = "
                    ));
                    query.push_bind(tenant.as_str().to_owned());
                    query.push(" AND settled_at_us IS NULL AND correlation_id IN (");
                    let mut list = query.separated(", ");
                    for id in part {
                        list.push_bind(id.as_str().to_owned());
                    }
                    query.push(") ORDER BY correlation_id, sequence");
                    for row in query.build().fetch_all(&self.pool).await? {
                        let row = LlmRow {
                            correlation_id: row.try_get("correlation_id")?,
                            sequence: row.try_get("sequence")?,
                            occurred_at_us: row.try_get("occurred_at_us")?,
                            received_at_us: row.try_get("received_at_us")?,
                            has_counts: row.try_get("has_counts")?,
                            counts: [
                                row.try_get("prompt_tokens")?,
                                row.try_get("completion_tokens")?,
                                row.try_get("cached_tokens")?,
                            ],
                            texts: [
                                row.try_get("request_id")?,
                                row.try_get("deployment")?,
                                row.try_get("model")?,
                                row.try_get("operation")?,
                            ],
                            streamed: row.try_get("streamed")?,
                            region: row.try_get("region")?,
                        };
                        chunks.push(row.into_llm_log(tenant)?);
                    }
                    let mut query: sqlx::QueryBuilder<$db> =
                        sqlx::QueryBuilder::new(format!("SELECT {GATEWAY_COLUMNS} FROM gateway_logs WHERE tenant = "));
                    query.push_bind(tenant.as_str().to_owned());
                    query.push(" AND correlation_id IN (");
                    let mut list = query.separated(", ");
                    for id in part {
                        list.push_bind(id.as_str().to_owned());
                    }
                    query.push(")");
                    for row in query.build().fetch_all(&self.pool).await? {
                        let row = GatewayRow {
                            correlation_id: row.try_get("correlation_id")?,
                            occurred_at_us: row.try_get("occurred_at_us")?,
                            texts: [
                                row.try_get("subscription_id")?,
                                row.try_get("user_id")?,
                                row.try_get("api_id")?,
                                row.try_get("operation_id")?,
                                row.try_get("product_id")?,
                                row.try_get("backend_id")?,
                            ],
                            numbers: [
                                row.try_get("status")?,
                                row.try_get("backend_status")?,
                                row.try_get("latency_ms")?,
                            ],
                            billing: [
                                row.try_get("served_deployment")?,
                                row.try_get("spilled_from")?,
                                row.try_get("service_tier")?,
                            ],
                        };
                        gateways.push(row.into_gateway_log(tenant)?);
                    }
                }
                Ok(assemble(chunks, gateways))
            }

            async fn ids(
                &self,
                sql: &'static str,
                tenant: &Tenant,
                a: i64,
                b: i64,
            ) -> Result<Vec<RecordId>, StorageError> {
                use sqlx::Row;
                let rows = sqlx::query(sql).bind(tenant.as_str()).bind(a).bind(b).fetch_all(&self.pool).await?;
                rows.into_iter().map(|row| record_id(&row.try_get::<String, _>("correlation_id")?)).collect()
            }
        }

        #[async_trait::async_trait]
        impl GatewayLogStore for SqlGatewayLogs<$pool> {
            async fn put(
                &self,
                llm: &[LlmLog],
                gateway: &[GatewayLog],
                received_at: DateTime<Utc>,
            ) -> Result<HalvesOutcome, StorageError> {
                use sqlx::Row;
                let mut outcome = HalvesOutcome::default();
                let received_us = received_at.timestamp_micros();
                let mut tx = self.pool.begin().await?;
                for (index, chunk) in llm.iter().enumerate() {
                    let tenant = chunk.tenant.as_str();
                    let id = chunk.correlation_id.as_str();
                    let state = sqlx::query(CALL_STATE_SQL).bind(tenant).bind(id).fetch_one(&mut *tx).await?;
                    let settled: Option<i64> = state.try_get("settled")?;
                    let counting: i64 = state.try_get("counting")?;
                    let counts = chunk_counts(chunk);
                    if chunk.usage.is_some() {
                        if settled.is_some() && counting == 0 {
                            outcome.conflicts.push((
                                index,
                                format!(
                                    "chunk {} of call {id} states token counts, but the call was counted \
                                     without any: its other chunks stated none for the grace period",
                                    chunk.sequence
                                ),
                            ));
                            continue;
                        }
                        let other = sqlx::query(OTHER_COUNTS_SQL)
                            .bind(tenant)
                            .bind(id)
                            .bind(i64::from(chunk.sequence))
                            .fetch_optional(&mut *tx)
                            .await?;
                        if let Some(other) = other {
                            let stored: [i64; 3] = [
                                other.try_get("prompt_tokens")?,
                                other.try_get("completion_tokens")?,
                                other.try_get("cached_tokens")?,
                            ];
                            if stored != counts {
                                let sequence: i64 = other.try_get("sequence")?;
                                outcome.conflicts.push((
                                    index,
                                    format!(
                                        "chunk {} of call {id} states prompt/completion/cached tokens {}/{}/{}, \
                                         chunk {sequence} stated {}/{}/{}",
                                        chunk.sequence,
                                        counts[0],
                                        counts[1],
                                        counts[2],
                                        stored[0],
                                        stored[1],
                                        stored[2]
                                    ),
                                ));
                                continue;
                            }
                        }
                    }
                    let inserted = sqlx::query(INSERT_CHUNK_SQL)
                        .bind(tenant)
                        .bind(id)
                        .bind(i64::from(chunk.sequence))
                        .bind(chunk.occurred_at.timestamp_micros())
                        .bind(received_us)
                        .bind(chunk.usage.is_some())
                        .bind(counts[0])
                        .bind(counts[1])
                        .bind(counts[2])
                        .bind(chunk.request_id.as_deref())
                        .bind(chunk.deployment.as_deref())
                        .bind(chunk.model.as_deref())
                        .bind(chunk.operation.as_deref())
                        .bind(chunk.streamed)
                        .bind(chunk.region.as_deref())
                        .bind(settled)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if inserted > 0 { outcome.inserted += 1 } else { outcome.duplicates += 1 }
                }
                for half in gateway {
                    let inserted = sqlx::query(INSERT_GATEWAY_SQL)
                        .bind(half.tenant.as_str())
                        .bind(half.correlation_id.as_str())
                        .bind(half.occurred_at.timestamp_micros())
                        .bind(received_us)
                        .bind(half.subscription_id.as_deref())
                        .bind(half.user.as_deref())
                        .bind(half.api_id.as_deref())
                        .bind(half.operation_id.as_deref())
                        .bind(half.product_id.as_deref())
                        .bind(half.backend_id.as_deref())
                        .bind(half.status.map(i64::from))
                        .bind(half.backend_status.map(i64::from))
                        .bind(half.latency_ms.map(to_i64))
                        .bind(half.served_deployment.as_deref())
                        .bind(half.spilled_from.as_deref())
                        .bind(half.service_tier.as_ref().map(|t| t.as_str()))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if inserted > 0 { outcome.inserted += 1 } else { outcome.duplicates += 1 }
                }
                tx.commit().await?;
                Ok(outcome)
            }

            async fn open_calls(&self, tenant: &Tenant, ids: &[RecordId]) -> Result<Vec<OpenCall>, StorageError> {
                self.load(tenant, ids).await
            }

            async fn overdue_calls(
                &self,
                tenant: &Tenant,
                cutoff: DateTime<Utc>,
                limit: usize,
            ) -> Result<Vec<OpenCall>, StorageError> {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let ids = self.ids(OVERDUE_SQL, tenant, cutoff.timestamp_micros(), limit).await?;
                let mut calls = self.load(tenant, &ids).await?;
                calls.sort_by_key(|c| (c.first_received, c.correlation_id.clone()));
                Ok(calls)
            }

            async fn open_calls_between(
                &self,
                tenant: &Tenant,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
            ) -> Result<Vec<OpenCall>, StorageError> {
                let ids = self.ids(BETWEEN_SQL, tenant, from.timestamp_micros(), to.timestamp_micros()).await?;
                self.load(tenant, &ids).await
            }

            async fn settle(&self, tenant: &Tenant, ids: &[RecordId], at: DateTime<Utc>) -> Result<(), StorageError> {
                let mut tx = self.pool.begin().await?;
                for part in ids.chunks(IDS_PER_STATEMENT) {
                    let mut query: sqlx::QueryBuilder<$db> =
                        sqlx::QueryBuilder::new("UPDATE gateway_llm_logs SET settled_at_us = ");
                    query.push_bind(at.timestamp_micros());
                    query.push(" WHERE tenant = ");
                    query.push_bind(tenant.as_str().to_owned());
                    query.push(" AND settled_at_us IS NULL AND correlation_id IN (");
                    let mut list = query.separated(", ");
                    for id in part {
                        list.push_bind(id.as_str().to_owned());
                    }
                    query.push(")");
                    query.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn purge_unmatched(&self, tenant: &Tenant, cutoff: DateTime<Utc>) -> Result<u64, StorageError> {
                let done = sqlx::query(PURGE_SQL)
                    .bind(tenant.as_str())
                    .bind(cutoff.timestamp_micros())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

impl_sql_gateway_logs!(sqlx::SqlitePool, sqlx::Sqlite);
impl_sql_gateway_logs!(sqlx::PgPool, sqlx::Postgres);
