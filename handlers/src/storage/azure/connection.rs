//! Which storage account to talk to and how: parsed from an
//! `AzureWebJobsStorage` connection string (account key, SAS, or
//! `UseDevelopmentStorage=true` for Azurite, for local development), or an
//! identity-based connection (`AzureWebJobsStorage__accountName` …, see
//! [`super::identity`]) whose requests carry the app credential's bearer
//! tokens; then turned into the 0.21 clients for tables, blobs and queues,
//! which share one HTTP client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use azure_core::{ExponentialRetryOptions, RetryOptions};
use azure_data_tables::clients::{TableServiceClient, TableServiceClientBuilder};
use azure_storage::{CloudLocation, ConnectionString, StorageCredentials};
use azure_storage_blobs::prelude::{BlobServiceClient, ClientBuilder};
use azure_storage_queues::{QueueServiceClient, QueueServiceClientBuilder};

use super::identity::IdentityConnection;
use crate::storage::StorageError;
use crate::storage::credential::{AppCredential, AzureHttp};

/// The account name and key of the storage emulator (public, well known).
const EMULATOR_ACCOUNT: &str = "devstoreaccount1";

/// The three storage services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Blob Storage.
    Blob,
    /// Queue Storage.
    Queue,
    /// Table Storage.
    Table,
}

impl Service {
    fn subdomain(self) -> &'static str {
        match self {
            Self::Blob => "blob",
            Self::Queue => "queue",
            Self::Table => "table",
        }
    }

    fn emulator_port(self) -> u16 {
        match self {
            Self::Blob => 10000,
            Self::Queue => 10001,
            Self::Table => 10002,
        }
    }
}

#[derive(Clone)]
enum Credentials {
    Key { key: String },
    Sas { token: String },
    Token(Arc<AppCredential>),
}

/// A storage account and how to authenticate to it.
#[derive(Clone)]
pub struct StorageAccount {
    account: String,
    credentials: Credentials,
    /// Explicit endpoints (`BlobEndpoint=…`; Azurite on other ports), by service.
    endpoints: [Option<String>; 3],
    /// `EndpointSuffix` (sovereign clouds); `core.windows.net` when absent.
    suffix: Option<String>,
    protocol: &'static str,
    emulator: bool,
    retry: RetryOptions,
    http: AzureHttp,
}

impl fmt::Debug for StorageAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key or SAS.
        f.debug_struct("StorageAccount")
            .field("account", &self.account)
            .field("endpoints", &self.endpoints)
            .field("emulator", &self.emulator)
            .field("identity", &self.identity())
            .finish_non_exhaustive()
    }
}

fn index(service: Service) -> usize {
    match service {
        Service::Blob => 0,
        Service::Queue => 1,
        Service::Table => 2,
    }
}

/// Retries of one storage call: a few quick ones, bounded in time, so a
/// storage outage fails the invocation (and the host retries the batch)
/// instead of holding it.
fn default_retry() -> RetryOptions {
    RetryOptions::exponential(
        ExponentialRetryOptions::default()
            .max_retries(4u32)
            .initial_delay(Duration::from_millis(200))
            .max_delay(Duration::from_secs(2))
            .max_total_elapsed(Duration::from_secs(10)),
    )
}

