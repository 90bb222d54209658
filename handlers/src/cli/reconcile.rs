//! `chargeback reconcile`: a rolled-up month against Azure's invoice (the
//! FOCUS cost export), printed for people or tools; `--true-up` writes the
//! month's report files again with the correction lines. The exit code is
//! non-zero when the month does not reconcile.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Settings;
use crate::reconcile::{self, Invoice, NotReconciled};
use crate::rollup::{Period, Rollups};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// JSON for tools (`groups`, `total`).
    Json,
    /// CSV for tools (one row per group, then the total).
    Csv,
}

/// Arguments of `chargeback reconcile`.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// The month, YYYY-MM (UTC); it must have been rolled up.
    #[arg(long)]
    pub month: Period,
    /// Azure Cost Management's FOCUS cost export of the month (CSV or .csv.gz).
    #[arg(long)]
    pub invoice: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Add the differences as correction lines and write the month's report files again.
    #[arg(long)]
    pub true_up: bool,
}

/// Reconciles the month; `Err(NotReconciled)` (after printing) when it does not reconcile.
pub async fn run(settings: &Settings, args: &ReconcileArgs) -> anyhow::Result<()> {
    let stores = crate::startup::stores(settings).await?;
    let rollups = Rollups::new(stores.clone(), Arc::new(settings.clone()));
    let (statement, deployments) = rollups.month_statement(&settings.tenant, args.month).await?;
    let invoice = Invoice::load(&args.invoice, args.month, &statement.currency)?;
    let reconciliation = reconcile::reconcile(&statement, &invoice, &deployments);
    match args.format {
        Format::Table => print!("{}", reconcile::table(&reconciliation)),
        Format::Json => print!("{}", String::from_utf8_lossy(&reconcile::json(&reconciliation))),
        Format::Csv => print!("{}", String::from_utf8_lossy(&reconcile::csv(&reconciliation))),
    }
    if args.true_up {
        let (trued, _) = reconcile::write_true_up(stores.outputs.as_ref(), &statement, &reconciliation).await?;
        eprintln!(
            "Trued up {}: {} correction line(s), {} {} in total (the invoice: {} {}); report files written again \
             (chargeback report --month {} --out DIR). A rollup re-run writes them without the corrections unless \
             CHARGEBACK_INVOICE_FILE and CHARGEBACK_INVOICE_TRUE_UP are set.",
            args.month,
            trued.lines.len() - statement.lines.len(),
            trued.total,
            trued.currency,
            reconciliation.total.invoice_cost,
            trued.currency,
            args.month
        );
    }
    if reconciliation.total.reconciles {
        Ok(())
    } else {
        Err(NotReconciled { period: args.month, groups: reconciliation.mismatches() }.into())
    }
}
