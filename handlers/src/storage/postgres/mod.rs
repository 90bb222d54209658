//! PostgreSQL through sqlx: the chargeback schema (aggregates, business
//! units, application mapping, prices, results, maintenance log) and, when
//! `CHARGEBACK_LEDGER=postgres`, the ledger itself: partitioned by month,
//! its identities claimed in `ledger_ids`, its usage cells kept in the
//! statement that appends.
//!
//! Configuration is `DATABASE_URL` (a `postgres://` URL; the password may be
//! in it or in `PGPASSWORD`, or, with `CHARGEBACK_DB__credential`, be an
//! Entra ID token, see [`entra`]) and
//! `CHARGEBACK_DB_STATEMENT_CACHE` (0 behind PgBouncer in transaction mode,
//! which keeps no named prepared statements).
//! The migrations in `migrations/postgres/` run on open; they are versioned
//! sqlx migrations, so `sqlx migrate run --source handlers/migrations/postgres`
//! applies the same set.

pub mod entra;

use std::collections::{BTreeSet, HashSet};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Row};

use super::credential::AppCredential;
use crate::domain::UsageRecord;
use crate::storage::sql::cells;
use crate::storage::sql::ledger::{LEDGER_COLUMNS, day_text, to_i64};
use crate::storage::{AppendOutcome, StorageError};
use entra::EntraPassword;

/// How to reach PostgreSQL.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user[:password]@host:port/db[?sslmode=…]`.
    pub url: String,
    /// Prepared statements cached per connection; 0 disables the cache.
    pub statement_cache: usize,
    /// Pool size.
    pub max_connections: u32,
    /// Log in with this credential's Entra ID tokens as the password (the
    /// URL then holds none).
    pub entra: Option<Arc<AppCredential>>,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("PgConfig")
            .field("url", &"<redacted>")
            .field("statement_cache", &self.statement_cache)
            .field("max_connections", &self.max_connections)
            .field("entra", &self.entra.as_ref().map(|c| c.identity()))
            .finish()
    }
}

impl PgConfig {
    /// A config with the defaults (statement cache 100, 8 connections).
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), statement_cache: 100, max_connections: 8, entra: None }
    }

    /// Connects and applies the migrations.
    pub async fn connect(&self) -> Result<PgPool, StorageError> {
        // An append of 5,000 rows is one large statement: a slow one is worth
        // a debug line, not its whole text at warning level (as on SQLite).
        let base = PgConnectOptions::from_str(&self.url)?
            .statement_cache_capacity(self.statement_cache)
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(5));
        let entra = self.entra.clone().map(EntraPassword::new);
        let (options, token) = match &entra {
            Some(entra) => {
                if self.url_has_password() {
                    return Err(StorageError::Config(
                        "DATABASE_URL holds a password, but CHARGEBACK_DB__credential asks for Entra ID tokens: \
                         remove the password"
                            .into(),
                    ));
                }
                let (options, token) = entra.options(&base).await?;
                (options, Some(token))
            }
            None => (base.clone(), None),
        };
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| match &entra {
                Some(entra) => StorageError::EntraLogin {
                    login: format!("as {} with a token of {}", base.get_username(), entra.identity()),
                    source,
                },
                None => source.into(),
            })?;
        if let (Some(entra), Some(token)) = (entra, token) {
            entra.keep_fresh(pool.clone(), base, token);
        }
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(pool)
    }
}

impl PgConfig {
    fn url_has_password(&self) -> bool {
        let Some((_, rest)) = self.url.split_once("://") else { return false };
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        authority.rsplit_once('@').is_some_and(|(user_info, _)| user_info.contains(':'))
    }
}

/// The ledger in PostgreSQL: the reads are the SQLite ledger's; the append
/// is one statement (below).
#[derive(Debug, Clone)]
pub struct PgLedger {
    pool: PgPool,
    /// Months whose ledger partition is known to exist.
    months: Arc<std::sync::Mutex<BTreeSet<String>>>,
}

