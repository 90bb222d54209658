//! A batch over 2 MiB (axum's default body limit) used to be refused with
//! 413, logged nowhere; the host retried, then moved its checkpoint on, and
//! every record in it was lost. 100 APIM full-body records of 30 KB already
//! cross it.

use serde_json::{Value, json};

use crate::helpers::*;

/// An APIM full-body record with a prompt of `size` bytes.
fn full_body_record(i: usize, size: usize) -> String {
    json!({"eventTime": "2026-11-26T11:00:00Z", "requestId": format!("big-{i}"), "apiOperation": "ChatCompletions_Create",
           "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(size)}]},
           "response": {"model": "gpt-4o", "usage": {"prompt_tokens": 7000, "completion_tokens": 3, "total_tokens": 7003}}})
    .to_string()
}

#[tokio::test]
async fn a_batch_of_a_hundred_30_kb_records_is_ingested_whole() {
    let app = spawn_app().await;
    let bodies: Vec<String> = (0..100).map(|i| full_body_record(i, 30_000)).collect();
    let invocation = eventhub_invocation("ingest-usage", &bodies, "0", 1);
    assert!(invocation.to_string().len() > 2 * 1024 * 1024, "over the old limit");
    let outcome = app.ingest(&bodies, "0", 1).await;
    assert_eq!(outcome["accepted"], 100, "{outcome}");
    assert_eq!(app.ledger_totals().await, (700_300, 100));
}

#[tokio::test]
async fn an_invocation_over_the_configured_limit_is_refused_with_a_413_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.invocations.max_body_bytes = 256 * 1024;
    s.api.no_auth = true;
    let app = crate::api::spawn_with(s, dir).await.app;
    let bodies: Vec<String> = (0..10).map(|i| full_body_record(i, 30_000)).collect();
    let response = app.invoke("ingest-usage", &eventhub_invocation("ingest-usage", &bodies, "0", 1)).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("CHARGEBACK_MAX_INVOCATION_BYTES"), "{body}");
    assert_eq!(app.ledger_totals().await, (0, 0));
    // Under it, the same handler takes a batch.
    assert_eq!(app.ingest(&bodies[..2], "0", 1).await["accepted"], 2);
}
