//! `chargeback ingest FILE…`: exported Event Hub bodies, one per line, through
//! the same ingestion as the Event Hub function.
//!
//! Lines carry no Event Hub position, so a record without an id of its own is
//! identified by its content digest and how many identical lines came before
//! it: ingesting the same file twice counts nothing twice. Blank lines are
//! not events and are skipped. Only lines without an id are digested and
//! remembered (on the parsing threads, numbered by the writer in input order).
//!
//! A pipeline, not a loop: a reader thread cuts the file into batches and
//! hands each to a parsing task on the blocking pool (parse, normalise,
//! fingerprint, count streamed tokens), while the writer stores the parsed
//! batches in file order, several at a time in one ledger transaction. So
//! parsing runs on one core while the other writes, and the outcome is the
//! same as a loop's: batches are written in the order they were read. The
//! embedded ledger is opened for bulk loading (no fsync per transaction) and
//! synced once at the end, so the counts printed are durable.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Services;
use crate::ingest::{BatchOutcome, ContentIdentities, Event, EventOrigin, Ingestor, PreparedBatch};

/// Arguments of `chargeback ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// JSONL files of event bodies; `-` for standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Events per ledger append (one transaction): larger appends write each
    /// hot page of the ledger fewer times.
    #[arg(long, default_value_t = 50_000)]
    batch_size: usize,
    /// Print the counts as JSON.
    #[arg(long)]
    json: bool,
}

/// Events parsed as one unit of the pipeline (at most the append size).
const PARSE_BATCH: usize = 5_000;
/// Parsed batches that may wait for the writer.
const PARSE_AHEAD: usize = 4;

/// Ingests the files with `services` built for bulk loading
/// ([`super::App::bulk_services`]), then makes what was written durable.
pub(super) async fn run(services: &Services, args: IngestArgs) -> anyhow::Result<()> {
    let ingestor = &services.ingestor;
    let mut total = BatchOutcome::default();
    let mut result = Ok(());
    for file in &args.files {
        match ingest_file(ingestor, file, args.batch_size.max(1)).await {
            Ok(outcome) => total.add(&outcome),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    // Whatever was written is made durable, also when a file failed.
    ingestor.sync().await.context("syncing the ledger")?;
    result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&total)?);
    } else {
        let ignored = if total.ignored > 0 { format!("  ignored {}", total.ignored) } else { String::new() };
        println!(
            "received {}  accepted {}  duplicates {}  dead-lettered {}{ignored}",
            total.received, total.accepted, total.duplicates, total.dead_lettered
        );
        let calls = total.calls;
        if calls.any() {
            println!("{calls}");
        }
        if total.pending_count > 0 {
            println!("streamed without usage, not yet counted: {}", total.pending_count);
        }
        for (reason, n) in &total.reasons {
            println!("  dead-lettered {reason}: {n}");
        }
    }
    anyhow::ensure!(total.balances(), "counts do not balance: {total:?}");
    Ok(())
}

/// A parsed batch: how many events it had, and what they became.
type Parsed = (usize, PreparedBatch);

/// Ingests one file: `batch_size` events per ledger append, reporting
/// progress on long runs.
pub async fn ingest_file(ingestor: &Ingestor, file: &PathBuf, batch_size: usize) -> anyhow::Result<BatchOutcome> {
    let source = file.display().to_string();
    let reader: Box<dyn BufRead + Send> = if source == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(file).with_context(|| format!("opening {source}"))?,
        ))
    };
    let (jobs, mut parsed) = mpsc::channel::<JoinHandle<Parsed>>(PARSE_AHEAD);
    let read = {
        let ingestor = ingestor.clone();
        let source = source.clone();
        let unit = PARSE_BATCH.min(batch_size);
        tokio::task::spawn_blocking(move || read_batches(reader, &source, unit, &ingestor, &jobs))
    };

    let mut total = BatchOutcome::default();
    let mut next_progress = 250_000;
    let mut identities = ContentIdentities::default();
    let mut pending = PreparedBatch::default();
    let mut pending_events = 0;
    while let Some(job) = parsed.recv().await {
        let (events, mut batch) = job.await.context("parsing a batch")?;
        identities.settle(&mut batch);
        pending.extend(batch);
        pending_events += events;
        if pending_events >= batch_size {
            total.add(&ingestor.store(std::mem::take(&mut pending)).await?);
            pending_events = 0;
            if total.received >= next_progress {
                eprintln!("… {source}: {} events", total.received);
                next_progress += 250_000;
            }
        }
    }
    read.await.context("reading")??;
    if pending_events > 0 {
        total.add(&ingestor.store(pending).await?);
    }
    Ok(total)
}

/// The reader: cuts the input into batches of `unit` events and starts the
/// parsing of each, handing the tasks to the writer in order (which numbers
/// identical id-less lines, in input order, as they arrive).
fn read_batches(
    reader: Box<dyn BufRead + Send>,
    source: &str,
    unit: usize,
    ingestor: &Ingestor,
    jobs: &mpsc::Sender<JoinHandle<Parsed>>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Handle::current();
    let mut batch = Vec::with_capacity(unit);
    let send = |batch: Vec<Event>| {
        let ingestor = ingestor.clone();
        let handle = runtime.clone();
        let job = runtime.spawn_blocking(move || {
            let mut parsed = ingestor.prepare(&batch);
            handle.block_on(ingestor.count(&mut parsed));
            (batch.len(), parsed)
        });
        // The writer stopped (it failed): nothing more to read for.
        jobs.blocking_send(job).is_ok()
    };
    for (index, line) in reader.split(b'\n').enumerate() {
        let mut body = line.with_context(|| format!("reading {source}"))?;
        if body.last() == Some(&b'\r') {
            body.pop();
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let origin =
            EventOrigin::Line { source: source.to_owned(), line: u64::try_from(index + 1).unwrap_or(u64::MAX) };
        batch.push(Event { body, origin });
        if batch.len() == unit && !send(std::mem::replace(&mut batch, Vec::with_capacity(unit))) {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        send(batch);
    }
    Ok(())
}
