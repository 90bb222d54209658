//! The composition root: the stores chosen by configuration, the services
//! built on them, each adapter's state (functions, API, CLI) taken from one
//! [`AppState`], and the HTTP server the Functions host talks to, with
//! graceful shutdown on SIGTERM/Ctrl-C.
//!
//! Only this module (and the CLI's argument handling) reads [`Settings`]:
//! every service gets the parts it uses ([`SeedFiles`] for the directory,
//! [`PriceSource`] for pricing, [`MaintenanceSource`] for maintenance,
//! [`InvoiceExports`] for the rollup's reconciliation, the stores), so no
//! service depends on the whole configuration.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use axum::Router;
use axum::extract::FromRef;
use tokio::net::TcpListener;
use tracing::info;

use crate::api::{self, Access, ApiState};
use crate::billing::{PriceSource, Pricing};
use crate::budgets::Budgets;
use crate::cli::{self, App};
use crate::config::{LedgerBackend, Settings};
use crate::directory::{Directory, SeedFiles};
use crate::functions::{self, FunctionState};
use crate::ingest::Ingestor;
use crate::maintenance::audit::Audit;
use crate::maintenance::{DatabaseSource, MaintenanceSource};
use crate::prices::meter::MeterMapping;
use crate::prices::service::{Destination, PriceSync, PriceSyncConfig, StoredCatalogues};
use crate::reconcile::InvoiceExports;
use crate::replay::Replay;
use crate::rollup::{RollupStores, Rollups};
use crate::storage::azure::IdentityConnection;
use crate::storage::azure::{BlobDeadLetters, BlobLeases, BlobReports, StorageAccount, TableLedger};
use crate::storage::credential::{AzureHttp, CredentialSettings};
use crate::storage::embedded::{Durability, FolderDeadLetters, FolderReports, SqliteLedger};
use crate::storage::postgres::{PgConfig, PgLedger};
use crate::storage::sql::gateway_logs::SqlGatewayLogs;
use crate::storage::sql::rollup::{DocRollup, SqlRollup};
use crate::storage::sql::support::{SqlDeadLetters, SqlLeases, SqlReports};
use crate::storage::{DeadLetterStore, GatewayLogStore, LeaseStore, Ledger, ReportStore, RollupStore};
use crate::usage::Usage;

/// Every store the app uses, chosen by configuration.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Accepted records.
    pub ledger: Arc<dyn Ledger>,
    /// Rejected events.
    pub dead_letters: Arc<dyn DeadLetterStore>,
    /// The directory, rollup state and alert records (optimistic concurrency).
    pub reports: Arc<dyn ReportStore>,
    /// Singleton leases.
    pub leases: Arc<dyn LeaseStore>,
    /// The rollup's daily aggregates and monthly results.
    pub rollup: Arc<dyn RollupStore>,
    /// Report files (`reports/<tenant>/<month>/…`): Blob Storage on Azure,
    /// the data directory's `reports` folder on the embedded backend.
    pub outputs: Arc<dyn ReportStore>,
    /// The halves of API Management resource logs waiting for each other:
    /// beside a SQL ledger; none beside the Table Storage ledger (such events
    /// are then dead-lettered, `docs/storage.md`).
    pub gateway_logs: Option<Arc<dyn GatewayLogStore>>,
    /// Which ledger was chosen, for messages.
    pub ledger_backend: LedgerBackend,
}

/// Builds the stores: Azure Storage when `AzureWebJobsStorage` is a
/// connection string or an identity-based connection, the embedded ones
/// (SQLite + folder) otherwise; the ledger as `CHARGEBACK_LEDGER` says (see
/// `docs/storage.md`).
pub async fn stores(settings: &Settings) -> anyhow::Result<Stores> {
    stores_with(settings, Durability::EachAppend).await
}

