//! Every checked-in hostile case, through the parser, the redactor and the
//! handler: each ends as the manifest says, no credential is stored, no
//! detail repeats its marker, and the batch balances.

use chargeback::domain::{Fingerprinter, Tenant};
use chargeback::ingest::{ContentIdentities, Event, prepare_batch};
use chargeback::records::redact_secrets;
use serde_json::Value;

use super::corpus;
use crate::helpers::*;

#[test]
fn every_corpus_case_ends_as_its_manifest_says() {
    let fingerprinter = Fingerprinter::new(b"corpus");
    let tenant = Tenant::default_tenant();
    let mut identities = ContentIdentities::default();
    for (i, case) in corpus().iter().enumerate() {
        let event = Event { body: case.body.clone(), origin: identities.next("corpus", i + 1, &case.body) };
        let batch = prepare_batch(std::slice::from_ref(&event), &fingerprinter, &tenant);
        assert_eq!(batch.records.len() + batch.letters.len(), 1, "{}", case.file);
        match (case.outcome.as_str(), batch.records.first(), batch.letters.first()) {
            ("accepted", Some(record), None) => {
                if let Some(at) = &case.occurred_at {
                    assert_eq!(
                        &record.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        at,
                        "{}",
                        case.file
                    );
                }
                if let Some(tokens) = case.tokens {
                    assert_eq!(record.usage.total(), tokens, "{}", case.file);
                }
            }
            ("rejected", None, Some(_)) => {}
            (reason, None, Some(letter)) => {
                assert_eq!(letter.reason.as_str(), reason, "{}: {}", case.file, letter.detail)
            }
            (expected, record, letter) => panic!("{}: expected {expected}, got {record:?} / {letter:?}", case.file),
        }
        for letter in &batch.letters {
            if let Some(secret) = &case.secret {
                assert!(!letter.body.contains(secret.as_str()), "{}: {}", case.file, letter.body);
                assert!(!letter.detail.contains(secret.as_str()), "{}: {}", case.file, letter.detail);
            }
            if let Some(marker) = &case.marker {
                assert!(!letter.detail.contains(marker.as_str()), "{}: {}", case.file, letter.detail);
            }
        }
        if let Some(secret) = &case.secret {
            let redacted = redact_secrets(&String::from_utf8_lossy(&case.body), &fingerprinter);
            assert!(!redacted.contains(secret.as_str()), "{}: {redacted}", case.file);
        }
    }
}

#[tokio::test]
async fn the_whole_corpus_in_one_host_batch_balances_and_stores_no_credential() {
    let app = spawn_app().await;
    let cases = corpus();
    // The host's string form carries text: a body that is not UTF-8 arrives as the host decoded it.
    let bodies: Vec<String> = cases.iter().map(|c| String::from_utf8_lossy(&c.body).into_owned()).collect();
    let outcome: Value = app.ingest(&bodies, "0", 1).await;
    let received = outcome["received"].as_u64().unwrap();
    assert_eq!(received, cases.len() as u64);
    let sum = ["accepted", "duplicates", "dead_lettered"].iter().map(|k| outcome[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(received, sum, "{outcome}");
    let accepted = cases.iter().filter(|c| c.outcome == "accepted").count() as u64;
    assert_eq!(outcome["accepted"], accepted, "{outcome}");
    let stored = String::from_utf8_lossy(&all_bytes_under(app.data_dir.path())).into_owned();
    for case in &cases {
        if let Some(secret) = &case.secret {
            assert!(!stored.contains(secret.as_str()), "{} reached the disk", case.file);
        }
    }
}
