//! The embedded ledger: SQLite through sqlx, in one file under the data
//! directory. Used when no Azure settings are given. Its reads are shared
//! with the PostgreSQL ledger ([`crate::storage::sql::ledger`]); its append
//! is its own.
//!
//! **An append** (one write transaction, `BEGIN IMMEDIATE`): the identity
//! filter ([`super::identity`]) first takes in the ids of rows appended
//! since this process last looked (by any process: rows after its rowid
//! watermark); the records' identities are checked against it; those it
//! may have seen are looked up on their own day, then on the tenant's other
//! days; the new ones are inserted with multi-row statements (the unique
//! index on (tenant, day, record_id) backs the check), their days noted in
//! `ledger_days` and their sums added to the usage cells, all committed
//! together; so a crash at any point leaves the ledger and its cells
//! agreeing, and a retry counts nothing twice. The filter is a cache of
//! the ledger's ids, rebuilt from its last stored snapshot plus the rows
//! after the snapshot's watermark whenever this process is unsure of it.
//!
//! **Durability.** WAL mode. Opened with [`Durability::EachAppend`] (the
//! handler, whose answer tells the host the batch is stored) every commit
//! is fsynced (`synchronous=FULL`). Opened with [`Durability::AtSync`]
//! (`chargeback ingest`) commits are not fsynced (`synchronous=NORMAL`):
//! a crash of the process loses nothing, a power cut may lose the last
//! commits but never corrupts; [`Ledger::sync`](crate::storage::Ledger::sync) at the
//! end makes everything durable (one fsynced commit syncs the whole log).

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, QueryBuilder, Row, Sqlite, SqliteConnection};
use tokio::sync::Mutex;

use super::identity::{IdFilter, IdHash};
use crate::domain::UsageRecord;
use crate::storage::sql::cells::{self, CELLS_PER_STATEMENT};
use crate::storage::sql::ledger::{LEDGER_COLUMNS, ROWS_PER_STATEMENT, day_text, to_i64};
use crate::storage::{AppendOutcome, StorageError};

/// SQLite's memory for all connections together, in bytes (128 MiB).
const SOFT_HEAP_LIMIT: &str = "134217728";

/// Ids per lookup statement.
const IDS_PER_LOOKUP: usize = 2_000;

/// Filter rows per write statement (2 parameters each).
const FILTER_ROWS_PER_STATEMENT: usize = 2_000;

/// When appends are durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every append is on disk when it returns (`synchronous=FULL`).
    EachAppend,
    /// Appends are on disk after [`Ledger::sync`](crate::storage::Ledger::sync)
    /// (`synchronous=NORMAL`): for bulk loads.
    AtSync,
}

/// The identity filter of this process and the ledger rows it holds.
#[derive(Debug, Default)]
struct FilterState {
    filter: IdFilter,
    /// The ledger rowid up to which the filter holds every id; `None` when
    /// it must be loaded from the stored snapshot first.
    seen: Option<i64>,
    /// Ids added since the stored snapshot.
    since_snapshot: u64,
}

/// Ids added to the filter between two stored snapshots at most (a crashed
/// process's successor reads at most this many rows to catch up).
const SNAPSHOT_EVERY: u64 = 1_000_000;

/// The SQLite ledger.
#[derive(Debug, Clone)]
pub struct SqliteLedger {
    pool: SqlitePool,
    durability: Durability,
    identity: Arc<Mutex<FilterState>>,
}

