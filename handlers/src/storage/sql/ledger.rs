//! The ledger in SQL: one query text for SQLite and PostgreSQL.
//!
//! Both schemas (`migrations/{sqlite,postgres}/`) have the same columns; the
//! queries use `$N` parameters, which both drivers accept.
//!
//! Token sums over records never overflow, whatever the rows hold: SQLite's
//! `SUM` fails with "integer overflow" past 2^63 and PostgreSQL's numeric
//! sum fails the cast back to BIGINT, so each count is summed in two parts,
//! `col / 2^30` and `col % 2^30`, each far below 2^63 for any number of rows
//! a ledger can hold, and the parts are put together exactly in Rust
//! ([`split_sum`]); the cells' sums saturate instead ([`super::cells`]).
//! Records cannot exceed the per-record maximum any more, but rows stored
//! before it existed (5·10^18 tokens) then still leave their month readable.
//! The [`impl_sql_ledger!`]
//! macro writes the same [`Ledger`](crate::storage::Ledger) reads for each typed
//! pool, so the two ledgers cannot drift apart; each engine has its own
//! append (`sqlite.rs`: identity by day with a filter; `postgres.rs`: claims
//! then rows, one statement), and both add the inserted rows to the usage
//! cells ([`super::cells`]) in the same transaction.
//!
//! Reads of whole days come from the cells; only the part of a day that a
//! time range cuts, and the capacity figures (hours, statuses, latencies),
//! read records. Every query on records names its days as well as its
//! times, so it goes through the (tenant, day) prefix of the ledger's index
//! and, on PostgreSQL, only the month partitions it needs.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Ledger rows per INSERT statement: 30 parameters each, under SQLite's 32,766.
pub const ROWS_PER_STATEMENT: usize = 1_000;

/// The ledger's columns, in insert order.
pub const LEDGER_COLUMNS: &str = "tenant, record_id, occurred_at_us, day, party, subscription_id, key_fingerprint, \
     application, user_id, deployment, model, operation, status, streamed, prompt_tokens, completion_tokens, \
     cached_tokens, reasoning_tokens, token_source, shape, backend, latency_ms, counted_with, cache_write_tokens, \
     audio_prompt_tokens, audio_completion_tokens, accepted_prediction_tokens, rejected_prediction_tokens, \
     service_tier, spilled_from";

/// The partitions of a tenant's days `$2..$3` (half-open), from the cells.
pub const PARTITIONS_SQL: &str =
    "SELECT DISTINCT day, party FROM usage_cells WHERE tenant = $1 AND day >= $2 AND day < $3";

/// The records of one partition.
pub const SCAN_SQL: &str = "SELECT record_id, occurred_at_us, model, deployment, token_source, prompt_tokens, \
     completion_tokens, cached_tokens, reasoning_tokens, cache_write_tokens, audio_prompt_tokens, \
     audio_completion_tokens, accepted_prediction_tokens, rejected_prediction_tokens, \
     COALESCE(service_tier, '') AS service_tier, COALESCE(spilled_from, '') AS spilled_from \
     FROM ledger WHERE tenant = $1 AND day = $2 AND party = $3";

/// Calls per deployment, UTC hour (hours since the epoch), status and
/// latency of the times `$2..$3`, which lie in the days `$4..=$5`.
pub const CAPACITY_CELLS_SQL: &str = "SELECT deployment, CAST(occurred_at_us / 3600000000 AS BIGINT) AS hour, \
     status, latency_ms, CAST(COUNT(*) AS BIGINT) AS requests, \
     CAST(SUM(prompt_tokens / 1073741824) + SUM(completion_tokens / 1073741824) AS BIGINT) AS tokens_hi, \
     CAST(SUM(prompt_tokens % 1073741824) + SUM(completion_tokens % 1073741824) AS BIGINT) AS tokens_lo \
     FROM ledger WHERE tenant = $1 AND day >= $4 AND day <= $5 AND occurred_at_us >= $2 AND occurred_at_us < $3 \
     GROUP BY 1, 2, 3, 4";

