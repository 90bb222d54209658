//! Typed configuration from the environment (and flags that override it).
//!
//! Every variable the code reads is listed in [`SETTINGS`]; `chargeback
//! settings` prints that list, and the infrastructure check compares it with
//! the app settings the Bicep sets. Secrets are never printed.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::RngCore;

use crate::domain::{Fingerprinter, Tenant};

/// One app setting the code reads.
#[derive(Debug, Clone, Copy)]
pub struct SettingDoc {
    /// Environment variable name.
    pub name: &'static str,
    /// Whether it holds a secret.
    pub secret: bool,
    /// Who sets it: `host` (the Functions host), `app` (our app settings).
    pub set_by: &'static str,
    /// What it means and its default.
    pub doc: &'static str,
}

/// Every environment variable the code reads.
pub const SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        name: "FUNCTIONS_CUSTOMHANDLER_PORT",
        secret: false,
        set_by: "host",
        doc: "Port the Functions host asks the handler to listen on (127.0.0.1). Default for `serve` outside the host: 7071.",
    },
    SettingDoc {
        name: "CHARGEBACK_DATA_DIR",
        secret: false,
        set_by: "app",
        doc: "Folder of the embedded backend (SQLite ledger, dead-letter folder, reports). Default: ./chargeback-data.",
    },
    SettingDoc {
        name: "CHARGEBACK_TENANT",
        secret: false,
        set_by: "app",
        doc: "Tenant of records that do not name one. Default: default.",
    },
    SettingDoc {
        name: "CHARGEBACK_FINGERPRINT_SECRET",
        secret: true,
        set_by: "app",
        doc: "Secret for the HMAC fingerprints of subscription keys. Default on the embedded backend: a random secret created once in <data dir>/fingerprint.key.",
    },
    SettingDoc {
        name: "CHARGEBACK_APPLICATIONS",
        secret: false,
        set_by: "app",
        doc: "CSV mapping party (application, subscription id or key fingerprint) to application and business unit. Default: <data dir>/applications.csv.",
    },
    SettingDoc {
        name: "CHARGEBACK_DEPLOYMENTS",
        secret: false,
        set_by: "app",
        doc: "CSV mapping Azure OpenAI deployment to model (header deployment,model), to pick the tokenizer for streamed records that do not name their model; optional columns deployment_type, ptu_monthly_cost or ptu_hourly_cost, capacity_tokens_per_minute and currency price the deployment, resource_id (the ARM id of its Azure OpenAI account) and region place it for the FOCUS export and the invoice reconciliation (docs/chargeback.md). Default: <data dir>/deployments.csv.",
    },
    SettingDoc {
        name: "CHARGEBACK_PRICES",
        secret: false,
        set_by: "app",
        doc: "CSV of Azure OpenAI prices that override or extend the shipped prices/azure-openai.csv (same format, per-1M or per-1K columns; docs/chargeback.md). Default: none (the shipped prices only).",
    },
    SettingDoc {
        name: "CHARGEBACK_ATTRIBUTION_GRACE",
        secret: false,
        set_by: "app",
        doc: "How long a call from API Management's resource logs waits for its GatewayLogs half (its caller) after its GatewayLlmLogs half arrived; until then its usage is reported as awaiting attribution, after it as unattributed (docs/record-format.md section 4). Minutes, or a number with s, m or h. Default: 60m.",
    },
    SettingDoc {
        name: "CHARGEBACK_PRICES_ENDPOINT",
        secret: false,
        set_by: "app",
        doc: "The Azure Retail Prices API the price sync reads (`chargeback prices sync`, the weekly prices-sync timer; docs/chargeback.md). Default: https://prices.azure.com/api/retail/prices.",
    },
    SettingDoc {
        name: "CHARGEBACK_PRICES_CURRENCY",
        secret: false,
        set_by: "app",
        doc: "Currency code the price sync asks the Retail Prices API for (USD is Microsoft's own price; others are Microsoft's conversions). Default: USD.",
    },
    SettingDoc {
        name: "CHARGEBACK_PRICES_REGIONS",
        secret: false,
        set_by: "app",
        doc: "Azure regions (armRegionName, comma-separated) the price sync reads. Default: the regions of the deployment file; when it names none, every region.",
    },
    SettingDoc {
        name: "CHARGEBACK_METER_MAPPING",
        secret: false,
        set_by: "app",
        doc: "CSV naming what price meters are (meter id or name -> model, deployment_type, token_kind, service_tier, version; or ignore), for meters the price sync's parser cannot read; its rows win over the parser (docs/chargeback.md). Default: none.",
    },
    SettingDoc {
        name: "CHARGEBACK_INVOICE_FILE",
        secret: false,
        set_by: "app",
        doc: "Azure Cost Management FOCUS cost export (CSV or .csv.gz) the monthly rollup reconciles the month with; {month} in the path becomes YYYY-MM (e.g. /mnt/exports/focus-{month}.csv.gz). The rollup writes reconciliation.json and reconciliation.csv beside the reports (docs/chargeback.md). Default: none (no reconciliation).",
    },
    SettingDoc {
        name: "CHARGEBACK_INVOICE_TRUE_UP",
        secret: false,
        set_by: "app",
        doc: "true: the rollup adds the reconciliation's correction lines to the month's reports, so they sum to the invoice. Default: false (the reconciliation is reported only).",
    },
    SettingDoc {
        name: "AzureWebJobsStorage",
        secret: true,
        set_by: "app",
        doc: "Storage account of the host and of the Azure backend (ledger on Table Storage, dead letters, reports and leases on Blob Storage, work queue on Storage Queues) as a connection string: for Azurite and local development (UseDevelopmentStorage=true, or AccountName with AccountKey or SharedAccessSignature, optional BlobEndpoint/QueueEndpoint/TableEndpoint/EndpointSuffix). In production use the identity-based settings AzureWebJobsStorage__accountName/__credential/__clientId instead: no key. Default: none (embedded backend).",
    },
    SettingDoc {
        name: "AzureWebJobsStorage__accountName",
        secret: false,
        set_by: "app",
        doc: "Storage account of the host and of the Azure backend, reached by identity (bearer tokens, no key): endpoints https://<name>.{blob,queue,table}.core.windows.net. Ignored when AzureWebJobsStorage is a connection string. Default: none.",
    },
    SettingDoc {
        name: "AzureWebJobsStorage__blobServiceUri",
        secret: false,
        set_by: "app",
        doc: "Blob endpoint of the identity-based storage connection instead of the one from __accountName (sovereign clouds, Azurite over HTTPS). Default: from __accountName.",
    },
    SettingDoc {
        name: "AzureWebJobsStorage__queueServiceUri",
        secret: false,
        set_by: "app",
        doc: "Queue endpoint of the identity-based storage connection (as __blobServiceUri). Default: from __accountName.",
    },
    SettingDoc {
        name: "AzureWebJobsStorage__tableServiceUri",
        secret: false,
        set_by: "app",
        doc: "Table endpoint of the identity-based storage connection (as __blobServiceUri). Default: from __accountName.",
    },
    SettingDoc {
        name: "AzureWebJobsStorage__credential",
        secret: false,
        set_by: "app",
        doc: "Credential of the identity-based storage connection: managedidentity (the Function App's identity), or for developers azurecli, developertools (Azure CLI, then Azure Developer CLI) or workloadidentity. Default: managedidentity where the platform offers one (IDENTITY_ENDPOINT set), else developertools.",
    },
    SettingDoc {
        name: "AzureWebJobsStorage__clientId",
        secret: false,
        set_by: "app",
        doc: "Client id of the user-assigned managed identity (or workload identity app) of the storage connection. Default: the system-assigned identity.",
    },
    SettingDoc {
        name: "CHARGEBACK_LEDGER",
        secret: false,
        set_by: "app",
        doc: "Where the ledger lives: sqlite (embedded), table (Azure Table Storage, needs the AzureWebJobsStorage account, by identity or connection string) or postgres (needs DATABASE_URL). Default: table when a storage account is configured, else sqlite.",
    },
    SettingDoc {
        name: "DATABASE_URL",
        secret: true,
        set_by: "app",
        doc: "PostgreSQL URL (postgres://user[:password]@host:port/db?sslmode=…) of the chargeback schema, and of the ledger when CHARGEBACK_LEDGER=postgres. With CHARGEBACK_DB__credential it holds no password and the user is the Entra principal's name (the managed identity's name). Migrations run on start. Default: none.",
    },
    SettingDoc {
        name: "CHARGEBACK_DB__credential",
        secret: false,
        set_by: "app",
        doc: "Log in to PostgreSQL with a Microsoft Entra ID token (for https://ossrdbms-aad.database.windows.net) as the password, refreshed before it expires: managedidentity, or for developers azurecli, developertools or workloadidentity. Default: none (the password in DATABASE_URL or PGPASSWORD, if any).",
    },
    SettingDoc {
        name: "CHARGEBACK_DB__clientId",
        secret: false,
        set_by: "app",
        doc: "Client id of the user-assigned managed identity that logs in to PostgreSQL (with CHARGEBACK_DB__credential). Default: the system-assigned identity.",
    },
    SettingDoc {
        name: "CHARGEBACK_DB_STATEMENT_CACHE",
        secret: false,
        set_by: "app",
        doc: "Prepared statements cached per PostgreSQL connection; 0 behind PgBouncer in transaction mode. Default: 100.",
    },
    SettingDoc {
        name: "CHARGEBACK_MAINTENANCE",
        secret: false,
        set_by: "app",
        doc: "Nightly maintenance thresholds and budget as key=value pairs separated by commas (budget_seconds, lock_timeout_ms, analyze_min_rows, analyze_percent, vacuum_min_dead_rows, vacuum_percent, reindex_bloat_percent, reindex_min_bytes, pgstattuple, partition_months_ahead, retention_months, retention_drop, sqlite_free_pages); see docs/operations.md. Default: the documented defaults (budget 480 s).",
    },
    SettingDoc {
        name: "CHARGEBACK_API_KEY",
        secret: true,
        set_by: "app",
        doc: "Key of the HTTP API when `chargeback serve` runs outside the Functions host (sent as the x-functions-key header or the code query parameter). Under the host, the host checks its own function keys and this is not used. Default: none (then the standalone API refuses to serve unless CHARGEBACK_API_AUTH=none).",
    },
    SettingDoc {
        name: "CHARGEBACK_API_AUTH",
        secret: false,
        set_by: "app",
        doc: "Authentication of the HTTP API outside the Functions host: key (CHARGEBACK_API_KEY) or none (local trials only). Under the host it is ignored: the host enforces the functions' authLevel. Default: key.",
    },
    SettingDoc {
        name: "CHARGEBACK_MAX_INVOCATION_BYTES",
        secret: false,
        set_by: "app",
        doc: "Largest invocation body the handler accepts from the Functions host, in bytes; a larger one is refused with 413 and logged as an error (the host would retry it, then skip the batch, so raise this before raising maxEventBatchSize). Default: 420478976 (401 MiB): maxEventBatchSize 100 (host.json) x 1 MiB (the largest Event Hubs event) x 4 (each quote or backslash of a body takes four bytes after the host's two JSON encodings) + 1 MiB of metadata.",
    },
    SettingDoc {
        name: "IDENTITY_ENDPOINT",
        secret: false,
        set_by: "host",
        doc: "The platform's managed identity endpoint (App Service / Functions), read by the managed identity credential. Set by Azure, never by us.",
    },
    SettingDoc {
        name: "IDENTITY_HEADER",
        secret: true,
        set_by: "host",
        doc: "The header value that proves a request to IDENTITY_ENDPOINT comes from the app. Set by Azure, never by us.",
    },
    SettingDoc {
        name: "AZURE_FEDERATED_TOKEN_FILE",
        secret: false,
        set_by: "host",
        doc: "Workload identity only (credential workloadidentity): the projected service account token, set by the Kubernetes workload identity webhook, as are AZURE_TENANT_ID and AZURE_CLIENT_ID.",
    },
    SettingDoc {
        name: "RUST_LOG",
        secret: false,
        set_by: "app",
        doc: "Log filter (tracing EnvFilter syntax). Default: info.",
    },
];

