//! The app's one Entra ID credential, for every store reached without a
//! secret: Azure Storage (bearer tokens for `https://storage.azure.com`) and
//! PostgreSQL flexible server (a token for
//! `https://ossrdbms-aad.database.windows.net` as the password).
//!
//! - [`CredentialSettings`]: which credential a connection uses, from the
//!   Functions host's own setting names (`<connection>__credential`,
//!   `<connection>__clientId`): the user-assigned managed identity on Azure;
//!   the Azure CLI (or the Azure Developer CLI) or workload identity for
//!   developers.
//! - [`AppCredential`]: the credential from the current `azure_identity` 1.x
//!   crate with a token cache in front, so tokens are refreshed before they
//!   expire and never fetched per request ([`cache`]).
//! - [`LegacyTokenCredential`]: the adapter the 0.21 storage crates take
//!   (their `azure_core` 0.21 `TokenCredential`).
//! - [`AzureHttp`]: the one reqwest 0.12/rustls client both `azure_core`
//!   majors send through, so the identity crate adds no second HTTP or TLS
//!   stack ([`http`]).

mod cache;
pub mod http;
mod legacy;

use std::fmt;
use std::sync::Arc;

use azure_core_v1::credentials::TokenCredential;
use azure_core_v1::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, DeveloperToolsCredential, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

pub use cache::Token;
pub use http::AzureHttp;
pub use legacy::LegacyTokenCredential;

/// The scope of Azure Storage tokens (blobs, queues and tables).
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// The scope of Azure Database for PostgreSQL tokens (the password of an
/// Entra login).
pub const POSTGRES_SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

/// Which kind of credential a connection uses (`<connection>__credential`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// The App Service / Functions managed identity (`managedidentity`):
    /// user-assigned with a client id, else system-assigned.
    ManagedIdentity,
    /// Kubernetes workload identity (`workloadidentity`; reads
    /// `AZURE_FEDERATED_TOKEN_FILE` and `AZURE_TENANT_ID`).
    WorkloadIdentity,
    /// The developer's `az login` (`azurecli`).
    AzureCli,
    /// The Azure CLI, then the Azure Developer CLI (`developertools`): what a
    /// developer machine gets when `__credential` is not set.
    DeveloperTools,
}

impl CredentialKind {
    /// Parses a `__credential` value (case-insensitive).
    pub fn parse(raw: &str) -> Result<Self, CredentialError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "managedidentity" => Ok(Self::ManagedIdentity),
            "workloadidentity" => Ok(Self::WorkloadIdentity),
            "azurecli" => Ok(Self::AzureCli),
            "developertools" => Ok(Self::DeveloperTools),
            other => Err(CredentialError::Setting(format!(
                "credential {other:?}: use managedidentity, workloadidentity, azurecli or developertools"
            ))),
        }
    }
}

/// The credential of one connection: kind and, for a user-assigned identity,
/// its client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSettings {
    /// The kind of credential.
    pub kind: CredentialKind,
    /// `<connection>__clientId`: the user-assigned identity (or, for workload
    /// identity, the app registration) to get tokens for.
    pub client_id: Option<String>,
}

impl CredentialSettings {
    /// The settings of connection `prefix` (`<prefix>__credential`,
    /// `<prefix>__clientId`) looked up with `var`. Without `__credential`
    /// the host's own rule applies: the managed identity when the platform
    /// offers one (`on_azure`: `IDENTITY_ENDPOINT` is set), else the
    /// developer's tools.
    pub fn from_lookup(
        prefix: &str,
        var: &dyn Fn(&str) -> Option<String>,
        on_azure: bool,
    ) -> Result<Self, CredentialError> {
        let kind = match var(&format!("{prefix}__credential")) {
            Some(raw) => CredentialKind::parse(&raw)
                .map_err(|e| CredentialError::Setting(format!("{prefix}__credential: {e}")))?,
            None if on_azure => CredentialKind::ManagedIdentity,
            None => CredentialKind::DeveloperTools,
        };
        Ok(Self { kind, client_id: var(&format!("{prefix}__clientId")) })
    }

    /// Who the tokens are for, in messages.
    pub fn describe(&self) -> String {
        match (self.kind, &self.client_id) {
            (CredentialKind::ManagedIdentity, Some(id)) => format!("managed identity (client id {id})"),
            (CredentialKind::ManagedIdentity, None) => "system-assigned managed identity".into(),
            (CredentialKind::WorkloadIdentity, Some(id)) => format!("workload identity (client id {id})"),
            (CredentialKind::WorkloadIdentity, None) => "workload identity (AZURE_CLIENT_ID)".into(),
            (CredentialKind::AzureCli, _) => "Azure CLI login".into(),
            (CredentialKind::DeveloperTools, _) => "developer login (Azure CLI, then Azure Developer CLI)".into(),
        }
    }