/// [`stores`], with the embedded ledger's appends durable as `durability`
/// says (`chargeback ingest` syncs once at the end instead of every batch).
pub async fn stores_with(settings: &Settings, durability: Durability) -> anyhow::Result<Stores> {
    // Before anything is opened: a shared ledger needs the shared secret.
    settings.check_fingerprint_secret()?;
    let storage = &settings.storage;
    let backend = storage.ledger_backend();
    let prefix = storage.name_prefix.as_str();
    let azure = match (storage.azure_connection_string(), &storage.azure_identity) {
        (Some(text), _) => Some(
            StorageAccount::from_connection_string(&text)
                .context("AzureWebJobsStorage")?
                .with_http(AzureHttp::new(&storage.azure_extra_roots)?),
        ),
        (None, Some(identity)) => {
            let connection =
                IdentityConnection::from_lookup(&identity.prefix, &|name| identity.lookup(name), identity.on_azure)?
                    .context("AzureWebJobsStorage__accountName or a service URI")?;
            Some(
                StorageAccount::from_identity(&connection, AzureHttp::new(&storage.azure_extra_roots)?)
                    .context("AzureWebJobsStorage (identity-based)")?,
            )
        }
        (None, None) => None,
    };
    let embedded = if backend == LedgerBackend::Sqlite {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
        Some(
            SqliteLedger::open_with(&settings.data_dir.join("ledger.sqlite"), durability)
                .await
                .context("opening the embedded ledger")?,
        )
    } else {
        None
    };
    let postgres = if backend == LedgerBackend::Postgres {
        let config = pg_config(settings)?.context("CHARGEBACK_LEDGER=postgres needs DATABASE_URL")?;
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
    // Dead letters, reports and leases: on Azure Storage when it is
    // configured, else beside a PostgreSQL ledger, else embedded. The
    // rollup's tables: beside the SQL ledger, else documents in the report store.
    let sql_rollup: Option<Arc<dyn RollupStore>> = match (&postgres, &embedded) {
        (Some(pg), _) => Some(Arc::new(SqlRollup::new(pg.clone()))),
        (None, Some(sqlite)) => Some(Arc::new(SqlRollup::new(sqlite.pool().clone()))),
        (None, None) => None,
    };
    let gateway_logs: Option<Arc<dyn GatewayLogStore>> = match (backend, &postgres, &embedded) {
        (LedgerBackend::Postgres, Some(pg), _) => Some(Arc::new(SqlGatewayLogs::new(pg.clone()))),
        (LedgerBackend::Sqlite, _, Some(sqlite)) => Some(Arc::new(SqlGatewayLogs::new(sqlite.pool().clone()))),
        _ => None,
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
                gateway_logs: gateway_logs.clone(),
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
                gateway_logs: gateway_logs.clone(),
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
                gateway_logs: gateway_logs.clone(),
                ledger_backend: backend,
            }
        }
        (None, None, None) => anyhow::bail!("no storage configured"),
    };
    info!(ledger = ?backend, azure = azure.is_some(), "stores ready");
    Ok(stores)
}

/// The PostgreSQL connection of the configuration, if `DATABASE_URL` is set.
/// PostgreSQL as configured (`DATABASE_URL`, the statement cache, and the
/// Entra credential when `CHARGEBACK_DB__credential` is set); `None` without
/// `DATABASE_URL`.
fn pg_config(settings: &Settings) -> anyhow::Result<Option<PgConfig>> {
    let Some(url) = settings.storage.database_url() else { return Ok(None) };
    let mut config = PgConfig::new(url);
    if let Some(n) = settings.storage.statement_cache {
        config.statement_cache = n;
    }
    if let Some(db) = &settings.storage.database_credential {
        let credential = CredentialSettings::from_lookup(&db.prefix, &|name| db.lookup(name), db.on_azure)?;
        config.entra = Some(credential.build(&AzureHttp::default()).context("CHARGEBACK_DB__credential")?);
    }
    Ok(Some(config))
}

/// Every service, over one set of stores.
#[derive(Debug, Clone)]
pub struct Services {
    /// The tenant of the configuration.
    pub tenant: crate::domain::Tenant,
    /// Ingestion.
    pub ingestor: Ingestor,
    /// The administration data.
    pub directory: Directory,
    /// Usage and capacity.
    pub usage: Usage,
    /// The monthly rollup.
    pub rollups: Rollups,
    /// The budget check.
    pub budgets: Budgets,
    /// The database the nightly maintenance works on.
    pub maintenance: MaintenanceSource,
    /// Replay from Event Hubs Capture.
    pub replay: Replay,
    /// The audit of the usage cells.
    pub audit: Audit,
    /// The price sync.
    pub prices: PriceSync,
}

