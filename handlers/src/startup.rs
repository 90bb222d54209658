//! Building the app from configuration: the stores, the ingestor and the
//! HTTP server the Functions host talks to.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::{LedgerBackend, Settings};
use crate::functions::{AppState, router};
use crate::ingest::Ingestor;
use crate::storage::azure::{BlobDeadLetters, BlobLeases, BlobReports, StorageAccount, StorageQueue, TableLedger};
use crate::storage::folder::{FolderDeadLetters, FolderReports};
use crate::storage::postgres::{PgConfig, PgLedger};
use crate::storage::rollup_sql::{DocRollup, SqlRollup};
use crate::storage::sql_support::{SqlDeadLetters, SqlLeases, SqlQueue, SqlReports};
use crate::storage::sqlite::SqliteLedger;
use crate::storage::{DeadLetterStore, LeaseStore, Ledger, ReportStore, RollupStore, WorkQueue};

/// Receipts of a work item before it goes to the poison queue (as the
/// Functions queue trigger's default `maxDequeueCount`).
pub const MAX_DEQUEUE: u32 = 5;

/// Every store the app uses, chosen by configuration.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Accepted records.
    pub ledger: Arc<dyn Ledger>,
    /// Rejected events.
    pub dead_letters: Arc<dyn DeadLetterStore>,
    /// Reports and job state (optimistic concurrency).
    pub reports: Arc<dyn ReportStore>,
    /// Singleton leases.
    pub leases: Arc<dyn LeaseStore>,
    /// Fan-out work queue.
    pub work: Arc<dyn WorkQueue>,
    /// The rollup's daily aggregates and monthly results.
    pub rollup: Arc<dyn RollupStore>,
    /// Report files (`reports/<month>/…`): Blob Storage on Azure, the data
    /// directory's `reports` folder on the embedded backend.
    pub outputs: Arc<dyn ReportStore>,
    /// Which ledger was chosen, for messages.
    pub ledger_backend: LedgerBackend,
}

/// Builds the stores: Azure Storage when `AzureWebJobsStorage` is a
/// connection string, the embedded ones (SQLite + folder) otherwise; the
/// ledger as `CHARGEBACK_LEDGER` says (see `docs/storage.md`).
pub async fn stores(settings: &Settings) -> anyhow::Result<Stores> {
    let storage = &settings.storage;
    let backend = storage.ledger_backend();
    let prefix = storage.name_prefix.as_str();
    let azure = match storage.azure_connection_string() {
        Some(text) => Some(StorageAccount::from_connection_string(&text).context("AzureWebJobsStorage")?),
        None => None,
    };
    let embedded = if backend == LedgerBackend::Sqlite {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
        Some(
            SqliteLedger::open(&settings.data_dir.join("ledger.sqlite"))
                .await
                .context("opening the embedded ledger")?,
        )
    } else {
        None
    };
    let postgres = if backend == LedgerBackend::Postgres {
        let url = storage.database_url().context("CHARGEBACK_LEDGER=postgres needs DATABASE_URL")?;
        let mut config = PgConfig::new(url);
        if let Some(n) = storage.statement_cache {
            config.statement_cache = n;
        }
        Some(config.connect().await.context("connecting to PostgreSQL (DATABASE_URL)")?)
    } else {
        None
    };
    let ledger: Arc<dyn Ledger> = match backend {
        LedgerBackend::Sqlite => Arc::new(embedded.clone().context("the embedded ledger")?),
        LedgerBackend::Postgres => Arc::new(PgLedger::new(postgres.clone().context("the PostgreSQL pool")?)),
        LedgerBackend::Table => {
            let account = azure.as_ref().context(
                "CHARGEBACK_LEDGER=table needs AzureWebJobsStorage as a connection string \
                 (identity-based access is not supported by the handler, see docs/storage.md)",
            )?;
            Arc::new(TableLedger::open(account, prefix).await.context("opening the Table Storage ledger")?)
        }
    };
    // Dead letters, reports, leases and the work queue: on Azure Storage when
    // it is configured, else beside a PostgreSQL ledger, else embedded.
    // The rollup's tables: beside the SQL ledger, else documents in the report store.
    let sql_rollup: Option<Arc<dyn RollupStore>> = match (&postgres, &embedded) {
        (Some(pg), _) => Some(Arc::new(SqlRollup::new(pg.clone()))),
        (None, Some(sqlite)) => Some(Arc::new(SqlRollup::new(sqlite.pool().clone()))),
        (None, None) => None,
    };
    let rollup_for = |reports: &Arc<dyn ReportStore>| {
        sql_rollup.clone().unwrap_or_else(|| Arc::new(DocRollup::new(reports.clone())))
    };
    let stores = match (&azure, &postgres, &embedded) {
        (Some(account), _, _) => {
            let reports: Arc<dyn ReportStore> = Arc::new(BlobReports::open(account, &format!("{prefix}-")).await?);
            Stores {
                ledger,
                dead_letters: Arc::new(BlobDeadLetters::open(account, &format!("{prefix}-")).await?),
                rollup: rollup_for(&reports),
                outputs: reports.clone(),
                reports,
                leases: Arc::new(BlobLeases::open(account, &format!("{prefix}-")).await?),
                work: Arc::new(StorageQueue::open(account, &format!("{prefix}-work"), MAX_DEQUEUE).await?),
                ledger_backend: backend,
            }
        }
        (None, Some(pg), _) => {
            let reports: Arc<dyn ReportStore> = Arc::new(SqlReports::new(pg.clone()));
            Stores {
                ledger,
                dead_letters: Arc::new(SqlDeadLetters::new(pg.clone())),
                rollup: rollup_for(&reports),
                outputs: reports.clone(),
                reports,
                leases: Arc::new(SqlLeases::new(pg.clone())),
                work: Arc::new(SqlQueue::new(pg.clone(), "work", MAX_DEQUEUE)),
                ledger_backend: backend,
            }
        }
        (None, None, Some(sqlite)) => {
            let reports: Arc<dyn ReportStore> = Arc::new(SqlReports::new(sqlite.pool().clone()));
            Stores {
                ledger,
                dead_letters: Arc::new(FolderDeadLetters::new(settings.data_dir.join("dead-letter"))),
                rollup: rollup_for(&reports),
                outputs: Arc::new(FolderReports::new(settings.data_dir.clone())),
                reports,
                leases: Arc::new(SqlLeases::new(sqlite.pool().clone())),
                work: Arc::new(SqlQueue::new(sqlite.pool().clone(), "work", MAX_DEQUEUE)),
                ledger_backend: backend,
            }
        }
        (None, None, None) => anyhow::bail!("no storage configured"),
    };
    info!(ledger = ?backend, azure = azure.is_some(), "stores ready");
    Ok(stores)
}