    /// Builds the credential, sending through `http`.
    pub fn build(&self, http: &AzureHttp) -> Result<Arc<AppCredential>, CredentialError> {
        let client_options = ClientOptions { transport: Some(http.v1_transport()), ..ClientOptions::default() };
        let built: azure_core_v1::Result<Arc<dyn TokenCredential>> = match self.kind {
            CredentialKind::ManagedIdentity => ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: self.client_id.clone().map(UserAssignedId::ClientId),
                client_options,
            }))
            .map(|c| c as Arc<dyn TokenCredential>),
            CredentialKind::WorkloadIdentity => {
                WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions { client_options },
                    client_id: self.client_id.clone(),
                    ..WorkloadIdentityCredentialOptions::default()
                }))
                .map(|c| c as Arc<dyn TokenCredential>)
            }
            CredentialKind::AzureCli => AzureCliCredential::new(None).map(|c| c as Arc<dyn TokenCredential>),
            CredentialKind::DeveloperTools => {
                DeveloperToolsCredential::new(None).map(|c| c as Arc<dyn TokenCredential>)
            }
        };
        let identity = self.describe();
        let inner =
            built.map_err(|source| CredentialError::Build { identity: identity.clone(), source: Box::new(source) })?;
        Ok(Arc::new(AppCredential::new(identity, inner)))
    }
}

/// A credential failure. Every variant names the identity, and a token
/// failure also the scope, so the log says who could not get access to what.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A credential setting is wrong.
    #[error("{0}")]
    Setting(String),
    /// The credential could not be set up (for example, the platform offers
    /// no managed identity endpoint).
    #[error("setting up the {identity}")]
    Build {
        /// Who the tokens were to be for.
        identity: String,
        /// What the identity crate said.
        #[source]
        source: Box<azure_core_v1::Error>,
    },
    /// No token could be had, and no earlier one is still valid.
    #[error("getting a token for {scope} as {identity}")]
    Token {
        /// Who the token was for.
        identity: String,
        /// What it was for.
        scope: String,
        /// What the identity crate (or the token endpoint) said.
        #[source]
        source: Box<azure_core_v1::Error>,
    },
    /// The token endpoint answered with a token that has already expired.
    #[error("the token for {scope} that {identity} got has already expired (expires_on {expires_on})")]
    Expired {
        /// Who the token was for.
        identity: String,
        /// What it was for.
        scope: String,
        /// When it expired.
        expires_on: azure_core_v1::time::OffsetDateTime,
    },
}

/// The app's credential: an `azure_identity` 1.x credential behind a token
/// cache. Shared (`Arc`) by every client of one connection.
pub struct AppCredential {
    identity: String,
    inner: Arc<dyn TokenCredential>,
    cache: cache::TokenCache,
}

impl fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredential").field("identity", &self.identity).finish_non_exhaustive()
    }
}

impl AppCredential {
    /// Wraps a 1.x credential; `identity` names it in messages.
    pub fn new(identity: impl Into<String>, inner: Arc<dyn TokenCredential>) -> Self {
        Self { identity: identity.into(), inner, cache: cache::TokenCache::default() }
    }

    /// Who the tokens are for.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// A token for `scope`: the cached one until it is due for refresh, else
    /// a new one (one fetch at a time per scope). If the refresh fails while
    /// the cached token is still valid, the cached one is used and the
    /// failure logged; otherwise the failure is returned.
    pub async fn token(&self, scope: &str) -> Result<Token, CredentialError> {
        self.cache.get(&self.identity, scope, self.inner.as_ref()).await
    }

    /// Forgets every cached token.
    pub async fn clear(&self) {
        self.cache.clear().await;
    }

    /// The adapter for the 0.21 storage crates.
    pub fn for_storage(self: &Arc<Self>) -> Arc<dyn azure_core::auth::TokenCredential> {
        Arc::new(LegacyTokenCredential::new(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_host_settings_name_a_user_assigned_managed_identity() {
        let var =
            lookup(&[("AzureWebJobsStorage__credential", "managedidentity"), ("AzureWebJobsStorage__clientId", "c1")]);
        let settings = CredentialSettings::from_lookup("AzureWebJobsStorage", &var, false).unwrap();
        assert_eq!(settings.kind, CredentialKind::ManagedIdentity);
        assert_eq!(settings.describe(), "managed identity (client id c1)");
    }

    #[test]
    fn without_a_credential_setting_azure_means_managed_identity_and_elsewhere_the_developer_login() {
        let var = lookup(&[]);
        assert_eq!(CredentialSettings::from_lookup("X", &var, true).unwrap().kind, CredentialKind::ManagedIdentity);
        assert_eq!(CredentialSettings::from_lookup("X", &var, false).unwrap().kind, CredentialKind::DeveloperTools);
    }

    #[test]
    fn an_unknown_credential_is_refused_naming_the_setting() {
        let var = lookup(&[("CHARGEBACK_DB__credential", "clientsecret")]);
        let e = CredentialSettings::from_lookup("CHARGEBACK_DB", &var, false).unwrap_err().to_string();
        assert!(e.contains("CHARGEBACK_DB__credential") && e.contains("clientsecret"), "{e}");
    }
}