/// The append, one statement and one round trip per call: the records
/// arrive as one array per column (`UNNEST`, so the statement text, and its
/// prepared plan, is the same whatever the batch size); their ids are
/// claimed in `ledger_ids` (in key order, so concurrent appends cannot
/// deadlock); only the claimed rows go into the ledger; the inserted rows,
/// summed per cell, are added to the usage cells. Everything commits
/// together, so a retry after any failure counts nothing twice.
static APPEND_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH input AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], \
         $14::boolean[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::text[], $20::text[], \
         $21::text[], $22::bigint[], $23::text[], $24::bigint[], $25::bigint[], $26::bigint[], $27::bigint[], \
         $28::bigint[], $29::text[], $30::text[]) AS t({LEDGER_COLUMNS})), \
         claimed AS (INSERT INTO ledger_ids (tenant, record_id) SELECT tenant, record_id FROM input \
         ORDER BY tenant, record_id ON CONFLICT DO NOTHING RETURNING tenant, record_id), \
         inserted AS (INSERT INTO ledger ({LEDGER_COLUMNS}) SELECT {LEDGER_COLUMNS} FROM input \
         JOIN claimed USING (tenant, record_id) RETURNING *), \
         cells AS ({}{}{}) \
         SELECT CAST(COUNT(*) AS BIGINT) AS inserted FROM inserted",
        cells::upsert_head(),
        cells::deltas_of_inserted_sql(),
        cells::upsert_tail()
    )
});

