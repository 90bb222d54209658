//! The ledger through the handler itself: the same events in any batching,
//! order, replay or form (text or objects) give the same ledger, and every
//! invocation balances: received = accepted + duplicates + dead-lettered.

use chargeback::domain::Tenant;
use chargeback::storage::Ledger;
use chargeback::storage::embedded::SqliteLedger;
use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::config;
use crate::helpers::*;

/// One event of the hub: its body and its sequence number in partition 0.
#[derive(Debug, Clone)]
struct HubEvent {
    body: String,
    sequence: i64,
}

fn event_body(kind: u8, n: u64) -> String {
    match kind {
        // With an id of its own.
        0 => v1_record(&format!("own-{n}"), n % 97 + 1, n % 13),
        // Without one: its identity is its position.
        1 => sample_record("0123456789abcdef0123456789abcdef", n % 50 + 1, n % 7),
        // Streamed without usage: pending.
        2 => json!({"schema": "usage.v1", "id": format!("stream-{n}"), "timestamp": "2026-11-26T11:00:00Z",
                    "streamed": true, "model": "gpt-4o"})
        .to_string(),
        // Poison.
        3 => format!(r#"{{"AppKey":"k{n}","PromptTokens":"-{n}"}}"#),
        _ => format!("not json {n}"),
    }
}

fn hub_events() -> impl Strategy<Value = Vec<HubEvent>> {
    prop::collection::vec((0u8..5, 0u64..1000), 1..14).prop_map(|kinds| {
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, (kind, n))| HubEvent { body: event_body(kind, n), sequence: 100 + i as i64 })
            .collect()
    })
}

/// The host's invocation of one batch, as text or as objects, with the
/// metadata arrays of exactly these events.
fn invocation(batch: &[HubEvent], as_objects: bool) -> Value {
    let bodies: Vec<String> = batch.iter().map(|e| e.body.clone()).collect();
    let mut metadata = eventhub_metadata("0", 0, batch.len());
    let sequences: Vec<i64> = batch.iter().map(|e| e.sequence).collect();
    metadata["SequenceNumberArray"] = Value::String(serde_json::to_string(&sequences).unwrap());
    let enqueued: Vec<String> =
        batch.iter().map(|e| format!("2026-11-26T11:00:{:02}.{:03}Z", e.sequence % 60, e.sequence % 1000)).collect();
    metadata["EnqueuedTimeUtcArray"] = Value::String(serde_json::to_string(&enqueued).unwrap());
    let events = if as_objects {
        Value::Array(bodies.iter().map(|b| serde_json::from_str(b).unwrap_or(Value::String(b.clone()))).collect())
    } else {
        Value::String(serde_json::to_string(&bodies).unwrap())
    };
    json!({"Data": {"events": events}, "Metadata": metadata})
}

/// A handler whose fingerprints are those of every other one made here.
async fn app_with_shared_secret() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut s = host_settings(dir.path());
    s.fingerprint_secret = Some(chargeback::config::Secret::new("fuzz-ledger"));
    crate::api::spawn_with(s, dir).await.app
}

/// Every ledger row, in identity order.
async fn ledger_rows(app: &TestApp) -> Vec<String> {
    let ledger = SqliteLedger::open(&app.data_dir.path().join("ledger.sqlite")).await.unwrap();
    let tenant = Tenant::default_tenant();
    let from = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2100, 1, 1).unwrap();
    let mut rows = Vec::new();
    for partition in ledger.partitions(&tenant, from, to).await.unwrap() {
        for e in ledger.scan(&partition).await.unwrap() {
            rows.push(format!(
                "{} {} {} {} {} {} {}",
                e.id,
                partition.party,
                e.token_source,
                e.tokens.prompt,
                e.tokens.completion,
                e.tokens.cached,
                e.tokens.reasoning
            ));
        }
    }
    rows.sort();
    rows
}

/// Posts the batches; checks each balances; the summed outcome.
async fn post(app: &TestApp, batches: &[(Vec<HubEvent>, bool)]) -> [u64; 4] {
    let mut sum = [0u64; 4];
    for (batch, as_objects) in batches {
        let response = app.invoke("ingest-usage", &invocation(batch, *as_objects)).await;
        assert_eq!(response.status(), 200);
        let outcome = response.json::<Value>().await.unwrap()["ReturnValue"].clone();
        let counts = ["received", "accepted", "duplicates", "dead_lettered"].map(|k| outcome[k].as_u64().unwrap());
        assert_eq!(counts[0], batch.len() as u64, "{outcome}");
        assert_eq!(
            counts[0],
            counts[1] + counts[2] + counts[3],
            "received = accepted + duplicates + dead-lettered: {outcome}"
        );
        for (total, n) in sum.iter_mut().zip(counts) {
            *total += n;
        }
    }
    sum
}

proptest! {
    #![proptest_config(config(16))]

    #[test]
    fn the_same_events_in_any_batching_order_replay_or_form_give_the_same_ledger(
        events in hub_events(),
        order in any::<prop::sample::Index>(),
        cuts in prop::collection::vec(any::<bool>(), 14),
        forms in prop::collection::vec(any::<bool>(), 14),
        replay in prop::collection::vec(any::<bool>(), 14),
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            // Once, as one batch of text.
            let reference = app_with_shared_secret().await;
            let once = post(&reference, &[(events.clone(), false)]).await;
            let expected = ledger_rows(&reference).await;
            assert_eq!(once[1] as usize, expected.len());

            // Again: rotated, cut into batches, each as text or objects, some posted twice.
            let mut shuffled = events.clone();
            let by = order.index(shuffled.len());
            shuffled.rotate_left(by);
            let mut batches: Vec<(Vec<HubEvent>, bool)> = Vec::new();
            let mut current = Vec::new();
            for (i, event) in shuffled.into_iter().enumerate() {
                current.push(event);
                if cuts[i] {
                    batches.push((std::mem::take(&mut current), forms[i]));
                    if replay[i] {
                        batches.push((batches.last().unwrap().0.clone(), !forms[i]));
                    }
                }
            }
            if !current.is_empty() {
                batches.push((current, forms[0]));
            }
            let other = app_with_shared_secret().await;
            let sum = post(&other, &batches).await;
            assert_eq!(ledger_rows(&other).await, expected, "batches: {batches:?}");
            assert_eq!(sum[1], once[1], "each record accepted exactly once");
        });
    }
}