/// The services of a configuration over its stores.
pub async fn services(settings: &Settings) -> anyhow::Result<Services> {
    let stores = stores(settings).await?;
    services_over(settings, &stores)
}

/// The services of a configuration over already built stores.
pub fn services_over(settings: &Settings, stores: &Stores) -> anyhow::Result<Services> {
    let seeds = SeedFiles { applications: settings.applications_path(), deployments: settings.deployments_path() };
    let directory = Directory::new(stores.reports.clone(), seeds);
    let prices = PriceSource::new(settings.prices_file.clone())
        .with_synced(Arc::new(StoredCatalogues::new(stores.reports.clone())));
    let pricing = Pricing::new(directory.clone(), prices.clone());
    let ingestor = Ingestor::new(
        stores.ledger.clone(),
        stores.dead_letters.clone(),
        directory.clone(),
        settings.fingerprinter()?,
        settings.tenant.clone(),
    );
    let ingestor = match &stores.gateway_logs {
        Some(store) => ingestor.with_gateway_logs(store.clone(), settings.attribution_grace),
        None => ingestor,
    };
    let rollup_stores = RollupStores {
        ledger: stores.ledger.clone(),
        rollup: stores.rollup.clone(),
        state: stores.reports.clone(),
        outputs: stores.outputs.clone(),
        leases: stores.leases.clone(),
        gateway_logs: stores.gateway_logs.clone(),
    };
    Ok(Services {
        tenant: settings.tenant.clone(),
        replay: Replay::new(ingestor.clone(), stores.ledger.clone()),
        ingestor,
        usage: usage(stores, &directory),
        rollups: Rollups::new(rollup_stores, pricing.clone()).with_invoices(invoice_exports(settings)),
        budgets: Budgets::new(stores.ledger.clone(), stores.reports.clone(), pricing),
        prices: price_sync(settings, stores, prices)?,
        directory,
        maintenance: maintenance_source(settings)?,
        audit: Audit::new(stores.ledger.clone()),
    })
}

/// The usage service over the ledger, reporting the calls waiting for
/// their caller when the ledger keeps resource-log halves.
fn usage(stores: &Stores, directory: &Directory) -> Usage {
    let usage = Usage::new(stores.ledger.clone(), directory.clone());
    match &stores.gateway_logs {
        Some(store) => usage.with_gateway_logs(store.clone()),
        None => usage,
    }
}

/// The price sync as configured: the Retail Prices API, its currency and
/// regions, the meter mapping file, the tenant's catalogue in the report
/// store, and the user's prices (`CHARGEBACK_PRICES`) whose rows win.
fn price_sync(settings: &Settings, stores: &Stores, prices: PriceSource) -> anyhow::Result<PriceSync> {
    let config = &settings.price_sync;
    let mut sync_config = PriceSyncConfig::new(
        config.endpoint.as_deref().unwrap_or(crate::prices::client::DEFAULT_ENDPOINT),
        config.currency.as_deref().unwrap_or("USD"),
    );
    sync_config.regions = config.regions.clone();
    if let Some(path) = &config.meter_mapping {
        sync_config.mapping = MeterMapping::load(path)?;
    }
    let store = Destination::Store { reports: stores.reports.clone(), tenant: settings.tenant.clone() };
    Ok(PriceSync::new(sync_config, store, prices)?)
}

/// The invoice exports the rollup reconciles months with, if configured
/// (`CHARGEBACK_INVOICE_FILE`, `CHARGEBACK_INVOICE_TRUE_UP`).
fn invoice_exports(settings: &Settings) -> Option<InvoiceExports> {
    settings.invoice_file.clone().map(|pattern| InvoiceExports { pattern, true_up: settings.invoice_true_up })
}

/// The tenant's database for the nightly maintenance: PostgreSQL when
/// `DATABASE_URL` is set, else the embedded ledger when it is the ledger,
/// else nothing.
fn maintenance_source(settings: &Settings) -> anyhow::Result<MaintenanceSource> {
    let database = if let Some(config) = pg_config(settings)? {
        DatabaseSource::Postgres(config)
    } else if settings.storage.ledger_backend() == LedgerBackend::Sqlite {
        DatabaseSource::Sqlite(settings.data_dir.join("ledger.sqlite"))
    } else {
        DatabaseSource::Nothing
    };
    Ok(MaintenanceSource { tenant: settings.tenant.clone(), database })
}

