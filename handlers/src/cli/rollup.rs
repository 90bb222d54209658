//! `chargeback rollup` and `chargeback report`: the monthly rollup in this
//! process, and its report files.

use std::path::PathBuf;

use anyhow::Context;

use super::Services;
use crate::domain::Period;
use crate::rollup::{RollupInstance, RuntimeStatus, local};

/// Arguments of `chargeback rollup`.
#[derive(Debug, clap::Args)]
pub struct RollupArgs {
    /// The month, YYYY-MM (UTC).
    #[arg(long)]
    pub month: Period,
    /// Chunks aggregated at a time.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// CSV (`chargeback.csv` and `daily.csv`).
    Csv,
    /// JSON (`chargeback.json`).
    Json,
    /// A self-contained HTML page with charts (`chargeback.html`).
    Html,
    /// The FOCUS 1.2 cost and usage dataset for FinOps tools (`focus.csv`).
    Focus,
    /// Every file.
    All,
}

/// Arguments of `chargeback report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The month, YYYY-MM (UTC).
    #[arg(long)]
    pub month: Period,
    /// Which files.
    #[arg(long, value_enum, default_value = "all")]
    pub format: ReportFormat,
    /// Folder to write them to.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Roll the month up first (otherwise the last completed rollup's files are used).
    #[arg(long)]
    pub rollup: bool,
}

/// Rolls a month up and prints where its reports are.
pub async fn run_rollup(services: &Services, args: &RollupArgs) -> anyhow::Result<RollupInstance> {
    // Calls past their grace period are counted first, as the monthly timer does.
    let settled = services.ingestor.settle_overdue(&services.tenant, chrono::Utc::now()).await?;
    if settled.any() {
        println!("{settled}");
    }
    let instance = local::run(&services.rollups, &services.tenant, args.month, args.workers, "cli").await?;
    println!(
        "rollup {} run {}: {:?}, {} chunks, {} ms",
        instance.id,
        instance.run,
        instance.status,
        instance.total(),
        (instance.completed_at.unwrap_or(instance.updated_at) - instance.created_at).num_milliseconds()
    );
    if let Some(summary) = &instance.summary {
        println!("{}", serde_json::to_string_pretty(summary)?);
    }
    Ok(instance)
}

/// Copies a completed month's report files to a folder.
pub async fn run_report(services: &Services, args: &ReportArgs) -> anyhow::Result<Vec<PathBuf>> {
    if args.rollup {
        run_rollup(services, &RollupArgs { month: args.month, workers: local::DEFAULT_WORKERS }).await?;
    }
    let instance = services.rollups.status(&services.tenant, args.month).await?;
    let instance =
        instance.filter(|i| i.status == RuntimeStatus::Completed || !i.outputs.is_empty()).with_context(|| {
            format!(
                "{} has not been rolled up: run `chargeback rollup --month {}` first (or add --rollup)",
                args.month, args.month
            )
        })?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut written = Vec::new();
    for name in &instance.outputs {
        let file = name.rsplit('/').next().unwrap_or(name);
        let wanted = match args.format {
            ReportFormat::All => true,
            ReportFormat::Csv => file.ends_with(".csv") && file != crate::billing::FOCUS_FILE,
            ReportFormat::Focus => file == crate::billing::FOCUS_FILE,
            ReportFormat::Json => file.ends_with(".json"),
            ReportFormat::Html => file.ends_with(".html"),
        };
        if !wanted {
            continue;
        }
        let body =
            services.rollups.output(name).await?.with_context(|| format!("the report file {name} is missing"))?;
        let path = args.out.join(file);
        std::fs::write(&path, &body).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
        written.push(path);
    }
    Ok(written)
}