impl SqliteLedger {
    /// Opens (creating if needed) the ledger database at `path`, every
    /// append durable when it returns, and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self, StorageError> {
        Self::open_with(path, Durability::EachAppend).await
    }

    /// Opens the ledger with the given durability.
    pub async fn open_with(path: &Path, durability: Durability) -> Result<Self, StorageError> {
        let (synchronous, checkpoint) = match durability {
            Durability::EachAppend => (SqliteSynchronous::Full, "16384"),
            // Bulk loads: checkpoints every 256 MB of log, so a hot page is
            // copied back once per checkpoint rather than once per batch.
            Durability::AtSync => (SqliteSynchronous::Normal, "65536"),
        };
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(30))
            // 64 MB of page cache per connection: the writer's working set is
            // the current day's part of the identity index, the table's last
            // pages and the cells; readers scan cells and days.
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", checkpoint)
            // Four connections of 64 MB caches could hold 256 MB between them:
            // past this limit SQLite recycles cache pages instead of
            // allocating (process-wide; one writer's cache still fits).
            .pragma("soft_heap_limit", SOFT_HEAP_LIMIT)
            // The lookups' IN lists and sorts stay in memory, not in temp files.
            .pragma("temp_store", "memory")
            // An append's statements are large: a slow one is worth a debug
            // line, not its whole text at warning level.
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool, durability, identity: Arc::default() })
    }

    /// The pool, for other embedded stores sharing the file.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Bytes the identity filter holds in memory (0 before the first append).
    pub async fn filter_memory(&self) -> usize {
        self.identity.lock().await.filter.memory()
    }

    /// Brings the filter up to the ledger as this transaction sees it: the
    /// stored snapshot if this process has none it can trust, then the ids
    /// of every row after its watermark. Returns the new watermark.
    async fn catch_up(tx: &mut SqliteConnection, state: &mut FilterState) -> Result<i64, StorageError> {
        let mut seen = match state.seen.take() {
            Some(seen) => seen,
            None => {
                let (filter, watermark) = load_snapshot(tx).await?;
                state.filter = filter;
                state.since_snapshot = 0;
                watermark
            }
        };
        let mut rows = sqlx::query("SELECT rowid, tenant, record_id FROM ledger WHERE rowid > $1 ORDER BY rowid")
            .bind(seen)
            .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let tenant: &str = row.try_get("tenant")?;
            let id: &str = row.try_get("record_id")?;
            state.filter.insert(IdHash::of(tenant, id));
            state.since_snapshot += 1;
            seen = row.try_get("rowid")?;
        }
        Ok(seen)
    }

    async fn append_records(&self, records: &[UsageRecord]) -> Result<AppendOutcome, StorageError> {
        let received = u64::try_from(records.len()).unwrap_or(u64::MAX);
        if records.is_empty() {
            return Ok(AppendOutcome::default());
        }
        // One append at a time per process (SQLite has one writer anyway).
        // Any early return leaves `state.seen` empty: the next append reloads.
        let mut state = self.identity.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut seen = Self::catch_up(&mut tx, &mut state).await?;

        // First occurrence of each identity in this call; then what the filter says.
        let mut unique = FxHashSet::with_capacity_and_hasher(records.len(), Default::default());
        let candidates: Vec<(&UsageRecord, IdHash)> = records
            .iter()
            .filter(|r| unique.insert((r.tenant.as_str(), r.id.as_str())))
            .map(|r| (r, IdHash::of(r.tenant.as_str(), r.id.as_str())))
            .collect();
        let maybe: Vec<&UsageRecord> =
            candidates.iter().filter(|(_, h)| state.filter.may_contain(*h)).map(|(r, _)| *r).collect();
        let stored = stored_ids(&mut tx, &maybe).await?;
        let new: Vec<(&UsageRecord, IdHash)> =
            candidates.into_iter().filter(|(r, _)| !stored.contains(&(r.tenant.as_str(), r.id.as_str()))).collect();

        let mut inserted = 0;
        for chunk in new.chunks(ROWS_PER_STATEMENT) {
            let mut insert: QueryBuilder<Sqlite> =
                QueryBuilder::new(format!("INSERT OR IGNORE INTO ledger ({LEDGER_COLUMNS}) "));
            insert.push_values(chunk, |mut row, (r, _)| {
                crate::bind_ledger_row!(row, r);
            });
            // OR IGNORE rather than ON CONFLICT DO NOTHING: no conflict can
            // abort the statement, so SQLite keeps no statement journal for it
            // (a row that would conflict, or fail a CHECK, is not inserted, and
            // the count below fails the append). Only full statements are
            // worth a cached plan: every other size would be one more
            // statement held by the cache.
            let full = chunk.len() == ROWS_PER_STATEMENT;
            inserted += insert.build().persistent(full).execute(&mut *tx).await?.rows_affected();
        }
        let expected = u64::try_from(new.len()).unwrap_or(u64::MAX);
        if inserted != expected {
            // The filter said new and the index disagreed (or a row failed a
            // CHECK, which parsing rules out). Never count on a filter that
            // may be wrong: nothing is written, and the filter is rebuilt
            // from every id of the ledger before the next append.
            tx.rollback().await?;
            let mut db = self.pool.acquire().await?;
            sqlx::query("UPDATE ledger_id_filter_state SET watermark = 0").execute(&mut *db).await?;
            sqlx::query("DELETE FROM ledger_id_filter_generations").execute(&mut *db).await?;
            sqlx::query("DELETE FROM ledger_id_filter").execute(&mut *db).await?;
            return Err(StorageError::Corrupt(format!(
                "{} of the rows to append were not inserted (an id the identity filter missed, or a row the \
                 schema refused); the filter will be rebuilt, retry the append",
                expected - inserted
            )));
        }
        if inserted > 0 {
            seen = sqlx::query_scalar("SELECT last_insert_rowid()").fetch_one(&mut *tx).await?;
        }

        let days: BTreeSet<(&str, chrono::NaiveDate)> =
            new.iter().map(|(r, _)| (r.tenant.as_str(), r.occurred_at.date_naive())).collect();
        if !days.is_empty() {
            let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new("INSERT INTO ledger_days (tenant, day) ");
            insert.push_values(&days, |mut row, (tenant, day)| {
                row.push_bind(*tenant).push_bind(day_text(*day));
            });
            insert.push(" ON CONFLICT DO NOTHING");
            insert.build().persistent(false).execute(&mut *tx).await?;
        }

        add_to_cells(&mut tx, new.iter().map(|(r, _)| *r)).await?;

        for (_, h) in &new {
            state.filter.insert(*h);
        }
        state.since_snapshot += inserted;
        if state.since_snapshot >= SNAPSHOT_EVERY {
            store_snapshot(&mut tx, &state.filter, seen).await?;
            state.since_snapshot = 0;
        }
        tx.commit().await?;
        state.seen = Some(seen);
        Ok(AppendOutcome { inserted, duplicates: received - inserted })
    }

    async fn sync_ledger(&self) -> Result<(), StorageError> {
        if self.durability == Durability::EachAppend {
            return Ok(());
        }
        // One commit with synchronous=FULL fsyncs the write-ahead log, and
        // with it every commit before: it stores the filter's snapshot, so
        // the next process starts from it. Then the log goes into the database.
        let mut state = self.identity.lock().await;
        let mut conn = self.pool.acquire().await?;
        sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
        let synced = async {
            let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
            let seen = Self::catch_up(&mut tx, &mut state).await?;
            store_snapshot(&mut tx, &state.filter, seen).await?;
            tx.commit().await?;
            state.seen = Some(seen);
            state.since_snapshot = 0;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
            Ok::<_, StorageError>(())
        }
        .await;
        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
        synced
    }
}

