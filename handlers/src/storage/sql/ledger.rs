//! The ledger in SQL: one query text for SQLite and PostgreSQL.
//!
//! Both schemas (`migrations/{sqlite,postgres}/0001_ledger.sql`) have the same
//! columns; the queries use `$N` parameters, which both drivers accept.
//!
//! Token sums never overflow, whatever the rows hold: SQLite's `SUM` fails
//! with "integer overflow" past 2^63 and PostgreSQL's numeric sum fails the
//! cast back to BIGINT, so each count is summed in two parts, `col / 2^30`
//! and `col % 2^30`, each far below 2^63 for any number of rows a ledger can
//! hold, and the parts are put together exactly in Rust ([`split_sum`]).
//! Records cannot exceed the per-record maximum any more, but rows stored
//! before it existed (5·10^18 tokens) then still leave their month readable.
//! The
//! [`impl_sql_ledger!`] macro writes the same [`Ledger`](crate::storage::Ledger) body
//! for each typed pool, so the two ledgers cannot drift apart.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{RecordId, TokenSource, UsageAggregate};
use crate::storage::StorageError;

/// Rows per INSERT statement: 23 parameters each, well under both engines' limits.
pub const ROWS_PER_STATEMENT: usize = 400;

/// The INSERT head; values and the conflict clause are added per batch.
pub const INSERT_HEAD: &str = "INSERT INTO ledger (tenant, record_id, occurred_at_us, day, party, subscription_id, \
     key_fingerprint, application, user_id, deployment, model, operation, status, streamed, prompt_tokens, \
     completion_tokens, cached_tokens, reasoning_tokens, token_source, shape, backend, latency_ms, counted_with) ";

/// Makes an append idempotent.
pub const ON_CONFLICT: &str = " ON CONFLICT (tenant, record_id) DO NOTHING";

/// The partitions of a tenant's days `$2..$3`. A `SELECT DISTINCT day, party`
/// reads every index entry of the month (ten million for a large month);
/// this walks the index instead: the first day, then each next day, and per
/// day the first party, then each next party, every step one index lookup
/// (`MIN` over an index prefix). Same rows, one lookup per partition.
pub const PARTITIONS_SQL: &str = "WITH RECURSIVE \
     days(day) AS ( \
         SELECT MIN(day) FROM ledger WHERE tenant = $1 AND day >= $2 AND day < $3 \
         UNION ALL \
         SELECT (SELECT MIN(l.day) FROM ledger l WHERE l.tenant = $1 AND l.day > days.day AND l.day < $3) \
         FROM days WHERE days.day IS NOT NULL), \
     parts(day, party) AS ( \
         SELECT days.day, (SELECT MIN(l.party) FROM ledger l WHERE l.tenant = $1 AND l.day = days.day) \
         FROM days WHERE days.day IS NOT NULL \
         UNION ALL \
         SELECT parts.day, \
             (SELECT MIN(l.party) FROM ledger l WHERE l.tenant = $1 AND l.day = parts.day AND l.party > parts.party) \
         FROM parts WHERE parts.party IS NOT NULL) \
     SELECT day, party FROM parts WHERE party IS NOT NULL ORDER BY day, party";

/// The records of one partition.
pub const SCAN_SQL: &str = "SELECT record_id, occurred_at_us, model, deployment, token_source, prompt_tokens, \
     completion_tokens, cached_tokens, reasoning_tokens FROM ledger WHERE tenant = $1 AND day = $2 AND party = $3";

/// Token totals per day, party, model, deployment and token source of `$2..$3`.
pub const USAGE_CELLS_SQL: &str = "SELECT day, party, COALESCE(model, '') AS model, \
     COALESCE(deployment, '') AS deployment, token_source, CAST(COUNT(*) AS BIGINT) AS requests, \
     CAST(SUM(prompt_tokens / 1073741824) AS BIGINT) AS prompt_hi, CAST(SUM(prompt_tokens % 1073741824) AS BIGINT) AS prompt_lo, \
     CAST(SUM(completion_tokens / 1073741824) AS BIGINT) AS completion_hi, CAST(SUM(completion_tokens % 1073741824) AS BIGINT) AS completion_lo, \
     CAST(SUM(cached_tokens / 1073741824) AS BIGINT) AS cached_hi, CAST(SUM(cached_tokens % 1073741824) AS BIGINT) AS cached_lo, \
     CAST(SUM(reasoning_tokens / 1073741824) AS BIGINT) AS reasoning_hi, CAST(SUM(reasoning_tokens % 1073741824) AS BIGINT) AS reasoning_lo \
     FROM ledger WHERE tenant = $1 AND occurred_at_us >= $2 AND occurred_at_us < $3 \
     GROUP BY day, party, 3, 4, token_source";

