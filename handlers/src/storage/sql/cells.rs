//! Usage cells: the ledger's running totals per tenant, UTC day, party,
//! model, deployment, token source, service tier and spilled-from deployment (requests and every token sum), kept
//! at ingest in the same transaction as the ledger rows, for the rows that
//! were actually inserted (never for duplicates).
//!
//! This module is the one place that says what a cell is: [`KEY`] lists the
//! key columns and how each is computed from a ledger row, [`SUMS`] the
//! summed columns. Every query over cells, in both SQL engines (the upsert
//! at ingest, the reads of the rollup, the usage API and the audit, the
//! rebuild from records of the migration and the repair), is generated from
//! these two lists, and [`cell_of`] computes the same key and sums in Rust
//! (the embedded ingest; the Table Storage ledger computes cells from
//! records at rollup time, `storage::aggregate_entries`). Adding a dimension
//! or a token kind is: a column in [`KEY`] or [`SUMS`], the matching field of
//! [`UsageAggregate`](crate::domain::UsageAggregate) or
//! [`TokenTotals`] (and its `to_array`/`from_array`), and
//! a migration that adds the column to `usage_cells` and rebuilds the cells
//! from the records ([`rebuild_all_sql`]).

use std::sync::LazyLock;

use crate::domain::{TokenTotals, UsageAggregate, UsageRecord};

/// A column of the `usage_cells` table and the ledger expression it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellColumn {
    /// The column's name in `usage_cells`.
    pub name: &'static str,
    /// Its value for one ledger row (an expression over `ledger`'s columns).
    pub from_ledger: &'static str,
}

/// The key columns after `tenant`, in key order.
pub const KEY: [CellColumn; 7] = [
    CellColumn { name: "day", from_ledger: "day" },
    CellColumn { name: "party", from_ledger: "party" },
    CellColumn { name: "model", from_ledger: "COALESCE(model, '')" },
    CellColumn { name: "deployment", from_ledger: "COALESCE(deployment, '')" },
    CellColumn { name: "token_source", from_ledger: "token_source" },
    CellColumn { name: "service_tier", from_ledger: "COALESCE(service_tier, '')" },
    CellColumn { name: "spilled_from", from_ledger: "COALESCE(spilled_from, '')" },
];

/// The summed columns, in the order of [`TokenTotals::to_array`].
pub const SUMS: [CellColumn; SUM_COUNT] = [
    CellColumn { name: "requests", from_ledger: "1" },
    CellColumn { name: "prompt_tokens", from_ledger: "prompt_tokens" },
    CellColumn { name: "completion_tokens", from_ledger: "completion_tokens" },
    CellColumn { name: "cached_tokens", from_ledger: "cached_tokens" },
    CellColumn { name: "reasoning_tokens", from_ledger: "reasoning_tokens" },
    CellColumn { name: "cache_write_tokens", from_ledger: "cache_write_tokens" },
    CellColumn { name: "audio_prompt_tokens", from_ledger: "audio_prompt_tokens" },
    CellColumn { name: "audio_completion_tokens", from_ledger: "audio_completion_tokens" },
    CellColumn { name: "accepted_prediction_tokens", from_ledger: "accepted_prediction_tokens" },
    CellColumn { name: "rejected_prediction_tokens", from_ledger: "rejected_prediction_tokens" },
];

/// How many sums a cell has: one per field of [`TokenTotals`].
pub const SUM_COUNT: usize = TokenTotals::COUNT;

/// A sum of a ledger expression that never fails, in either engine: SQLite's
/// `SUM` fails with "integer overflow" past 2^63 and PostgreSQL's numeric
/// sum fails its cast back to BIGINT, which a ledger holding rows stored
/// before the per-record maximum (two of 5·10^18 tokens) reached, making the
/// month unreadable (and this migration fail). The sum is taken in two parts,
/// `e / 2^30` and `e % 2^30`, each far below 2^63 for any number of rows;
/// put together it is exact below 2^63 and saturates at `i64::MAX` (what a
/// BIGINT cell can hold) above.
pub fn saturating_sum(expr: &str) -> String {
    format!(
        "CASE WHEN SUM({expr} / 1073741824) + SUM({expr} % 1073741824) / 1073741824 >= 8589934592 \
         THEN 9223372036854775807 ELSE CAST(SUM({expr} / 1073741824) * 1073741824 + SUM({expr} % 1073741824) AS BIGINT) END"
    )
}

