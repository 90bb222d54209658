//! Leases, versioned reports and dead letters in SQL, for the embedded
//! backend (SQLite) and PostgreSQL: one query text for both engines (tables
//! in `migrations/*/0002_chargeback.sql` and `0003_dead_letters.sql`),
//! written once by a macro per pool type.
//!
//! On Azure the same traits are served by blob leases and blobs with ETags
//! ([`crate::storage::azure`]).

use std::time::Duration;

use chrono::Utc;
use rand::RngCore;

/// Time now, microseconds since the epoch.
pub fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

/// A duration in microseconds.
pub fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A random token (lease holder, temporary file, plan name).
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A time-ordered id, so ordering by id is FIFO on both engines.
pub fn ordered_id() -> String {
    format!("{:020}-{:016x}", now_us(), rand::rng().next_u64())
}

/// Leases in the `leases` table.
#[derive(Debug, Clone)]
pub struct SqlLeases<P> {
    pool: P,
}

impl<P> SqlLeases<P> {
    /// Leases in this (migrated) database.
    pub fn new(pool: P) -> Self {
        Self { pool }
    }
}

/// Versioned documents in the `reports` table; the ETag is the version number.
#[derive(Debug, Clone)]
pub struct SqlReports<P> {
    pool: P,
}

impl<P> SqlReports<P> {
    /// Reports in this (migrated) database.
    pub fn new(pool: P) -> Self {
        Self { pool }
    }
}

/// Dead letters in the `dead_letters` table (PostgreSQL on Azure without a
/// Blob Storage connection string).
#[derive(Debug, Clone)]
pub struct SqlDeadLetters<P> {
    pool: P,
}

impl<P> SqlDeadLetters<P> {
    /// Dead letters in this (migrated) database.
    pub fn new(pool: P) -> Self {
        Self { pool }
    }
}

const LEASE_ACQUIRE: &str = "INSERT INTO leases (name, token, expires_at_us) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at_us = excluded.expires_at_us \
     WHERE leases.expires_at_us <= $4";
const LEASE_RENEW: &str = "UPDATE leases SET expires_at_us = $3 WHERE name = $1 AND token = $2 AND expires_at_us > $4";
const LEASE_RELEASE: &str = "DELETE FROM leases WHERE name = $1 AND token = $2";

const REPORT_GET: &str = "SELECT body, version FROM reports WHERE name = $1";
const REPORT_PUT_ALWAYS: &str = "INSERT INTO reports (name, body, version) VALUES ($1, $2, 1) \
     ON CONFLICT (name) DO UPDATE SET body = excluded.body, version = reports.version + 1 RETURNING version";
const REPORT_PUT_IF_ABSENT: &str =
    "INSERT INTO reports (name, body, version) VALUES ($1, $2, 1) ON CONFLICT (name) DO NOTHING RETURNING version";
const REPORT_PUT_IF_MATCH: &str =
    "UPDATE reports SET body = $2, version = version + 1 WHERE name = $1 AND version = $3 RETURNING version";

const LETTER_PUT: &str = "INSERT INTO dead_letters (tenant, letter, id, reason, detail, origin, received_at_us, body) \
     VALUES ($1, $8, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, letter) DO UPDATE SET reason = excluded.reason, \
     detail = excluded.detail, origin = excluded.origin, received_at_us = excluded.received_at_us, body = excluded.body";
const LETTER_LIST: &str =
    "SELECT tenant, id, reason, detail, origin, received_at_us, body FROM dead_letters WHERE tenant = $1";

