//! PostgreSQL through sqlx: the chargeback schema (aggregates, business
//! units, application mapping, prices, results, maintenance log) and, when
//! `CHARGEBACK_LEDGER=postgres`, the ledger itself.
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

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StorageError;
use super::credential::AppCredential;
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
        let base = PgConnectOptions::from_str(&self.url)?.statement_cache_capacity(self.statement_cache);
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

/// The ledger in PostgreSQL (same queries as the SQLite one).
#[derive(Debug, Clone)]
pub struct PgLedger {
    pool: PgPool,
}

impl PgLedger {
    /// A ledger on a migrated pool ([`PgConfig::connect`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

crate::impl_sql_ledger!(PgLedger, sqlx::Postgres);