/// The stores and ingestor for a configuration.
pub async fn ingestor(settings: &Settings) -> anyhow::Result<Ingestor> {
    let stores = stores(settings).await?;
    ingestor_over(settings, &stores)
}

/// The ingestor writing into already built stores.
pub fn ingestor_over(settings: &Settings, stores: &Stores) -> anyhow::Result<Ingestor> {
    let deployments = crate::mapping::load_deployments(&settings.deployments_path())?;
    Ok(Ingestor::new(
        stores.ledger.clone(),
        stores.dead_letters.clone(),
        settings.fingerprinter()?,
        settings.tenant.clone(),
    )
    .with_deployments(deployments))
}

/// The price sync as configured: the Retail Prices API endpoint, the meter
/// mapping file, the shipped prices its unit guard compares first prices
/// with, and the user's prices (`CHARGEBACK_PRICES`) whose rows win.
pub fn price_sync(settings: &Settings) -> anyhow::Result<crate::prices::service::PriceSync> {
    use crate::billing::{DeploymentType, PriceCatalogue};
    use crate::prices::meter::{MeterKind, MeterMapping, Scope};

    let config = &settings.price_sync;
    let mapping = match &config.meter_mapping {
        Some(path) => MeterMapping::load(path)?,
        None => MeterMapping::default(),
    };
    let endpoint = config.endpoint.as_deref().unwrap_or(crate::prices::client::DEFAULT_ENDPOINT);
    let shipped = PriceCatalogue::shipped()?;
    let user = match &settings.prices_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            PriceCatalogue::parse(&text, &path.display().to_string())?
        }
        None => PriceCatalogue::default(),
    };
    let type_of = |scope: Scope| match scope {
        Scope::Global => DeploymentType::Global,
        Scope::DataZone => DeploymentType::DataZone,
        Scope::Regional => DeploymentType::Regional,
    };
    let reference = Arc::new(move |model: &str, scope: Scope, kind: MeterKind, currency: &str| {
        let price = shipped
            .prices()
            .iter()
            .filter(|p| {
                p.model.eq_ignore_ascii_case(model) && p.deployment_type == type_of(scope) && p.currency == currency
            })
            .max_by_key(|p| p.effective_from)?;
        match kind {
            MeterKind::Input => Some(price.input_per_1m),
            MeterKind::CachedInput => price.cached_input_per_1m,
            MeterKind::Output => price.output_per_1m,
            _ => None,
        }
    });
    let overrides = Arc::new(move |line: &crate::prices::synced::SyncedPrice| {
        user.prices()
            .iter()
            .find(|p| {
                p.model.eq_ignore_ascii_case(&line.model)
                    && p.deployment_type == type_of(line.scope)
                    && p.effective_from == line.effective_from
            })
            .map(|p| p.origin.clone())
    });
    Ok(crate::prices::service::PriceSync::new(endpoint, Default::default(), mapping)?
        .with_reference(reference)
        .with_overrides(overrides))
}

/// The price sync's query: the configured currency (default USD) and
/// regions, else `default_regions`.
pub fn price_query(settings: &Settings, default_regions: &[String]) -> anyhow::Result<crate::prices::client::Query> {
    let config = &settings.price_sync;
    let regions = if config.regions.is_empty() { default_regions } else { &config.regions };
    Ok(crate::prices::client::Query::new(config.currency.as_deref().unwrap_or("USD"), regions)?)
}

/// The running custom handler.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Binds 127.0.0.1 on `port` (0 picks a free one) and builds the state.
    pub async fn build(settings: &Settings, port: u16) -> anyhow::Result<Self> {
        let stores = stores(settings).await?;
        let state = AppState {
            settings: std::sync::Arc::new(settings.clone()),
            ingestor: ingestor_over(settings, &stores)?,
            stores,
            maintenance: crate::maintenance::MaintenanceSource::from_settings(settings),
        };
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        Ok(Self { listener, state })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the invocations in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        info!(port = self.port(), "custom handler listening");
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    info!("shutting down");
}
