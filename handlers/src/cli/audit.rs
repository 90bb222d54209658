//! `chargeback audit --month YYYY-MM [--sample N] [--repair]`: recounts the
//! month's days from their records and compares them with the usage cells
//! ingest kept ([`crate::maintenance::audit`]), as the nightly maintenance
//! does. A difference fails the command (exit code 1) after the report.

use clap::Args;

use super::Services;
use crate::domain::Period;
use crate::maintenance::audit::AuditOptions;

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The month, YYYY-MM.
    #[arg(long)]
    month: Period,
    /// Check this many days of the month, drawn at random (default: every day).
    #[arg(long)]
    sample: Option<usize>,
    /// Rebuild the cells of the days that differ from their records, then check them again.
    #[arg(long)]
    repair: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the audit and prints its report.
pub async fn run(services: &Services, args: AuditArgs) -> anyhow::Result<()> {
    let options = AuditOptions { period: args.month, sample_days: args.sample, repair: args.repair };
    let report = services.audit.run(&services.tenant, &options).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    anyhow::ensure!(
        report.passed(),
        "the usage cells of {} differ from their records in {} cells{}",
        args.month,
        report.differences.len(),
        if report.after_repair.as_ref().is_some_and(Vec::is_empty) { " (repaired)" } else { "" }
    );
    Ok(())
}
