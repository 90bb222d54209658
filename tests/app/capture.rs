//! Replay from Event Hubs Capture: a batch the host gave up on (its retries
//! exhausted, the checkpoint moved past it) is recovered exactly from the
//! Capture files, and everything already in the ledger counts as a
//! duplicate. The files are written here in Capture's format (its schema,
//! its deflate codec, its name layout) with the same Avro crate's writer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use apache_avro::types::Value as Avro;
use apache_avro::{Codec, DeflateSettings, Schema, Writer};
use chargeback::config::{LedgerBackend, Secret, StorageSettings};
use chargeback::domain::Tenant;
use chargeback::storage::azure::StorageAccount;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

use crate::api::{keyed_settings, spawn_with};
use crate::helpers::*;

const HUB: &str = "apim-usage";
const PARTITION: &str = "3";

/// Capture's schema (`avro-tools getschema` of a Capture file).
const SCHEMA: &str = r#"{"type":"record","name":"EventData","namespace":"Microsoft.ServiceBus.Messaging","fields":[
  {"name":"SequenceNumber","type":"long"},{"name":"Offset","type":"string"},{"name":"EnqueuedTimeUtc","type":"string"},
  {"name":"SystemProperties","type":{"type":"map","values":["long","double","string","bytes"]}},
  {"name":"Properties","type":{"type":"map","values":["long","double","string","bytes"]}},
  {"name":"Body","type":["null","bytes"]}]}"#;

/// One event of partition 3 as Event Hubs holds it.
#[derive(Debug, Clone)]
struct HubEvent {
    sequence: i64,
    enqueued: DateTime<Utc>,
    body: String,
    /// Tokens it adds to the ledger (0 for a poison record).
    tokens: u64,
    poison: bool,
}

