//! The `chargeback` command line. Each subcommand is a module; `serve` is the
//! custom handler the Functions host starts.

mod backfill;
mod ingest;
mod maintain;
pub mod rollup;
mod usage;

pub use usage::month_range;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::{SETTINGS, Settings};
use crate::domain::Tenant;

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
    Demo(crate::demo::DemoArgs),
    /// Write a month of synthetic API Management records as JSONL (the demo's traffic, for trials and benchmarks).
    Generate(crate::demo::GenerateArgs),
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
    /// Roll a month up: aggregate the ledger chunk by chunk, price it, write its reports.
    Rollup(rollup::RollupArgs),
    /// Write a rolled-up month's chargeback report files (CSV, JSON, HTML) to a folder.
    Report(rollup::ReportArgs),
    /// Print every app setting the code reads (name, who sets it, secret or not, meaning).
    Settings,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(cli.command, Command::Serve { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(serving: bool) {
    // The CLI prints its results itself; it logs warnings only, unless asked.
    let default = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::from_env()?;
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    if let Some(t) = cli.tenant {
        settings.tenant = Tenant::parse(&t)?;
    }
    match cli.command {
        Command::Serve { port } => {
            let port = port.or(settings.port).unwrap_or(7071);
            let app = crate::startup::Application::build(&settings, port).await?;
            app.run_until_stopped().await
        }
        Command::Ingest(args) => ingest::run(&settings, args).await,
        Command::Usage(args) => usage::run(&settings, args).await,
        Command::Backfill(args) => backfill::run(&settings, args, crate::reconcile::Mode::Backfill).await,
        Command::ReconcileCapture(args) => backfill::run(&settings, args, crate::reconcile::Mode::Reconcile).await,
        Command::Maintain(args) => maintain::run(&settings, args).await,
        Command::Rollup(args) => rollup::run_rollup(&settings, &args).await.map(|_| ()),
        Command::Report(args) => rollup::run_report(&settings, &args).await.map(|_| ()),
        Command::Demo(args) => crate::demo::run(&settings, args).await,
        Command::Generate(args) => crate::demo::generate_file(args),
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