/// Calls per deployment, UTC hour (hours since the epoch), status and latency of `$2..$3`.
pub const CAPACITY_CELLS_SQL: &str = "SELECT deployment, CAST(occurred_at_us / 3600000000 AS BIGINT) AS hour, \
     status, latency_ms, CAST(COUNT(*) AS BIGINT) AS requests, \
     CAST(SUM(prompt_tokens / 1073741824) + SUM(completion_tokens / 1073741824) AS BIGINT) AS tokens_hi, \
     CAST(SUM(prompt_tokens % 1073741824) + SUM(completion_tokens % 1073741824) AS BIGINT) AS tokens_lo \
     FROM ledger WHERE tenant = $1 AND occurred_at_us >= $2 AND occurred_at_us < $3 \
     GROUP BY 1, 2, 3, 4";

/// A stored hour (hours since the epoch) back.
pub fn from_hours(hours: i64) -> Result<DateTime<Utc>, StorageError> {
    hours
        .checked_mul(3600)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| StorageError::Corrupt(format!("hour {hours} out of range")))
}

/// A stored HTTP status back (`None` when not a status).
pub fn to_status(n: Option<i64>) -> Option<u16> {
    n.and_then(|n| u16::try_from(n).ok())
}

/// The totals of one partition per model, deployment and token source.
/// Grouped by the stored columns, in the order of the index that covers the
/// query (`ledger_partition_totals`), so the engine streams the groups
/// without a sort; a NULL and an empty model (or deployment) are then two
/// groups, which [`merge_absent`] adds up.
pub const AGGREGATE_SQL: &str = "SELECT COALESCE(model, '') AS model, COALESCE(deployment, '') AS deployment, \
     token_source, CAST(COUNT(*) AS BIGINT) AS requests, \
     CAST(SUM(prompt_tokens / 1073741824) AS BIGINT) AS prompt_hi, CAST(SUM(prompt_tokens % 1073741824) AS BIGINT) AS prompt_lo, \
     CAST(SUM(completion_tokens / 1073741824) AS BIGINT) AS completion_hi, CAST(SUM(completion_tokens % 1073741824) AS BIGINT) AS completion_lo, \
     CAST(SUM(cached_tokens / 1073741824) AS BIGINT) AS cached_hi, CAST(SUM(cached_tokens % 1073741824) AS BIGINT) AS cached_lo, \
     CAST(SUM(reasoning_tokens / 1073741824) AS BIGINT) AS reasoning_hi, CAST(SUM(reasoning_tokens % 1073741824) AS BIGINT) AS reasoning_lo \
     FROM ledger WHERE tenant = $1 AND day = $2 AND party = $3 \
     GROUP BY ledger.model, ledger.deployment, ledger.token_source";

/// [`AGGREGATE_SQL`] for several parties of one day: followed by the
/// tenant, ` AND day = `, the day, ` AND party IN (`, the parties and
/// [`AGGREGATE_MANY_TAIL`], each value bound. An IN list rather than a range
/// of parties, so that the database's collation cannot matter.
pub const AGGREGATE_MANY_HEAD: &str = "SELECT party, COALESCE(model, '') AS model, \
     COALESCE(deployment, '') AS deployment, token_source, CAST(COUNT(*) AS BIGINT) AS requests, \
     CAST(SUM(prompt_tokens / 1073741824) AS BIGINT) AS prompt_hi, CAST(SUM(prompt_tokens % 1073741824) AS BIGINT) AS prompt_lo, \
     CAST(SUM(completion_tokens / 1073741824) AS BIGINT) AS completion_hi, CAST(SUM(completion_tokens % 1073741824) AS BIGINT) AS completion_lo, \
     CAST(SUM(cached_tokens / 1073741824) AS BIGINT) AS cached_hi, CAST(SUM(cached_tokens % 1073741824) AS BIGINT) AS cached_lo, \
     CAST(SUM(reasoning_tokens / 1073741824) AS BIGINT) AS reasoning_hi, CAST(SUM(reasoning_tokens % 1073741824) AS BIGINT) AS reasoning_lo \
     FROM ledger WHERE tenant = ";