/// Binds one record's ledger columns in [`LEDGER_COLUMNS`] order.
#[macro_export]
#[doc(hidden)]
macro_rules! bind_ledger_row {
    ($row:expr, $r:expr) => {{
        use $crate::storage::sql::ledger::to_i64;
        let r: &$crate::domain::UsageRecord = $r;
        $row.push_bind(r.tenant.as_str().to_owned())
            .push_bind(r.id.as_str().to_owned())
            .push_bind(r.occurred_at.timestamp_micros())
            .push_bind($crate::storage::sql::ledger::day_text(r.occurred_at.date_naive()))
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
            .push_bind(r.counted_with.as_ref().map(|c| c.to_stored()))
            .push_bind(to_i64(r.usage.details().cache_write))
            .push_bind(to_i64(r.usage.details().audio_prompt))
            .push_bind(to_i64(r.usage.details().audio_completion))
            .push_bind(to_i64(r.usage.details().accepted_prediction))
            .push_bind(to_i64(r.usage.details().rejected_prediction))
            .push_bind(r.service_tier.as_ref().map(|t| t.as_str().to_owned()))
            .push_bind(r.spilled_from.clone());
    }};
}

/// Of records the filter may have seen, the (tenant, id) already stored:
/// looked up on each record's own day (where a replay is), then, for the
/// rest, on every day of the tenant (a false positive of the filter, or the
/// same id claimed on another day). Each lookup answers with one row (the
/// ids found, joined by a byte no id holds), not a row per id.
async fn stored_ids<'r>(
    tx: &mut SqliteConnection,
    maybe: &[&'r UsageRecord],
) -> Result<FxHashSet<(&'r str, &'r str)>, StorageError> {
    let mut stored = FxHashSet::default();
    let mut by_day: FxHashMap<(&str, chrono::NaiveDate), Vec<&str>> = FxHashMap::default();
    for r in maybe {
        by_day.entry((r.tenant.as_str(), r.occurred_at.date_naive())).or_default().push(r.id.as_str());
    }
    let mut elsewhere: FxHashMap<&str, Vec<&str>> = FxHashMap::default();
    for ((tenant, day), ids) in &by_day {
        for chunk in ids.chunks(IDS_PER_LOOKUP) {
            let joined = ids_stored_among(tx, tenant, Some(*day), chunk).await?;
            let found: FxHashSet<&str> = joined.split('\u{1}').collect();
            for id in chunk {
                if found.contains(*id) {
                    stored.insert((*tenant, *id));
                } else {
                    elsewhere.entry(*tenant).or_default().push(*id);
                }
            }
        }
    }
    for (tenant, ids) in &elsewhere {
        for chunk in ids.chunks(IDS_PER_LOOKUP) {
            let joined = ids_stored_among(tx, tenant, None, chunk).await?;
            let found: FxHashSet<&str> = joined.split('\u{1}').collect();
            for id in chunk {
                if found.contains(*id) {
                    stored.insert((*tenant, *id));
                }
            }
        }
    }
    Ok(stored)
}