fn events(first: i64, count: i64, tag: &str) -> Vec<HubEvent> {
    (first..first + count)
        .map(|sequence| {
            let enqueued =
                Utc.with_ymd_and_hms(2026, 11, 26, 11, 0, 0).unwrap() + Duration::milliseconds(sequence * 1_537 + 123);
            let n = sequence as u64;
            let (body, tokens, poison) = match sequence % 4 {
                0 => (v1_record(&format!("{tag}-{sequence}"), 100 + n, 10), 110 + n, false),
                // No id of its own: its identity is its Event Hub position.
                1 | 2 => (sample_record("feedfacefeedfacefeedfacefeedface", 50 + n, 5), 55 + n, false),
                _ => (format!(r#"{{"AppKey":"k","PromptTokens":"-{n}"}}"#), 0, true),
            };
            HubEvent { sequence, enqueued, body, tokens, poison }
        })
        .collect()
}

/// The host's invocation of a batch, with its real positions.
fn invocation(batch: &[HubEvent]) -> Value {
    let bodies: Vec<&str> = batch.iter().map(|e| e.body.as_str()).collect();
    let sequences: Vec<i64> = batch.iter().map(|e| e.sequence).collect();
    let enqueued: Vec<String> =
        batch.iter().map(|e| e.enqueued.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).collect();
    json!({
        "Data": {"events": serde_json::to_string(&bodies).unwrap()},
        "Metadata": {
            "PartitionContext": {"FullyQualifiedNamespace": "contoso-usage.servicebus.windows.net",
                                 "EventHubName": HUB, "ConsumerGroup": "chargeback", "PartitionId": PARTITION},
            "SequenceNumberArray": serde_json::to_string(&sequences).unwrap(),
            "EnqueuedTimeUtcArray": serde_json::to_string(&enqueued).unwrap(),
        }
    })
}

/// A Capture file's bytes; `millis` says whether SystemProperties carries
/// `x-opt-enqueued-time` (Capture writes it; without it only the second is known).
fn capture_bytes(events: &[HubEvent], millis: bool) -> Vec<u8> {
    let schema = Schema::parse_str(SCHEMA).unwrap();
    let mut writer = Writer::with_codec(&schema, Vec::new(), Codec::Deflate(DeflateSettings::default())).unwrap();
    for e in events {
        let mut system = HashMap::from([
            ("x-opt-sequence-number".to_owned(), Avro::Union(0, Box::new(Avro::Long(e.sequence)))),
            ("x-opt-offset".to_owned(), Avro::Union(2, Box::new(Avro::String((e.sequence * 4096).to_string())))),
        ]);
        if millis {
            system.insert(
                "x-opt-enqueued-time".to_owned(),
                Avro::Union(0, Box::new(Avro::Long(e.enqueued.timestamp_millis()))),
            );
        }
        let record = Avro::Record(vec![
            ("SequenceNumber".to_owned(), Avro::Long(e.sequence)),
            ("Offset".to_owned(), Avro::String((e.sequence * 4096).to_string())),
            ("EnqueuedTimeUtc".to_owned(), Avro::String(e.enqueued.format("%-m/%-d/%Y %-I:%M:%S %p").to_string())),
            ("SystemProperties".to_owned(), Avro::Map(system)),
            ("Properties".to_owned(), Avro::Map(HashMap::new())),
            ("Body".to_owned(), Avro::Union(1, Box::new(Avro::Bytes(e.body.clone().into_bytes())))),
        ]);
        writer.append_value(record).unwrap();
    }
    writer.into_inner().unwrap()
}

/// Capture's name for a partition's window.
fn capture_name(window: DateTime<Utc>) -> String {
    format!("contoso-usage/{HUB}/{PARTITION}/{}.avro", window.format("%Y/%m/%d/%H/%M/%S"))
}

fn write_capture(root: &Path, window: DateTime<Utc>, events: &[HubEvent], millis: bool) -> PathBuf {
    let path = root.join(capture_name(window));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, capture_bytes(events, millis)).unwrap();
    path
}

fn cli(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chargeback"));
    cmd.arg("--data-dir").arg(data_dir).args(args).arg("--json").env_remove("RUST_LOG").envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn valid(events: &[HubEvent]) -> u64 {
    events.iter().filter(|e| !e.poison).count() as u64
}

fn poison(events: &[HubEvent]) -> u64 {
    events.iter().filter(|e| e.poison).count() as u64
}

fn tokens(events: &[HubEvent]) -> u64 {
    events.iter().map(|e| e.tokens).sum()
}

#[tokio::test]
async fn a_batch_the_host_gave_up_on_is_recovered_exactly_from_capture() {
    let app = spawn_app().await;
    let (a, lost, c) = (events(0, 12, "a"), events(12, 12, "lost"), events(24, 12, "c"));
    for batch in [&a, &c] {
        let response = app.invoke("ingest-usage", &invocation(batch)).await;
        assert_eq!(response.status(), 200);
    }
    let live = app.ledger_totals().await;
    assert_eq!(live, (tokens(&a) + tokens(&c), valid(&a) + valid(&c)));

    // Capture holds everything: the first window's file includes the lost batch.
    let capture = app.data_dir.path().join("capture-download");
    let first_window = Utc.with_ymd_and_hms(2026, 11, 26, 11, 0, 0).unwrap();
    let mut first = a.clone();
    first.extend(lost.iter().cloned());
    write_capture(&capture, first_window, &first, true);
    write_capture(&capture, first_window + Duration::minutes(5), &c, true);
    let capture_arg = capture.to_str().unwrap();
    let all: Vec<HubEvent> = [a.clone(), lost.clone(), c.clone()].concat();

    // The reconciliation reports exactly the lost batch and changes nothing.
    let reconciled = cli(app.data_dir.path(), &["reconcile-capture", "--capture", capture_arg], &[]);
    assert_eq!(reconciled["files"], 2, "{reconciled}");
    assert_eq!(reconciled["received"], all.len(), "{reconciled}");
    assert_eq!(reconciled["accepted"], valid(&lost), "missing: {reconciled}");
    assert_eq!(reconciled["missing_tokens"], tokens(&lost), "{reconciled}");
    assert_eq!(reconciled["duplicates"], valid(&a) + valid(&c), "{reconciled}");
    assert_eq!(reconciled["dead_lettered"], poison(&all), "{reconciled}");
    assert_eq!(reconciled["enqueued_to_the_second"], 0, "{reconciled}");
    assert_eq!(app.ledger_totals().await, live, "reconcile-capture wrote nothing");

    // The backfill adds exactly the lost batch.
    let backfilled = cli(app.data_dir.path(), &["backfill", "--capture", capture_arg], &[]);
    assert_eq!(backfilled["accepted"], valid(&lost), "{backfilled}");
    assert_eq!(backfilled["duplicates"], valid(&a) + valid(&c), "{backfilled}");
    assert_eq!(backfilled["dead_lettered"], poison(&all), "{backfilled}");
    assert_eq!(app.ledger_totals().await, (tokens(&all), valid(&all)), "totals are exact");

    // Again: nothing more. And a window that holds none of it reads none of it.
    let again = cli(app.data_dir.path(), &["backfill", "--capture", capture_arg], &[]);
    assert_eq!((again["accepted"].clone(), again["duplicates"].clone()), (json!(0), json!(valid(&all))), "{again}");
    let outside = cli(
        app.data_dir.path(),
        &["reconcile-capture", "--capture", capture_arg, "--from", "2026-11-27", "--to", "2026-11-28"],
        &[],
    );
    assert_eq!((outside["received"].clone(), outside["outside_window"].clone()), (json!(0), json!(all.len())));
    assert_eq!(app.ledger_totals().await, (tokens(&all), valid(&all)));
}

#[tokio::test]
async fn a_capture_file_that_knows_enqueued_times_to_the_second_only_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let events = events(0, 4, "s");
    write_capture(dir.path(), Utc.with_ymd_and_hms(2026, 11, 26, 11, 0, 0).unwrap(), &events, false);
    let report = cli(
        &dir.path().join("data"),
        &["reconcile-capture", "--capture", dir.path().to_str().unwrap()],
        &[("CHARGEBACK_FINGERPRINT_SECRET", "s")],
    );
    assert_eq!(report["enqueued_to_the_second"], 4, "{report}");
    assert_eq!(report["accepted"], valid(&events), "{report}");
}

#[test]
fn a_file_that_is_not_capture_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ns/hub/0/2026/11/26/11/00/00.avro");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, b"not avro").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chargeback"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["backfill", "--capture"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("00.avro") && stderr.contains("not a readable Avro file"), "{stderr}");
}