impl PgLedger {
    /// A ledger on a migrated pool ([`PgConfig::connect`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool, months: Arc::default() }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn append_records(&self, records: &[UsageRecord]) -> Result<AppendOutcome, StorageError> {
        let received = u64::try_from(records.len()).unwrap_or(u64::MAX);
        // The first of each identity in this call: the statement sees the others as claimed.
        let mut seen = HashSet::with_capacity(records.len());
        let unique: Vec<&UsageRecord> =
            records.iter().filter(|r| seen.insert((r.tenant.as_str(), r.id.as_str()))).collect();
        if unique.is_empty() {
            return Ok(AppendOutcome::default());
        }
        self.ensure_partitions(&unique).await?;
        let mut c = Columns::with_capacity(unique.len());
        for r in &unique {
            c.push(r);
        }
        let row = sqlx::query(APPEND_SQL.as_str())
            .bind(c.tenant)
            .bind(c.record_id)
            .bind(c.occurred_at_us)
            .bind(c.day)
            .bind(c.party)
            .bind(c.subscription_id)
            .bind(c.key_fingerprint)
            .bind(c.application)
            .bind(c.user_id)
            .bind(c.deployment)
            .bind(c.model)
            .bind(c.operation)
            .bind(c.status)
            .bind(c.streamed)
            .bind(c.prompt_tokens)
            .bind(c.completion_tokens)
            .bind(c.cached_tokens)
            .bind(c.reasoning_tokens)
            .bind(c.token_source)
            .bind(c.shape)
            .bind(c.backend)
            .bind(c.latency_ms)
            .bind(c.counted_with)
            .bind(c.cache_write_tokens)
            .bind(c.audio_prompt_tokens)
            .bind(c.audio_completion_tokens)
            .bind(c.accepted_prediction_tokens)
            .bind(c.rejected_prediction_tokens)
            .bind(c.service_tier)
            .bind(c.spilled_from)
            .fetch_one(&self.pool)
            .await?;
        let inserted = u64::try_from(row.try_get::<i64, _>("inserted")?).unwrap_or(0);
        Ok(AppendOutcome { inserted, duplicates: received - inserted })
    }

    /// Creates the month partitions the records need that do not exist yet
    /// (one at a time per database: an advisory lock).
    async fn ensure_partitions(&self, records: &[&UsageRecord]) -> Result<(), StorageError> {
        let wanted: BTreeSet<String> = records.iter().map(|r| r.occurred_at.format("%Y-%m").to_string()).collect();
        let missing: Vec<String> = {
            let known = self.months.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            wanted.into_iter().filter(|m| !known.contains(m)).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7202611)").execute(&mut *tx).await?;
        for month in &missing {
            let first = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
                .map_err(|e| StorageError::Corrupt(format!("month {month}: {e}")))?;
            let next = first
                .checked_add_months(chrono::Months::new(1))
                .ok_or_else(|| StorageError::Corrupt(format!("month {month} has no next")))?;
            let name = format!("ledger_y{}", first.format("%Ym%m"));
            // The name and bounds are built from a date, never from input text.
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS \"{name}\" PARTITION OF ledger FOR VALUES FROM ('{}') TO ('{}')",
                first.format("%Y-%m-%d"),
                next.format("%Y-%m-%d")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.months.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(missing);
        Ok(())
    }

    async fn sync_ledger(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// A batch as one array per ledger column, for `UNNEST`.
#[derive(Default)]
struct Columns {
    tenant: Vec<String>,
    record_id: Vec<String>,
    occurred_at_us: Vec<i64>,
    day: Vec<String>,
    party: Vec<String>,
    subscription_id: Vec<Option<String>>,
    key_fingerprint: Vec<Option<String>>,
    application: Vec<Option<String>>,
    user_id: Vec<Option<String>>,
    deployment: Vec<Option<String>>,
    model: Vec<Option<String>>,
    operation: Vec<Option<String>>,
    status: Vec<Option<i64>>,
    streamed: Vec<bool>,
    prompt_tokens: Vec<i64>,
    completion_tokens: Vec<i64>,
    cached_tokens: Vec<i64>,
    reasoning_tokens: Vec<i64>,
    token_source: Vec<&'static str>,
    shape: Vec<&'static str>,
    backend: Vec<Option<String>>,
    latency_ms: Vec<Option<i64>>,
    counted_with: Vec<Option<String>>,
    cache_write_tokens: Vec<i64>,
    audio_prompt_tokens: Vec<i64>,
    audio_completion_tokens: Vec<i64>,
    accepted_prediction_tokens: Vec<i64>,
    rejected_prediction_tokens: Vec<i64>,
    service_tier: Vec<Option<String>>,
    spilled_from: Vec<Option<String>>,
}

impl Columns {
    fn with_capacity(n: usize) -> Self {
        let mut c = Self::default();
        c.tenant.reserve(n);
        c.record_id.reserve(n);
        c
    }

    fn push(&mut self, r: &UsageRecord) {
        self.tenant.push(r.tenant.as_str().to_owned());
        self.record_id.push(r.id.as_str().to_owned());
        self.occurred_at_us.push(r.occurred_at.timestamp_micros());
        self.day.push(day_text(r.occurred_at.date_naive()));
        self.party.push(r.caller.chargeable_party().to_owned());
        self.subscription_id.push(r.caller.subscription_id.clone());
        self.key_fingerprint.push(r.caller.key_fingerprint.as_ref().map(|f| f.as_str().to_owned()));
        self.application.push(r.caller.application.clone());
        self.user_id.push(r.caller.user.clone());
        self.deployment.push(r.deployment.clone());
        self.model.push(r.model.clone());
        self.operation.push(r.operation.clone());
        self.status.push(r.status.map(i64::from));
        self.streamed.push(r.streamed);
        self.prompt_tokens.push(to_i64(r.usage.prompt()));
        self.completion_tokens.push(to_i64(r.usage.completion()));
        self.cached_tokens.push(to_i64(r.usage.cached()));
        self.reasoning_tokens.push(to_i64(r.usage.reasoning()));
        self.token_source.push(r.token_source.as_str());
        self.shape.push(r.shape.as_str());
        self.backend.push(r.backend.clone());
        self.latency_ms.push(r.latency_ms.map(to_i64));
        self.counted_with.push(r.counted_with.as_ref().map(|c| c.to_stored()));
        let d = r.usage.details();
        self.cache_write_tokens.push(to_i64(d.cache_write));
        self.audio_prompt_tokens.push(to_i64(d.audio_prompt));
        self.audio_completion_tokens.push(to_i64(d.audio_completion));
        self.accepted_prediction_tokens.push(to_i64(d.accepted_prediction));
        self.rejected_prediction_tokens.push(to_i64(d.rejected_prediction));
        self.service_tier.push(r.service_tier.as_ref().map(|t| t.as_str().to_owned()));
        self.spilled_from.push(r.spilled_from.clone());
    }
}

crate::impl_sql_ledger!(
    PgLedger,
    sqlx::Postgres,
    snapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    exclusive = ["BEGIN", "LOCK TABLE usage_cells IN SHARE ROW EXCLUSIVE MODE"]
);
