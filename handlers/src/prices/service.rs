//! The price sync as a service: read the catalogue, read the whole API
//! answer, reconcile, and write the catalogue once — or change nothing.
//!
//! The CLI (`chargeback prices sync`) and the weekly `prices-sync` timer
//! both run [`PriceSync::run`]; they differ only in the [`Destination`]: a
//! file (`--out`), or the tenant's document in the report store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;

use async_trait::async_trait;

use super::client::{ClientError, Query, QueryError, RetailPricesClient, RetryPolicy};
use super::meter::MeterMapping;
use super::report::SyncReport;
use super::sync::{Inputs, reconcile};
use crate::billing::synced::{self, SyncedError, SyncedPrice};
use crate::billing::{PriceCatalogue, PriceError, PriceSource, SyncedPrices};
use crate::domain::{Currency, Tenant};
use crate::storage::{ReportStore, StorageError, WriteCondition};

/// Why a sync failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The API could not be read completely.
    #[error("reading the Retail Prices API failed; the catalogue is unchanged")]
    Api(#[from] ClientError),
    /// The catalogue there is not a synced catalogue.
    #[error("the synced catalogue cannot be read")]
    Catalogue(#[from] SyncedError),
    /// `--out` names a file that is not a synced catalogue (never overwritten).
    #[error("{0} is not a synced price catalogue (its first line is not the synced header); choose another file")]
    NotACatalogue(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The shipped or the user's prices cannot be read.
    #[error("the prices the sync compares with cannot be read")]
    Prices(#[from] PriceError),
    /// The currency or a region is not one the API knows.
    #[error("the price sync's query is refused")]
    Query(#[from] QueryError),
    /// The report store failed.
    #[error("the report store failed")]
    Storage(#[from] StorageError),
    /// The catalogue there is in another currency than the one asked for.
    #[error(
        "{destination} holds {held} prices; a sync in {asked} needs its own catalogue (another --out file or tenant)"
    )]
    Currency {
        /// Where.
        destination: String,
        /// Its currency.
        held: String,
        /// The currency asked for.
        asked: String,
    },
    /// Another sync wrote the catalogue between our read and our write.
    #[error("{0} changed while this sync ran (another sync?); nothing was written, run it again")]
    Concurrent(String),
}

/// Where the synced catalogue is kept.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A CSV file (`--out`).
    File(PathBuf),
    /// The tenant's document `prices/<tenant>/azure-retail.csv` in the report store.
    Store {
        /// The report store.
        reports: Arc<dyn ReportStore>,
        /// The tenant.
        tenant: Tenant,
    },
}

/// The report store document of a tenant's synced catalogue.
pub fn catalogue_document(tenant: &Tenant) -> String {
    format!("prices/{tenant}/azure-retail.csv")
}

/// The report store document of a tenant's last sync report.
pub fn report_document(tenant: &Tenant) -> String {
    format!("prices/{tenant}/last-sync.json")
}

/// What was read, with what to write back on.
struct Read {
    text: String,
    version: Option<String>,
}

impl Destination {
    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Store { tenant, .. } => format!("the report store's {}", catalogue_document(tenant)),
        }
    }

    /// The synced lines kept there (none when nothing was synced yet).
    pub async fn load(&self) -> Result<Vec<SyncedPrice>, SyncError> {
        let read = self.read().await?;
        Ok(synced::parse(&read.text, &self.describe())?)
    }

    async fn read(&self) -> Result<Read, SyncError> {
        match self {
            Self::File(path) => match std::fs::read_to_string(path) {
                Ok(text) if text.trim().is_empty() || synced::is_synced(&text) => Ok(Read { text, version: None }),
                Ok(_) => Err(SyncError::NotACatalogue(path.display().to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Read { text: String::new(), version: None }),
                Err(source) => Err(SyncError::Io { path: path.display().to_string(), source }),
            },
            Self::Store { reports, tenant } => match reports.get(&catalogue_document(tenant)).await? {
                Some(stored) => Ok(Read {
                    text: String::from_utf8(stored.body)
                        .map_err(|e| StorageError::Corrupt(format!("{}: {e}", catalogue_document(tenant))))?,
                    version: Some(stored.etag),
                }),
                None => Ok(Read { text: String::new(), version: None }),
            },
        }
    }

    /// Replaces the catalogue with `text`, atomically: a file through a
    /// temporary file renamed over it; a document only if it is still the
    /// version read.
    async fn write(&self, text: &str, read: &Read) -> Result<(), SyncError> {
        match self {
            Self::File(path) => write_file_atomically(path, text),
            Self::Store { reports, tenant } => {
                let name = catalogue_document(tenant);
                let condition = match &read.version {
                    Some(etag) => WriteCondition::IfMatch(etag.clone()),
                    None => WriteCondition::IfAbsent,
                };
                match reports.put(&name, text.as_bytes(), condition).await? {
                    Some(_) => Ok(()),
                    None => Err(SyncError::Concurrent(name)),
                }
            }
        }
    }
}

fn write_file_atomically(path: &Path, text: &str) -> Result<(), SyncError> {
    let io = |source| SyncError::Io { path: path.display().to_string(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io(e)
    })
}

/// The synced catalogue documents of the report store, as the price
/// catalogue reads them when a month is priced.
#[derive(Debug, Clone)]
pub struct StoredCatalogues {
    reports: Arc<dyn ReportStore>,
}

impl StoredCatalogues {
    /// The catalogues in this report store.
    pub fn new(reports: Arc<dyn ReportStore>) -> Self {
        Self { reports }
    }
}

#[async_trait]
impl SyncedPrices for StoredCatalogues {
    async fn synced_text(&self, tenant: &Tenant) -> Result<Option<(String, String)>, PriceError> {
        let name = catalogue_document(tenant);
        let stored = self.reports.get(&name).await.map_err(|e| PriceError::Source(Box::new(e)))?;
        match stored {
            None => Ok(None),
            Some(v) => {
                let text = String::from_utf8(v.body).map_err(|e| PriceError::Source(Box::new(e)))?;
                Ok(Some((text, name)))
            }
        }
    }
}

/// What a price sync reads and how.
#[derive(Debug, Clone)]
pub struct PriceSyncConfig {
    /// The Retail Prices API.
    pub endpoint: String,
    /// Currency code.
    pub currency: String,
    /// Regions to read (empty: every region).
    pub regions: Vec<String>,
    /// The user's meter mapping.
    pub mapping: MeterMapping,
    /// How failures are retried.
    pub retry: RetryPolicy,
}

impl PriceSyncConfig {
    /// `endpoint` in `currency`, every region, no mapping, the default retries.
    pub fn new(endpoint: &str, currency: &str) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            currency: currency.to_owned(),
            regions: Vec::new(),
            mapping: MeterMapping::default(),
            retry: RetryPolicy::default(),
        }
    }
}

