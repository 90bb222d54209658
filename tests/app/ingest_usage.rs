//! The `ingest-usage` function, driven as the Functions host drives it.

use serde_json::json;

use crate::helpers::*;

const KEY: &str = "5f2d1c0b9a8e7d6c5b4a39281706f5e4";

fn mixed_batch() -> Vec<String> {
    vec![
        v1_record("req-1", 100, 20),
        sample_record(KEY, 50, 5),
        "ERROR upstream timeout".to_owned(),
        v1_record("req-2", 300, 40),
        format!(
            r#"{{"Timestamp":"11/26/2026 11:32:47 AM","AppKey":"{KEY}","PromptTokens":"-3","CompletionTokens":"1"}}"#
        ),
        format!(
            r#"{{"eventTime":"2026-11-26T11:32:47Z","appSubscriptionKey":"{KEY}","request":{{"model":"gpt-4o","messages":[{{"role":"user","content":"cut"#
        ),
        sample_record(KEY, 7, 3),
    ]
}

#[tokio::test]
async fn a_host_batch_is_ingested_and_every_event_is_accounted_for() {
    let app = spawn_app().await;
    let outcome = app.ingest(&mixed_batch(), "0", 1000).await;
    assert_eq!(outcome["received"], 7);
    assert_eq!(outcome["accepted"], 4);
    assert_eq!(outcome["duplicates"], 0);
    assert_eq!(outcome["dead_lettered"], 3);
    assert_eq!(outcome["reasons"], json!({"invalid_json": 1, "negative_tokens": 1, "truncated_body": 1}));
    assert_eq!(app.ledger_totals().await, (120 + 55 + 340 + 10, 4));
}

#[tokio::test]
async fn replaying_a_batch_three_times_leaves_every_total_unchanged() {
    let app = spawn_app().await;
    let first = app.ingest(&mixed_batch(), "3", 77).await;
    let totals = app.ledger_totals().await;
    for _ in 0..3 {
        let replay = app.ingest(&mixed_batch(), "3", 77).await;
        assert_eq!(replay["accepted"], 0);
        assert_eq!(replay["duplicates"], first["accepted"]);
        assert_eq!(replay["dead_lettered"], first["dead_lettered"]);
        assert_eq!(app.ledger_totals().await, totals);
    }
    let letters = std::fs::read_dir(app.data_dir.path().join("dead-letter/default")).unwrap().count();
    assert_eq!(letters, 3, "a replayed poison record replaces its letter, never adds one");
}

#[tokio::test]
async fn identical_records_without_ids_at_different_positions_both_count() {
    let app = spawn_app().await;
    let same = sample_record(KEY, 10, 1);
    let outcome = app.ingest(&[same.clone(), same], "1", 5).await;
    assert_eq!(outcome["accepted"], 2);
    assert_eq!(app.ledger_totals().await, (22, 2));
}

#[tokio::test]
async fn poison_records_are_dead_lettered_with_their_reason_and_the_rest_goes_on() {
    let app = spawn_app().await;
    app.ingest(&mixed_batch(), "2", 10).await;
    let dir = app.data_dir.path().join("dead-letter/default");
    let mut reasons: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let letter: serde_json::Value = serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
            (letter["reason"].as_str().unwrap().to_owned(), letter["origin"].as_str().unwrap().to_owned())
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            ("invalid_json".to_owned(), "eventhub:apim-usage/partition/2/sequence/12".to_owned()),
            ("negative_tokens".to_owned(), "eventhub:apim-usage/partition/2/sequence/14".to_owned()),
            ("truncated_body".to_owned(), "eventhub:apim-usage/partition/2/sequence/15".to_owned()),
        ]
    );
}

#[tokio::test]
async fn no_raw_subscription_key_reaches_the_disk() {
    let app = spawn_app().await;
    app.ingest(&mixed_batch(), "0", 1).await;
    let bytes = all_bytes_under(app.data_dir.path());
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(KEY), "the raw key was written to disk");
    // The dead-lettered bodies keep the fingerprint in its place.
    let letters = all_bytes_under(&app.data_dir.path().join("dead-letter"));
    assert!(String::from_utf8_lossy(&letters).contains("fp_"));
}

#[tokio::test]
async fn a_store_failure_fails_the_invocation_and_the_retry_counts_exactly_once() {
    let app = spawn_app().await;
    // Make the dead-letter store unwritable: a file where its folder goes.
    let blocker = app.data_dir.path().join("dead-letter");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let invocation = eventhub_invocation("ingest-usage", &mixed_batch(), "0", 500);
    let failed = app.invoke("ingest-usage", &invocation).await;
    assert_eq!(failed.status(), 503);
    let body = failed.text().await.unwrap();
    assert!(!body.contains("not a folder") && !body.contains("dead-letter"), "internals leaked: {body}");
    assert_eq!(app.ledger_totals().await, (0, 0), "nothing counted from the failed attempt");

    std::fs::remove_file(&blocker).unwrap();
    let retried = app.ingest(&mixed_batch(), "0", 500).await;
    assert_eq!(retried["accepted"], 4);
    assert_eq!(app.ledger_totals().await, (525, 4));
}

