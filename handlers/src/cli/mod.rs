//! The `chargeback` command line: an adapter over the same services the
//! functions and the API call. Each subcommand is a module; `serve` is the
//! custom handler the Functions host starts, built by the composition root
//! ([`App`], implemented in `startup`).
//!
//! Failures end the process with an exit code ([`exit_code`]) and one line
//! on standard error naming the failure and its causes; a month that does not
//! reconcile with its invoice ends `chargeback reconcile` with
//! [`NOT_RECONCILED_EXIT`].

mod audit;
mod backfill;
pub mod demo;
mod ingest;
mod maintain;
mod prices;
mod reconcile;
mod rollup;
mod usage;

pub use ingest::ingest_file;

use std::path::PathBuf;
use std::process::ExitCode;

use async_trait::async_trait;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::budgets::Budgets;
use crate::config::{SETTINGS, Settings};
use crate::directory::Directory;
use crate::domain::Tenant;
use crate::ingest::Ingestor;
use crate::maintenance::MaintenanceSource;
use crate::prices::service::PriceSync;
use crate::rollup::Rollups;
use crate::storage::StorageError;

/// Exact token-usage chargeback for a shared Azure OpenAI deployment.
#[derive(Debug, Parser)]
#[command(name = "chargeback", version, about)]
pub struct Cli {
    /// Folder of the embedded backend [env: CHARGEBACK_DATA_DIR; default: ./chargeback-data]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Tenant [env: CHARGEBACK_TENANT; default: default]
    #[arg(long, global = true)]
    tenant: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the custom handler (what the Functions host starts).
    Serve {
        /// Port [default: FUNCTIONS_CUSTOMHANDLER_PORT, else 7071]
        #[arg(long)]
        port: Option<u16>,
    },
    /// Ingest exported Event Hub bodies: one record per line (JSONL); `-` reads standard input.
    Ingest(ingest::IngestArgs),
    /// Token totals from the ledger.
    Usage(usage::UsageArgs),
    /// Replay Event Hubs Capture files (Avro) with the live path's identities: adds only what the ledger is missing.
    Backfill(backfill::CaptureArgs),
    /// Report what Event Hubs Capture files hold that the ledger is missing; changes nothing.
    ReconcileCapture(backfill::CaptureArgs),
    /// Generate a month of realistic traffic, ingest it and print the summary.
    Demo(demo::DemoArgs),
    /// Write a month of synthetic API Management records as JSONL (the demo's traffic, for trials and benchmarks).
    Generate(demo::GenerateArgs),
    /// Count the tokens of a chat-completions request body (or messages array) or of a text.
    Tokens {
        /// Model (decides the encoding).
        #[arg(long)]
        model: String,
        /// A chat-completions request body or a bare messages array (JSON).
        #[arg(long, conflicts_with = "text", required_unless_present = "text")]
        messages: Option<PathBuf>,
        /// A plain text file.
        #[arg(long)]
        text: Option<PathBuf>,
    },
    /// Print the fingerprint of a subscription key (for the application mapping file).
    Fingerprint {
        /// The subscription key; read from standard input when absent.
        key: Option<String>,
    },
    /// Nightly SQL maintenance (statistics, vacuum, index rebuilds) of the tenant's database; what the timer runs.
    Maintain(maintain::MaintainArgs),
    /// Recount a month's days from their records and compare them with the usage cells (exit 1 on a difference).
    Audit(audit::AuditArgs),
    /// Roll a month up: aggregate the ledger chunk by chunk, price it, write its reports.
    Rollup(rollup::RollupArgs),
    /// Write a rolled-up month's chargeback report files (CSV, JSON, HTML, FOCUS) to a folder.
    Report(rollup::ReportArgs),
    /// Azure OpenAI prices from the Azure Retail Prices API: `chargeback prices sync`.
    Prices(prices::PricesArgs),
    /// Reconcile a rolled-up month with Azure's invoice (the FOCUS cost export); exit code 4 when it does not.
    Reconcile(reconcile::ReconcileArgs),
    /// Print every app setting the code reads (name, who sets it, secret or not, meaning).
    Settings,
}

