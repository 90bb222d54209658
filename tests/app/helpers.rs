//! Spawning the handler and building host-shaped invocations.

use std::path::{Path, PathBuf};

use chargeback::config::Settings;
use chargeback::domain::Tenant;
use chargeback::domain::TokenTotals;
use chargeback::startup::Application;
use chargeback::storage::embedded::SqliteLedger;
use chargeback::storage::{Ledger, LedgerRange};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

/// The repository root (the Functions app root).
pub fn app_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every function folder of the app (folders holding a `function.json`).
pub fn function_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(app_root())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("function.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A function's `function.json`.
pub fn function_json(name: &str) -> Value {
    let path = app_root().join(name).join("function.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The binding of a function with the given type.
pub fn binding(name: &str, binding_type: &str) -> Value {
    function_json(name)["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == binding_type)
        .unwrap_or_else(|| panic!("{name} has no {binding_type} binding"))
        .clone()
}

/// A handler running on a free port with its own data directory.
pub struct TestApp {
    pub address: String,
    pub data_dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// The key invocations are sent with, when the handler runs standalone with one.
    pub key: Option<String>,
}

pub fn settings(data_dir: &Path) -> Settings {
    Settings {
        data_dir: data_dir.to_path_buf(),
        tenant: Tenant::default_tenant(),
        fingerprint_secret: None,
        applications_file: None,
        deployments_file: None,
        prices_file: None,
        price_sync: Default::default(),
        invoice_file: None,
        invoice_true_up: false,
        port: None,
        storage: Default::default(),
        api: Default::default(),
        invocations: Default::default(),
        attribution_grace: chargeback::ingest::DEFAULT_GRACE,
    }
}

/// [`settings`] as under the Functions host: it gave a port
/// (`FUNCTIONS_CUSTOMHANDLER_PORT`), checks the keys itself, and is the only
/// caller. The tests that drive invocations as the host does run so.
pub fn host_settings(data_dir: &Path) -> Settings {
    let mut s = settings(data_dir);
    s.port = Some(7071);
    s
}

/// A handler as the Functions host runs it ([`host_settings`]).
pub async fn spawn_app() -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let app = Application::build(&host_settings(data_dir.path()), 0).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp { address, data_dir, client: reqwest::Client::new(), key: None }
}

/// Metadata the host sends with an Event Hubs batch: arrays arrive as JSON
/// held in strings, the partition context as an object.
pub fn eventhub_metadata(partition: &str, first_sequence: i64, count: usize) -> Value {
    let sequences: Vec<i64> = (0..count as i64).map(|i| first_sequence + i).collect();
    let enqueued: Vec<String> = (0..count as i64)
        .map(|i| {
            (Utc.with_ymd_and_hms(2026, 11, 26, 11, 0, 0).unwrap() + chrono::Duration::seconds(first_sequence + i))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .collect();
    json!({
        "PartitionContext": {"FullyQualifiedNamespace": "contoso-usage.servicebus.windows.net",
                             "EventHubName": "apim-usage", "ConsumerGroup": "$Default", "PartitionId": partition},
        "SequenceNumberArray": serde_json::to_string(&sequences).unwrap(),
        "EnqueuedTimeUtcArray": serde_json::to_string(&enqueued).unwrap(),
        "OffsetArray": serde_json::to_string(&sequences.iter().map(|s| (s * 512).to_string()).collect::<Vec<_>>()).unwrap(),
        "PartitionKeyArray": serde_json::to_string(&vec![Value::Null; count]).unwrap(),
        "sys": {"MethodName": "ingest-usage", "UtcNow": "2026-11-26T11:00:05Z", "RandGuid": "4f6c3b2a-0000-4000-8000-000000000000"}
    })
}

/// The host's invocation body for an Event Hubs batch, built from the
/// function's `function.json`: the trigger binding's name is the `Data` key,
/// and with `dataType: string` the batch is a string holding a JSON array of
/// the event bodies.
pub fn eventhub_invocation(function: &str, bodies: &[String], partition: &str, first_sequence: i64) -> Value {
    let trigger = binding(function, "eventHubTrigger");
    assert_eq!(trigger["cardinality"], "many", "the handler expects batches");
    let name = trigger["name"].as_str().unwrap();
    let value = if trigger["dataType"] == "string" {
        Value::String(serde_json::to_string(bodies).unwrap())
    } else {
        Value::Array(bodies.iter().map(|b| serde_json::from_str(b).unwrap_or(Value::String(b.clone()))).collect())
    };
    json!({ "Data": { name: value }, "Metadata": eventhub_metadata(partition, first_sequence, bodies.len()) })
}

impl TestApp {
    /// The request with the standalone key, when there is one.
    fn keyed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => request.header("x-functions-key", key),
            None => request,
        }
    }

    /// Posts an invocation as the host does.
    pub async fn invoke(&self, function: &str, body: &Value) -> reqwest::Response {
        self.keyed(self.client.post(format!("{}/{function}", self.address)))
            .header("X-Azure-Functions-InvocationId", "6a3b1c1e-0000-4000-8000-000000000001")
            .header("User-Agent", "Azure-Functions-Host/4.1037.0")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts an invocation body given as text (for payloads a `Value` cannot
    /// hold, such as an event nested deeper than the JSON parser goes).
    pub async fn invoke_text(&self, function: &str, body: String) -> reqwest::Response {
        self.keyed(self.client.post(format!("{}/{function}", self.address)))
            .header("X-Azure-Functions-InvocationId", "6a3b1c1e-0000-4000-8000-000000000001")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Invokes `ingest-usage` with a batch and returns the outcome.
    pub async fn ingest(&self, bodies: &[String], partition: &str, first_sequence: i64) -> Value {
        let response =
            self.invoke("ingest-usage", &eventhub_invocation("ingest-usage", bodies, partition, first_sequence)).await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        let body: Value = response.json().await.unwrap();
        assert!(body["Outputs"].is_object() && body["Logs"].is_array(), "{body}");
        body["ReturnValue"].clone()
    }

    /// Total tokens and requests in the ledger for November 2026.
    pub async fn ledger_totals(&self) -> (u64, u64) {
        ledger_totals(self.data_dir.path()).await
    }
}

pub async fn ledger_totals(data_dir: &Path) -> (u64, u64) {
    let ledger = SqliteLedger::open(&data_dir.join("ledger.sqlite")).await.unwrap();
    let sums = ledger_sums(&ledger, &Tenant::default_tenant()).await;
    (sums.total(), sums.requests)
}

/// Every record's counts of a tenant, summed straight from the ledger.
pub async fn ledger_sums(ledger: &dyn Ledger, tenant: &Tenant) -> TokenTotals {
    let range = LedgerRange {
        tenant: tenant.clone(),
        from: Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap(),
    };
    ledger.usage_cells(&range).await.unwrap().iter().map(|c| c.tokens).sum()
}

/// A valid v1 record.
pub fn v1_record(id: &str, prompt: u64, completion: u64) -> String {
    json!({"schema": "usage.v1", "id": id, "timestamp": "2026-11-26T11:32:47Z", "subscription_id": "sub-a",
           "deployment": "gpt-4o-prod", "model": "gpt-4o", "status": 200, "streamed": false,
           "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}})
    .to_string()
}

/// A record in the APIM sample shape (no id; raw key).
pub fn sample_record(key: &str, prompt: u64, completion: u64) -> String {
    json!({"Timestamp": "11/26/2026 11:32:47 AM", "ApiOperation": "chat.completion", "AppKey": key,
           "PromptTokens": prompt.to_string(), "CompletionTokens": completion.to_string(),
           "TotalTokens": (prompt + completion).to_string()})
    .to_string()
}

/// Every file's bytes under a folder, concatenated.
pub fn all_bytes_under(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes_under(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}

/// The variable a service-backed test needs: `None` (after saying so) when
/// it is missing outside CI; a failure in CI.
pub fn service_env(name: &str, service: &str) -> Option<String> {
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        Some(v) => Some(v),
        None if std::env::var_os("CI").is_some() => {
            panic!("{name} is not set: CI must start {service} (scripts/services.sh)")
        }
        None => {
            eprintln!("skipped: needs {service} ({name}); run scripts/test.sh");
            None
        }
    }
}

/// Headless Chromium for the browser checks: `CHARGEBACK_TEST_CHROMIUM`, else
/// `chromium` on the PATH. `None` (after saying so) when missing outside CI; a
/// failure in CI (scripts/services.sh installs it).
pub fn chromium() -> Option<PathBuf> {
    let configured = std::env::var_os("CHARGEBACK_TEST_CHROMIUM").filter(|v| !v.is_empty()).map(PathBuf::from);
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths).map(|dir| dir.join("chromium")).find(|candidate| candidate.is_file())
        })
    };
    match configured.or_else(on_path) {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => {
            panic!("chromium is not installed: CI must install it (scripts/services.sh)")
        }
        None => {
            eprintln!(
                "skipped: needs headless chromium (CHARGEBACK_TEST_CHROMIUM or chromium on the PATH); run scripts/test.sh"
            );
            None
        }
    }
}