/// `cell + delta` for the upsert, saturating at `i64::MAX` like
/// [`saturating_sum`], so a cell saturated by old rows cannot make the next
/// append fail (PostgreSQL: "bigint out of range") or turn into a float
/// (SQLite).
fn saturating_add(column: &str) -> String {
    format!(
        "{column} = CASE WHEN usage_cells.{column} > 9223372036854775807 - excluded.{column} \
         THEN 9223372036854775807 ELSE usage_cells.{column} + excluded.{column} END"
    )
}

/// Cells per upsert statement: 18 parameters each, under both engines' limits.
pub const CELLS_PER_STATEMENT: usize = 1_000;

fn names(columns: &[CellColumn]) -> String {
    columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
}

/// `requests, prompt_tokens, …`: the summed columns, in
/// [`TokenTotals::to_array`] order (the ledger's rollup tables share them).
pub fn sum_columns() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| names(&SUMS));
    &SQL
}

/// `tenant, day, party, …, reasoning_tokens`: every column, in bind order.
pub fn column_list() -> String {
    format!("tenant, {}, {}", names(&KEY), names(&SUMS))
}

/// The head of the upsert that adds deltas to cells: followed by
/// `VALUES (…), …` (bound in [`column_list`] order, see
/// `bind_cell!`) and [`upsert_tail`].
pub fn upsert_head() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| format!("INSERT INTO usage_cells ({}) ", column_list()));
    &SQL
}

/// `ON CONFLICT (key) DO UPDATE SET sum = usage_cells.sum + excluded.sum, …`
/// (saturating, [`saturating_add`]).
pub fn upsert_tail() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let sets: Vec<String> = SUMS.iter().map(|c| saturating_add(c.name)).collect();
        format!(" ON CONFLICT (tenant, {}) DO UPDATE SET {}", names(&KEY), sets.join(", "))
    });
    &SQL
}

/// The cells of one tenant's days `$2..=$3` (text days, inclusive).
pub fn select_days_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {}, {} FROM usage_cells WHERE tenant = $1 AND day >= $2 AND day <= $3",
            names(&KEY),
            names(&SUMS)
        )
    });
    &SQL
}

/// The cells computed from the ledger rows of one tenant's days `$2..=$3`:
/// what the cells must hold (the audit's reference, the repair's source).
pub fn recount_days_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("{} WHERE tenant = $1 AND day >= $2 AND day <= $3 {}", recount_head(), recount_group())
    });
    &SQL
}

/// The cells computed from the ledger rows of one tenant's days `$2..=$3`
/// whose times are in `$4..$5` (the part of a day a time range cuts).
pub fn recount_range_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{} WHERE tenant = $1 AND day >= $2 AND day <= $3 AND occurred_at_us >= $4 AND occurred_at_us < $5 {}",
            recount_head(),
            recount_group()
        )
    });
    &SQL
}

/// The deltas of just-inserted rows (`FROM inserted`, a CTE with the
/// ledger's columns), summed per cell, in key order: what the PostgreSQL
/// append upserts into the cells in the statement that inserts the rows.
pub fn deltas_of_inserted_sql() -> String {
    let keys: Vec<String> = KEY.iter().map(|c| format!("{} AS {}", c.from_ledger, c.name)).collect();
    let sums: Vec<String> = SUMS.iter().map(|c| format!("{} AS {}", saturating_sum(c.from_ledger), c.name)).collect();
    let group: Vec<&str> = KEY.iter().map(|c| c.from_ledger).collect();
    format!(
        "SELECT tenant, {} , {} FROM inserted GROUP BY tenant, {} ORDER BY tenant, {}",
        keys.join(", "),
        sums.join(", "),
        group.join(", "),
        group.join(", ")
    )
}

