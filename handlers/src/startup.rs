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
use crate::storage::credential::AzureHttp;
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
/// connection string or an identity-based connection, the embedded ones
/// (SQLite + folder) otherwise; the ledger as `CHARGEBACK_LEDGER` says (see
/// `docs/storage.md`).
pub async fn stores(settings: &Settings) -> anyhow::Result<Stores> {
    let storage = &settings.storage;
    let backend = storage.ledger_backend();
    let prefix = storage.name_prefix.as_str();
    let azure = match (storage.azure_connection_string(), &storage.azure_identity) {
        (Some(text), _) => Some(
            StorageAccount::from_connection_string(&text)
                .context("AzureWebJobsStorage")?
                .with_http(AzureHttp::new(&storage.azure_extra_roots)?),
        ),
        (None, Some(identity)) => Some(
            StorageAccount::from_identity(identity, AzureHttp::new(&storage.azure_extra_roots)?)
                .context("AzureWebJobsStorage (identity-based)")?,
        ),
        (None, None) => None,
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
        if let Some(credential) = &storage.database_credential {
            config.entra = Some(credential.build(&AzureHttp::default()).context("CHARGEBACK_DB__credential")?);
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
                "CHARGEBACK_LEDGER=table needs the storage account: AzureWebJobsStorage__accountName \
                 (by identity) or AzureWebJobsStorage (a connection string), see docs/storage.md",
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
