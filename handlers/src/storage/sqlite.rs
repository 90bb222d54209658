//! The embedded ledger: SQLite through sqlx, in one file under the data
//! directory. Used when no Azure settings are given.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{AppendOutcome, Grouping, Ledger, StorageError, UsageQuery, UsageRow};
use crate::domain::{TokenSource, UsageRecord};

/// Rows per INSERT statement: 23 parameters each, well under SQLite's limit.
const ROWS_PER_STATEMENT: usize = 400;

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
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StorageError::Backend(format!("migrating the ledger: {e}")))?;
        Ok(Self { pool })
    }

    /// The pool, for other embedded stores sharing the file.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn to_i64(n: u64) -> i64 {
    // Token counts and latencies are far below 2^63; saturate rather than wrap.
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn append(&self, records: &[UsageRecord]) -> Result<AppendOutcome, StorageError> {
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0;
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO ledger (tenant, record_id, occurred_at_us, day, party, subscription_id, key_fingerprint, \
                 application, user_id, deployment, model, operation, status, streamed, prompt_tokens, completion_tokens, \
                 cached_tokens, reasoning_tokens, token_source, shape, backend, latency_ms) ",
            );
            insert.push_values(chunk, |mut row, r| {
                row.push_bind(r.tenant.as_str())
                    .push_bind(r.id.as_str())
                    .push_bind(r.occurred_at.timestamp_micros())
                    .push_bind(r.occurred_at.format("%Y-%m-%d").to_string())
                    .push_bind(r.caller.chargeable_party())
                    .push_bind(r.caller.subscription_id.as_deref())
                    .push_bind(r.caller.key_fingerprint.as_ref().map(|f| f.as_str()))
                    .push_bind(r.caller.application.as_deref())
                    .push_bind(r.caller.user.as_deref())
                    .push_bind(r.deployment.as_deref())
                    .push_bind(r.model.as_deref())
                    .push_bind(r.operation.as_deref())
                    .push_bind(r.status.map(i64::from))
                    .push_bind(r.streamed)
                    .push_bind(to_i64(r.usage.prompt()))
                    .push_bind(to_i64(r.usage.completion()))
                    .push_bind(to_i64(r.usage.cached()))
                    .push_bind(to_i64(r.usage.reasoning()))
                    .push_bind(r.token_source.as_str())
                    .push_bind(r.shape.as_str())
                    .push_bind(r.backend.as_deref())
                    .push_bind(r.latency_ms.map(to_i64));
            });
            insert.push(" ON CONFLICT (tenant, record_id) DO NOTHING");
            inserted += insert.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        let received = u64::try_from(records.len()).unwrap_or(u64::MAX);
        Ok(AppendOutcome { inserted, duplicates: received - inserted })
    }

    async fn totals(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StorageError> {
        // The grouping column comes from a closed set, never from user text.
        let sql = match query.group_by {
            Grouping::Party => TOTALS_BY_PARTY,
            Grouping::Model => TOTALS_BY_MODEL,
            Grouping::Deployment => TOTALS_BY_DEPLOYMENT,
            Grouping::Day => TOTALS_BY_DAY,
        };
        let rows = sqlx::query(sql)
            .bind(query.tenant.as_str())
            .bind(query.from.timestamp_micros())
            .bind(query.to.timestamp_micros())
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                let source: String = row.try_get("token_source")?;
                Ok(UsageRow {
                    key: row.try_get("k")?,
                    token_source: TokenSource::parse(&source)
                        .ok_or_else(|| StorageError::Backend(format!("unknown token source {source:?} in ledger")))?,
                    requests: to_u64(row.try_get("requests")?),
                    prompt: to_u64(row.try_get("prompt")?),
                    completion: to_u64(row.try_get("completion")?),
                    cached: to_u64(row.try_get("cached")?),
                    reasoning: to_u64(row.try_get("reasoning")?),
                })
            })
            .collect()
    }

    async fn health(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

macro_rules! totals_sql {
    ($key:literal) => {
        concat!(
            "SELECT ",
            $key,
            " AS k, token_source, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt, \
             SUM(completion_tokens) AS completion, SUM(cached_tokens) AS cached, SUM(reasoning_tokens) AS reasoning \
             FROM ledger WHERE tenant = $1 AND occurred_at_us >= $2 AND occurred_at_us < $3 \
             GROUP BY k, token_source ORDER BY k, token_source"
        )
    };
}

const TOTALS_BY_PARTY: &str = totals_sql!("party");
const TOTALS_BY_MODEL: &str = totals_sql!("COALESCE(model, '(none)')");
const TOTALS_BY_DEPLOYMENT: &str = totals_sql!("COALESCE(deployment, '(none)')");
const TOTALS_BY_DAY: &str = totals_sql!("day");
