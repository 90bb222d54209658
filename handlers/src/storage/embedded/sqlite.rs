//! The embedded ledger: SQLite through sqlx, in one file under the data
//! directory. Used when no Azure settings are given. Its queries are shared
//! with the PostgreSQL ledger ([`crate::storage::sql::ledger`]).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::storage::StorageError;

/// SQLite's memory for all connections together, in bytes (128 MiB).
const SOFT_HEAP_LIMIT: &str = "134217728";

/// The SQLite ledger.
#[derive(Debug, Clone)]
pub struct SqliteLedger {
    pool: SqlitePool,
}

impl SqliteLedger {
    /// Opens (creating if needed) the ledger database at `path` and applies
    /// the migrations.
    pub async fn open(path: &Path) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            // Ingest inserts at random places of three B-trees (the ledger is keyed by
            // record id): a larger page cache saves most re-reads, and fewer
            // checkpoints write each hot page once instead of after every batch.
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "16384")
            // Four connections of 64 MB caches could hold 256 MB between them
            // (a large month's rollup reads a gigabyte of index through all of
            // them): past this limit SQLite recycles cache pages instead of
            // allocating (process-wide; one writer's cache still fits).
            .pragma("soft_heap_limit", SOFT_HEAP_LIMIT);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The pool, for other embedded stores sharing the file.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

crate::impl_sql_ledger!(SqliteLedger, sqlx::Sqlite);
