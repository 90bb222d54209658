//! The custom-handler protocol itself: routing and malformed invocations.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn every_function_folder_is_served_by_the_handler() {
    let app = spawn_app().await;
    let names = function_names();
    assert!(names.contains(&"ingest-usage".to_owned()), "{names:?}");
    // HTTP functions with only an http output are forwarded to their own
    // path (tests/app/routes.rs); every other function is invoked.
    let forwarded = |n: &String| {
        let types: Vec<String> = function_json(n)["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap().to_owned())
            .collect();
        types == ["httpTrigger", "http"]
    };
    let invoked = names.into_iter().filter(|n| !forwarded(n));
    for name in invoked {
        let response = app.invoke(&name, &json!({"Data": {}, "Metadata": {}})).await;
        assert_ne!(response.status(), 404, "function folder {name} has no handler route");
    }
}

#[test]
fn the_handlers_function_list_and_the_function_folders_agree() {
    let names = function_names();
    let forwarded = |n: &String| {
        let types: Vec<String> = function_json(n)["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap().to_owned())
            .collect();
        types == ["httpTrigger", "http"]
    };
    let mut invoked: Vec<&str> = names.iter().filter(|n| !forwarded(n)).map(String::as_str).collect();
    let mut listed: Vec<&str> = chargeback::functions::FUNCTIONS.to_vec();
    invoked.sort();
    listed.sort();
    assert_eq!(listed, invoked, "functions::FUNCTIONS against the folders the host invokes");
}

#[tokio::test]
async fn an_unknown_function_gets_a_404_naming_the_functions_served() {
    let app = spawn_app().await;
    let response = app.invoke("no-such-function", &json!({"Data": {}, "Metadata": {}})).await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("ingest-usage"), "{body}");
}

#[tokio::test]
async fn an_invocation_that_is_not_a_host_payload_gets_a_400_saying_so() {
    let app = spawn_app().await;
    let response =
        app.client.post(format!("{}/ingest-usage", app.address)).body("this is not json").send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("not a host payload"));

    let response = app.invoke("ingest-usage", &json!({"Data": {}, "Metadata": {}})).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("Data.events is missing"));
}

#[test]
fn host_json_starts_this_binary_in_serve_mode_with_the_settings_we_rely_on() {
    let host: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app_root().join("host.json")).unwrap()).unwrap();
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "chargeback");
    assert_eq!(host["customHandler"]["description"]["arguments"], json!(["serve"]));
    assert_eq!(host["extensionBundle"]["version"], "[4.*, 5.0.0)");
    assert_eq!(host["extensions"]["eventHubs"]["batchCheckpointFrequency"], 1);
    // The binary's name must match what host.json starts.
    assert!(env!("CARGO_BIN_EXE_chargeback").ends_with("/chargeback"));
}

#[test]
fn every_queue_a_binding_names_is_created_by_the_bicep() {
    let bicep = std::fs::read_to_string(app_root().join("infra/modules/storage.bicep")).unwrap();
    let line =
        bicep.lines().find(|l| l.starts_with("param queueNames array")).expect("param queueNames in storage.bicep");
    let created: Vec<&str> = line.split('\'').skip(1).step_by(2).collect();
    let mut named: Vec<String> = function_names()
        .iter()
        .flat_map(|f| function_json(f)["bindings"].as_array().unwrap().clone())
        .filter_map(|b| b["queueName"].as_str().map(str::to_owned))
        .collect();
    named.sort();
    named.dedup();
    assert!(!named.is_empty());
    for queue in &named {
        assert!(
            created.contains(&queue.as_str()),
            "{queue} is bound in a function.json but not created by storage.bicep"
        );
    }
}

/// A ledger that no longer answers.
#[derive(Debug)]
struct DownLedger(std::sync::Arc<dyn chargeback::storage::Ledger>);

#[async_trait::async_trait]
impl chargeback::storage::Ledger for DownLedger {
    async fn append(
        &self,
        records: &[chargeback::domain::UsageRecord],
    ) -> Result<chargeback::storage::AppendOutcome, chargeback::storage::StorageError> {
        self.0.append(records).await
    }
    async fn health(&self) -> Result<(), chargeback::storage::StorageError> {
        Err(chargeback::storage::StorageError::Refused("the ledger is down".into()))
    }
    async fn partitions(
        &self,
        tenant: &chargeback::domain::Tenant,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<chargeback::storage::LedgerPartition>, chargeback::storage::StorageError> {
        self.0.partitions(tenant, from, to).await
    }
    async fn scan(
        &self,
        partition: &chargeback::storage::LedgerPartition,
    ) -> Result<Vec<chargeback::storage::LedgerEntry>, chargeback::storage::StorageError> {
        self.0.scan(partition).await
    }
    async fn usage_cells(
        &self,
        range: &chargeback::storage::LedgerRange,
    ) -> Result<Vec<chargeback::domain::UsageAggregate>, chargeback::storage::StorageError> {
        self.0.usage_cells(range).await
    }
    async fn capacity_cells(
        &self,
        range: &chargeback::storage::LedgerRange,
    ) -> Result<Vec<chargeback::storage::CapacityCell>, chargeback::storage::StorageError> {
        self.0.capacity_cells(range).await
    }
}

#[tokio::test]
async fn healthz_asks_the_ledger_and_answers_503_when_it_does_not_answer() {
    let app = spawn_app().await;
    let ok = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(ok.status(), 200);

    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path());
    let mut stores = chargeback::startup::stores(&config).await.unwrap();
    stores.ledger = std::sync::Arc::new(DownLedger(stores.ledger.clone()));
    let state = chargeback::startup::AppState::new(
        chargeback::startup::services_over(&config, &stores).unwrap(),
        config.invocations.max_body_bytes,
    );
    let router = chargeback::startup::router(state, chargeback::api::Access::new(false, None, true));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let down = app.client.get(format!("{address}/healthz")).send().await.unwrap();
    assert_eq!(down.status(), 503);
    assert!(!down.text().await.unwrap().contains("down"), "no internals in the answer");
}
