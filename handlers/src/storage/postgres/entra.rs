//! PostgreSQL login with a Microsoft Entra ID token instead of a password.
//!
//! Azure Database for PostgreSQL flexible server takes an access token for
//! `https://ossrdbms-aad.database.windows.net/.default` as the password of
//! an Entra principal; the user is the principal's name (for a managed
//! identity, the identity's name). A token is checked when a connection
//! logs in, so connections already open stay open after it expires; only
//! new connections need a current one. The pool therefore gets a token
//! before it connects, and a task gives it the next one
//! (`PgPool::set_connect_options`) each time the credential's cache
//! refreshes it, until the pool is closed.
//!
//! Through PgBouncer: the token travels as a cleartext password inside TLS
//! (`sslmode=require`), which is what the server asks an Entra login for; no
//! SCRAM exchange, so no channel binding, and nothing PgBouncer must store.

use std::sync::Arc;
use std::time::Duration;

use azure_core_v1::time::OffsetDateTime;
use sqlx::postgres::{PgConnectOptions, PgPool};
use tracing::{info, warn};

use crate::storage::StorageError;
use crate::storage::credential::{AppCredential, POSTGRES_SCOPE, Token};

/// After a failed refresh, the next try.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// Passwords from the app credential.
#[derive(Debug, Clone)]
pub struct EntraPassword {
    credential: Arc<AppCredential>,
}

impl EntraPassword {
    /// Tokens of `credential`.
    pub fn new(credential: Arc<AppCredential>) -> Self {
        Self { credential }
    }

    /// Who logs in, in messages.
    pub fn identity(&self) -> &str {
        self.credential.identity()
    }

    /// `base` with the current token as its password, and the token.
    pub async fn options(&self, base: &PgConnectOptions) -> Result<(PgConnectOptions, Token), StorageError> {
        let token = self.credential.token(POSTGRES_SCOPE).await?;
        Ok((base.clone().password(token.secret()), token))
    }

    /// Keeps `pool`'s connect options on the current token until the pool
    /// closes. `current` is the token the pool was opened with.
    pub fn keep_fresh(self, pool: PgPool, base: PgConnectOptions, current: Token) {
        tokio::spawn(async move {
            let mut refresh_at = current.refresh_at;
            loop {
                let wait = until(refresh_at).max(Duration::from_millis(100));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = pool.close_event() => return,
                }
                match self.options(&base).await {
                    Ok((options, token)) => {
                        if token.refresh_at != refresh_at {
                            info!(identity = self.identity(), expires_on = %token.expires_on,
                                  "new PostgreSQL connections use a new token");
                        }
                        pool.set_connect_options(options);
                        refresh_at = token.refresh_at;
                    }
                    Err(e) => {
                        warn!(error = %crate::storage::error_chain(&e),
                              "PostgreSQL token refresh failed; new connections may fail until it works");
                        refresh_at = OffsetDateTime::now_utc() + RETRY_AFTER_FAILURE;
                    }
                }
            }
        });
    }
}

fn until(at: OffsetDateTime) -> Duration {
    Duration::try_from(at - OffsetDateTime::now_utc()).unwrap_or(Duration::ZERO)
}
