//! `chargeback reconcile`: a rolled-up month against Azure's invoice (the
//! FOCUS cost export), printed for people or tools; `--true-up` writes the
//! month's results and report files again with the correction lines. The
//! exit code is [`super::NOT_RECONCILED_EXIT`] when the month does not
//! reconcile.

use std::path::PathBuf;

use anyhow::Context;

use super::Services;
use crate::domain::Period;
use crate::reconcile;

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

/// A month that does not reconcile: the error `chargeback reconcile` ends
/// with (after the report is printed), so its exit code says so.
#[derive(Debug, thiserror::Error)]
#[error("{period} does not reconcile with the invoice: {groups} of its groups do not match")]
pub struct NotReconciled {
    /// The month.
    pub period: Period,
    /// Groups that do not match.
    pub groups: usize,
}

/// Reconciles the month; `Err(NotReconciled)` (after printing) when it does not reconcile.
pub async fn run(services: &Services, args: &ReconcileArgs) -> anyhow::Result<()> {
    let name = args.invoice.display().to_string();
    let bytes = std::fs::read(&args.invoice).with_context(|| format!("reading the invoice {name}"))?;
    let reconciled = services.rollups.reconcile(&services.tenant, args.month, &bytes, &name, args.true_up).await?;
    let reconciliation = &reconciled.reconciliation;
    match args.format {
        Format::Table => print!("{}", reconcile::table(reconciliation)),
        Format::Json => print!("{}", String::from_utf8_lossy(&reconcile::json(reconciliation))),
        Format::Csv => print!("{}", String::from_utf8_lossy(&reconcile::csv(reconciliation))),
    }
    if let Some(trued) = &reconciled.trued_up {
        eprintln!(
            "Trued up {}: {} correction line(s), {} in total (the invoice: {}); results and report files written \
             again (chargeback report --month {} --out DIR). A rollup re-run writes them without the corrections \
             unless CHARGEBACK_INVOICE_FILE and CHARGEBACK_INVOICE_TRUE_UP are set.",
            args.month,
            trued.lines.len() - reconciled.statement.lines.len(),
            trued.total,
            reconciliation.total.invoice_cost,
            args.month
        );
    }
    if reconciliation.total.reconciles {
        Ok(())
    } else {
        Err(NotReconciled { period: args.month, groups: reconciliation.mismatches() }.into())
    }
}