impl StorageAccount {
    /// Parses a connection string: `UseDevelopmentStorage=true`, or
    /// `AccountName` with `AccountKey` or `SharedAccessSignature`, optionally
    /// `DefaultEndpointsProtocol`, `EndpointSuffix` and per-service
    /// `BlobEndpoint`/`QueueEndpoint`/`TableEndpoint`.
    pub fn from_connection_string(text: &str) -> Result<Self, StorageError> {
        let parsed = ConnectionString::new(text.trim()).map_err(StorageError::ConnectionString)?;
        let endpoints = [parsed.blob_endpoint, parsed.queue_endpoint, parsed.table_endpoint]
            .map(|e| e.map(|e| e.trim_end_matches('/').to_owned()));
        if parsed.use_development_storage == Some(true) {
            return Ok(Self {
                account: EMULATOR_ACCOUNT.to_owned(),
                credentials: Credentials::Key { key: emulator_key() },
                endpoints,
                suffix: None,
                protocol: "http",
                emulator: true,
                retry: default_retry(),
                http: AzureHttp::default(),
            });
        }
        let account = parsed
            .account_name
            .ok_or_else(|| StorageError::Config("the storage connection string has no AccountName".into()))?
            .to_owned();
        let credentials = match (parsed.sas, parsed.account_key) {
            (Some(sas), _) => Credentials::Sas { token: sas.trim_start_matches('?').to_owned() },
            (None, Some(key)) => Credentials::Key { key: key.to_owned() },
            (None, None) => {
                return Err(StorageError::Config(
                    "the storage connection string has neither AccountKey nor SharedAccessSignature; \
                     for an identity-based connection set AzureWebJobsStorage__accountName instead (docs/storage.md)"
                        .into(),
                ));
            }
        };
        let protocol = match parsed.default_endpoints_protocol {
            Some(azure_storage::EndpointProtocol::Http) => "http",
            _ => "https",
        };
        Ok(Self {
            emulator: account == EMULATOR_ACCOUNT,
            account,
            credentials,
            endpoints,
            suffix: parsed.endpoint_suffix.map(str::to_owned),
            protocol,
            retry: default_retry(),
            http: AzureHttp::default(),
        })
    }

    /// An identity-based connection: every request carries a bearer token of
    /// the connection's credential, sent through `http`.
    pub fn from_identity(connection: &IdentityConnection, http: AzureHttp) -> Result<Self, StorageError> {
        let prefix = &connection.prefix;
        let account = connection.account().ok_or_else(|| {
            StorageError::Config(format!("{prefix}__accountName is not set and no service URI names the account"))
        })?;
        let credential = connection.credential.build(&http)?;
        Ok(Self::with_token(account, connection.service_uris.clone(), credential, http))
    }

    /// An account reached with `credential`'s tokens at the given endpoints
    /// (blob, queue, table; `None`: the public cloud's).
    pub fn with_token(
        account: String,
        endpoints: [Option<String>; 3],
        credential: Arc<AppCredential>,
        http: AzureHttp,
    ) -> Self {
        Self {
            account,
            credentials: Credentials::Token(credential),
            endpoints,
            suffix: None,
            protocol: "https",
            emulator: false,
            retry: default_retry(),
            http,
        }
    }

    /// Who the requests authenticate as, in messages (never the secret).
    pub fn identity(&self) -> String {
        match &self.credentials {
            Credentials::Key { .. } => format!("the account key of {}", self.account),
            Credentials::Sas { .. } => format!("a SAS of {}", self.account),
            Credentials::Token(credential) => credential.identity().to_owned(),
        }
    }