/// A secret value whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_bytes())
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Folder of the embedded backend.
    pub data_dir: PathBuf,
    /// Default tenant.
    pub tenant: Tenant,
    /// Fingerprint secret, if configured (else the embedded key file is used).
    pub fingerprint_secret: Option<Secret>,
    /// Application mapping file, if configured.
    pub applications_file: Option<PathBuf>,
    /// Deployment → model mapping file, if configured.
    pub deployments_file: Option<PathBuf>,
    /// The user's price file (`CHARGEBACK_PRICES`), if configured.
    pub prices_file: Option<PathBuf>,
    /// The price sync (`CHARGEBACK_PRICES_ENDPOINT`, `_CURRENCY`, `_REGIONS`, `CHARGEBACK_METER_MAPPING`).
    pub price_sync: PriceSyncSettings,
    /// The invoice export the rollup reconciles with (`CHARGEBACK_INVOICE_FILE`;
    /// `{month}` becomes YYYY-MM), if configured.
    pub invoice_file: Option<String>,
    /// Whether the rollup trues the month up to the invoice (`CHARGEBACK_INVOICE_TRUE_UP`).
    pub invoice_true_up: bool,
    /// Port from the Functions host.
    pub port: Option<u16>,
    /// Where the stores live.
    pub storage: StorageSettings,
    /// The HTTP API's own authentication (outside the Functions host).
    pub api: ApiSettings,
    /// Limits of the host's invocations.
    pub invocations: InvocationSettings,
    /// How long a resource-log call waits for its caller
    /// (`CHARGEBACK_ATTRIBUTION_GRACE`).
    pub attribution_grace: chrono::TimeDelta,
}