/// The `ids` of a `group_concat(record_id, char(1)) AS ids` row ('' for none).
/// Which of `ids` the tenant's ledger holds, on `day` or (None) on any of
/// its days: the ids found, joined by `\u{1}`.
async fn ids_stored_among(
    tx: &mut SqliteConnection,
    tenant: &str,
    day: Option<chrono::NaiveDate>,
    ids: &[&str],
) -> Result<String, StorageError> {
    let mut q: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT group_concat(record_id, char(1)) AS ids FROM ledger WHERE tenant = ");
    q.push_bind(tenant);
    match day {
        Some(day) => q.push(" AND day = ").push_bind(day_text(day)),
        None => q.push(" AND day IN (SELECT day FROM ledger_days WHERE tenant = ").push_bind(tenant).push(")"),
    };
    q.push(" AND record_id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    q.push(")");
    let row = q.build().persistent(false).fetch_one(&mut *tx).await?;
    Ok(row.try_get::<Option<String>, _>("ids")?.unwrap_or_default())
}

/// Adds the records' sums to their cells.
async fn add_to_cells<'a>(
    tx: &mut SqliteConnection,
    records: impl IntoIterator<Item = &'a UsageRecord>,
) -> Result<(), StorageError> {
    let mut by_tenant: FxHashMap<&str, Vec<&UsageRecord>> = FxHashMap::default();
    for r in records {
        by_tenant.entry(r.tenant.as_str()).or_default().push(r);
    }
    for (tenant, records) in by_tenant {
        let deltas = cells::deltas(records);
        for chunk in deltas.chunks(CELLS_PER_STATEMENT) {
            let mut upsert: QueryBuilder<Sqlite> = QueryBuilder::new(cells::upsert_head());
            upsert.push_values(chunk, |row, cell| {
                crate::bind_cell!(row, tenant.to_owned(), cell);
            });
            upsert.push(cells::upsert_tail());
            upsert.build().persistent(false).execute(&mut *tx).await?;
        }
    }
    Ok(())
}

