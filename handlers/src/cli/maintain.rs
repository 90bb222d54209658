//! `chargeback maintain`: the nightly SQL maintenance, as the timer function
//! `nightly-maintenance` runs it, for the configured tenant's database
//! (`--tenant` names the tenant, `DATABASE_URL` or the data directory the
//! database).

use clap::Args;

use super::Services;
use crate::maintenance::{self, Options, Thresholds};

/// Arguments of `maintain`.
#[derive(Debug, Args)]
pub struct MaintainArgs {
    /// Print the plan (each action with its figure and threshold) without acting.
    #[arg(long)]
    dry_run: bool,
    /// Override one threshold or the budget for this run, as in CHARGEBACK_MAINTENANCE (key=value; repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

/// Runs maintenance and prints what it did (or would do).
pub async fn run(services: &Services, args: MaintainArgs) -> anyhow::Result<()> {
    let mut text = std::env::var("CHARGEBACK_MAINTENANCE").unwrap_or_default();
    for o in &args.overrides {
        text.push(',');
        text.push_str(o);
    }
    let thresholds = Thresholds::parse(&text)?;
    let options = Options { thresholds, dry_run: args.dry_run };
    let Some(tenant) = services.maintenance.open().await? else {
        println!("no SQL database is configured: nothing to maintain");
        return Ok(());
    };
    for report in maintenance::run_tenants(&[tenant], &options).await? {
        print!("{report}");
    }
    Ok(())
}