/// `maxEventBatchSize` in `host.json`: the most events the host puts in one invocation.
pub const MAX_EVENT_BATCH_SIZE: usize = 100;
/// The largest event Event Hubs accepts (Standard and Premium tiers).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// How much larger a body gets in the invocation: the host JSON-encodes each
/// event into an array and the array into a string, so each `"` or `\` of a
/// body becomes four bytes.
pub const INVOCATION_ENCODING_FACTOR: usize = 4;
/// Room for the trigger metadata (positions, enqueued times, properties).
pub const INVOCATION_METADATA_BYTES: usize = 1024 * 1024;

/// What the host may send in one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationSettings {
    /// `CHARGEBACK_MAX_INVOCATION_BYTES`: the largest body accepted.
    pub max_body_bytes: usize,
}

impl Default for InvocationSettings {
    /// Sized from what the host can send: a full batch of the largest events.
    fn default() -> Self {
        Self {
            max_body_bytes: MAX_EVENT_BATCH_SIZE * MAX_EVENT_BYTES * INVOCATION_ENCODING_FACTOR
                + INVOCATION_METADATA_BYTES,
        }
    }
}

impl InvocationSettings {
    /// Reads the environment.
    pub fn from_env() -> anyhow::Result<Self> {
        match var("CHARGEBACK_MAX_INVOCATION_BYTES") {
            None => Ok(Self::default()),
            Some(v) => {
                let max_body_bytes = v.trim().parse::<usize>().ok().filter(|n| *n >= 64 * 1024).with_context(|| {
                    format!("CHARGEBACK_MAX_INVOCATION_BYTES={v:?}: a number of bytes, at least 65536")
                })?;
                Ok(Self { max_body_bytes })
            }
        }
    }
}

