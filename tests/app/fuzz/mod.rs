//! The fuzz harness: property tests over the record parser, the host payload
//! decoder, the timestamp parser and the redactor, and the ledger properties
//! through the handler itself.
//!
//! `cargo fuzz` needs a nightly toolchain, which a CI machine does not have,
//! so this runs on stable under `cargo test`, bounded by cases rather than
//! time: `CHARGEBACK_FUZZ_CASES` (default 256) cases per target, so the
//! suite's run takes seconds. The longer run is in `docs/operations.md`
//! ("Fuzzing"). Inputs come from generators and from the checked-in corpus
//! of every hostile case (`tests/fixtures/hostile/`), mutated byte by byte.

mod corpus;
mod ledger;
mod payload;
mod records;
mod redaction;
mod timestamps;

use proptest::prelude::*;

/// Cases per target: `CHARGEBACK_FUZZ_CASES`, divided by how costly one case
/// of the target is.
pub fn config(cost: u32) -> ProptestConfig {
    let cases = std::env::var("CHARGEBACK_FUZZ_CASES").ok().and_then(|v| v.parse::<u32>().ok()).unwrap_or(256);
    ProptestConfig { cases: (cases / cost).max(1), failure_persistence: None, ..ProptestConfig::default() }
}

/// One checked-in hostile input and what must become of it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CorpusCase {
    /// File name under `tests/fixtures/hostile/`.
    pub file: String,
    /// `accepted`, a dead-letter reason, or `rejected` (any reason).
    pub outcome: String,
    /// A credential the body holds, which must never be stored.
    pub secret: Option<String>,
    /// A value a rejection's detail must not repeat.
    pub marker: Option<String>,
    /// For accepted records: when they happened, in UTC.
    pub occurred_at: Option<String>,
    /// For accepted records: their total tokens.
    pub tokens: Option<u64>,
    /// The body.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// The corpus, bodies read.
pub fn corpus() -> Vec<CorpusCase> {
    let dir = crate::helpers::app_root().join("tests/fixtures/hostile");
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let mut cases: Vec<CorpusCase> = serde_json::from_str(&manifest).unwrap();
    for case in &mut cases {
        case.body = std::fs::read(dir.join(&case.file)).unwrap();
    }
    cases
}

/// Bytes worth inserting: JSON's structure, escapes and quotes.
const INTERESTING: &[&[u8]] =
    &[b"\"", b"\\", b"{", b"}", b"[", b"]", b":", b",", b"'", b"\\u", b"\\\"", b"\n", b"\xff", b"-", b"9"];

/// A corpus body with up to eight mutations: flips, insertions (random or
/// interesting bytes), deletions and truncation.
pub fn mutated_corpus() -> impl Strategy<Value = Vec<u8>> {
    let bodies: Vec<Vec<u8>> = corpus().into_iter().map(|c| c.body).collect();
    let count = bodies.len();
    (0..count, prop::collection::vec((0u8..5, any::<usize>(), any::<u8>()), 0..8)).prop_map(move |(pick, edits)| {
        let mut body = bodies[pick].clone();
        for (kind, at, byte) in edits {
            let at = if body.is_empty() { 0 } else { at % body.len() };
            match kind {
                0 if !body.is_empty() => body[at] ^= byte,
                1 => body.insert(at, byte),
                2 => {
                    let piece = INTERESTING[usize::from(byte) % INTERESTING.len()];
                    body.splice(at..at, piece.iter().copied());
                }
                3 if !body.is_empty() => {
                    body.remove(at);
                }
                _ => body.truncate(at),
            }
        }
        body
    })
}
