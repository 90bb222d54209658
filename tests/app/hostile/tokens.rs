//! Token counts of 2^63 and more used to be stored saturated and broke the
//! month for good (`chargeback usage`: integer overflow; `/api/usage`: 503;
//! the rollup failed). They are `implausible_tokens` now, and a month full
//! of records at the per-record maximum stays readable everywhere.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{chargeback, on_postgresql, run_ok};
use crate::api::{ApiApp, spawn_api, spawn_with};
use crate::helpers::*;

/// The documented per-record maximum (docs/record-format.md).
const MAX: u64 = 1_000_000_000;
const AT_MAX: u64 = 20;

fn hostile_batch() -> Vec<String> {
    let huge = 5_000_000_000_000_000_000u64;
    let mut bodies = vec![
        v1_record("huge-1", huge, 0),
        v1_record("huge-2", huge, 0),
        v1_record("u64-max", u64::MAX, 0),
        json!({"Timestamp": "11/26/2026 11:32:47 AM", "AppKey": "k", "PromptTokens": "99999999999999999999999",
               "CompletionTokens": "1"})
        .to_string(),
        json!({"schema": "usage.v1", "id": "float-huge", "timestamp": "2026-11-26T11:00:00Z",
               "usage": {"prompt_tokens": 1e19, "completion_tokens": 0}})
        .to_string(),
    ];
    for i in 0..AT_MAX {
        bodies.push(v1_record(&format!("at-max-{i}"), MAX, MAX));
    }
    bodies
}

async fn a_month_at_the_maximum_stays_readable(api: &ApiApp, cli_env: &[(&str, &str)]) {
    let outcome = api.app.ingest(&hostile_batch(), "0", 1).await;
    assert_eq!(outcome["accepted"], AT_MAX, "{outcome}");
    assert_eq!(outcome["dead_lettered"], 5, "{outcome}");
    assert_eq!(outcome["reasons"], json!({"implausible_tokens": 5}), "{outcome}");
    let expected = AT_MAX * 2 * MAX;

    // The CLI.
    let mut cmd = chargeback(&api.settings.data_dir);
    cmd.args(["usage", "--month", "2026-11", "--format", "json"]).envs(cli_env.iter().copied());
    let report: Value = serde_json::from_str(&run_ok(&mut cmd)).unwrap();
    assert_eq!(report["total"]["total_tokens"], expected, "{report}");

    // The API.
    let usage = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=day").await;
    assert_eq!(usage["total"]["total_tokens"], expected, "{usage}");
    assert_eq!(usage["total"]["requests"], AT_MAX, "{usage}");

    // The rollup and its chargeback.
    let started = api.call(Method::POST, "/api/rollups/2026-11", None).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED, "{:?}", started.text().await);
    let status = api.rollup_status_when_over("2026-11").await;
    assert_eq!(status["runtimeStatus"], "Completed", "{status}");
    let chargeback = api.get_json("/api/chargeback/2026-11").await;
    let tokens: u64 = chargeback["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["prompt_tokens"].as_u64().unwrap() + l["completion_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(tokens, expected, "{chargeback}");
}

#[tokio::test]
async fn implausible_counts_are_dead_lettered_and_a_month_at_the_maximum_stays_readable() {
    a_month_at_the_maximum_stays_readable(&spawn_api().await, &[]).await;
}

#[tokio::test]
async fn implausible_counts_are_dead_lettered_and_a_month_at_the_maximum_stays_readable_on_postgresql() {
    let Some(url) = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (s, tenant) = on_postgresql(dir.path(), &url, "shared-ledger-secret");
    let api = spawn_with(s, dir).await;
    let env = [
        ("CHARGEBACK_LEDGER", "postgres"),
        ("DATABASE_URL", url.as_str()),
        ("CHARGEBACK_TENANT", tenant.as_str()),
        ("CHARGEBACK_FINGERPRINT_SECRET", "shared-ledger-secret"),
    ];
    a_month_at_the_maximum_stays_readable(&api, &env).await;
}