/// A duration written as minutes (`60`) or a number with `s`, `m` or `h`.
pub fn parse_duration(raw: &str) -> anyhow::Result<chrono::TimeDelta> {
    let text = raw.trim().to_ascii_lowercase();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text.as_str(), "m"),
    };
    let n: i64 = number.parse().with_context(|| format!("{raw:?} is not a duration (e.g. 60m, 2h, 90s)"))?;
    let seconds = match unit.trim() {
        "s" => Some(n),
        "m" | "min" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        other => anyhow::bail!("{raw:?}: unknown unit {other:?} (use s, m or h)"),
    };
    seconds.and_then(chrono::TimeDelta::try_seconds).with_context(|| format!("{raw:?} is too long a duration"))
}

/// What the price sync reads and how it reads meters.
#[derive(Debug, Clone, Default)]
pub struct PriceSyncSettings {
    /// `CHARGEBACK_PRICES_ENDPOINT` (default: Microsoft's API).
    pub endpoint: Option<String>,
    /// `CHARGEBACK_PRICES_CURRENCY` (default: USD).
    pub currency: Option<String>,
    /// `CHARGEBACK_PRICES_REGIONS` (default: the deployment file's regions).
    pub regions: Vec<String>,
    /// `CHARGEBACK_METER_MAPPING`.
    pub meter_mapping: Option<PathBuf>,
}