/// The services the commands call.
#[derive(Debug, Clone)]
pub struct Services {
    /// The tenant the commands work for.
    pub tenant: Tenant,
    /// Ingestion.
    pub ingestor: Ingestor,
    /// Usage reports.
    pub usage: crate::usage::Usage,
    /// The administration data.
    pub directory: Directory,
    /// The monthly rollup.
    pub rollups: Rollups,
    /// The budget check.
    pub budgets: Budgets,
    /// The database the nightly maintenance works on.
    pub maintenance: MaintenanceSource,
    /// Replay from Event Hubs Capture.
    pub replay: crate::replay::Replay,
    /// The audit of the usage cells.
    pub audit: crate::maintenance::audit::Audit,
    /// The price sync.
    pub prices: PriceSync,
}

/// What the composition root provides to the commands.
#[async_trait]
pub trait App: Send + Sync {
    /// Serves the custom handler on `port` until it is stopped.
    async fn serve(&self, settings: &Settings, port: u16) -> anyhow::Result<()>;

    /// The services over the configured stores (opening them).
    async fn services(&self, settings: &Settings) -> anyhow::Result<Services>;

    /// The services for a bulk load (`chargeback ingest`): the embedded
    /// ledger does not sync every append, only at `Ingestor::sync`.
    async fn bulk_services(&self, settings: &Settings) -> anyhow::Result<Services>;
}

/// Runs the command line and returns the process exit code.
pub fn main(app: &dyn App) -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Serve { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, app)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<reconcile::NotReconciled>().is_some() => {
            eprintln!("{e}");
            ExitCode::from(NOT_RECONCILED_EXIT)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_code(&e)
        }
    }
}

/// The exit code of a month that does not reconcile with its invoice (the
/// report is printed first).
pub const NOT_RECONCILED_EXIT: u8 = 4;

/// The exit code of a failure: 3 when a store could not be reached (worth a
/// retry), 1 for anything else (bad input, bad configuration). Argument
/// errors end with 2 before anything runs.
pub fn exit_code(error: &anyhow::Error) -> ExitCode {
    let store_failed = error.chain().any(|cause| cause.downcast_ref::<StorageError>().is_some());
    if store_failed { ExitCode::from(3) } else { ExitCode::FAILURE }
}

fn init_tracing(serving: bool) {
    // The CLI prints its results itself; it logs warnings only, unless asked.
    let default = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn run(cli: Cli, app: &dyn App) -> anyhow::Result<()> {
    let mut settings = Settings::from_env()?;
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    if let Some(t) = cli.tenant {
        settings.tenant = Tenant::parse(&t)?;
    }
    match cli.command {
        Command::Serve { port } => app.serve(&settings, port.or(settings.port).unwrap_or(7071)).await,
        Command::Ingest(args) => ingest::run(&app.bulk_services(&settings).await?, args).await,
        Command::Usage(args) => usage::run(&app.services(&settings).await?, args).await,
        Command::Backfill(args) => {
            backfill::run(&settings, &app.services(&settings).await?, args, crate::replay::Mode::Backfill).await
        }
        Command::ReconcileCapture(args) => {
            backfill::run(&settings, &app.services(&settings).await?, args, crate::replay::Mode::Reconcile).await
        }
        Command::Maintain(args) => maintain::run(&app.services(&settings).await?, args).await,
        Command::Audit(args) => audit::run(&app.services(&settings).await?, args).await,
        Command::Rollup(args) => rollup::run_rollup(&app.services(&settings).await?, &args).await.map(|_| ()),
        Command::Report(args) => rollup::run_report(&app.services(&settings).await?, &args).await.map(|_| ()),
        Command::Prices(args) => prices::run(&settings, app, args).await,
        Command::Reconcile(args) => reconcile::run(&app.services(&settings).await?, &args).await,
        Command::Demo(args) => demo::run(&settings, app, args).await,
        Command::Generate(args) => demo::generate_file(args),
        Command::Tokens { model, messages, text } => {
            print!("{}", chargeback_tokenizer::run_tokens_command(&model, messages.as_deref(), text.as_deref())?);
            Ok(())
        }
        Command::Fingerprint { key } => {
            let key = match key {
                Some(k) => k,
                None => std::io::read_to_string(std::io::stdin())?,
            };
            println!("{}", settings.fingerprinter()?.fingerprint(&key));
            Ok(())
        }
        Command::Settings => {
            for s in SETTINGS {
                println!("{}\t{}\t{}\t{}", s.name, s.set_by, if s.secret { "secret" } else { "plain" }, s.doc);
            }
            Ok(())
        }
    }
}
