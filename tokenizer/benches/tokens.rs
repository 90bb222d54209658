//! Tokens per second per core of `count_text`, for both encodings, on the
//! text files named on the command line (see `bench/run.sh`, which builds a
//! 1 MiB English and a 1 MiB multilingual text and runs Python tiktoken on the
//! same files for comparison).
//!
//! Single-threaded, so seconds are per core. Each measurement is 15 runs
//! after a warm-up run (which also loads the vocabulary); the machine may be
//! shared, so both the best and the median run are printed. One line per file
//! and encoding:
//! `rust <file> <encoding> <tokens> <best s> <median s> <reference tokens> <reference best s> <reference median s>`
//! where "reference" is `bpe-openai`'s own regex pre-tokenizer, uncached.

use std::hint::black_box;
use std::time::Instant;

use chargeback_tokenizer::{Encoding, count_text, count_text_reference, preload};

const RUNS: usize = 15;

/// The result of `f` and its best and median time in seconds.
fn time_runs(mut f: impl FnMut() -> u64) -> (u64, f64, f64) {
    let tokens = f();
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (tokens, times[0], times[RUNS / 2])
}

fn main() {
    let files: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if files.is_empty() {
        eprintln!("usage: cargo bench -p chargeback-tokenizer --bench tokens -- FILE...");
        return;
    }
    // First use loads (deserialises) the embedded vocabulary: a one-off cost.
    for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
        let start = Instant::now();
        preload(enc);
        println!("load {enc} {:.6}", start.elapsed().as_secs_f64());
    }
    // TOKENS_BENCH_ONLY_OURS=1 skips the reference, e.g. to profile ours alone.
    let only_ours = std::env::var_os("TOKENS_BENCH_ONLY_OURS").is_some();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{file}: {e}");
                std::process::exit(1);
            }
        };
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            let (tokens, best, median) = time_runs(|| count_text(enc, black_box(&text)));
            let (ref_tokens, ref_best, ref_median) =
                if only_ours { (0, 0.0, 0.0) } else { time_runs(|| count_text_reference(enc, black_box(&text))) };
            println!(
                "rust {file} {enc} {tokens} {best:.6} {median:.6} \
                 {ref_tokens} {ref_best:.6} {ref_median:.6}"
            );
        }
    }
}