/// The end of [`AGGREGATE_MANY_HEAD`].
pub const AGGREGATE_MANY_TAIL: &str = ") GROUP BY ledger.party, ledger.model, ledger.deployment, ledger.token_source";

/// Parties per [`AGGREGATE_MANY_HEAD`] query at most.
pub const PARTIES_PER_AGGREGATE: usize = 500;

/// Sorts one partition's aggregates (byte order, whatever the database
/// collation) and adds up rows with the same key: the groups of an absent
/// and of an empty model or deployment, both stored as ''.
pub fn merge_absent(mut rows: Vec<UsageAggregate>) -> Vec<UsageAggregate> {
    rows.sort();
    let mut out: Vec<UsageAggregate> = Vec::with_capacity(rows.len());
    for row in rows {
        match out.last_mut() {
            Some(last)
                if (&last.day, &last.party, &last.model, &last.deployment, last.token_source)
                    == (&row.day, &row.party, &row.model, &row.deployment, row.token_source) =>
            {
                last.tokens += row.tokens;
            }
            _ => out.push(row),
        }
    }
    out
}

/// The stored form of a day.
pub fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Parses a stored day.
pub fn parse_day(text: &str) -> Result<NaiveDate, StorageError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| StorageError::Corrupt(format!("day {text:?}: {e}")))
}

/// A count as stored (counts are far below 2^63; saturate rather than wrap).
pub fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count back (never negative: the schema checks it).
pub fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The two parts of a split sum: `SUM(col / 2^30)` and `SUM(col % 2^30)`.
const SPLIT: u128 = 1 << 30;

/// A sum from its two parts, exact; a total past 2^64 (only rows stored
/// before the per-record maximum could reach it) saturates rather than
/// failing the query.
pub fn split_sum(high: i64, low: i64) -> u64 {
    let high = u128::try_from(high).unwrap_or(0);
    let low = u128::try_from(low).unwrap_or(0);
    u64::try_from(high * SPLIT + low).unwrap_or(u64::MAX)
}

/// Record ids per `known_ids` query.
pub const IDS_PER_QUERY: usize = 500;

/// A stored token source back.
pub fn token_source(raw: &str) -> Result<TokenSource, StorageError> {
    TokenSource::parse(raw).ok_or_else(|| StorageError::Corrupt(format!("unknown token source {raw:?} in ledger")))
}

/// A stored time back.
pub fn from_micros(us: i64) -> Result<DateTime<Utc>, StorageError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StorageError::Corrupt(format!("time {us} out of range")))
}

/// A stored id back.
pub fn record_id(raw: &str) -> Result<RecordId, StorageError> {
    RecordId::parse(raw).map_err(|e| StorageError::Corrupt(format!("record id {raw:?}: {e}")))
}

/// A [`UsageAggregate`](crate::domain::UsageAggregate) from a row with the
/// columns `model`, `deployment`, `token_source`, `requests` and the split
/// sums `prompt_hi`/`prompt_lo`, `completion_…`, `cached_…`, `reasoning_…`
/// (of [`AGGREGATE_SQL`] and [`USAGE_CELLS_SQL`]), and the given day and party.
#[macro_export]
#[doc(hidden)]
macro_rules! aggregate_from_row {
    ($row:expr, $day:expr, $party:expr) => {{
        use sqlx::Row;
        let row = $row;
        let source: String = row.try_get("token_source")?;
        Ok::<_, $crate::storage::StorageError>($crate::domain::UsageAggregate {
            day: $day,
            party: $party,
            model: row.try_get("model")?,
            deployment: row.try_get("deployment")?,
            token_source: $crate::storage::sql::ledger::token_source(&source)?,
            tokens: $crate::domain::TokenTotals {
                requests: $crate::storage::sql::ledger::to_u64(row.try_get("requests")?),
                prompt: $crate::storage::sql::ledger::split_sum(row.try_get("prompt_hi")?, row.try_get("prompt_lo")?),
                completion: $crate::storage::sql::ledger::split_sum(
                    row.try_get("completion_hi")?,
                    row.try_get("completion_lo")?,
                ),
                cached: $crate::storage::sql::ledger::split_sum(row.try_get("cached_hi")?, row.try_get("cached_lo")?),
                reasoning: $crate::storage::sql::ledger::split_sum(
                    row.try_get("reasoning_hi")?,
                    row.try_get("reasoning_lo")?,
                ),
            },
        })
    }};
}

