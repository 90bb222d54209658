//! The rollup's aggregates and results: in SQL (`usage_aggregates`,
//! `chargeback_results`) beside a SQLite or PostgreSQL ledger, one query text
//! for both engines; or as JSON documents in a [`ReportStore`] when the
//! ledger is on Table Storage and there is no database.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::cells::{SUM_COUNT, SUMS, sum_columns};
use super::ledger::{day_text, parse_day, to_i64, to_u64, token_source};
use crate::domain::{Currency, LineKind, Money, Period, Tenant, TokenTotals, UsageAggregate};
use crate::storage::{LedgerPartition, ReportStore, ResultLine, RollupStore, StorageError, WriteCondition};

/// Aggregates and results in SQL.
#[derive(Debug, Clone)]
pub struct SqlRollup<P> {
    pool: P,
}

impl<P> SqlRollup<P> {
    /// The rollup tables of this (migrated) database.
    pub fn new(pool: P) -> Self {
        Self { pool }
    }
}

const AGG_DELETE: &str = "DELETE FROM usage_aggregates WHERE tenant = $1 AND day = $2 AND party = $3";
/// The head of the aggregates' insert: the key, the sums in
/// [`TokenTotals::to_array`] order, the time.
fn agg_insert_head() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO usage_aggregates (tenant, day, party, model, deployment, token_source, service_tier, \
             spilled_from, {}, rolled_up_at_us) ",
            sum_columns()
        )
    });
    &SQL
}
/// Aggregate rows per INSERT: 19 parameters each, under SQLite's 32,766.
const AGG_ROWS_PER_INSERT: usize = 1_000;
fn agg_range() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT day, party, model, deployment, token_source, service_tier, spilled_from, {} \
             FROM usage_aggregates WHERE tenant = $1 AND day >= $2 AND day <= $3",
            sum_columns()
        )
    });
    &SQL
}
const RESULTS_DELETE: &str = "DELETE FROM chargeback_results WHERE tenant = $1 AND period = $2";
/// The columns of a result line before its sums, in bind order.
const RESULT_HEAD: &str = "tenant, period, line, kind, business_unit, application, model, deployment, currency, \
     amount_micros, computed_at_us, service_tier, spilled_from";
const RESULT_HEAD_COUNT: usize = 13;
fn results_insert() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let params: Vec<String> = (1..=RESULT_HEAD_COUNT + SUM_COUNT).map(|n| format!("${n}")).collect();
        format!("INSERT INTO chargeback_results ({RESULT_HEAD}, {}) VALUES ({})", sum_columns(), params.join(", "))
    });
    &SQL
}
fn results_get() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT kind, business_unit, application, model, deployment, currency, amount_micros, service_tier, \
             spilled_from, {} FROM chargeback_results WHERE tenant = $1 AND period = $2 ORDER BY line",
            sum_columns()
        )
    });
    &SQL
}

/// The partitions' days as a closed range, and the set to keep of what it holds.
fn plan_range(partitions: &[LedgerPartition]) -> Option<(String, String)> {
    let first = partitions.iter().map(|p| p.day).min()?;
    let last = partitions.iter().map(|p| p.day).max()?;
    Some((day_text(first), day_text(last)))
}

/// A line's cost as stored: micro-units of its currency.
fn stored_amount(line: &ResultLine) -> Result<Option<i64>, StorageError> {
    line.cost
        .as_ref()
        .map(|c| c.to_micros().ok_or_else(|| StorageError::Corrupt(format!("{c} has no exact micro-unit amount"))))
        .transpose()
}

fn stored_kind(raw: &str) -> Result<LineKind, StorageError> {
    LineKind::parse(raw).ok_or_else(|| StorageError::Corrupt(format!("unknown chargeback line kind {raw:?}")))
}