impl PriceSyncSettings {
    /// Reads the environment.
    pub fn from_env() -> Self {
        Self {
            endpoint: var("CHARGEBACK_PRICES_ENDPOINT"),
            currency: var("CHARGEBACK_PRICES_CURRENCY"),
            regions: var("CHARGEBACK_PRICES_REGIONS")
                .map(|v| v.split(',').map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect())
                .unwrap_or_default(),
            meter_mapping: var("CHARGEBACK_METER_MAPPING").map(PathBuf::from),
        }
    }
}

/// How the HTTP API authenticates callers when no Functions host does it.
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    /// `CHARGEBACK_API_KEY`.
    pub key: Option<Secret>,
    /// `CHARGEBACK_API_AUTH=none`: serve without a key (local trials only).
    pub no_auth: bool,
}

impl ApiSettings {
    /// Reads the environment.
    pub fn from_env() -> anyhow::Result<Self> {
        let no_auth = match var("CHARGEBACK_API_AUTH").map(|v| v.trim().to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "key" => false,
            Some(v) if v == "none" => true,
            Some(other) => anyhow::bail!("CHARGEBACK_API_AUTH={other:?}: use key or none"),
        };
        Ok(Self { key: var("CHARGEBACK_API_KEY").map(Secret::new), no_auth })
    }
}

/// Which ledger implementation to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerBackend {
    /// SQLite in the data directory.
    Sqlite,
    /// Azure Table Storage.
    Table,
    /// PostgreSQL.
    Postgres,
}

impl LedgerBackend {
    fn parse(raw: &str) -> anyhow::Result<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "sqlite" | "embedded" => Ok(Self::Sqlite),
            "table" | "azure" => Ok(Self::Table),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            other => anyhow::bail!("CHARGEBACK_LEDGER={other:?}: use sqlite, table or postgres"),
        }
    }
}

/// The parts of an identity-based storage connection (`<prefix>__<part>`):
/// where (the first four), then with what.
const STORAGE_PARTS: &[&str] =
    &["accountName", "blobServiceUri", "queueServiceUri", "tableServiceUri", "credential", "clientId"];

/// An identity-based connection as set: the `<prefix>__<part>` values by
/// part (`accountName`, `credential`, `clientId`, …). The storage layer
/// parses them (`storage::azure::IdentityConnection`,
/// `storage::credential::CredentialSettings`), with [`Self::lookup`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentitySettings {
    /// The connection's prefix (`AzureWebJobsStorage`, `CHARGEBACK_DB`).
    pub prefix: String,
    /// The values set, by part.
    pub parts: std::collections::BTreeMap<String, String>,
    /// `IDENTITY_ENDPOINT` is set: the platform offers a managed identity,
    /// the default credential then.
    pub on_azure: bool,
}

impl IdentitySettings {
    fn from_env(prefix: &str, parts: &[&str]) -> Option<Self> {
        let parts: std::collections::BTreeMap<String, String> = parts
            .iter()
            .filter_map(|part| var(&format!("{prefix}__{part}")).map(|v| ((*part).to_owned(), v)))
            .collect();
        (!parts.is_empty()).then(|| Self {
            prefix: prefix.to_owned(),
            parts,
            on_azure: var("IDENTITY_ENDPOINT").is_some(),
        })
    }

    /// The value of the setting `name` (`<prefix>__<part>`), if set.
    pub fn lookup(&self, name: &str) -> Option<String> {
        let part = name.strip_prefix(&self.prefix)?.strip_prefix("__")?;
        self.parts.get(part).cloned()
    }
}

