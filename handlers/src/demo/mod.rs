//! `chargeback demo`: a month of synthetic API Management traffic, sent
//! through the same ingestion as the Event Hub function (batches of up to
//! 100 events per partition, with partition and sequence numbers), a few
//! batches replayed as after a rebalance, then the month's usage per
//! business unit.

pub mod traffic;

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{Datelike, Months, NaiveDate, Utc};

use crate::config::Settings;
use crate::ingest::{BatchOutcome, Event, EventOrigin};
use crate::mapping::ApplicationMap;
use crate::usage::{GroupBy, usage_report};

/// Arguments of `chargeback demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Month to generate, YYYY-MM [default: last month]
    #[arg(long)]
    month: Option<String>,
    /// Number of events.
    #[arg(long, default_value_t = 50_000)]
    records: usize,
    /// Random seed (the same seed gives the same traffic).
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Event Hub partitions of the simulated hub.
const PARTITIONS: u32 = 4;
/// Events per simulated trigger invocation (host.json maxEventBatchSize).
const BATCH: usize = 100;
/// Batches delivered a second time, as after a crash or a rebalance.
const REPLAYED_BATCHES: usize = 3;

fn last_month() -> NaiveDate {
    let today = Utc::now().date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    first.checked_sub_months(Months::new(1)).unwrap_or(first)
}

/// Runs the demo.
pub async fn run(settings: &Settings, args: DemoArgs) -> anyhow::Result<()> {
    let first_day = match &args.month {
        Some(m) => NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .with_context(|| format!("--month {m:?} is not YYYY-MM"))?,
        None => last_month(),
    };
    let month = first_day.format("%Y-%m").to_string();
    let ingestor = crate::startup::ingestor(settings).await?;
    let fingerprinter = settings.fingerprinter()?;

    println!("Generating {} API Management usage events for {month} (seed {}) …", args.records, args.seed);
    let generated = traffic::generate(first_day, args.records, args.seed, PARTITIONS);

    // Deliver as Event Hubs would: per partition, in sequence, in batches.
    let mut by_partition: BTreeMap<u32, Vec<Event>> = BTreeMap::new();
    for g in generated {
        let events = by_partition.entry(g.partition).or_default();
        let sequence = i64::try_from(events.len()).unwrap_or(i64::MAX);
        events.push(Event {
            body: g.body.into_bytes(),
            origin: EventOrigin::EventHub {
                hub: "apim-usage".into(),
                partition: g.partition.to_string(),
                sequence,
                enqueued: None,
            },
        });
    }
    let mut total = BatchOutcome::default();
    let mut replayed = Vec::new();
    let batches: Vec<&[Event]> = by_partition.values().flat_map(|events| events.chunks(BATCH)).collect();
    for (i, batch) in batches.iter().enumerate() {
        total.add(&ingestor.ingest(batch).await?);
        if i % (batches.len() / REPLAYED_BATCHES).max(1) == 1 && replayed.len() < REPLAYED_BATCHES {
            replayed.push(*batch);
        }
        if (i + 1) % 100 == 0 {
            eprintln!("… {} of {} batches", i + 1, batches.len());
        }
    }
    for batch in replayed {
        total.add(&ingestor.ingest(batch).await?);
    }

    let mapping_path = settings.applications_path();
    if mapping_path.exists() {
        println!("Keeping the existing application mapping {}", mapping_path.display());
    } else {
        write_demo_mapping(&mapping_path, &fingerprinter, args.seed)?;
        println!("Wrote the application mapping {}", mapping_path.display());
    }

    println!();
    println!(
        "Ingested: received {}  accepted {}  duplicates {}  dead-lettered {}  (streamed, awaiting a count: {})",
        total.received, total.accepted, total.duplicates, total.dead_lettered, total.pending_count
    );
    for (reason, n) in &total.reasons {
        println!("  dead-lettered {reason}: {n}");
    }
    anyhow::ensure!(total.balances(), "counts do not balance: {total:?}");

    let map = ApplicationMap::load(&mapping_path)?;
    let (from, to) = crate::cli::month_range(&month)?;
    let report =
        usage_report(ingestor.ledger().as_ref(), &map, &settings.tenant, from, to, GroupBy::BusinessUnit).await?;
    println!();
    println!("Token usage for {month} by business unit (tenant {}):", settings.tenant);
    print!("{}", report.to_table());
    println!();
    println!("Data: {}  (ledger.sqlite, dead-letter/)", settings.data_dir.display());
    println!("More: chargeback usage --month {month} --by app | model | deployment | day [--format csv|json]");
    Ok(())
}

fn write_demo_mapping(
    path: &std::path::Path,
    fingerprinter: &crate::domain::Fingerprinter,
    seed: u64,
) -> anyhow::Result<()> {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for app in traffic::apps() {
        let Some(bu) = app.business_unit else { continue };
        let party = match app.logging {
            traffic::Logging::V1App => app.name.to_owned(),
            traffic::Logging::V1Subscription => traffic::subscription_id(&app),
            traffic::Logging::ApimSample | traffic::Logging::ApimFullBody => {
                fingerprinter.fingerprint(&traffic::subscription_key(&app, seed)).to_string()
            }
        };
        rows.push((party, app.name.to_owned(), bu.to_owned()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    ApplicationMap::from_rows(rows.iter().map(|(p, a, b)| (p.as_str(), a.as_str(), b.as_str()))).write(path)
}
