//! Without trigger metadata, a replay in the object form used to count again
//! (+43 %), and one 10,000-level nested event got its whole object-form batch
//! a 400.

use serde_json::{Value, json};

use crate::helpers::*;

const KEY: &str = "feedfacefeedfacefeedfacefeedface";

#[tokio::test]
async fn without_positions_an_object_form_replay_counts_nothing_twice() {
    let app = spawn_app().await;
    // As the APIM sample policy writes them: its key order, its spacing.
    let apim = |key: &str, prompt: u64, completion: u64| {
        format!(
            r#"{{"Timestamp": "11/26/2026 11:32:47 AM", "ApiOperation": "chat.completion", "AppKey": "{key}", "PromptTokens": "{prompt}", "CompletionTokens": "{completion}", "TotalTokens": "{}"}}"#,
            prompt + completion
        )
    };
    let bodies = vec![apim(KEY, 3, 4), apim(KEY, 3, 4), apim("other-key", 1, 1)];
    let as_text = json!({"Data": {"events": serde_json::to_string(&bodies).unwrap()}, "Metadata": {}});
    let response = app.invoke("ingest-usage", &as_text).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["ReturnValue"]["accepted"], 3);
    assert_eq!(app.ledger_totals().await, (16, 3));

    // The host re-serialises parsed bodies (keys reordered, no spacing).
    let objects: Vec<Value> = bodies.iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    let as_objects = json!({"Data": {"events": objects}, "Metadata": {}});
    let response = app.invoke("ingest-usage", &as_objects).await;
    assert_eq!(response.status(), 200);
    let outcome = response.json::<Value>().await.unwrap()["ReturnValue"].clone();
    assert_eq!((outcome["accepted"].clone(), outcome["duplicates"].clone()), (json!(0), json!(3)), "{outcome}");
    assert_eq!(app.ledger_totals().await, (16, 3));
}

#[tokio::test]
async fn a_deeply_nested_event_is_dead_lettered_and_the_rest_of_its_batch_goes_on() {
    let app = spawn_app().await;
    let depth = 10_000;
    let nested = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let good = v1_record("beside-the-deep-one", 5, 5);
    let metadata = eventhub_metadata("0", 10, 2);
    let body = format!(r#"{{"Data": {{"events": [{nested}, {good}]}}, "Metadata": {metadata}}}"#);
    let response = app.invoke_text("ingest-usage", body).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let outcome = response.json::<Value>().await.unwrap()["ReturnValue"].clone();
    assert_eq!((outcome["accepted"].clone(), outcome["dead_lettered"].clone()), (json!(1), json!(1)), "{outcome}");
    // Its unknown fields are skipped without recursion: it is no record shape.
    assert_eq!(outcome["reasons"], json!({"unknown_shape": 1}), "{outcome}");
    assert_eq!(app.ledger_totals().await, (10, 1));
    let letters = super::dead_letters(app.data_dir.path());
    assert_eq!(letters.len(), 1);
    assert!(letters[0]["body"].as_str().unwrap().starts_with(r#"{"a":{"a":"#));
}