#[tokio::test]
async fn a_blob_prefix_in_the_storage_account_is_replayed_on_azure_storage() {
    let Some(connection) = service_env("CHARGEBACK_TEST_AZURE_STORAGE", "Azurite") else { return };
    let tenant = format!("t{:016x}", rand::random::<u64>());
    let dir = tempfile::tempdir().unwrap();
    let mut s = keyed_settings(dir.path());
    s.tenant = Tenant::parse(&tenant).unwrap();
    s.fingerprint_secret = Some(Secret::new("capture-test"));
    s.storage = StorageSettings {
        azure_connection: Some(Secret::new(connection.clone())),
        ledger: Some(LedgerBackend::Table),
        ..StorageSettings::default()
    };
    let api = spawn_with(s, dir).await;
    let (a, lost) = (events(0, 8, "blob-a"), events(8, 8, "blob-lost"));
    assert_eq!(api.app.invoke("ingest-usage", &invocation(&a)).await.status(), 200);

    // Capture's container in the same account, as infra/ sets it up.
    let container = format!("capture-{tenant}");
    let account = StorageAccount::from_connection_string(&connection).unwrap();
    let client = account.blob_service().unwrap().container_client(&container);
    client.create().await.unwrap();
    let window = Utc.with_ymd_and_hms(2026, 11, 26, 11, 0, 0).unwrap();
    let all = [a.clone(), lost.clone()].concat();
    client.blob_client(capture_name(window)).put_block_blob(capture_bytes(&all, true)).await.unwrap();

    let env = [
        ("AzureWebJobsStorage", connection.as_str()),
        ("CHARGEBACK_LEDGER", "table"),
        ("CHARGEBACK_TENANT", tenant.as_str()),
        ("CHARGEBACK_FINGERPRINT_SECRET", "capture-test"),
    ];
    let source = format!("blob://{container}/contoso-usage/{HUB}/");
    let report = cli(api.app.data_dir.path(), &["backfill", "--capture", &source], &env);
    assert_eq!(report["accepted"], valid(&lost), "{report}");
    assert_eq!(report["duplicates"], valid(&a), "{report}");
    let usage = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=day").await;
    assert_eq!(usage["total"]["total_tokens"], tokens(&all), "{usage}");
    assert_eq!(usage["total"]["requests"], valid(&all), "{usage}");
}