/// The price sync: the API client, the query, the meter mapping, where the
/// catalogue is kept, and what the unit guard and the report compare with.
#[derive(Clone)]
pub struct PriceSync {
    client: RetailPricesClient,
    query: Query,
    mapping: MeterMapping,
    store: Destination,
    prices: PriceSource,
}

impl std::fmt::Debug for PriceSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PriceSync")
            .field("endpoint", &self.client.endpoint())
            .field("query", &self.query)
            .field("mapping", &self.mapping.len())
            .field("store", &self.store.describe())
            .finish()
    }
}

impl PriceSync {
    /// A sync as configured, keeping the catalogue at `store` unless told
    /// otherwise; `prices` names the user's file, whose rows the report says
    /// win (first prices are checked against the shipped ones).
    pub fn new(config: PriceSyncConfig, store: Destination, prices: PriceSource) -> Result<Self, SyncError> {
        Ok(Self {
            client: RetailPricesClient::new(&config.endpoint, config.retry)?,
            query: Query::new(&config.currency, &config.regions)?,
            mapping: config.mapping,
            store,
            prices,
        })
    }

    /// The query it runs.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// Runs its query into `out`, or into the catalogue it keeps.
    pub async fn run(&self, out: Option<&Path>, today: NaiveDate) -> Result<SyncReport, SyncError> {
        match out {
            Some(path) => self.sync_into(&self.query, &Destination::File(path.to_path_buf()), today).await,
            None => self.sync_into(&self.query, &self.store, today).await,
        }
    }

    /// Reads the answer to `query` and adds what is new to the catalogue at
    /// `destination`. On any error nothing is written.
    pub async fn sync_into(
        &self,
        query: &Query,
        destination: &Destination,
        today: NaiveDate,
    ) -> Result<SyncReport, SyncError> {
        let read = destination.read().await?;
        let previous = synced::parse(&read.text, &destination.describe())?;
        if let Some(other) = previous.iter().find(|p| p.currency.as_str() != query.currency) {
            return Err(SyncError::Currency {
                destination: destination.describe(),
                held: other.currency.to_string(),
                asked: query.currency.clone(),
            });
        }
        let shipped = PriceCatalogue::shipped()?;
        let user = self.prices.user_prices()?;
        let currency = Currency::parse(&query.currency).map_err(|_| QueryError::Currency(query.currency.clone()))?;
        let answer = self.client.fetch(query).await?;
        let reconciled = reconcile(Inputs {
            previous: &previous,
            items: &answer.items,
            mapping: &self.mapping,
            shipped: shipped.prices(),
            user: &user,
            endpoint: self.client.endpoint(),
            currency: &currency,
            read_on: today,
        });
        let mut report = reconciled.report;
        report.source = answer.url;
        report.pages = answer.pages;
        report.regions = query.regions.clone();
        if reconciled.changed {
            destination.write(&synced::render(&reconciled.prices), &read).await?;
            report.written = Some(destination.describe());
        }
        if let Destination::Store { reports, tenant } = destination {
            let body = serde_json::to_vec_pretty(&report).unwrap_or_default();
            reports.put(&report_document(tenant), &body, WriteCondition::Always).await?;
        }
        Ok(report)
    }
}