    /// A table, container or queue that could not be created; a refusal
    /// (see [`is_refusal`]) says who was refused and what usually causes it.
    pub fn create_failed(&self, resource: String, source: azure_core::Error) -> StorageError {
        if !is_refusal(&source) {
            return StorageError::AzureCreate { resource, source };
        }
        let hint = match &self.credentials {
            Credentials::Token(_) => {
                "check that the token is for https://storage.azure.com and that the identity has the \
                 Storage Blob Data Owner, Storage Queue Data Contributor and Storage Table Data Contributor roles"
            }
            _ => "check the key or SAS, and that the account allows shared-key access",
        };
        StorageError::AzureRefused { refusal: format!("{} (creating {resource}); {hint}", self.identity()), source }
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    fn location(&self, service: Service) -> CloudLocation {
        if let Some(endpoint) = &self.endpoints[index(service)] {
            return CloudLocation::Custom { account: self.account.clone(), uri: endpoint.clone() };
        }
        if self.emulator {
            return CloudLocation::Emulator { address: "127.0.0.1".into(), port: service.emulator_port() };
        }
        match &self.suffix {
            Some(suffix) => CloudLocation::Custom {
                account: self.account.clone(),
                uri: format!("{}://{}.{}.{suffix}", self.protocol, self.account, service.subdomain()),
            },
            None => CloudLocation::Public { account: self.account.clone() },
        }
    }

    fn credentials(&self) -> Result<StorageCredentials, StorageError> {
        Ok(match &self.credentials {
            Credentials::Key { key } => StorageCredentials::access_key(self.account.clone(), key.clone()),
            Credentials::Sas { token } => StorageCredentials::sas_token(token.as_str())?,
            Credentials::Token(credential) => StorageCredentials::token_credential(credential.for_storage()),
        })
    }

    /// The same account with another HTTP client (tests trust Azurite's
    /// certificate with it).
    pub fn with_http(mut self, http: AzureHttp) -> Self {
        self.http = http;
        self
    }

    /// The Table service client.
    pub fn table_service(&self) -> Result<TableServiceClient, StorageError> {
        Ok(TableServiceClientBuilder::with_location(self.location(Service::Table), self.credentials()?)
            .retry(self.retry.clone())
            .transport(self.http.legacy_transport())
            .build())
    }

    /// The Blob service client.
    pub fn blob_service(&self) -> Result<BlobServiceClient, StorageError> {
        Ok(ClientBuilder::with_location(self.location(Service::Blob), self.credentials()?)
            .retry(self.retry.clone())
            .transport(self.http.legacy_transport())
            .blob_service_client())
    }

    /// The Queue service client.
    pub fn queue_service(&self) -> Result<QueueServiceClient, StorageError> {
        Ok(QueueServiceClientBuilder::with_location(self.location(Service::Queue), self.credentials()?)
            .retry(self.retry.clone())
            .transport(self.http.legacy_transport())
            .build())
    }
}

/// The emulator's published account key.
fn emulator_key() -> String {
    ["Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6", "tq/K1SZFPTOtr/KBHBeksoGMGw=="].concat()
}

/// Whether Azure Storage refused the request's credentials: 401, 403, or the
/// 400 `InvalidAuthenticationInfo` (an `Authorization` header of a scheme the
/// account does not take, such as a shared key where only tokens are allowed).
fn is_refusal(e: &azure_core::Error) -> bool {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse { status, error_code } => {
            matches!(u16::from(*status), 401 | 403) || error_code.as_deref() == Some("InvalidAuthenticationInfo")
        }
        _ => false,
    }
}

/// Whether an azure error is the given HTTP status.
pub fn is_status(e: &azure_core::Error, status: u16) -> bool {
    matches!(e.kind(), azure_core::error::ErrorKind::HttpResponse { status: s, .. } if u16::from(*s) == status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_storage_points_at_the_emulator_ports() {
        let account = StorageAccount::from_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(account.account(), EMULATOR_ACCOUNT);
        let CloudLocation::Emulator { port, .. } = account.location(Service::Table) else { panic!() };
        assert_eq!(port, 10002);
    }

    #[test]
    fn explicit_endpoints_win_and_lose_their_trailing_slash() {
        let account = StorageAccount::from_connection_string(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;\
             BlobEndpoint=http://127.0.0.1:21000/devstoreaccount1/;",
        )
        .unwrap();
        let CloudLocation::Custom { uri, .. } = account.location(Service::Blob) else { panic!() };
        assert_eq!(uri, "http://127.0.0.1:21000/devstoreaccount1");
        assert!(matches!(account.location(Service::Queue), CloudLocation::Emulator { port: 10001, .. }));
    }

    #[test]
    fn a_production_connection_string_uses_the_public_cloud_and_hides_its_key() {
        let account = StorageAccount::from_connection_string(
            "DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net",
        )
        .unwrap();
        let CloudLocation::Custom { uri, .. } = account.location(Service::Queue) else { panic!() };
        assert_eq!(uri, "https://contoso.queue.core.windows.net");
        assert!(!format!("{account:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn a_connection_string_without_a_secret_is_refused() {
        assert!(StorageAccount::from_connection_string("AccountName=contoso").is_err());
    }
}
