//! `chargeback demo`: a month of synthetic API Management traffic, sent
//! through the same ingestion as the Event Hub function (batches of up to
//! 100 events per partition, with partition and sequence numbers), a few
//! batches replayed as after a rebalance, the calls of API Management's
//! resource logs joined (and, their grace period over, the ones whose gateway
//! half never came counted as unattributed), then the month's usage per
//! business unit, its rollup (priced, with a provisioned deployment), its
//! report files and the budget alerts it raised. It calls the services the
//! functions call, built by the composition root ([`super::App`]).

mod invoice;
pub mod traffic;

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{Datelike, Months, NaiveDate, Utc};

use super::usage::{month_range, table};
use super::{App, Services};
use crate::config::{LedgerBackend, Settings};
use crate::directory::{Budgets, Version, seed};
use crate::domain::{Application, Budget, Currency, Fingerprinter, Money, Name, Period};
use crate::ingest::{BatchOutcome, Event, EventOrigin};
use crate::rollup::local;
use crate::usage::{GroupBy, UsageFilters, UsageQuery};

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

/// Arguments of `chargeback generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Month to generate, YYYY-MM [default: last month]
    #[arg(long)]
    month: Option<String>,
    /// Number of records.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output file [default: standard output]
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Which applications (and so which record shapes) the traffic comes from.
    #[arg(long, value_enum, default_value_t = traffic::Mix::Demo)]
    mix: traffic::Mix,
    /// Write the records in time order, as a live Event Hub delivers them
    /// (default: the month's records mixed).
    #[arg(long)]
    time_order: bool,
}

/// Writes generated records as JSONL, in chunks so memory stays flat.
pub fn generate_file(args: GenerateArgs) -> anyhow::Result<()> {
    use std::io::Write;
    let first_day = first_day(args.month.as_deref())?;
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, sink);
    const CHUNK: usize = 100_000;
    // Time order: every call's time first (8 bytes each), then the records.
    let times = args.time_order.then(|| traffic::ordered_times(first_day, args.records, args.seed));
    let mut written = 0;
    while written < args.records {
        let n = CHUNK.min(args.records - written);
        // Each chunk gets its own seed so record ids never repeat across chunks.
        let seed = args.seed.wrapping_add(u64::try_from(written / CHUNK).unwrap_or(0).wrapping_mul(0x9e37_79b9));
        let at = times.as_deref().map(|t| &t[written..written + n]);
        for event in traffic::generate_mix(first_day, n, seed, PARTITIONS, args.mix, at) {
            out.write_all(event.body.as_bytes())?;
            out.write_all(b"\n")?;
        }
        written += n;
    }
    out.flush()?;
    Ok(())
}