macro_rules! impl_sql_support {
    ($pool:ty) => {
        #[async_trait::async_trait]
        impl crate::storage::LeaseStore for SqlLeases<$pool> {
            async fn acquire(
                &self,
                name: &str,
                ttl: Duration,
            ) -> Result<Option<crate::storage::Lease>, crate::storage::StorageError> {
                let token = random_token();
                let now = now_us();
                let done = sqlx::query(LEASE_ACQUIRE)
                    .bind(name)
                    .bind(&token)
                    .bind(now.saturating_add(micros(ttl)))
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok((done.rows_affected() == 1).then(|| crate::storage::Lease { name: name.to_owned(), token, ttl }))
            }

            async fn renew(&self, lease: &crate::storage::Lease) -> Result<bool, crate::storage::StorageError> {
                let now = now_us();
                let done = sqlx::query(LEASE_RENEW)
                    .bind(&lease.name)
                    .bind(&lease.token)
                    .bind(now.saturating_add(micros(lease.ttl)))
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn release(&self, lease: &crate::storage::Lease) -> Result<(), crate::storage::StorageError> {
                sqlx::query(LEASE_RELEASE).bind(&lease.name).bind(&lease.token).execute(&self.pool).await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl crate::storage::ReportStore for SqlReports<$pool> {
            async fn get(&self, name: &str) -> Result<Option<crate::storage::Versioned>, crate::storage::StorageError> {
                use sqlx::Row;
                let Some(row) = sqlx::query(REPORT_GET).bind(name).fetch_optional(&self.pool).await? else {
                    return Ok(None);
                };
                let body: String = row.try_get("body")?;
                let version: i64 = row.try_get("version")?;
                let body = hex::decode(&body)
                    .map_err(|e| crate::storage::StorageError::Corrupt(format!("report {name}: {e}")))?;
                Ok(Some(crate::storage::Versioned { body, etag: version.to_string() }))
            }

            async fn put(
                &self,
                name: &str,
                body: &[u8],
                condition: crate::storage::WriteCondition,
            ) -> Result<Option<String>, crate::storage::StorageError> {
                use sqlx::Row;
                let body = hex::encode(body);
                let row = match condition {
                    crate::storage::WriteCondition::Always => {
                        Some(sqlx::query(REPORT_PUT_ALWAYS).bind(name).bind(body).fetch_one(&self.pool).await?)
                    }
                    crate::storage::WriteCondition::IfAbsent => {
                        sqlx::query(REPORT_PUT_IF_ABSENT).bind(name).bind(body).fetch_optional(&self.pool).await?
                    }
                    crate::storage::WriteCondition::IfMatch(etag) => {
                        let Ok(version) = etag.parse::<i64>() else { return Ok(None) };
                        sqlx::query(REPORT_PUT_IF_MATCH)
                            .bind(name)
                            .bind(body)
                            .bind(version)
                            .fetch_optional(&self.pool)
                            .await?
                    }
                };
                row.map(|r| r.try_get::<i64, _>("version").map(|v| v.to_string())).transpose().map_err(Into::into)
            }
        }

        #[async_trait::async_trait]
        impl crate::storage::DeadLetterStore for SqlDeadLetters<$pool> {
            async fn put(&self, letters: &[crate::storage::DeadLetter]) -> Result<(), crate::storage::StorageError> {
                let mut tx = self.pool.begin().await?;
                for l in letters {
                    sqlx::query(LETTER_PUT)
                        .bind(l.tenant.as_str())
                        .bind(l.id.as_str())
                        .bind(l.reason.as_str())
                        .bind(&l.detail)
                        .bind(&l.origin)
                        .bind(l.received_at.timestamp_micros())
                        .bind(&l.body)
                        .bind(crate::storage::dead_letter::letter_name(l))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list(
                &self,
                tenant: &crate::domain::Tenant,
            ) -> Result<Vec<crate::storage::DeadLetter>, crate::storage::StorageError> {
                use sqlx::Row;
                let rows = sqlx::query(LETTER_LIST).bind(tenant.as_str()).fetch_all(&self.pool).await?;
                let mut letters = rows
                    .into_iter()
                    .map(|row| {
                        let stored = crate::storage::dead_letter::StoredLetter {
                            id: row.try_get("id")?,
                            tenant: row.try_get("tenant")?,
                            reason: row.try_get("reason")?,
                            detail: row.try_get("detail")?,
                            origin: row.try_get("origin")?,
                            received_at: super::ledger::from_micros(row.try_get("received_at_us")?)?,
                            body: row.try_get("body")?,
                        };
                        let id = stored.id.clone();
                        stored
                            .into_letter()
                            .ok_or_else(|| crate::storage::StorageError::Corrupt(format!("dead letter {id}")))
                    })
                    .collect::<Result<Vec<_>, crate::storage::StorageError>>()?;
                crate::storage::dead_letter::sort_letters(&mut letters);
                Ok(letters)
            }
        }
    };
}

impl_sql_support!(sqlx::SqlitePool);
impl_sql_support!(sqlx::PgPool);