/// Who may call the HTTP API, as the configuration says.
fn access(settings: &Settings) -> Access {
    Access::new(settings.port.is_some(), settings.api.key.as_ref().map(|k| k.expose()), settings.api.no_auth)
}

/// The state of the custom handler: each adapter takes its part.
#[derive(Debug, Clone)]
pub struct AppState {
    /// What the functions call.
    pub functions: FunctionState,
    /// What the API calls.
    pub api: ApiState,
}

impl AppState {
    /// The adapters' states over one set of services; `max_invocation_bytes`
    /// bounds the host's invocation bodies.
    pub fn new(services: Services, max_invocation_bytes: usize) -> Self {
        let functions = FunctionState {
            max_invocation_bytes,
            tenant: services.tenant.clone(),
            ingestor: services.ingestor,
            rollups: services.rollups.clone(),
            budgets: services.budgets,
            maintenance: services.maintenance,
            audit: services.audit,
            prices: services.prices,
        };
        let api = ApiState {
            tenant: services.tenant,
            usage: services.usage,
            directory: services.directory,
            rollups: services.rollups,
        };
        Self { functions, api }
    }
}

impl FromRef<AppState> for FunctionState {
    fn from_ref(state: &AppState) -> Self {
        state.functions.clone()
    }
}

impl FromRef<AppState> for ApiState {
    fn from_ref(state: &AppState) -> Self {
        state.api.clone()
    }
}

/// The handler's routes: one `POST /<function>` per function folder and the
/// liveness probe ([`crate::functions`]), the HTTP API the host forwards
/// (`/api/...`, [`crate::api`]), and a 404 problem for anything else.
/// Outside the host, the functions' routes (the host's invocations and
/// `/healthz`) take the same key as the API: every route but
/// `/api/openapi.json` needs it. Invocation bodies may be as large as
/// `CHARGEBACK_MAX_INVOCATION_BYTES` (a full batch of the largest events).
pub fn router(state: AppState, access: Access) -> Router {
    let limit = state.functions.max_invocation_bytes;
    let functions = functions::routes::<AppState>()
        .route_layer(axum::middleware::from_fn_with_state(access.clone(), api::require_key))
        .layer(axum::extract::DefaultBodyLimit::max(limit));
    Router::new().merge(functions).merge(api::routes::<AppState>(access)).fallback(api::not_found).with_state(state)
}

/// The running custom handler.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Binds 127.0.0.1 on `port` (0 picks a free one) and builds the state.
    pub async fn build(settings: &Settings, port: u16) -> anyhow::Result<Self> {
        let state = AppState::new(services(settings).await?, settings.invocations.max_body_bytes);
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        Ok(Self { listener, router: router(state, access(settings)) })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the invocations in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        info!(port = self.port(), "custom handler listening");
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown_signal()).await.context("serving")
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

/// The composition the command line runs on.
#[derive(Debug)]
struct Composition;

#[async_trait]
impl App for Composition {
    async fn serve(&self, settings: &Settings, port: u16) -> anyhow::Result<()> {
        Application::build(settings, port).await?.run_until_stopped().await
    }

    async fn services(&self, settings: &Settings) -> anyhow::Result<cli::Services> {
        Ok(cli_services(services(settings).await?))
    }

    async fn bulk_services(&self, settings: &Settings) -> anyhow::Result<cli::Services> {
        let stores = stores_with(settings, Durability::AtSync).await?;
        Ok(cli_services(services_over(settings, &stores)?))
    }
}

/// The command line's view of the services.
fn cli_services(s: Services) -> cli::Services {
    cli::Services {
        tenant: s.tenant,
        ingestor: s.ingestor,
        usage: s.usage,
        directory: s.directory,
        rollups: s.rollups,
        budgets: s.budgets,
        maintenance: s.maintenance,
        audit: s.audit,
        replay: s.replay,
        prices: s.prices,
    }
}

/// The `chargeback` binary: the command line over this composition.
pub fn main() -> ExitCode {
    cli::main(&Composition)
}