fn first_day(month: Option<&str>) -> anyhow::Result<NaiveDate> {
    match month {
        Some(m) => NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .with_context(|| format!("--month {m:?} is not YYYY-MM")),
        None => Ok(last_month()),
    }
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
pub async fn run(settings: &Settings, app: &dyn App, args: DemoArgs) -> anyhow::Result<()> {
    let first_day = first_day(args.month.as_deref())?;
    let month = first_day.format("%Y-%m").to_string();
    let deployments_path = settings.deployments_path();
    if !deployments_path.exists() {
        if let Some(dir) = deployments_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&deployments_path, DEMO_DEPLOYMENTS)
            .with_context(|| format!("writing {}", deployments_path.display()))?;
        println!("Wrote the deployment mapping {} (gpt-4o-prod is provisioned)", deployments_path.display());
    }
    let services = app.services(settings).await?;
    let ingestor = &services.ingestor;
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
    // The month arrives as one backfill received just after it, so how long
    // a resource-log call has waited for its caller does not depend on the
    // clock: after the last batch the grace period is let pass.
    let received =
        first_day.checked_add_months(Months::new(1)).unwrap_or(first_day).and_time(chrono::NaiveTime::MIN).and_utc();
    let mut total = BatchOutcome::default();
    let mut replayed = Vec::new();
    let batches: Vec<&[Event]> = by_partition.values().flat_map(|events| events.chunks(BATCH)).collect();
    for (i, batch) in batches.iter().enumerate() {
        total.add(&ingestor.ingest_at(batch, received).await?);
        if i % (batches.len() / REPLAYED_BATCHES).max(1) == 1 && replayed.len() < REPLAYED_BATCHES {
            replayed.push(*batch);
        }
        if (i + 1) % 100 == 0 {
            eprintln!("… {} of {} batches", i + 1, batches.len());
        }
    }
    for batch in replayed {
        total.add(&ingestor.ingest_at(batch, received).await?);
    }
    let after_grace = received.checked_add_signed(ingestor.grace()).unwrap_or(received);
    total.calls.add(ingestor.settle_overdue(&services.tenant, after_grace).await?);

    let mapping_path = settings.applications_path();
    if mapping_path.exists() {
        println!("Keeping the existing application mapping {}", mapping_path.display());
    } else {
        write_demo_mapping(&mapping_path, &fingerprinter, args.seed)?;
        println!("Wrote the application mapping {}", mapping_path.display());
    }

    println!();
    println!(
        "Ingested: received {}  accepted {}  duplicates {}  dead-lettered {}  ignored {}  (streamed, awaiting a count: {})",
        total.received, total.accepted, total.duplicates, total.dead_lettered, total.ignored, total.pending_count
    );
    println!(
        "  API Management resource logs: {} calls joined to their subscription, {} unattributed (no gateway half after the grace period)",
        total.calls.attributed, total.calls.unattributed
    );
    for (reason, n) in &total.reasons {
        println!("  dead-lettered {reason}: {n}");
    }
    anyhow::ensure!(total.balances(), "counts do not balance: {total:?}");

    let period = Period::of(first_day);
    let (from, to) = month_range(period);
    let query = UsageQuery {
        tenant: services.tenant.clone(),
        from,
        to,
        group_by: GroupBy::BusinessUnit,
        filters: UsageFilters::default(),
    };
    let report = services.usage.report(query).await?;
    println!();
    println!("Token usage for {month} by business unit (tenant {}):", services.tenant);
    print!("{}", table(&report));
    println!();
    match settings.storage.ledger_backend() {
        LedgerBackend::Sqlite if settings.storage.azure_connection.is_none() => {
            println!("Data: {}  (ledger.sqlite, dead-letter/)", settings.data_dir.display());
        }
        backend => println!("Ledger: {backend:?}; dead letters beside it (see docs/storage.md)"),
    }
    println!("More: chargeback usage --month {month} --by app | model | deployment | day [--format csv|json]");
    rollup_and_alerts(settings, &services, period).await
}

/// The demo's deployments: the types the price catalogue knows, one
/// provisioned (PTU) deployment with an hourly cost and a declared capacity
/// that spills over to a standard one (`gpt-4o-std`), a gpt-5 deployment
/// whose cache writes the shipped catalogue has no price for (unpriced, with
/// that reason),
/// and the legacy deployment left out (its model has no price: it shows as
/// unpriced). They sit in two Azure OpenAI accounts (made-up ARM ids), which
/// the invoice bills.
const DEMO_DEPLOYMENTS: &str = "\
deployment,model,deployment_type,ptu_hourly_cost,capacity_tokens_per_minute,currency,resource_id,region
gpt-4o-prod,gpt-4o-2024-08-06,provisioned,2.00,1500,USD,/subscriptions/00000000-0000-4000-8000-00000000d3e0/resourceGroups/rg-ai-demo/providers/Microsoft.CognitiveServices/accounts/oai-demo-swc,swedencentral
gpt-4o-std,gpt-4o-2024-08-06,global,,,,/subscriptions/00000000-0000-4000-8000-00000000d3e0/resourceGroups/rg-ai-demo/providers/Microsoft.CognitiveServices/accounts/oai-demo-swc,swedencentral
gpt-5-mini-global,gpt-5-mini-2025-08-07,global,,,,/subscriptions/00000000-0000-4000-8000-00000000d3e0/resourceGroups/rg-ai-demo/providers/Microsoft.CognitiveServices/accounts/oai-demo-swc,swedencentral
gpt-4o-mini-std,gpt-4o-mini-2024-07-18,global,,,,/subscriptions/00000000-0000-4000-8000-00000000d3e0/resourceGroups/rg-ai-demo/providers/Microsoft.CognitiveServices/accounts/oai-demo-swc,swedencentral
gpt-41-global,gpt-4.1-2025-04-14,global,,,,/subscriptions/00000000-0000-4000-8000-00000000d3e0/resourceGroups/rg-ai-demo/providers/Microsoft.CognitiveServices/accounts/oai-demo-swc,swedencentral
o3-mini-dz,o3-mini-2025-01-31,data-zone,,,,/subscriptions/00000000-0000-4000-8000-00000000d3e0/resourceGroups/rg-ai-demo/providers/Microsoft.CognitiveServices/accounts/oai-demo-frc,francecentral
embed-large,text-embedding-3-large,regional,,,,/subscriptions/00000000-0000-4000-8000-00000000d3e0/resourceGroups/rg-ai-demo/providers/Microsoft.CognitiveServices/accounts/oai-demo-frc,francecentral
";