/// Storage configuration (see `docs/storage.md`).
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// `AzureWebJobsStorage` when it is a connection string.
    pub azure_connection: Option<Secret>,
    /// `AzureWebJobsStorage__accountName` … when the storage connection is
    /// identity-based (and no connection string is given).
    pub azure_identity: Option<IdentitySettings>,
    /// Root certificates (PEM) trusted for Azure Storage besides the public
    /// ones (not an app setting; tests trust Azurite's with it).
    pub azure_extra_roots: Vec<Vec<u8>>,
    /// `CHARGEBACK_LEDGER`, if set.
    pub ledger: Option<LedgerBackend>,
    /// `DATABASE_URL`.
    pub database_url: Option<Secret>,
    /// `CHARGEBACK_DB_STATEMENT_CACHE`.
    pub statement_cache: Option<usize>,
    /// `CHARGEBACK_DB__credential`/`__clientId`: PostgreSQL by Entra token.
    pub database_credential: Option<IdentitySettings>,
    /// Prefix of table, container and queue names (not an app setting;
    /// tests use a fresh one each).
    pub name_prefix: String,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            azure_connection: None,
            azure_identity: None,
            azure_extra_roots: Vec::new(),
            ledger: None,
            database_url: None,
            statement_cache: None,
            database_credential: None,
            name_prefix: "chargeback".into(),
        }
    }
}

impl StorageSettings {
    /// Reads the environment.
    pub fn from_env() -> anyhow::Result<Self> {
        let azure_connection = var("AzureWebJobsStorage").map(|s| Secret(s.into_bytes()));
        // A connection string wins over the identity settings, as for the host.
        let azure_identity = match azure_connection {
            Some(_) => None,
            None => IdentitySettings::from_env("AzureWebJobsStorage", STORAGE_PARTS)
                .filter(|s| STORAGE_PARTS[..4].iter().any(|part| s.parts.contains_key(*part))),
        };
        let database_credential = IdentitySettings::from_env("CHARGEBACK_DB", &["credential", "clientId"])
            .filter(|s| s.parts.contains_key("credential"));
        Ok(Self {
            azure_connection,
            azure_identity,
            database_credential,
            ledger: var("CHARGEBACK_LEDGER").map(|v| LedgerBackend::parse(&v)).transpose()?,
            database_url: var("DATABASE_URL").map(|s| Secret(s.into_bytes())),
            statement_cache: var("CHARGEBACK_DB_STATEMENT_CACHE")
                .map(|v| v.trim().parse::<usize>().with_context(|| format!("CHARGEBACK_DB_STATEMENT_CACHE={v:?}")))
                .transpose()?,
            ..Self::default()
        })
    }

    /// The ledger to use: as configured, else Table Storage when a storage
    /// account is given (connection string or identity), else SQLite.
    pub fn ledger_backend(&self) -> LedgerBackend {
        self.ledger.unwrap_or(if self.azure_connection.is_some() || self.azure_identity.is_some() {
            LedgerBackend::Table
        } else {
            LedgerBackend::Sqlite
        })
    }

    /// The storage connection string, if any.
    pub fn azure_connection_string(&self) -> Option<String> {
        self.azure_connection.as_ref().map(|s| String::from_utf8_lossy(s.expose()).into_owned())
    }

