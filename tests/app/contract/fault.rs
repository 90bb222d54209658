//! Azurite stops in the middle of a batch: the invocation fails with a 5xx so
//! the host retries; after Azurite is back, the retried batch gives exactly
//! the totals of a clean run.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chargeback::config::{Secret, StorageSettings};
use chargeback::domain::Tenant;
use chargeback::domain::UsageAggregate;
use chargeback::startup::Application;
use chargeback::storage::azure::{StorageAccount, TableLedger};
use chargeback::storage::{Ledger, LedgerRange};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::subjects::unique_name;
use crate::helpers::service_env;
use crate::helpers::{eventhub_invocation, host_settings, spawn_app};

/// Events in the batch: far more than the host sends (100), so that Azurite
/// stops while it is being written; under axum's 2 MB body limit.
const BATCH: usize = 3000;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Azurite {
    child: Child,
    bin: String,
    dir: tempfile::TempDir,
    ports: [u16; 3],
}

impl Azurite {
    fn start(bin: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ports = [free_port(), free_port(), free_port()];
        let child = Self::spawn(bin, dir.path(), ports);
        Self { child, bin: bin.to_owned(), dir, ports }
    }

    fn spawn(bin: &str, location: &Path, [blob, queue, table]: [u16; 3]) -> Child {
        let child = Command::new(bin)
            .args(["--skipApiVersionCheck", "--disableTelemetry", "--location"])
            .arg(location)
            .args(["--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1"])
            .args(["--blobPort", &blob.to_string(), "--queuePort", &queue.to_string()])
            .args(["--tablePort", &table.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in [blob, queue, table] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "Azurite did not start on {port}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        child
    }

    fn connection_string(&self) -> String {
        let [blob, queue, table] = self.ports;
        format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;\
             AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;\
             BlobEndpoint=http://127.0.0.1:{blob}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{queue}/devstoreaccount1;\
             TableEndpoint=http://127.0.0.1:{table}/devstoreaccount1;"
        )
    }

    /// Stops it as a service manager would (SIGTERM: it saves its data).
    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn restart(&mut self) {
        self.child = Self::spawn(&self.bin, self.dir.path(), self.ports);
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A batch of `count` distinct records over several days and applications.
fn bodies(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let at = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap() + chrono::Duration::seconds((i * 377) as i64);
            let (prompt, completion) = (100 + (i % 900) as u64, 5 + (i % 300) as u64);
            json!({"schema": "usage.v1", "id": format!("req-{i:06}"), "timestamp": at.to_rfc3339(),
                   "application": format!("app-{:02}", i % 23), "deployment": "gpt-4o-prod", "model": "gpt-4o",
                   "status": 200, "streamed": false,
                   "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}})
            .to_string()
        })
        .collect()
}

async fn totals(ledger: &dyn Ledger) -> Vec<UsageAggregate> {
    let range = LedgerRange {
        tenant: Tenant::default_tenant(),
        from: Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap(),
    };
    let mut cells = ledger.usage_cells(&range).await.unwrap();
    cells.sort();
    cells
}

#[tokio::test]
async fn azurite_stopping_mid_batch_fails_the_invocation_and_the_retry_counts_everything_once() {
    let Some(bin) = service_env("CHARGEBACK_TEST_AZURITE_BIN", "Azurite") else { return };
    let mut azurite = Azurite::start(&bin);
    let batch = eventhub_invocation("ingest-usage", &bodies(BATCH), "0", 1000);

    // The clean run, on the embedded backend.
    let clean = spawn_app().await;
    let response = clean.invoke("ingest-usage", &batch).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let sqlite =
        chargeback::storage::embedded::sqlite::SqliteLedger::open(&clean.data_dir.path().join("ledger.sqlite"))
            .await
            .unwrap();
    let want = totals(&sqlite).await;

    // The same batch on Azurite, stopped as soon as the batch is being written.
    let prefix = unique_name();
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = host_settings(data_dir.path());
    config.fingerprint_secret = Some(Secret::new("fault-test"));
    config.storage = StorageSettings {
        azure_connection: Some(Secret::new(azurite.connection_string())),
        name_prefix: prefix.clone(),
        ..StorageSettings::default()
    };
    let app = Application::build(&config, 0).await.unwrap();
    let address = format!("http://127.0.0.1:{}/ingest-usage", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let request = client.post(&address).json(&batch).send();
    let in_flight = tokio::spawn(request);
    let account = StorageAccount::from_connection_string(&azurite.connection_string()).unwrap();
    let probe = TableLedger::open(&account, &prefix).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while probe.partitions(&Tenant::default_tenant(), day(1), day(30)).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the batch never reached Azurite");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    azurite.stop();
    let failed = in_flight.await.unwrap().unwrap();
    assert!(failed.status().is_server_error(), "a storage outage must fail the invocation, got {}", failed.status());

    // The host retries the batch once storage is back.
    azurite.restart();
    let retried = client.post(&address).json(&batch).send().await.unwrap();
    assert_eq!(retried.status(), 200, "{:?}", retried.text().await);
    let outcome: Value = retried.json().await.unwrap();
    let outcome = &outcome["ReturnValue"];
    assert_eq!(outcome["received"], BATCH);
    assert_eq!(outcome["accepted"].as_u64().unwrap() + outcome["duplicates"].as_u64().unwrap(), BATCH as u64);
    let ledger = TableLedger::open(&account, &prefix).await.unwrap();
    assert_eq!(totals(&ledger).await, want, "nothing lost, nothing counted twice");
}

fn day(n: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, n).unwrap()
}