/// A half-open time range as the days it covers whole and the parts of
/// days it cuts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySplit {
    /// The first and last day covered whole, if any.
    pub whole: Option<(NaiveDate, NaiveDate)>,
    /// Days covered in part: the day and the times of it that are in range.
    pub partial: Vec<(NaiveDate, DateTime<Utc>, DateTime<Utc>)>,
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Splits `from..to` into whole days (read from cells) and cut days (read from records).
pub fn split_days(from: DateTime<Utc>, to: DateTime<Utc>) -> DaySplit {
    let mut split = DaySplit { whole: None, partial: Vec::new() };
    if to <= from {
        return split;
    }
    let first = from.date_naive();
    let last = (to - Duration::microseconds(1)).date_naive();
    let whole_first = if day_start(first) == from { first } else { first.succ_opt().unwrap_or(first) };
    let next_after_last = last.succ_opt().unwrap_or(last);
    let whole_last = if day_start(next_after_last) == to { last } else { last.pred_opt().unwrap_or(last) };
    if whole_first <= whole_last {
        split.whole = Some((whole_first, whole_last));
        if whole_first != first {
            split.partial.push((first, from, day_start(whole_first)));
        }
        if whole_last != last {
            split.partial.push((last, day_start(last), to));
        }
    } else if first == last {
        split.partial.push((first, from, to));
    } else {
        // Two cut days and nothing whole between them.
        split.partial.push((first, from, day_start(last)));
        split.partial.push((last, day_start(last), to));
    }
    split
}

pub use super::values::{
    day_text, from_hours, from_micros, parse_day, record_id, split_sum, to_i64, to_status, to_u64, token_source,
};

/// Record ids per `known_ids` query.
pub const IDS_PER_QUERY: usize = 500;

/// A [`UsageAggregate`](crate::domain::UsageAggregate) from a row with the
/// columns `model`, `deployment`, `token_source`, `service_tier`,
/// `spilled_from` and the sums named as [`super::cells::SUMS`] (the rollup's
/// `usage_aggregates`), and the given day and party.
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
            service_tier: row.try_get("service_tier")?,
            spilled_from: row.try_get("spilled_from")?,
            tokens: {
                let mut sums = [0u64; $crate::storage::sql::cells::SUM_COUNT];
                for (sum, column) in sums.iter_mut().zip($crate::storage::sql::cells::SUMS) {
                    *sum = $crate::storage::sql::ledger::to_u64(row.try_get(column.name)?);
                }
                $crate::domain::TokenTotals::from_array(sums)
            },
        })
    }};
}

