//! The app credential as the `azure_core` 0.21 `TokenCredential` that the
//! 0.21 storage crates take (`StorageCredentials::token_credential`). They
//! ask for a token on every request; the answer comes from the app
//! credential's cache.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::auth::{AccessToken, TokenCredential};
use azure_core::error::{Error, ErrorKind};

use super::AppCredential;

/// The adapter.
#[derive(Debug, Clone)]
pub struct LegacyTokenCredential {
    credential: Arc<AppCredential>,
}

impl LegacyTokenCredential {
    /// Wraps the app credential.
    pub fn new(credential: Arc<AppCredential>) -> Self {
        Self { credential }
    }
}

#[async_trait]
impl TokenCredential for LegacyTokenCredential {
    async fn get_token(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let [scope] = scopes else {
            return Err(Error::with_message(ErrorKind::Credential, || format!("one scope per token, not {scopes:?}")));
        };
        let token = self.credential.token(scope).await.map_err(|e| Error::new(ErrorKind::Credential, e))?;
        Ok(AccessToken::new(token.secret().to_owned(), token.expires_on))
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        self.credential.clear().await;
        Ok(())
    }
}
