//! The ingest path without I/O — decode + parse + normalise + fingerprint
//! (+ redaction of the dead-lettered ones) — in records per second on one
//! core, next to a peer measured in the same run: `serde_json` parsing the
//! same bodies into a `serde_json::Value` (what any generic consumer pays
//! before doing anything with a record).
//!
//! Run: `cargo bench -p chargeback --bench ingest` (see docs/benchmarks.md).

#![allow(clippy::float_arithmetic, clippy::cast_precision_loss)] // rates are reported, not accounted

use std::hint::black_box;
use std::time::{Duration, Instant};

use chargeback::domain::{Fingerprinter, Tenant};
use chargeback::ingest::{Event, EventOrigin, content_digest, prepare_batch};

const RECORDS: usize = 200_000;
const BATCH: usize = 100;
const RUNS: usize = 7;

fn best_of<F: FnMut() -> usize>(mut f: F) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        out = f();
        best = best.min(start.elapsed());
    }
    (best, out)
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let first_day = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).expect("date");
    // The three policy shapes, one record per event: the mix of docs/benchmarks.md.
    use chargeback::cli::demo::traffic::{Mix, generate_mix};
    let generated = generate_mix(first_day, RECORDS, 7, 4, Mix::Demo, None);
    let bytes: usize = generated.iter().map(|g| g.body.len()).sum();
    let events: Vec<Event> = generated
        .iter()
        .enumerate()
        .map(|(i, g)| Event {
            body: g.body.clone().into_bytes(),
            origin: EventOrigin::EventHub {
                hub: "apim-usage".into(),
                partition: g.partition.to_string(),
                sequence: i as i64,
                enqueued: None,
            },
        })
        .collect();
    let fingerprinter = Fingerprinter::new(b"bench-secret");
    let tenant = Tenant::default_tenant();

    let (ours, accepted) = best_of(|| {
        let mut accepted = 0;
        for batch in events.chunks(BATCH) {
            let prepared = prepare_batch(black_box(batch), &fingerprinter, &tenant);
            accepted += prepared.records.len();
            black_box(prepared);
        }
        accepted
    });
    let (peer, parsed) = best_of(|| {
        let mut parsed = 0;
        for e in &events {
            if serde_json::from_slice::<serde_json::Value>(black_box(&e.body)).is_ok() {
                parsed += 1;
            }
        }
        parsed
    });
    let (digest, _) =
        best_of(|| events.iter().map(|e| usize::from(content_digest(black_box(&e.body))[0])).sum::<usize>());

    println!(
        "ingest path without I/O, {RECORDS} generated records ({:.0} bytes/record), best of {RUNS}, one core",
        bytes as f64 / RECORDS as f64
    );
    println!("  chargeback prepare_batch : {:>12.0} records/s  ({accepted} accepted)", per_second(RECORDS, ours));
    println!("  peer serde_json -> Value : {:>12.0} records/s  ({parsed} parsed)", per_second(RECORDS, peer));
    println!("  ratio ours / peer        : {:>12.2}", peer.as_secs_f64() / ours.as_secs_f64());
    println!("  (content digest, CLI only: {:.0} records/s)", per_second(RECORDS, digest));

    // The same, per record shape (how the mix above is made up).
    for (shape, marker) in
        [("usage.v1", "\"schema\""), ("APIM sample", "\"AppKey\""), ("APIM full body", "\"eventTime\"")]
    {
        let subset: Vec<Event> =
            events.iter().filter(|e| String::from_utf8_lossy(&e.body).contains(marker)).cloned().collect();
        let size = subset.iter().map(|e| e.body.len()).sum::<usize>() / subset.len().max(1);
        let (ours, _) = best_of(|| {
            subset.chunks(BATCH).map(|b| prepare_batch(black_box(b), &fingerprinter, &tenant).records.len()).sum()
        });
        let (peer, _) = best_of(|| {
            subset.iter().filter(|e| serde_json::from_slice::<serde_json::Value>(black_box(&e.body)).is_ok()).count()
        });
        println!(
            "  {shape:<15} ({:>6} records, {size:>4} bytes): ours {:>9.0}/s  peer {:>9.0}/s  ratio {:.2}",
            subset.len(),
            per_second(subset.len(), ours),
            per_second(subset.len(), peer),
            peer.as_secs_f64() / ours.as_secs_f64()
        );
    }
}