/// Writes `impl Ledger for $ty` (which has a `pool` field of a typed sqlx
/// pool) with the shared query text.
#[macro_export]
#[doc(hidden)]
macro_rules! impl_sql_ledger {
    ($ty:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::Ledger for $ty {
            async fn append(
                &self,
                records: &[$crate::domain::UsageRecord],
            ) -> Result<$crate::storage::AppendOutcome, $crate::storage::StorageError> {
                use $crate::storage::sql::ledger::{INSERT_HEAD, ON_CONFLICT, ROWS_PER_STATEMENT, to_i64};
                let mut tx = self.pool.begin().await?;
                let mut inserted = 0;
                for chunk in records.chunks(ROWS_PER_STATEMENT) {
                    let mut insert: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(INSERT_HEAD);
                    insert.push_values(chunk, |mut row, r| {
                        row.push_bind(r.tenant.as_str().to_owned())
                            .push_bind(r.id.as_str().to_owned())
                            .push_bind(r.occurred_at.timestamp_micros())
                            .push_bind(r.occurred_at.format("%Y-%m-%d").to_string())
                            .push_bind(r.caller.chargeable_party().to_owned())
                            .push_bind(r.caller.subscription_id.clone())
                            .push_bind(r.caller.key_fingerprint.as_ref().map(|f| f.as_str().to_owned()))
                            .push_bind(r.caller.application.clone())
                            .push_bind(r.caller.user.clone())
                            .push_bind(r.deployment.clone())
                            .push_bind(r.model.clone())
                            .push_bind(r.operation.clone())
                            .push_bind(r.status.map(i64::from))
                            .push_bind(r.streamed)
                            .push_bind(to_i64(r.usage.prompt()))
                            .push_bind(to_i64(r.usage.completion()))
                            .push_bind(to_i64(r.usage.cached()))
                            .push_bind(to_i64(r.usage.reasoning()))
                            .push_bind(r.token_source.as_str())
                            .push_bind(r.shape.as_str())
                            .push_bind(r.backend.clone())
                            .push_bind(r.latency_ms.map(to_i64))
                            .push_bind(r.counted_with.as_ref().map(|c| c.to_stored()));
                    });
                    insert.push(ON_CONFLICT);
                    inserted += insert.build().execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                let received = u64::try_from(records.len()).unwrap_or(u64::MAX);
                Ok($crate::storage::AppendOutcome { inserted, duplicates: received - inserted })
            }

            async fn health(&self) -> Result<(), $crate::storage::StorageError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn known_ids(
                &self,
                tenant: &$crate::domain::Tenant,
                ids: &[$crate::domain::RecordId],
            ) -> Result<std::collections::HashSet<$crate::domain::RecordId>, $crate::storage::StorageError> {
                use sqlx::Row;
                use $crate::storage::sql::ledger::{IDS_PER_QUERY, record_id};
                let mut known = std::collections::HashSet::new();
                for chunk in ids.chunks(IDS_PER_QUERY) {
                    let mut query: sqlx::QueryBuilder<$db> =
                        sqlx::QueryBuilder::new("SELECT record_id FROM ledger WHERE tenant = ");
                    query.push_bind(tenant.as_str()).push(" AND record_id IN (");
                    let mut each = query.separated(", ");
                    for id in chunk {
                        each.push_bind(id.as_str());
                    }
                    query.push(")");
                    for row in query.build().fetch_all(&self.pool).await? {
                        let id: String = row.try_get("record_id")?;
                        known.insert(record_id(&id)?);
                    }
                }
                Ok(known)
            }

            async fn partitions(
                &self,
                tenant: &$crate::domain::Tenant,
                from: chrono::NaiveDate,
                to: chrono::NaiveDate,
            ) -> Result<Vec<$crate::storage::LedgerPartition>, $crate::storage::StorageError> {
                use sqlx::Row;
                use $crate::storage::sql::ledger::{PARTITIONS_SQL, day_text, parse_day};
                let rows = sqlx::query(PARTITIONS_SQL)
                    .bind(tenant.as_str())
                    .bind(day_text(from))
                    .bind(day_text(to))
                    .fetch_all(&self.pool)
                    .await?;
                let mut partitions = rows
                    .into_iter()
                    .map(|row| {
                        let day: String = row.try_get("day")?;
                        Ok($crate::storage::LedgerPartition {
                            tenant: tenant.clone(),
                            day: parse_day(&day)?,
                            party: row.try_get("party")?,
                        })
                    })
                    .collect::<Result<Vec<_>, $crate::storage::StorageError>>()?;
                // Byte order whatever the database collation.
                partitions.sort();
                Ok(partitions)
            }

            async fn scan(
                &self,
                partition: &$crate::storage::LedgerPartition,
            ) -> Result<Vec<$crate::storage::LedgerEntry>, $crate::storage::StorageError> {
                use sqlx::Row;
                use $crate::storage::sql::ledger::{SCAN_SQL, day_text, from_micros, record_id, to_u64, token_source};
                let rows = sqlx::query(SCAN_SQL)
                    .bind(partition.tenant.as_str())
                    .bind(day_text(partition.day))
                    .bind(partition.party.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                let mut entries = rows
                    .into_iter()
                    .map(|row| {
                        let id: String = row.try_get("record_id")?;
                        let source: String = row.try_get("token_source")?;
                        Ok($crate::storage::LedgerEntry {
                            id: record_id(&id)?,
                            occurred_at: from_micros(row.try_get("occurred_at_us")?)?,
                            model: row.try_get("model")?,
                            deployment: row.try_get("deployment")?,
                            token_source: token_source(&source)?,
                            tokens: $crate::domain::TokenTotals {
                                requests: 1,
                                prompt: to_u64(row.try_get("prompt_tokens")?),
                                completion: to_u64(row.try_get("completion_tokens")?),
                                cached: to_u64(row.try_get("cached_tokens")?),
                                reasoning: to_u64(row.try_get("reasoning_tokens")?),
                            },
                        })
                    })
                    .collect::<Result<Vec<_>, $crate::storage::StorageError>>()?;
                entries.sort_by(|a, b| a.id.cmp(&b.id));
                Ok(entries)
            }

            async fn usage_cells(
                &self,
                range: &$crate::storage::LedgerRange,
            ) -> Result<Vec<$crate::domain::UsageAggregate>, $crate::storage::StorageError> {
                use sqlx::Row;
                use $crate::storage::sql::ledger::{USAGE_CELLS_SQL, parse_day};
                let rows = sqlx::query(USAGE_CELLS_SQL)
                    .bind(range.tenant.as_str())
                    .bind(range.from.timestamp_micros())
                    .bind(range.to.timestamp_micros())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let day: String = row.try_get("day")?;
                        $crate::aggregate_from_row!(row, parse_day(&day)?, row.try_get("party")?)
                    })
                    .collect()
            }

            async fn capacity_cells(
                &self,
                range: &$crate::storage::LedgerRange,
            ) -> Result<Vec<$crate::storage::CapacityCell>, $crate::storage::StorageError> {
                use sqlx::Row;
                use $crate::storage::sql::ledger::{CAPACITY_CELLS_SQL, from_hours, split_sum, to_status, to_u64};
                let rows = sqlx::query(CAPACITY_CELLS_SQL)
                    .bind(range.tenant.as_str())
                    .bind(range.from.timestamp_micros())
                    .bind(range.to.timestamp_micros())
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter()
                    .map(|row| {
                        let latency: Option<i64> = row.try_get("latency_ms")?;
                        Ok($crate::storage::CapacityCell {
                            deployment: row.try_get("deployment")?,
                            hour: from_hours(row.try_get("hour")?)?,
                            status: to_status(row.try_get("status")?),
                            latency_ms: latency.map(to_u64),
                            requests: to_u64(row.try_get("requests")?),
                            tokens: split_sum(row.try_get("tokens_hi")?, row.try_get("tokens_lo")?),
                        })
                    })
                    .collect()
            }

            async fn aggregate(
                &self,
                partition: &$crate::storage::LedgerPartition,
            ) -> Result<Vec<$crate::domain::UsageAggregate>, $crate::storage::StorageError> {
                use $crate::storage::sql::ledger::{AGGREGATE_SQL, day_text};
                let rows = sqlx::query(AGGREGATE_SQL)
                    .bind(partition.tenant.as_str())
                    .bind(day_text(partition.day))
                    .bind(partition.party.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                let out = rows
                    .iter()
                    .map(|row| $crate::aggregate_from_row!(row, partition.day, partition.party.clone()))
                    .collect::<Result<Vec<_>, $crate::storage::StorageError>>()?;
                Ok($crate::storage::sql::ledger::merge_absent(out))
            }

            async fn aggregate_each(
                &self,
                partitions: &[$crate::storage::LedgerPartition],
            ) -> Vec<Result<Vec<$crate::domain::UsageAggregate>, $crate::storage::StorageError>> {
                use sqlx::Row;
                use $crate::storage::sql::ledger::{
                    AGGREGATE_MANY_HEAD, AGGREGATE_MANY_TAIL, PARTIES_PER_AGGREGATE, day_text, merge_absent,
                };
                let mut out = Vec::with_capacity(partitions.len());
                // Runs of one tenant's day: one query each (a round trip per
                // partition cost more than the partition's own rows).
                let mut rest = partitions;
                while let Some(first) = rest.first() {
                    let run = rest
                        .iter()
                        .take(PARTIES_PER_AGGREGATE)
                        .take_while(|p| p.tenant == first.tenant && p.day == first.day)
                        .count();
                    let (day, tail) = rest.split_at(run);
                    let query = async {
                        let mut query: sqlx::QueryBuilder<$db> = sqlx::QueryBuilder::new(AGGREGATE_MANY_HEAD);
                        query.push_bind(first.tenant.as_str()).push(" AND day = ").push_bind(day_text(first.day));
                        query.push(" AND party IN (");
                        let mut parties = query.separated(", ");
                        for p in day {
                            parties.push_bind(p.party.as_str());
                        }
                        query.push(AGGREGATE_MANY_TAIL);
                        let rows = query.build().fetch_all(&self.pool).await?;
                        let mut by_party: std::collections::HashMap<String, Vec<$crate::domain::UsageAggregate>> =
                            std::collections::HashMap::new();
                        for row in &rows {
                            let party: String = row.try_get("party")?;
                            let aggregate = $crate::aggregate_from_row!(row, first.day, party.clone())?;
                            by_party.entry(party).or_default().push(aggregate);
                        }
                        Ok::<Vec<Vec<$crate::domain::UsageAggregate>>, $crate::storage::StorageError>(
                            day.iter()
                                .map(|p| merge_absent(by_party.get(&p.party).cloned().unwrap_or_default()))
                                .collect(),
                        )
                    };
                    match query.await {
                        Ok(each) => out.extend(each.into_iter().map(Ok)),
                        Err(e) => {
                            let shared = std::sync::Arc::new(e);
                            out.extend(day.iter().map(|_| Err($crate::storage::StorageError::Batch(shared.clone()))));
                        }
                    }
                    rest = tail;
                }
                out
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TokenTotals;

    fn row(model: &str, source: TokenSource, requests: u64) -> UsageAggregate {
        UsageAggregate {
            day: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            party: "p".into(),
            model: model.into(),
            deployment: String::new(),
            token_source: source,
            tokens: TokenTotals { requests, prompt: requests * 10, completion: requests, cached: 0, reasoning: 0 },
        }
    }

    #[test]
    fn a_split_sum_is_exact_and_saturates_past_two_to_the_64() {
        let parts = |values: &[u64]| {
            let high: i64 = values.iter().map(|v| i64::try_from(v / (1 << 30)).unwrap()).sum();
            let low: i64 = values.iter().map(|v| i64::try_from(v % (1 << 30)).unwrap()).sum();
            (high, low)
        };
        for values in [vec![0], vec![1, 2, 3], vec![5_000_000_000_000_000_000, 5_000_000_000_000_000_000, 7]] {
            let (high, low) = parts(&values);
            assert_eq!(split_sum(high, low), values.iter().sum::<u64>());
        }
        let (high, low) = parts(&[i64::MAX as u64, i64::MAX as u64, i64::MAX as u64]);
        assert_eq!(split_sum(high, low), u64::MAX);
    }

    #[test]
    fn merging_adds_up_the_groups_of_an_absent_and_an_empty_model_and_sorts() {
        let merged = merge_absent(vec![
            row("m", TokenSource::Reported, 1),
            row("", TokenSource::Reported, 2),
            row("", TokenSource::Estimated, 4),
            row("", TokenSource::Reported, 3),
        ]);
        let summary: Vec<(&str, TokenSource, u64, u64)> =
            merged.iter().map(|r| (r.model.as_str(), r.token_source, r.tokens.requests, r.tokens.prompt)).collect();
        let mut expected = vec![
            ("", TokenSource::Reported, 5, 50),
            ("", TokenSource::Estimated, 4, 40),
            ("m", TokenSource::Reported, 1, 10),
        ];
        expected.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        assert_eq!(summary, expected);
    }
}