/// Writes `impl Ledger for $ty` (which has a `pool` field of a typed sqlx
/// pool and an inherent `append_records`) with the shared query text.
/// `snapshot` begins a read-only transaction that sees one state of the
/// ledger; `exclusive` begins a transaction no append can interleave with.
#[macro_export]
#[doc(hidden)]
macro_rules! impl_sql_ledger {
    ($ty:ty, $db:ty, snapshot = $snapshot:expr, exclusive = [$($exclusive:expr),+]) => {
        #[async_trait::async_trait]
        impl $crate::storage::Ledger for $ty {
            async fn append(
                &self,
                records: &[$crate::domain::UsageRecord],
            ) -> Result<$crate::storage::AppendOutcome, $crate::storage::StorageError> {
                self.append_records(records).await
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
                            service_tier: row.try_get("service_tier")?,
                            spilled_from: row.try_get("spilled_from")?,
                            tokens: {
                                let mut sums = [0u64; $crate::storage::sql::cells::SUM_COUNT];
                                sums[0] = 1;
                                for (sum, column) in
                                    sums.iter_mut().zip($crate::storage::sql::cells::SUMS).skip(1)
                                {
                                    *sum = to_u64(row.try_get(column.name)?);
                                }
                                $crate::domain::TokenTotals::from_array(sums)
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
                use $crate::storage::sql::cells::{recount_range_sql, select_days_sql};
                use $crate::storage::sql::ledger::{day_text, split_days};
                let split = split_days(range.from, range.to);
                let mut out = Vec::new();
                if let Some((first, last)) = split.whole {
                    let rows = sqlx::query(select_days_sql())
                        .bind(range.tenant.as_str())
                        .bind(day_text(first))
                        .bind(day_text(last))
                        .fetch_all(&self.pool)
                        .await?;
                    for row in &rows {
                        out.push($crate::cell_from_row!(row)?);
                    }
                }
                for (day, from, to) in split.partial {
                    let rows = sqlx::query(recount_range_sql())
                        .bind(range.tenant.as_str())
                        .bind(day_text(day))
                        .bind(day_text(day))
                        .bind(from.timestamp_micros())
                        .bind(to.timestamp_micros())
                        .fetch_all(&self.pool)
                        .await?;
                    for row in &rows {
                        out.push($crate::cell_from_row!(row)?);
                    }
                }
                out.sort();
                Ok(out)
            }

            async fn capacity_cells(
                &self,
                range: &$crate::storage::LedgerRange,
            ) -> Result<Vec<$crate::storage::CapacityCell>, $crate::storage::StorageError> {
                use sqlx::Row;
                use $crate::storage::sql::ledger::{CAPACITY_CELLS_SQL, day_text, from_hours, split_sum, to_status, to_u64};
                if range.to <= range.from {
                    return Ok(Vec::new());
                }
                let last = (range.to - chrono::Duration::microseconds(1)).date_naive();
                let rows = sqlx::query(CAPACITY_CELLS_SQL)
                    .bind(range.tenant.as_str())
                    .bind(range.from.timestamp_micros())
                    .bind(range.to.timestamp_micros())
                    .bind(day_text(range.from.date_naive()))
                    .bind(day_text(last))
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
                self.aggregate_each(std::slice::from_ref(partition)).await.pop().unwrap_or_else(|| Ok(Vec::new()))
            }

            async fn aggregate_each(
                &self,
                partitions: &[$crate::storage::LedgerPartition],
            ) -> Vec<Result<Vec<$crate::domain::UsageAggregate>, $crate::storage::StorageError>> {
                use $crate::storage::sql::cells::select_days_sql;
                use $crate::storage::sql::ledger::day_text;
                // The cells of the batch's days, one query per tenant: a chunk
                // costs what its partition's cells cost, not its records.
                let mut out: Vec<Result<Vec<$crate::domain::UsageAggregate>, $crate::storage::StorageError>> =
                    Vec::with_capacity(partitions.len());
                let mut by_partition: std::collections::HashMap<
                    ($crate::domain::Tenant, chrono::NaiveDate, String),
                    Vec<$crate::domain::UsageAggregate>,
                > = std::collections::HashMap::new();
                let mut failed: std::collections::HashMap<
                    $crate::domain::Tenant,
                    std::sync::Arc<$crate::storage::StorageError>,
                > = std::collections::HashMap::new();
                let tenants: std::collections::BTreeSet<&$crate::domain::Tenant> =
                    partitions.iter().map(|p| &p.tenant).collect();
                for tenant in tenants {
                    let days = partitions.iter().filter(|p| &p.tenant == tenant).map(|p| p.day);
                    let (Some(first), Some(last)) = (days.clone().min(), days.max()) else { continue };
                    let read = async {
                        let rows = sqlx::query(select_days_sql())
                            .bind(tenant.as_str())
                            .bind(day_text(first))
                            .bind(day_text(last))
                            .fetch_all(&self.pool)
                            .await?;
                        let mut cells = Vec::with_capacity(rows.len());
                        for row in &rows {
                            cells.push($crate::cell_from_row!(row)?);
                        }
                        Ok::<_, $crate::storage::StorageError>(cells)
                    };
                    match read.await {
                        Ok(cells) => {
                            for cell in cells {
                                by_partition.entry((tenant.clone(), cell.day, cell.party.clone())).or_default().push(cell);
                            }
                        }
                        Err(e) => {
                            failed.insert(tenant.clone(), std::sync::Arc::new(e));
                        }
                    }
                }
                for p in partitions {
                    if let Some(shared) = failed.get(&p.tenant) {
                        out.push(Err($crate::storage::StorageError::Batch(shared.clone())));
                        continue;
                    }
                    let mut cells = by_partition.get(&(p.tenant.clone(), p.day, p.party.clone())).cloned().unwrap_or_default();
                    cells.sort();
                    out.push(Ok(cells));
                }
                out
            }

            async fn check_cells(
                &self,
                tenant: &$crate::domain::Tenant,
                first: chrono::NaiveDate,
                last: chrono::NaiveDate,
            ) -> Result<Option<$crate::storage::CellCheck>, $crate::storage::StorageError> {
                use $crate::storage::sql::cells::{recount_days_sql, select_days_sql};
                use $crate::storage::sql::ledger::day_text;
                // Both reads in one snapshot, so appends meanwhile cannot look like differences.
                let mut tx = self.pool.begin_with($snapshot).await?;
                let read = |sql: &'static str| {
                    sqlx::query(sql).bind(tenant.as_str()).bind(day_text(first)).bind(day_text(last))
                };
                let stored_rows = read(select_days_sql()).fetch_all(&mut *tx).await?;
                let recounted_rows = read(recount_days_sql()).fetch_all(&mut *tx).await?;
                tx.commit().await?;
                let mut stored = Vec::with_capacity(stored_rows.len());
                for row in &stored_rows {
                    stored.push($crate::cell_from_row!(row)?);
                }
                let mut recounted = Vec::with_capacity(recounted_rows.len());
                for row in &recounted_rows {
                    recounted.push($crate::cell_from_row!(row)?);
                }
                stored.sort();
                recounted.sort();
                Ok(Some($crate::storage::CellCheck { stored, recounted }))
            }

            async fn rebuild_cells(
                &self,
                tenant: &$crate::domain::Tenant,
                first: chrono::NaiveDate,
                last: chrono::NaiveDate,
            ) -> Result<bool, $crate::storage::StorageError> {
                use $crate::storage::sql::cells::{DELETE_DAYS_SQL, rebuild_days_sql};
                use $crate::storage::sql::ledger::day_text;
                let statements: &[&'static str] = &[$($exclusive),+];
                let mut tx = self.pool.begin_with(statements[0]).await?;
                for extra in &statements[1..] {
                    sqlx::query(*extra).execute(&mut *tx).await?;
                }
                for sql in [DELETE_DAYS_SQL, rebuild_days_sql()] {
                    sqlx::query(sql)
                        .bind(tenant.as_str())
                        .bind(day_text(first))
                        .bind(day_text(last))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn sync(&self) -> Result<(), $crate::storage::StorageError> {
                self.sync_ledger().await
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, d, h, 0, 0).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 10, d).unwrap()
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
    fn days_are_written_as_the_formatter_writes_them() {
        for (y, m, d) in [(2026, 10, 1), (2026, 12, 31), (999, 1, 9), (9999, 12, 31), (10000, 1, 1), (-1, 3, 4)] {
            let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(day_text(day), day.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn a_range_splits_into_whole_days_and_the_parts_of_days_it_cuts() {
        assert_eq!(split_days(at(1, 0), at(3, 0)), DaySplit { whole: Some((day(1), day(2))), partial: vec![] });
        assert_eq!(
            split_days(at(1, 6), at(3, 12)),
            DaySplit {
                whole: Some((day(2), day(2))),
                partial: vec![(day(1), at(1, 6), at(2, 0)), (day(3), at(3, 0), at(3, 12))]
            }
        );
        assert_eq!(
            split_days(at(1, 6), at(1, 12)),
            DaySplit { whole: None, partial: vec![(day(1), at(1, 6), at(1, 12))] }
        );
        assert_eq!(
            split_days(at(1, 6), at(2, 12)),
            DaySplit { whole: None, partial: vec![(day(1), at(1, 6), at(2, 0)), (day(2), at(2, 0), at(2, 12))] }
        );
        assert_eq!(
            split_days(at(1, 6), at(2, 0)),
            DaySplit { whole: None, partial: vec![(day(1), at(1, 6), at(2, 0))] }
        );
        assert_eq!(split_days(at(2, 0), at(2, 0)), DaySplit { whole: None, partial: vec![] });
    }
}
