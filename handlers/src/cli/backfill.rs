//! `chargeback backfill --capture …` and `chargeback reconcile-capture
//! --capture …`: Event Hubs Capture files replayed with the live path's
//! identities ([`crate::replay`]). The backfill adds only what the ledger
//! is missing; the reconciliation only reports it.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};

use super::Services;
use crate::config::Settings;
use crate::replay::source::{self, CaptureSource};
use crate::replay::{Mode, Report, Window};
use crate::storage::azure::StorageAccount;

/// Arguments of `backfill` and `reconcile-capture`.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// Capture files, folders of them (searched for *.avro), or
    /// blob://<container>/<prefix> in the AzureWebJobsStorage account.
    #[arg(long = "capture", required = true, num_args = 1..)]
    sources: Vec<String>,
    /// Only events enqueued at or after this time (RFC 3339, or a day = 00:00 UTC).
    #[arg(long, value_parser = parse_time)]
    from: Option<DateTime<Utc>>,
    /// Only events enqueued before this time (RFC 3339, or a day = 00:00 UTC).
    #[arg(long, value_parser = parse_time)]
    to: Option<DateTime<Utc>>,
    /// The hub name as the live path saw it (the host's
    /// PartitionContext.EventHubName, i.e. EVENTHUB_NAME), if Capture's path spells it otherwise.
    #[arg(long)]
    event_hub: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_time(raw: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or_else(|| format!("{raw:?} is not a day"));
    }
    crate::records::parse_utc(raw).ok_or_else(|| format!("{raw:?} is not an RFC 3339 time or a YYYY-MM-DD day"))
}

pub(super) async fn run(settings: &Settings, services: &Services, args: CaptureArgs, mode: Mode) -> anyhow::Result<()> {
    if let (Some(from), Some(to)) = (args.from, args.to) {
        anyhow::ensure!(from < to, "--from must be before --to");
    }
    let sources: Vec<CaptureSource> = args.sources.iter().map(|s| CaptureSource::parse(s)).collect();
    let account = match settings.storage.azure_connection_string() {
        Some(text) => Some(StorageAccount::from_connection_string(&text).context("AzureWebJobsStorage")?),
        None => None,
    };
    let files = source::list(&sources, account.as_ref()).await?;
    anyhow::ensure!(!files.is_empty(), "no Capture files (*.avro) found in {}", args.sources.join(", "));
    let window = Window { from: args.from, to: args.to, event_hub: args.event_hub };
    let report = services.replay.run(&files, &window, mode).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report, mode));
    }
    anyhow::ensure!(report.balances(), "counts do not balance: {report:?}");
    Ok(())
}

fn text(r: &Report, mode: Mode) -> String {
    let mut out = match mode {
        Mode::Backfill => format!(
            "files {}  received {}  accepted {}  duplicates {}  dead-lettered {}\n",
            r.files, r.received, r.accepted, r.duplicates, r.dead_lettered
        ),
        Mode::Reconcile => format!(
            "files {}  received {}  missing {} ({} reported tokens)  already in the ledger {}  would be dead-lettered {}\n(nothing was written)\n",
            r.files, r.received, r.accepted, r.missing_tokens, r.duplicates, r.dead_lettered
        ),
    };
    for (reason, n) in &r.reasons {
        out.push_str(&format!("  dead-lettered {reason}: {n}\n"));
    }
    if r.outside_window > 0 {
        out.push_str(&format!("outside --from/--to, skipped: {}\n", r.outside_window));
    }
    if r.enqueued_to_the_second > 0 {
        out.push_str(&format!(
            "warning: {} events had no x-opt-enqueued-time; records among them without an id of their own may not match their live identity\n",
            r.enqueued_to_the_second
        ));
    }
    out
}