/// The stored snapshot of the filter and its watermark.
async fn load_snapshot(tx: &mut SqliteConnection) -> Result<(IdFilter, i64), StorageError> {
    let watermark: i64 =
        sqlx::query_scalar("SELECT watermark FROM ledger_id_filter_state WHERE id = 1").fetch_one(&mut *tx).await?;
    let rows = sqlx::query("SELECT generation, capacity, ids FROM ledger_id_filter_generations ORDER BY generation")
        .fetch_all(&mut *tx)
        .await?;
    let mut sizes = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        let generation: i64 = row.try_get("generation")?;
        if usize::try_from(generation).ok() != Some(n) {
            return Err(StorageError::Corrupt(format!("identity filter generation {generation} out of order")));
        }
        let capacity: i64 = row.try_get("capacity")?;
        let ids: i64 = row.try_get("ids")?;
        sizes.push((u64::try_from(capacity).unwrap_or(0), u64::try_from(ids).unwrap_or(0)));
    }
    let mut filter = IdFilter::with_generations(&sizes);
    let mut rows = sqlx::query("SELECT id, bits FROM ledger_id_filter").fetch(&mut *tx);
    while let Some(row) = rows.try_next().await? {
        let id: i64 = row.try_get("id")?;
        let (generation, index) = (id >> 32, id & 0xffff_ffff);
        let bits: &[u8] = row.try_get("bits")?;
        let loaded = usize::try_from(generation)
            .ok()
            .zip(usize::try_from(index).ok())
            .and_then(|(g, i)| filter.generation_mut(g).map(|g| g.load_row(i, bits)));
        if loaded != Some(true) {
            return Err(StorageError::Corrupt(format!("identity filter row {generation}/{index} does not fit")));
        }
    }
    Ok((filter, watermark))
}

/// Stores the filter (every row of it) as holding every id up to `watermark`.
async fn store_snapshot(tx: &mut SqliteConnection, filter: &IdFilter, watermark: i64) -> Result<(), StorageError> {
    let generations = filter.generations();
    sqlx::query("DELETE FROM ledger_id_filter_generations").execute(&mut *tx).await?;
    if !generations.is_empty() {
        let mut meta: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO ledger_id_filter_generations (generation, capacity, ids) ");
        meta.push_values(generations.iter().enumerate(), |mut row, (g, generation)| {
            row.push_bind(i64::try_from(g).unwrap_or(i64::MAX))
                .push_bind(to_i64(generation.capacity))
                .push_bind(to_i64(generation.ids));
        });
        meta.build().persistent(false).execute(&mut *tx).await?;
    }
    sqlx::query("DELETE FROM ledger_id_filter WHERE id >= $1")
        .bind(i64::try_from(generations.len()).unwrap_or(i64::MAX) << 32)
        .execute(&mut *tx)
        .await?;
    let all: Vec<(usize, usize)> = generations
        .iter()
        .enumerate()
        .flat_map(|(g, generation)| (0..generation.rows()).map(move |r| (g, r)))
        .collect();
    for chunk in all.chunks(FILTER_ROWS_PER_STATEMENT) {
        let mut rows: QueryBuilder<Sqlite> = QueryBuilder::new("INSERT OR REPLACE INTO ledger_id_filter (id, bits) ");
        rows.push_values(chunk, |mut row, &(g, r)| {
            let id = (i64::try_from(g).unwrap_or(i64::MAX) << 32) | i64::try_from(r).unwrap_or(0);
            row.push_bind(id).push_bind(generations[g].row_bytes(r));
        });
        rows.build().persistent(false).execute(&mut *tx).await?;
    }
    sqlx::query("UPDATE ledger_id_filter_state SET watermark = $1 WHERE id = 1")
        .bind(watermark)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

crate::impl_sql_ledger!(SqliteLedger, sqlx::Sqlite, snapshot = "BEGIN", exclusive = ["BEGIN IMMEDIATE"]);