fn stored_currency(raw: &str) -> Result<Currency, StorageError> {
    Currency::parse(raw).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// Token totals as a document stores them: the sums in the order of the
/// cells' columns ([`super::cells::SUMS`]: requests, prompt, completion,
/// cached, reasoning, then the billing dimensions of 2026).
fn counts(t: TokenTotals) -> Vec<u64> {
    t.to_array().to_vec()
}

/// The totals of a stored document: a document written before the billing
/// dimensions has five counts, the others are zero (it did not have them).
fn totals(counts: &[u64]) -> Result<TokenTotals, StorageError> {
    if counts.len() < 5 || counts.len() > SUM_COUNT {
        return Err(StorageError::Corrupt(format!("a rollup document has {} counts", counts.len())));
    }
    let mut sums = [0u64; SUM_COUNT];
    sums[..counts.len()].copy_from_slice(counts);
    Ok(TokenTotals::from_array(sums))
}

fn keep_planned(partitions: &[LedgerPartition], mut rows: Vec<UsageAggregate>) -> Vec<UsageAggregate> {
    let planned: std::collections::HashSet<(chrono::NaiveDate, &str)> =
        partitions.iter().map(|p| (p.day, p.party.as_str())).collect();
    rows.retain(|r| planned.contains(&(r.day, r.party.as_str())));
    rows.sort();
    rows
}

macro_rules! impl_sql_rollup {
    ($pool:ty) => {
        #[async_trait]
        impl RollupStore for SqlRollup<$pool> {
            async fn replace_partition(
                &self,
                partition: &LedgerPartition,
                rows: &[UsageAggregate],
            ) -> Result<(), StorageError> {
                self.replace_partitions(&[(partition.clone(), rows.to_vec())]).await
            }

            async fn replace_partitions(
                &self,
                partitions: &[(LedgerPartition, Vec<UsageAggregate>)],
            ) -> Result<(), StorageError> {
                let now = super::support::now_us();
                let days: Vec<String> = partitions.iter().map(|(p, _)| day_text(p.day)).collect();
                let mut tx = self.pool.begin().await?;
                for ((partition, _), day) in partitions.iter().zip(&days) {
                    sqlx::query(AGG_DELETE)
                        .bind(partition.tenant.as_str())
                        .bind(day)
                        .bind(&partition.party)
                        .execute(&mut *tx)
                        .await?;
                }
                // The rows of every partition in few statements: each statement is
                // a round trip to the connection (its own thread on SQLite).
                let rows: Vec<(&LedgerPartition, &String, &UsageAggregate)> = partitions
                    .iter()
                    .zip(&days)
                    .flat_map(|((partition, rows), day)| rows.iter().map(move |r| (partition, day, r)))
                    .collect();
                for batch in rows.chunks(AGG_ROWS_PER_INSERT) {
                    let mut insert = sqlx::QueryBuilder::new(agg_insert_head());
                    insert.push_values(batch, |mut row, (partition, day, r)| {
                        row.push_bind(partition.tenant.as_str())
                            .push_bind(day.as_str())
                            .push_bind(partition.party.as_str())
                            .push_bind(r.model.as_str())
                            .push_bind(r.deployment.as_str())
                            .push_bind(r.token_source.as_str())
                            .push_bind(r.service_tier.as_str())
                            .push_bind(r.spilled_from.as_str());
                        for sum in r.tokens.to_array() {
                            row.push_bind(to_i64(sum));
                        }
                        row.push_bind(now);
                    });
                    insert.build().persistent(batch.len() == AGG_ROWS_PER_INSERT).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn aggregates(
                &self,
                tenant: &Tenant,
                partitions: &[LedgerPartition],
            ) -> Result<Vec<UsageAggregate>, StorageError> {
                use sqlx::Row;
                let Some((first, last)) = plan_range(partitions) else { return Ok(Vec::new()) };
                let rows =
                    sqlx::query(agg_range()).bind(tenant.as_str()).bind(first).bind(last).fetch_all(&self.pool).await?;
                let rows = rows
                    .iter()
                    .map(|row| {
                        let day: String = row.try_get("day")?;
                        crate::aggregate_from_row!(row, parse_day(&day)?, row.try_get("party")?)
                    })
                    .collect::<Result<Vec<_>, StorageError>>()?;
                Ok(keep_planned(partitions, rows))
            }

            async fn replace_results(
                &self,
                tenant: &Tenant,
                period: Period,
                lines: &[ResultLine],
            ) -> Result<(), StorageError> {
                let now = super::support::now_us();
                let period = period.to_string();
                let mut tx = self.pool.begin().await?;
                sqlx::query(RESULTS_DELETE).bind(tenant.as_str()).bind(&period).execute(&mut *tx).await?;
                for (n, l) in lines.iter().enumerate() {
                    let mut insert = sqlx::query(results_insert())
                        .bind(tenant.as_str())
                        .bind(&period)
                        .bind(i64::try_from(n).unwrap_or(i64::MAX))
                        .bind(l.kind.as_str())
                        .bind(&l.business_unit)
                        .bind(&l.application)
                        .bind(&l.model)
                        .bind(&l.deployment)
                        .bind(l.currency.as_str())
                        .bind(stored_amount(l)?)
                        .bind(now)
                        .bind(&l.service_tier)
                        .bind(&l.spilled_from);
                    for sum in l.tokens.to_array() {
                        insert = insert.bind(to_i64(sum));
                    }
                    insert.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn results(&self, tenant: &Tenant, period: Period) -> Result<Vec<ResultLine>, StorageError> {
                use sqlx::Row;
                let rows = sqlx::query(results_get())
                    .bind(tenant.as_str())
                    .bind(period.to_string())
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter()
                    .map(|row| {
                        let kind: String = row.try_get("kind")?;
                        let currency = stored_currency(&row.try_get::<String, _>("currency")?)?;
                        let amount: Option<i64> = row.try_get("amount_micros")?;
                        Ok(ResultLine {
                            kind: stored_kind(&kind)?,
                            business_unit: row.try_get("business_unit")?,
                            application: row.try_get("application")?,
                            model: row.try_get("model")?,
                            deployment: row.try_get("deployment")?,
                            service_tier: row.try_get("service_tier")?,
                            spilled_from: row.try_get("spilled_from")?,
                            tokens: {
                                let mut sums = [0u64; SUM_COUNT];
                                for (sum, column) in sums.iter_mut().zip(SUMS) {
                                    *sum = to_u64(row.try_get(column.name)?);
                                }
                                TokenTotals::from_array(sums)
                            },
                            cost: amount.map(|m| Money::from_micros(m, currency.clone())),
                            currency,
                        })
                    })
                    .collect()
            }
        }
    };
}

impl_sql_rollup!(sqlx::SqlitePool);
impl_sql_rollup!(sqlx::PgPool);

/// Aggregates and results as JSON documents in a [`ReportStore`]:
/// `rollup-data/<tenant>/aggregates/<day>/<party-hex>.json` per partition and
/// `rollup-data/<tenant>/results/<period>.json`. For a ledger on Table
/// Storage without a database.
#[derive(Debug, Clone)]
pub struct DocRollup {
    store: Arc<dyn ReportStore>,
}

impl DocRollup {
    /// Documents in `store`.
    pub fn new(store: Arc<dyn ReportStore>) -> Self {
        Self { store }
    }

    fn partition_name(partition: &LedgerPartition) -> String {
        // Parties are free text; hex keeps the name a valid blob name.
        format!(
            "rollup-data/{}/aggregates/{}/{}.json",
            partition.tenant,
            day_text(partition.day),
            hex::encode(partition.party.as_bytes())
        )
    }

    fn results_name(tenant: &Tenant, period: Period) -> String {
        format!("rollup-data/{tenant}/results/{period}.json")
    }
}

/// The stored form of an aggregate row (without its partition).
#[derive(Debug, Serialize, Deserialize)]
struct DocAggregate {
    model: String,
    deployment: String,
    token_source: String,
    #[serde(default)]
    service_tier: String,
    #[serde(default)]
    spilled_from: String,
    counts: Vec<u64>,
}

/// The stored form of a result line.
#[derive(Debug, Serialize, Deserialize)]
struct DocResult {
    kind: String,
    business_unit: String,
    application: String,
    model: String,
    deployment: String,
    currency: String,
    #[serde(default)]
    service_tier: String,
    #[serde(default)]
    spilled_from: String,
    counts: Vec<u64>,
    amount_micros: Option<i64>,
}

fn document(name: &str) -> impl FnOnce(serde_json::Error) -> StorageError + '_ {
    move |source| StorageError::Document { name: name.to_owned(), source }
}

#[async_trait]
impl RollupStore for DocRollup {
    async fn replace_partition(
        &self,
        partition: &LedgerPartition,
        rows: &[UsageAggregate],
    ) -> Result<(), StorageError> {
        let docs: Vec<DocAggregate> = rows
            .iter()
            .map(|r| DocAggregate {
                model: r.model.clone(),
                deployment: r.deployment.clone(),
                token_source: r.token_source.as_str().to_owned(),
                service_tier: r.service_tier.clone(),
                spilled_from: r.spilled_from.clone(),
                counts: counts(r.tokens),
            })
            .collect();
        let name = Self::partition_name(partition);
        let body = serde_json::to_vec(&docs).map_err(document(&name))?;
        self.store.put(&name, &body, WriteCondition::Always).await?;
        Ok(())
    }

    async fn aggregates(
        &self,
        _tenant: &Tenant,
        partitions: &[LedgerPartition],
    ) -> Result<Vec<UsageAggregate>, StorageError> {
        let mut out = Vec::new();
        for p in partitions {
            let name = Self::partition_name(p);
            let Some(doc) = self.store.get(&name).await? else { continue };
            let rows: Vec<DocAggregate> = serde_json::from_slice(&doc.body).map_err(document(&name))?;
            for r in rows {
                out.push(UsageAggregate {
                    day: p.day,
                    party: p.party.clone(),
                    model: r.model,
                    deployment: r.deployment,
                    token_source: token_source(&r.token_source)?,
                    service_tier: r.service_tier,
                    spilled_from: r.spilled_from,
                    tokens: totals(&r.counts)?,
                });
            }
        }
        out.sort();
        Ok(out)
    }

    async fn replace_results(&self, tenant: &Tenant, period: Period, lines: &[ResultLine]) -> Result<(), StorageError> {
        let docs = lines
            .iter()
            .map(|l| {
                Ok(DocResult {
                    kind: l.kind.as_str().to_owned(),
                    business_unit: l.business_unit.clone(),
                    application: l.application.clone(),
                    model: l.model.clone(),
                    deployment: l.deployment.clone(),
                    currency: l.currency.as_str().to_owned(),
                    service_tier: l.service_tier.clone(),
                    spilled_from: l.spilled_from.clone(),
                    counts: counts(l.tokens),
                    amount_micros: stored_amount(l)?,
                })
            })
            .collect::<Result<Vec<DocResult>, StorageError>>()?;
        let name = Self::results_name(tenant, period);
        let body = serde_json::to_vec(&docs).map_err(document(&name))?;
        self.store.put(&name, &body, WriteCondition::Always).await?;
        Ok(())
    }

    async fn results(&self, tenant: &Tenant, period: Period) -> Result<Vec<ResultLine>, StorageError> {
        let name = Self::results_name(tenant, period);
        let Some(doc) = self.store.get(&name).await? else { return Ok(Vec::new()) };
        let docs: Vec<DocResult> = serde_json::from_slice(&doc.body).map_err(document(&name))?;
        docs.into_iter()
            .map(|d| {
                let currency = stored_currency(&d.currency)?;
                Ok(ResultLine {
                    kind: stored_kind(&d.kind)?,
                    business_unit: d.business_unit,
                    application: d.application,
                    model: d.model,
                    deployment: d.deployment,
                    service_tier: d.service_tier,
                    spilled_from: d.spilled_from,
                    tokens: totals(&d.counts)?,
                    cost: d.amount_micros.map(|m| Money::from_micros(m, currency.clone())),
                    currency,
                })
            })
            .collect()
    }
}