    /// The database URL, if any.
    pub fn database_url(&self) -> Option<String> {
        self.database_url.as_ref().map(|s| String::from_utf8_lossy(s.expose()).into_owned())
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// App Service leaves a Key Vault reference it could not resolve as its
/// literal text; a fingerprint secret or a connection string must never
/// silently become that text.
fn refuse_unresolved_key_vault_references() -> anyhow::Result<()> {
    for setting in SETTINGS {
        if var(setting.name).is_some_and(|v| v.trim_start().starts_with("@Microsoft.KeyVault(")) {
            anyhow::bail!(
                "{} holds an unresolved Key Vault reference: check the app's identity has access to the vault",
                setting.name
            );
        }
    }
    Ok(())
}

impl Settings {
    /// Reads the environment.
    pub fn from_env() -> anyhow::Result<Self> {
        refuse_unresolved_key_vault_references()?;
        let tenant = match var("CHARGEBACK_TENANT") {
            Some(t) => Tenant::parse(&t).context("CHARGEBACK_TENANT")?,
            None => Tenant::default_tenant(),
        };
        let port = var("FUNCTIONS_CUSTOMHANDLER_PORT")
            .map(|p| p.parse::<u16>().with_context(|| format!("FUNCTIONS_CUSTOMHANDLER_PORT={p:?} is not a port")))
            .transpose()?;
        Ok(Self {
            data_dir: var("CHARGEBACK_DATA_DIR").map_or_else(|| PathBuf::from("chargeback-data"), PathBuf::from),
            tenant,
            fingerprint_secret: var("CHARGEBACK_FINGERPRINT_SECRET").map(|s| Secret(s.into_bytes())),
            applications_file: var("CHARGEBACK_APPLICATIONS").map(PathBuf::from),
            deployments_file: var("CHARGEBACK_DEPLOYMENTS").map(PathBuf::from),
            prices_file: var("CHARGEBACK_PRICES").map(PathBuf::from),
            price_sync: PriceSyncSettings::from_env(),
            invoice_file: var("CHARGEBACK_INVOICE_FILE"),
            invoice_true_up: match var("CHARGEBACK_INVOICE_TRUE_UP").as_deref() {
                None | Some("false" | "0" | "no") => false,
                Some("true" | "1" | "yes") => true,
                Some(other) => anyhow::bail!("CHARGEBACK_INVOICE_TRUE_UP={other:?}: use true or false"),
            },
            port,
            storage: StorageSettings::from_env()?,
            api: ApiSettings::from_env()?,
            invocations: InvocationSettings::from_env()?,
            attribution_grace: match var("CHARGEBACK_ATTRIBUTION_GRACE") {
                Some(v) => parse_duration(&v).context("CHARGEBACK_ATTRIBUTION_GRACE")?,
                None => crate::domain::DEFAULT_ATTRIBUTION_GRACE,
            },
        })
    }

    /// The deployment → model mapping file in use.
    pub fn deployments_path(&self) -> PathBuf {
        self.deployments_file.clone().unwrap_or_else(|| self.data_dir.join("deployments.csv"))
    }

    /// The application mapping file in use.
    pub fn applications_path(&self) -> PathBuf {
        self.applications_file.clone().unwrap_or_else(|| self.data_dir.join("applications.csv"))
    }

    /// Refuses a shared ledger (PostgreSQL, Table Storage) without
    /// `CHARGEBACK_FINGERPRINT_SECRET`: each handler would make its own key
    /// file, and one subscription key would get a fingerprint per handler,
    /// i.e. two parties for one caller.
    pub fn check_fingerprint_secret(&self) -> anyhow::Result<()> {
        let shared = match self.storage.ledger_backend() {
            LedgerBackend::Sqlite => None,
            LedgerBackend::Postgres => Some("PostgreSQL"),
            LedgerBackend::Table => Some("Table Storage"),
        };
        if let Some(ledger) = shared
            && self.fingerprint_secret.is_none()
        {
            anyhow::bail!(
                "the ledger on {ledger} is shared by every handler: set CHARGEBACK_FINGERPRINT_SECRET (the same value everywhere) so one subscription key has one fingerprint"
            );
        }
        Ok(())
    }

    /// The fingerprinter: from the configured secret, else from the embedded
    /// key file (created with 32 random bytes on first use). A shared ledger
    /// needs the secret ([`Settings::check_fingerprint_secret`]).
    pub fn fingerprinter(&self) -> anyhow::Result<Fingerprinter> {
        if let Some(secret) = &self.fingerprint_secret {
            return Ok(Fingerprinter::new(secret.expose()));
        }
        self.check_fingerprint_secret()?;
        let path = self.data_dir.join("fingerprint.key");
        let secret = read_or_create_key(&path)?;
        Ok(Fingerprinter::new(&secret))
    }
}

fn read_or_create_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            let mut secret = vec![0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            write_private(path, &hex::encode(&secret)).with_context(|| format!("writing {}", path.display()))?;
            Ok(secret)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invocation_limit_holds_a_full_batch_of_the_largest_events_host_json_allows() {
        let host: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../host.json")).unwrap(),
        )
        .unwrap();
        let batch = host["extensions"]["eventHubs"]["maxEventBatchSize"].as_u64().unwrap();
        assert_eq!(batch, MAX_EVENT_BATCH_SIZE as u64, "host.json and MAX_EVENT_BATCH_SIZE must agree");
        let limit = InvocationSettings::default().max_body_bytes;
        assert!(limit >= MAX_EVENT_BATCH_SIZE * MAX_EVENT_BYTES * INVOCATION_ENCODING_FACTOR);
        let documented = SETTINGS.iter().find(|s| s.name == "CHARGEBACK_MAX_INVOCATION_BYTES").unwrap();
        assert!(documented.doc.contains(&format!("Default: {limit} ")), "{}", documented.doc);
    }
}
