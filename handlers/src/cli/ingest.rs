//! `chargeback ingest FILE…`: exported Event Hub bodies, one per line, through
//! the same ingestion as the Event Hub function.
//!
//! Lines carry no Event Hub position, so a record without an id of its own is
//! identified by its content digest and how many identical lines came before
//! it: ingesting the same file twice counts nothing twice. Blank lines are
//! not events and are skipped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use anyhow::Context;

use super::Services;
use crate::ingest::{BatchOutcome, ContentIdentities, Event, Ingestor};

/// Arguments of `chargeback ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// JSONL files of event bodies; `-` for standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Events per ledger transaction (larger batches write each hot page of
    /// the ledger fewer times).
    #[arg(long, default_value_t = 20_000)]
    batch_size: usize,
    /// Print the counts as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(services: &Services, args: IngestArgs) -> anyhow::Result<()> {
    let mut total = BatchOutcome::default();
    for file in &args.files {
        let outcome = ingest_file(&services.ingestor, file, args.batch_size.max(1)).await?;
        total.add(&outcome);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&total)?);
    } else {
        println!(
            "received {}  accepted {}  duplicates {}  dead-lettered {}",
            total.received, total.accepted, total.duplicates, total.dead_lettered
        );
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

/// Ingests one file in batches, reporting progress on long runs.
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
    let mut identities = ContentIdentities::default();
    let mut total = BatchOutcome::default();
    let mut batch = Vec::with_capacity(batch_size);
    let mut next_progress = 250_000;
    for (index, line) in reader.split(b'\n').enumerate() {
        let mut body = line.with_context(|| format!("reading {source}"))?;
        if body.last() == Some(&b'\r') {
            body.pop();
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let origin = identities.next(&source, index + 1, &body);
        batch.push(Event { body, origin });
        if batch.len() == batch_size {
            total.add(&ingestor.ingest(&batch).await?);
            batch.clear();
            if total.received >= next_progress {
                eprintln!("… {source}: {} events", total.received);
                next_progress += 250_000;
            }
        }
    }
    if !batch.is_empty() {
        total.add(&ingestor.ingest(&batch).await?);
    }
    Ok(total)
}
