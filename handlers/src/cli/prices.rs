//! `chargeback prices sync`: Azure's Retail Prices API into the price
//! catalogue — the same service the weekly `prices-sync` timer runs.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::App;
use crate::config::Settings;

/// `chargeback prices …`
#[derive(Debug, Args)]
pub struct PricesArgs {
    #[command(subcommand)]
    command: PricesCommand,
}

#[derive(Debug, Subcommand)]
enum PricesCommand {
    /// Read the Azure Retail Prices API and add what is new to the synced price catalogue (never editing a line in force).
    Sync(SyncArgs),
}

/// `chargeback prices sync`
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The Retail Prices API [env: CHARGEBACK_PRICES_ENDPOINT; default: https://prices.azure.com/api/retail/prices]
    #[arg(long)]
    endpoint: Option<String>,
    /// Currency code [env: CHARGEBACK_PRICES_CURRENCY; default: USD]
    #[arg(long)]
    currency: Option<String>,
    /// Region (armRegionName) to read; repeat for more [env: CHARGEBACK_PRICES_REGIONS; default: the deployment file's regions, else every region]
    #[arg(long = "region", value_name = "REGION")]
    regions: Vec<String>,
    /// Keep the synced catalogue in this CSV file instead of the tenant's catalogue in the report store
    #[arg(long)]
    out: Option<PathBuf>,
    /// Meter mapping file: what meters the parser cannot read are [env: CHARGEBACK_METER_MAPPING]
    #[arg(long)]
    mapping: Option<PathBuf>,
}

/// Runs `chargeback prices …`: the options override the settings of the same name.
pub async fn run(settings: &Settings, app: &dyn App, args: PricesArgs) -> anyhow::Result<()> {
    let PricesCommand::Sync(args) = args.command;
    let mut settings = settings.clone();
    let config = &mut settings.price_sync;
    if args.endpoint.is_some() {
        config.endpoint = args.endpoint;
    }
    if args.currency.is_some() {
        config.currency = args.currency;
    }
    if !args.regions.is_empty() {
        config.regions = args.regions;
    }
    if args.mapping.is_some() {
        config.meter_mapping = args.mapping;
    }
    let services = app.services(&settings).await?;
    let report = services.prices.run(args.out.as_deref(), chrono::Utc::now().date_naive()).await?;
    print!("{}", report.to_text());
    Ok(())
}