/// Replaces the cells of one tenant's days `$2..=$3` by their recount (run
/// after deleting them, in the same transaction).
pub fn rebuild_days_sql() -> &'static str {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("INSERT INTO usage_cells ({}) {}", column_list(), recount_days_sql()));
    &SQL
}

/// Deletes the cells of one tenant's days `$2..=$3`.
pub const DELETE_DAYS_SQL: &str = "DELETE FROM usage_cells WHERE tenant = $1 AND day >= $2 AND day <= $3";

/// The migration that last rebuilt `usage_cells` (it holds the text of
/// [`rebuild_all_sql`], checked by a test). A migration is a frozen copy:
/// once released it is never edited (the migrator refuses a database whose
/// applied migration changed), so a later change to [`KEY`] or [`SUMS`]
/// comes with a new migration that rebuilds the cells again.
pub const LATEST_CELLS_MIGRATION: &str = "0021_billing_dimensions.sql";

/// Builds every cell from the whole ledger (the migration of an existing
/// ledger to cells: the [`LATEST_CELLS_MIGRATION`] of each engine holds this
/// text, checked by a test).
pub fn rebuild_all_sql() -> String {
    format!("INSERT INTO usage_cells ({}) {} {}", column_list(), recount_head(), recount_group())
}

fn recount_head() -> String {
    let keys: Vec<String> = KEY.iter().map(|c| format!("{} AS {}", c.from_ledger, c.name)).collect();
    let sums: Vec<String> = SUMS.iter().map(|c| format!("{} AS {}", saturating_sum(c.from_ledger), c.name)).collect();
    format!("SELECT tenant, {}, {} FROM ledger", keys.join(", "), sums.join(", "))
}

fn recount_group() -> String {
    let keys: Vec<&str> = KEY.iter().map(|c| c.from_ledger).collect();
    format!("GROUP BY tenant, {}", keys.join(", "))
}

/// A record's cell: its key, and the sums of this one record ([`deltas`]
/// computes the same for many records at once).
pub fn cell_of(record: &UsageRecord) -> UsageAggregate {
    UsageAggregate {
        day: record.occurred_at.date_naive(),
        party: record.caller.chargeable_party().to_owned(),
        model: record.model.clone().unwrap_or_default(),
        deployment: record.deployment.clone().unwrap_or_default(),
        token_source: record.token_source,
        service_tier: record.service_tier.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        spilled_from: record.spilled_from.clone().unwrap_or_default(),
        tokens: TokenTotals::of_record(&record.usage),
    }
}

/// Adds records' cells up: one delta per cell key, in key order.
pub fn deltas<'a>(records: impl IntoIterator<Item = &'a UsageRecord>) -> Vec<UsageAggregate> {
    type Key<'r> = (chrono::NaiveDate, &'r str, &'r str, &'r str, crate::domain::TokenSource, &'r str, &'r str);
    let mut cells: std::collections::BTreeMap<Key<'a>, TokenTotals> = std::collections::BTreeMap::new();
    for r in records {
        let key = (
            r.occurred_at.date_naive(),
            r.caller.chargeable_party(),
            r.model.as_deref().unwrap_or(""),
            r.deployment.as_deref().unwrap_or(""),
            r.token_source,
            r.service_tier.as_ref().map_or("", |t| t.as_str()),
            r.spilled_from.as_deref().unwrap_or(""),
        );
        *cells.entry(key).or_default() += TokenTotals::of_record(&r.usage);
    }
    cells
        .into_iter()
        .map(|((day, party, model, deployment, token_source, service_tier, spilled_from), tokens)| UsageAggregate {
            day,
            party: party.to_owned(),
            model: model.to_owned(),
            deployment: deployment.to_owned(),
            token_source,
            service_tier: service_tier.to_owned(),
            spilled_from: spilled_from.to_owned(),
            tokens,
        })
        .collect()
}