/// The demo's monthly budgets (USD): R&D goes over, Finance past 80 %, Customer Support stays well under.
const DEMO_BUDGETS: [(&str, &str); 3] = [("R&D", "30.00"), ("Finance", "75.00"), ("Customer Support", "100.00")];

/// Rolls the month up, writes its reports and checks the budgets as of the month's end.
async fn rollup_and_alerts(settings: &Settings, services: &Services, period: Period) -> anyhow::Result<()> {
    let tenant = &services.tenant;
    let budgets = services.directory.read::<Budgets>(tenant).await?;
    if budgets.version == Version::Initial && budgets.entries.is_empty() {
        let mut entries = BTreeMap::new();
        for (unit, amount) in DEMO_BUDGETS {
            let budget = Budget::new(Money::new(amount.parse()?, Currency::USD), None)?;
            entries.insert(Name::parse(unit)?, budget);
        }
        services.directory.write::<Budgets>(tenant, &entries, &Version::Initial).await?;
    }

    println!();
    println!("Rolling {period} up (one chunk per application and day, 4 at a time) …");
    let instance = local::run(&services.rollups, tenant, period, local::DEFAULT_WORKERS, "demo").await?;
    if let Some(summary) = &instance.summary {
        println!(
            "Chargeback {period}: {} {} in total ({} of it unused provisioned capacity), {} lines, {} tokens unpriced",
            summary["total"].as_str().unwrap_or("?"),
            summary["currency"].as_str().unwrap_or(""),
            summary["unusedCapacity"].as_str().unwrap_or("?"),
            summary["lines"],
            summary["unpricedTokens"]
        );
    }
    let folder = settings.data_dir.join("reports").join(tenant.as_str()).join(period.to_string());
    if settings.storage.azure_connection.is_none() && settings.storage.ledger_backend() == LedgerBackend::Sqlite {
        println!("Report: open {}", folder.join("chargeback.html").display());
        println!("        (and chargeback.csv, daily.csv, chargeback.json, focus.csv beside it)");
    } else {
        println!("Report: chargeback report --month {period} --out DIR");
    }

    let as_of = period.next_first_day().and_time(chrono::NaiveTime::MIN).and_utc();
    let alerts = services.budgets.check(tenant, period, as_of).await?;
    println!();
    if alerts.is_empty() {
        println!("Budget alerts: none new (each threshold alerts once a month)");
    }
    for a in &alerts {
        println!(
            "Budget alert: {} reached {} % of its monthly budget ({} of {} {})",
            a.business_unit,
            a.threshold_percent,
            a.spent,
            a.budget,
            a.budget.unit()
        );
    }
    let statement = services.rollups.statement(tenant, period).await?;
    let invoice = invoice::write(&statement, &settings.data_dir)?;
    println!();
    println!("Azure's invoice for the month (a made-up FOCUS cost export): {}", invoice.display());
    println!("  reconcile it: chargeback reconcile --month {period} --invoice {}", invoice.display());
    println!();
    println!("Query it over HTTP: CHARGEBACK_API_KEY=dev-key chargeback serve, then");
    println!("  curl -H 'x-functions-key: dev-key' 'localhost:7071/api/chargeback/{period}'");
    Ok(())
}

fn write_demo_mapping(path: &std::path::Path, fingerprinter: &Fingerprinter, seed: u64) -> anyhow::Result<()> {
    let mut entries = BTreeMap::new();
    for app in traffic::apps() {
        let Some(bu) = app.business_unit else { continue };
        let party = match app.logging {
            traffic::Logging::V1App => app.name.to_owned(),
            traffic::Logging::V1Subscription | traffic::Logging::ResourceLogs => traffic::subscription_id(&app),
            traffic::Logging::ApimSample | traffic::Logging::ApimFullBody => {
                fingerprinter.fingerprint(&traffic::subscription_key(&app, seed)).to_string()
            }
        };
        let entry = Application { application: Name::parse(app.name)?, business_unit: Name::parse(bu)? };
        entries.insert(Name::parse(&party)?, entry);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    seed::write_applications(path, &entries).with_context(|| format!("writing {}", path.display()))
}
