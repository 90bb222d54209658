//! Tokens cached per scope and refreshed before they expire.
//!
//! A token is handed out until its refresh time: five minutes before it
//! expires, or half-way through its life if that is shorter (a token that
//! lives ten minutes is refreshed after five; one that lives four seconds,
//! after two). Then the next caller fetches a new one while the others wait
//! for it, so a scope never has two fetches in flight. If the fetch fails
//! and the old token has not expired yet, the old one is handed out and the
//! failure logged; the next caller tries again.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use azure_core_v1::credentials::TokenCredential;
use azure_core_v1::time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;
use tracing::warn;

use super::CredentialError;

/// The longest time before expiry at which a token is refreshed.
const REFRESH_MARGIN: Duration = Duration::minutes(5);

/// An access token and when it is due for refresh.
#[derive(Clone)]
pub struct Token {
    secret: String,
    /// When the token stops being valid.
    pub expires_on: OffsetDateTime,
    /// When the cache fetches the next one.
    pub refresh_at: OffsetDateTime,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .field("refresh_at", &self.refresh_at)
            .finish()
    }
}

impl Token {
    /// The token itself (a bearer token or a database password).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    fn new(secret: String, expires_on: OffsetDateTime, now: OffsetDateTime) -> Self {
        let lifetime: Duration = expires_on - now;
        let margin = Duration::min(lifetime / 2_i32, REFRESH_MARGIN);
        Self { secret, expires_on, refresh_at: expires_on - margin }
    }
}

type Slot = Arc<Mutex<Option<Token>>>;

/// The tokens of one credential, by scope.
#[derive(Default)]
pub(super) struct TokenCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl TokenCache {
    async fn slot(&self, scope: &str) -> Slot {
        self.slots.lock().await.entry(scope.to_owned()).or_default().clone()
    }

    /// The token for `scope`, fetched from `credential` when there is none
    /// or it is due for refresh.
    pub(super) async fn get(
        &self,
        identity: &str,
        scope: &str,
        credential: &dyn TokenCredential,
    ) -> Result<Token, CredentialError> {
        let slot = self.slot(scope).await;
        let mut cached = slot.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some(token) = cached.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.clone());
        }
        match credential.get_token(&[scope], None).await {
            Ok(fresh) => {
                let now = OffsetDateTime::now_utc();
                if fresh.expires_on <= now {
                    return Err(CredentialError::Expired {
                        identity: identity.to_owned(),
                        scope: scope.to_owned(),
                        expires_on: fresh.expires_on,
                    });
                }
                let token = Token::new(fresh.token.secret().to_owned(), fresh.expires_on, now);
                *cached = Some(token.clone());
                Ok(token)
            }
            Err(source) => match cached.as_ref().filter(|t| now < t.expires_on) {
                Some(still_valid) => {
                    warn!(identity, scope, error = %crate::storage::error_chain(&source),
                          "token refresh failed; using the current token until it expires");
                    Ok(still_valid.clone())
                }
                None => Err(CredentialError::Token {
                    identity: identity.to_owned(),
                    scope: scope.to_owned(),
                    source: Box::new(source),
                }),
            },
        }
    }

    pub(super) async fn clear(&self) {
        self.slots.lock().await.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use azure_core_v1::credentials::{AccessToken, TokenRequestOptions};
    use azure_core_v1::error::ErrorKind;

    use super::*;

    /// Hands out numbered tokens that live `lifetime`; fails while `failing`.
    #[derive(Debug)]
    struct Counting {
        lifetime: Duration,
        fetches: AtomicUsize,
        failing: std::sync::atomic::AtomicBool,
    }

    impl Counting {
        fn new(lifetime: Duration) -> Self {
            Self { lifetime, fetches: AtomicUsize::new(0), failing: false.into() }
        }
    }

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(
            &self,
            scopes: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core_v1::Result<AccessToken> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(azure_core_v1::Error::with_message(ErrorKind::Credential, "endpoint down"));
            }
            let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(AccessToken::new(format!("{}#{n}", scopes[0]), OffsetDateTime::now_utc() + self.lifetime))
        }
    }

    #[tokio::test]
    async fn a_token_is_fetched_once_and_then_served_from_the_cache() {
        let cache = TokenCache::default();
        let credential = Counting::new(Duration::hours(1));
        for _ in 0..100 {
            let token = cache.get("me", "s/.default", &credential).await.unwrap();
            assert_eq!(token.secret(), "s/.default#1");
        }
        assert_eq!(credential.fetches.load(Ordering::SeqCst), 1);
        let token = cache.get("me", "s/.default", &credential).await.unwrap();
        assert_eq!(token.expires_on - token.refresh_at, REFRESH_MARGIN);
    }

    #[tokio::test]
    async fn scopes_have_tokens_of_their_own() {
        let cache = TokenCache::default();
        let credential = Counting::new(Duration::hours(1));
        assert_eq!(cache.get("me", "a", &credential).await.unwrap().secret(), "a#1");
        assert_eq!(cache.get("me", "b", &credential).await.unwrap().secret(), "b#2");
        assert_eq!(cache.get("me", "a", &credential).await.unwrap().secret(), "a#1");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(TokenCache::default());
        let credential = Arc::new(Counting::new(Duration::hours(1)));
        let calls: Vec<_> = (0..32)
            .map(|_| {
                let (cache, credential) = (cache.clone(), credential.clone());
                tokio::spawn(async move { cache.get("me", "s", credential.as_ref()).await.map(|t| t.secret) })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap(), "s#1");
        }
        assert_eq!(credential.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_short_lived_token_is_refreshed_half_way_through_its_life() {
        let cache = TokenCache::default();
        let credential = Counting::new(Duration::milliseconds(1200));
        let first = cache.get("me", "s", &credential).await.unwrap();
        assert_eq!(first.secret(), "s#1");
        assert!(first.expires_on - first.refresh_at <= Duration::milliseconds(600));
        assert_eq!(cache.get("me", "s", &credential).await.unwrap().secret(), "s#1");
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        assert_eq!(cache.get("me", "s", &credential).await.unwrap().secret(), "s#2");
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_a_still_valid_token_and_names_identity_and_scope_once_it_is_gone() {
        let cache = TokenCache::default();
        let credential = Counting::new(Duration::milliseconds(800));
        assert_eq!(cache.get("me", "s", &credential).await.unwrap().secret(), "s#1");
        credential.failing.store(true, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(450)).await;
        // Due for refresh, the refresh fails, the token is still valid.
        assert_eq!(cache.get("me", "s", &credential).await.unwrap().secret(), "s#1");
        tokio::time::sleep(std::time::Duration::from_millis(450)).await;
        let e = cache.get("managed identity (client id c1)", "s", &credential).await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains("managed identity (client id c1)") && text.contains(" s "), "{text}");
        assert!(crate::storage::error_chain(&e).contains("endpoint down"), "{}", crate::storage::error_chain(&e));
    }

    #[tokio::test]
    async fn an_already_expired_token_is_refused() {
        let cache = TokenCache::default();
        let credential = Counting::new(Duration::seconds(-5));
        let e = cache.get("me", "s", &credential).await.unwrap_err();
        assert!(matches!(e, CredentialError::Expired { .. }), "{e}");
    }
}
