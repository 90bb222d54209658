//! `chargeback usage`: token totals from the ledger.

use anyhow::Context;
use chrono::{DateTime, Months, NaiveDate, Utc};

use crate::config::Settings;
use crate::mapping::ApplicationMap;
use crate::usage::{GroupBy, usage_report};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// JSON.
    Json,
    /// CSV.
    Csv,
}

/// Arguments of `chargeback usage`.
#[derive(Debug, clap::Args)]
pub struct UsageArgs {
    /// A calendar month, YYYY-MM (UTC).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// Start day, YYYY-MM-DD (inclusive, UTC).
    #[arg(long, requires = "to")]
    from: Option<NaiveDate>,
    /// End day, YYYY-MM-DD (inclusive, UTC).
    #[arg(long, requires = "from")]
    to: Option<NaiveDate>,
    /// Grouping.
    #[arg(long, value_enum, default_value = "business-unit")]
    by: GroupBy,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// The half-open UTC range of a month given as `YYYY-MM`.
pub fn month_range(month: &str) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .with_context(|| format!("--month {month:?} is not YYYY-MM"))?;
    let next = first.checked_add_months(Months::new(1)).context("month out of range")?;
    Ok((first.and_time(chrono::NaiveTime::MIN).and_utc(), next.and_time(chrono::NaiveTime::MIN).and_utc()))
}

pub(super) async fn run(settings: &Settings, args: UsageArgs) -> anyhow::Result<()> {
    let (from, to) = match (&args.month, args.from, args.to) {
        (Some(month), _, _) => month_range(month)?,
        (None, Some(from), Some(to)) => {
            anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
            let end = to.succ_opt().context("--to out of range")?;
            (from.and_time(chrono::NaiveTime::MIN).and_utc(), end.and_time(chrono::NaiveTime::MIN).and_utc())
        }
        _ => month_range(&Utc::now().format("%Y-%m").to_string())?,
    };
    let ingestor = crate::startup::ingestor(settings).await?;
    let map = ApplicationMap::load(&settings.applications_path())?;
    let report = usage_report(ingestor.ledger().as_ref(), &map, &settings.tenant, from, to, args.by).await?;
    match args.format {
        Format::Table => {
            println!(
                "usage {} .. {} (UTC, end exclusive), tenant {}",
                from.date_naive(),
                to.date_naive(),
                settings.tenant
            );
            print!("{}", report.to_table());
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Csv => print!("{}", report.to_csv()?),
    }
    Ok(())
}
