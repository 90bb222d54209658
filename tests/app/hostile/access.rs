//! Nobody in: outside the Functions host every route but the OpenAPI
//! document needs the key (an unauthenticated post used to inject 3M
//! tokens); a shared ledger refuses to start without the fingerprint
//! secret; months are bounded as the usage API bounds dates.

use chargeback::config::{LedgerBackend, Secret, StorageSettings};
use chargeback::startup::Application;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::api::{KEY, spawn_api, spawn_with};
use crate::helpers::*;

#[tokio::test]
async fn outside_the_host_every_route_but_the_openapi_document_needs_the_key() {
    let api = spawn_api().await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", api.app.address);
    let batch = eventhub_invocation("ingest-usage", &[v1_record("injected", 1_500_000, 1_500_000)], "0", 1);

    let anonymous = client.post(url("/ingest-usage")).json(&batch).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = client.post(url("/ingest-usage")).header("x-functions-key", "guess").json(&batch).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    for (method, path) in [
        (Method::POST, "/nightly-maintenance"),
        (Method::POST, "/rollup-start"),
        (Method::POST, "/budget-alerts"),
        (Method::POST, "/no-such-function"),
        (Method::GET, "/healthz"),
        (Method::GET, "/api/usage?from=2026-11-01&to=2026-12-01"),
    ] {
        let response = client.request(method.clone(), url(path)).json(&json!({})).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(api.app.ledger_totals().await, (0, 0), "nothing got in");

    let keyed = client.post(url("/ingest-usage")).header("x-functions-key", KEY).json(&batch).send().await.unwrap();
    assert_eq!(keyed.status(), StatusCode::OK);
    let by_query = client.get(url(&format!("/healthz?code={KEY}"))).send().await.unwrap();
    assert_eq!(by_query.status(), StatusCode::OK);
    let document = client.get(url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(document.status(), StatusCode::OK, "the OpenAPI document needs no key");

    // No key configured and not opened: nothing is served.
    let dir = tempfile::tempdir().unwrap();
    let refused = spawn_with(settings(dir.path()), dir).await;
    let response = client.post(format!("{}/ingest-usage", refused.app.address)).json(&batch).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.unwrap().contains("CHARGEBACK_API_KEY"));

    // Under the host, the host checks its keys.
    let dir = tempfile::tempdir().unwrap();
    let mut hosted = settings(dir.path());
    hosted.port = Some(7071);
    let hosted = spawn_with(hosted, dir).await;
    let response = client.post(format!("{}/ingest-usage", hosted.app.address)).json(&batch).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_shared_ledger_without_the_fingerprint_secret_refuses_to_start() {
    let shared = [
        StorageSettings {
            ledger: Some(LedgerBackend::Postgres),
            // Nothing listens there: the refusal must come before any connection.
            database_url: Some(Secret::new("postgres://nobody@127.0.0.1:9/none")),
            ..StorageSettings::default()
        },
        StorageSettings {
            ledger: Some(LedgerBackend::Table),
            azure_connection: Some(Secret::new(
                "DefaultEndpointsProtocol=http;AccountName=nobody;AccountKey=bm9ib2R5;TableEndpoint=http://127.0.0.1:9/nobody;BlobEndpoint=http://127.0.0.1:9/nobody;QueueEndpoint=http://127.0.0.1:9/nobody;",
            )),
            ..StorageSettings::default()
        },
    ];
    for storage in shared {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(dir.path());
        s.storage = storage;
        let Err(error) = Application::build(&s, 0).await else { panic!("it must not start") };
        assert!(format!("{error:#}").contains("CHARGEBACK_FINGERPRINT_SECRET"), "{error:#}");
        assert!(!dir.path().join("fingerprint.key").exists(), "no private key file for a shared ledger");
    }
    // The command a user runs says the same.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chargeback"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["usage", "--month", "2026-11"])
        .env_remove("CHARGEBACK_FINGERPRINT_SECRET")
        .env("CHARGEBACK_LEDGER", "postgres")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CHARGEBACK_FINGERPRINT_SECRET"));
}

#[tokio::test]
async fn months_are_bounded_as_the_usage_api_bounds_dates() {
    let api = spawn_api().await;
    for month in ["0000-01", "1999-12", "2100-01", "9999-12"] {
        for (method, path) in [
            (Method::POST, format!("/api/rollups/{month}")),
            (Method::GET, format!("/api/rollups/{month}")),
            (Method::POST, format!("/api/rollups/{month}/rerun")),
            (Method::GET, format!("/api/chargeback/{month}")),
        ] {
            let response = api.call(method.clone(), &path, None).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{method} {path}");
            let problem: serde_json::Value = response.json().await.unwrap();
            assert_eq!(problem["parameter"], "period", "{problem}");
        }
    }
    let started = api.call(Method::POST, "/api/rollups/2099-12", None).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED, "the last month of the range is one");
    let out = super::chargeback(api.app.data_dir.path()).args(["rollup", "--month", "0000-01"]).output().unwrap();
    assert!(!out.status.success(), "the CLI refuses it too");
}
