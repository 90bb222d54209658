//! The record parser: never a panic, every event a record or a letter, no
//! count past the maximum, no detail repeating its input.

use chargeback::domain::{Fingerprinter, MAX_TOKENS_PER_RECORD, RecordId, Tenant};
use chargeback::ingest::{ContentIdentities, Event, prepare_batch};
use chargeback::records::{ParseContext, parse_record};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{config, mutated_corpus};

fn parse(body: &str) -> Result<chargeback::records::ParsedRecord, chargeback::records::Rejection> {
    let fingerprinter = Fingerprinter::new(b"fuzz");
    let tenant = Tenant::default_tenant();
    let fallback = RecordId::parse("eh-fuzz-p0-s1").unwrap();
    parse_record(
        body,
        ParseContext { fingerprinter: &fingerprinter, default_tenant: &tenant, fallback_id: &|| fallback.clone() },
    )
}

fn events(bodies: &[Vec<u8>]) -> Vec<Event> {
    let mut identities = ContentIdentities::default();
    bodies
        .iter()
        .enumerate()
        .map(|(i, b)| Event { body: b.clone(), origin: identities.next("fuzz", i + 1, b) })
        .collect()
}

/// A count as the wild writes it: small, at or past the maximum, huge, negative,
/// fractional, as text, or not a number at all.
fn wild_count() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..10_000).prop_map(Value::from),
        (0u64..=4).prop_map(|d| Value::from(MAX_TOKENS_PER_RECORD - 2 + d)),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |x| x.is_finite()).prop_map(Value::from),
        "[0-9]{1,40}".prop_map(Value::from),
        "-?[0-9]{0,25}(\\.[0-9]{0,3})?(e[0-9]{1,3})?".prop_map(Value::from),
        Just(Value::Null),
        Just(json!(true)),
    ]
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn a_mutated_hostile_body_never_panics_and_ends_as_a_record_or_a_letter(body in mutated_corpus()) {
        let batch = prepare_batch(&events(&[body]), &Fingerprinter::new(b"fuzz"), &Tenant::default_tenant());
        prop_assert_eq!(batch.records.len() + batch.letters.len(), 1);
    }

    #[test]
    fn every_event_of_a_batch_is_a_record_or_a_letter(bodies in prop::collection::vec(mutated_corpus(), 0..24)) {
        let batch = prepare_batch(&events(&bodies), &Fingerprinter::new(b"fuzz"), &Tenant::default_tenant());
        prop_assert_eq!(batch.records.len() + batch.letters.len(), bodies.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let batch = prepare_batch(&events(&[body]), &Fingerprinter::new(b"fuzz"), &Tenant::default_tenant());
        prop_assert_eq!(batch.records.len() + batch.letters.len(), 1);
    }

    #[test]
    fn no_accepted_count_passes_the_maximum_and_no_sum_overflows(
        prompt in wild_count(), completion in wild_count(), total in wild_count(),
        cached in wild_count(), reasoning in wild_count(), shape in 0u8..3,
    ) {
        let body = match shape {
            0 => json!({"schema": "usage.v1", "id": "r", "timestamp": "2026-11-26T11:00:00Z",
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total,
                          "prompt_tokens_details": {"cached_tokens": cached},
                          "completion_tokens_details": {"reasoning_tokens": reasoning}}}),
            1 => json!({"Timestamp": "11/26/2026 11:32:47 AM", "AppKey": "k", "PromptTokens": prompt,
                "CompletionTokens": completion, "TotalTokens": total}),
            _ => json!({"eventTime": "2026-11-26T11:00:00Z", "response": {"usage": {"input_tokens": prompt,
                "output_tokens": completion, "total_tokens": total, "input_tokens_details": {"cached_tokens": cached}}}}),
        };
        match parse(&body.to_string()) {
            Ok(parsed) => {
                let usage = parsed.record.usage;
                prop_assert!(usage.prompt() <= MAX_TOKENS_PER_RECORD && usage.completion() <= MAX_TOKENS_PER_RECORD);
                prop_assert!(usage.cached() <= usage.prompt() && usage.reasoning() <= usage.completion());
                prop_assert_eq!(usage.total(), usage.prompt() + usage.completion());
            }
            Err(rejection) => prop_assert!(!rejection.detail.is_empty()),
        }
    }

    #[test]
    fn a_rejections_detail_never_repeats_a_value_of_its_input(
        marker in "[a-z]{5}[0-9]{7}", field in 0usize..12,
    ) {
        let m = Value::from(marker.clone());
        let mut v1 = json!({"schema": "usage.v1", "id": "r", "timestamp": "2026-11-26T11:00:00Z", "status": 200,
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}});
        let mut sample = json!({"Timestamp": "11/26/2026 11:32:47 AM", "AppKey": "k", "PromptTokens": "1"});
        let mut full = json!({"eventTime": "2026-11-26T11:00:00Z", "response": {"usage": {"prompt_tokens": 1}}});
        let body = match field {
            0 => { v1["timestamp"] = m; v1 }
            1 => { v1["schema"] = m; v1 }
            2 => { v1["streamed"] = m; v1 }
            3 => { v1["status"] = m; v1 }
            4 => { v1["tenant"] = m; v1 }
            5 => { v1["usage"]["prompt_tokens"] = m; v1 }
            6 => { v1["usage"]["prompt_tokens_details"] = m; v1 }
            7 => { sample["Timestamp"] = m; sample }
            8 => { sample["PromptTokens"] = m; sample }
            9 => { sample["Stream"] = m; sample }
            10 => { full["response"]["usage"] = m; full }
            _ => { full["statusCode"] = m; full }
        };
        if let Err(rejection) = parse(&body.to_string()) {
            prop_assert!(!rejection.detail.contains(&marker), "{}", rejection.detail);
        }
    }
}