#[tokio::test]
async fn events_the_host_parsed_as_json_are_accepted_as_well() {
    // Without `dataType: string` the host sends parsed objects; the handler
    // must not depend on that setting.
    let app = spawn_app().await;
    let invocation = json!({
        "Data": {"events": [serde_json::from_str::<serde_json::Value>(&v1_record("obj-1", 5, 5)).unwrap()]},
        "Metadata": eventhub_metadata("0", 1, 1),
    });
    let response = app.invoke("ingest-usage", &invocation).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.ledger_totals().await, (10, 1));
}

#[tokio::test]
async fn a_batch_without_positions_falls_back_to_content_identity_and_loses_nothing() {
    let app = spawn_app().await;
    let bodies = vec![sample_record(KEY, 1, 1), sample_record(KEY, 1, 1)];
    let invocation = json!({"Data": {"events": serde_json::to_string(&bodies).unwrap()}, "Metadata": {}});
    let response = app.invoke("ingest-usage", &invocation).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.ledger_totals().await, (4, 2));
}

#[tokio::test]
async fn streamed_records_without_usage_are_counted_and_reported_apart_from_reported_ones() {
    let app = spawn_app().await;
    let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";
    let counted = json!({"schema": "usage.v1", "id": "stream-1", "timestamp": "2026-11-26T11:00:00Z",
        "application": "support-bot", "model": "gpt-4o", "status": 200, "streamed": true,
        "request_body": {"messages": [{"role": "user", "content": "Hello there"}], "stream": true},
        "response_body": stream})
    .to_string();
    // The APIM sample shape carries no bodies: it cannot be counted and stays pending.
    let uncountable = format!(
        r#"{{"Timestamp":"11/26/2026 11:32:47 AM","ApiOperation":"chat.completion.chunk","AppKey":"{KEY}","Stream":"True"}}"#
    );
    let outcome = app.ingest(&[counted, uncountable, v1_record("plain-1", 100, 20)], "0", 1).await;
    assert_eq!(outcome["accepted"], 3);
    assert_eq!(outcome["pending_count"], 1, "only the record without bodies is still pending");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chargeback"))
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .args(["usage", "--month", "2026-11", "--by", "app", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 3 per message + "user" 1 + "Hello there" 2 + 3 reply priming = 9 prompt; "Hi" = 1 completion.
    assert_eq!(report["total"]["estimated_tokens"], 10);
    assert_eq!(report["total"]["total_tokens"], 10 + 120);
    assert_eq!(report["total"]["pending_requests"], 1);
    let bot = report["lines"].as_array().unwrap().iter().find(|l| l["key"] == "support-bot").unwrap();
    assert_eq!((bot["prompt_tokens"].as_u64(), bot["completion_tokens"].as_u64()), (Some(9), Some(1)));
}

/// How a record's tokens were counted, as the embedded ledger keeps it.
async fn counted_with(data_dir: &std::path::Path, record_id: &str) -> Option<String> {
    let ledger = chargeback::storage::embedded::SqliteLedger::open(&data_dir.join("ledger.sqlite")).await.unwrap();
    sqlx::query_scalar("SELECT counted_with FROM ledger WHERE record_id = $1")
        .bind(record_id)
        .fetch_one(ledger.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_deployment_added_over_the_api_picks_the_tokenizer_of_the_next_batch() {
    let api = crate::api::spawn_api().await;
    // Streamed, no usage, no model: only the deployment says what counts the tokens.
    let streamed = |id: &str| {
        json!({"schema": "usage.v1", "id": id, "timestamp": "2026-11-26T11:00:00Z", "application": "legacy-app",
               "deployment": "legacy-chat", "status": 200, "streamed": true,
               "request_body": {"messages": [{"role": "user", "content": "Hello there"}], "stream": true},
               "response_body": "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n"})
    };
    api.ingest(&[streamed("before")]).await;
    let dir = api.app.data_dir.path();
    assert_eq!(counted_with(dir, "before").await.as_deref(), Some("o200k_base;unknown-model"));

    let put =
        api.call(reqwest::Method::PUT, "/api/admin/deployments/legacy-chat", Some(json!({"model": "gpt-4"}))).await;
    assert_eq!(put.status(), 201, "{:?}", put.text().await);
    let outcome = api.app.ingest(&[streamed("after").to_string()], "0", 10).await;
    assert_eq!(outcome["accepted"], 1, "{outcome}");
    assert_eq!(
        counted_with(dir, "after").await.as_deref(),
        Some("cl100k_base"),
        "gpt-4's encoding, from the directory"
    );
}

fn fixture(name: &str) -> String {
    let path = app_root().join("tests/fixtures/records").join(name);
    std::fs::read_to_string(path).unwrap().trim_end().to_owned()
}

#[tokio::test]
async fn apim_resource_logs_posted_by_the_host_are_joined_and_usage_shows_the_subscriptions() {
    let app = spawn_app().await;
    // The halves of one call in different invocations and partitions, LLM first;
    // both halves of two calls in one event each; a mixed event whose bad
    // records are dead-lettered and whose second call has no gateway half.
    let first = app
        .ingest(&[fixture("diagnostic-single-llm-record.json"), fixture("diagnostic-records-envelope.json")], "0", 1)
        .await;
    assert_eq!(
        (&first["received"], &first["accepted"], &first["calls"]["attributed"]),
        (&json!(3), &json!(3), &json!(1)),
        "{first}"
    );
    let second = app
        .ingest(
            &[
                fixture("diagnostic-single-gateway-record.json"),
                fixture("diagnostic-bare-array.json"),
                fixture("diagnostic-mixed-good-and-bad.json"),
            ],
            "1",
            40,
        )
        .await;
    assert_eq!(second["received"], 12, "{second}");
    assert_eq!((&second["accepted"], &second["dead_lettered"], &second["ignored"]), (&json!(6), &json!(5), &json!(1)));
    assert_eq!(second["calls"]["attributed"], 3, "C (its LLM half came earlier), B and E");
    // Replays of both invocations change nothing.
    let replay = app.ingest(&[fixture("diagnostic-single-llm-record.json")], "0", 1).await;
    assert_eq!((&replay["duplicates"], &replay["calls"]["attributed"]), (&json!(1), &json!(0)));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chargeback"))
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .args(["usage", "--month", "2026-11", "--by", "app", "--format", "json"])
        .env_remove("CHARGEBACK_FINGERPRINT_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let line = |key: &str| report["lines"].as_array().unwrap().iter().find(|l| l["key"] == key).cloned();
    // Unmapped subscriptions are their own applications.
    let a = line("2b8e4d6f0a1c3e5b7d9f1a3c").unwrap();
    assert_eq!(
        (&a["requests"], &a["prompt_tokens"], &a["completion_tokens"], &a["cached_tokens"], &a["total_tokens"]),
        (&json!(2), &json!(812 * 2), &json!(455 * 2), &json!(512 * 2), &json!(1267 * 2)),
        "calls A and E: {a}"
    );
    let b = line("6f2c9a1e3b7d4e0f8a5c1b2d").unwrap();
    assert_eq!(
        (&b["requests"], &b["prompt_tokens"], &b["completion_tokens"], &b["total_tokens"]),
        (&json!(2), &json!(640 + 256), &json!(128), &json!(768 + 256)),
        "calls B and C: {b}"
    );
    assert_eq!(report["total"]["total_tokens"], json!(1267 * 2 + 768 + 256), "{report}");
}

#[tokio::test]
async fn the_billing_dimensions_are_summed_exactly_and_usage_groups_by_service_tier() {
    let app = spawn_app().await;
    let dims = fixture("v1-billing-dimensions.json");
    let plain = fixture("v1-complete.json").replace(r#""tenant":"Contoso","#, "");
    let outcome = app.ingest(&[dims.clone(), dims.replace("0a6b3e1d", "1a6b3e1d"), plain], "0", 1).await;
    assert_eq!(outcome["accepted"], 3, "{outcome}");

    let usage = |by: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chargeback"))
            .arg("--data-dir")
            .arg(app.data_dir.path())
            .args(["usage", "--month", "2026-11", "--by", by, "--format", "json"])
            .env_remove("CHARGEBACK_FINGERPRINT_SECRET")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let report = usage("service-tier");
    let priority = report["lines"].as_array().unwrap().iter().find(|l| l["key"] == "priority").cloned().unwrap();
    assert_eq!(
        (
            &priority["requests"],
            &priority["cache_write_tokens"],
            &priority["audio_prompt_tokens"],
            &priority["audio_completion_tokens"],
            &priority["accepted_prediction_tokens"],
            &priority["rejected_prediction_tokens"],
        ),
        (&json!(2), &json!(2048), &json!(256), &json!(128), &json!(600), &json!(240)),
        "{report}"
    );
    assert_eq!(report["lines"].as_array().unwrap().len(), 2, "priority and the record that states no tier: {report}");
    let total = &report["total"];
    assert_eq!((&total["requests"], &total["cache_write_tokens"]), (&json!(3), &json!(2048)), "{report}");
    // Another grouping sums the same dimensions.
    assert_eq!(usage("deployment")["total"]["rejected_prediction_tokens"], 240);
}