/// Binds one cell's values in [`column_list`] order: `tenant`, the key, the sums.
#[macro_export]
#[doc(hidden)]
macro_rules! bind_cell {
    ($row:expr, $tenant:expr, $cell:expr) => {{
        let cell: &$crate::domain::UsageAggregate = $cell;
        let mut row = $row;
        row.push_bind($tenant)
            .push_bind($crate::storage::sql::values::day_text(cell.day))
            .push_bind(cell.party.clone())
            .push_bind(cell.model.clone())
            .push_bind(cell.deployment.clone())
            .push_bind(cell.token_source.as_str())
            .push_bind(cell.service_tier.clone())
            .push_bind(cell.spilled_from.clone());
        for sum in cell.tokens.to_array() {
            row.push_bind($crate::storage::sql::values::to_i64(sum));
        }
    }};
}

/// A cell from a row with the columns of [`KEY`] and [`SUMS`].
#[macro_export]
#[doc(hidden)]
macro_rules! cell_from_row {
    ($row:expr) => {{
        use sqlx::Row;
        let row = $row;
        let day: String = row.try_get("day")?;
        let source: String = row.try_get("token_source")?;
        let mut sums = [0u64; $crate::storage::sql::cells::SUM_COUNT];
        for (sum, column) in sums.iter_mut().zip($crate::storage::sql::cells::SUMS) {
            *sum = $crate::storage::sql::values::to_u64(row.try_get(column.name)?);
        }
        Ok::<_, $crate::storage::StorageError>($crate::domain::UsageAggregate {
            day: $crate::storage::sql::values::parse_day(&day)?,
            party: row.try_get("party")?,
            model: row.try_get("model")?,
            deployment: row.try_get("deployment")?,
            token_source: $crate::storage::sql::values::token_source(&source)?,
            service_tier: row.try_get("service_tier")?,
            spilled_from: row.try_get("spilled_from")?,
            tokens: $crate::domain::TokenTotals::from_array(sums),
        })
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn squash(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn the_migrations_build_cells_with_the_generated_rebuild() {
        for engine in ["sqlite", "postgres"] {
            let path = format!("{}/migrations/{engine}/{LATEST_CELLS_MIGRATION}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let text = squash(&text);
            assert!(text.contains(&squash(&rebuild_all_sql())), "{path} does not hold the rebuild of cells.rs");
            for c in KEY.iter().chain(&SUMS) {
                assert!(text.contains(&format!("{} ", c.name)), "{path} lacks the column {}", c.name);
            }
        }
    }

    /// The sum SQLite computes: exact up to `i64::MAX`, `i64::MAX` past it,
    /// never an "integer overflow".
    #[tokio::test]
    async fn the_saturating_sum_is_exact_below_2_pow_63_and_saturates_from_it() {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (g INTEGER, x BIGINT)").execute(&mut db).await.unwrap();
        let max = i64::MAX;
        let rows: &[(i64, i64)] = &[
            (1, max),
            (2, max - (1 << 30)),
            (2, 1 << 30),
            (3, max - (1 << 30) + 1),
            (4, 5_000_000_000_000_000_000),
            (4, 5_000_000_000_000_000_000),
            (5, max),
            (5, 1),
            (6, 7),
            (6, (1 << 30) - 1),
        ];
        for (g, x) in rows {
            sqlx::query("INSERT INTO t VALUES (?, ?)").bind(g).bind(x).execute(&mut db).await.unwrap();
        }
        let sql = format!("SELECT g, {} FROM t GROUP BY g ORDER BY g", saturating_sum("x"));
        let sums: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut db).await.unwrap();
        assert_eq!(sums, vec![(1, max), (2, max), (3, max - (1 << 30) + 1), (4, max), (5, max), (6, (1 << 30) + 6)]);
    }

    #[test]
    fn the_upsert_adds_every_sum_saturating_and_conflicts_on_the_whole_key() {
        let add = |c: &str| {
            format!(
                "{c} = CASE WHEN usage_cells.{c} > 9223372036854775807 - excluded.{c} THEN 9223372036854775807 \
                 ELSE usage_cells.{c} + excluded.{c} END"
            )
        };
        let sets: Vec<String> = SUMS.iter().map(|c| add(c.name)).collect();
        assert_eq!(
            squash(upsert_tail()),
            squash(&format!(
                " ON CONFLICT (tenant, day, party, model, deployment, token_source, service_tier, spilled_from) DO UPDATE SET {}",
                sets.join(", ")
            ))
        );
    }
}
