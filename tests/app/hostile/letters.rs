//! Dead-letter files: a poison record with a long id used to fail its whole
//! batch with 503 on every retry (its escaped id made the file name too
//! long); two different bad bodies with one id shared a file, the second
//! overwriting the first; and the same batch from 8 callers at once got
//! spurious 503s (947 of 1,200) because every writer of a letter used the
//! same temporary file name.

use serde_json::json;

use super::dead_letters;
use crate::helpers::*;

fn poison(id: &str, n: u64) -> String {
    json!({"schema": "usage.v1", "id": id, "usage": {"prompt_tokens": n}}).to_string()
}

#[tokio::test]
async fn a_poison_record_with_a_long_id_is_dead_lettered_and_its_batch_goes_on() {
    let app = spawn_app().await;
    // 200 characters (the most an id may have) that all need escaping in a file name.
    let long_id = "/%".repeat(100);
    let bodies = vec![poison(&long_id, 1), v1_record("beside-it", 5, 5)];
    let outcome = app.ingest(&bodies, "0", 1).await;
    assert_eq!((outcome["accepted"].clone(), outcome["dead_lettered"].clone()), (json!(1), json!(1)), "{outcome}");
    let letters = dead_letters(app.data_dir.path());
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["id"], long_id);
}

#[tokio::test]
async fn two_different_bad_bodies_with_one_id_get_two_letters_and_a_replay_none_more() {
    let app = spawn_app().await;
    let bodies = vec![poison("same-id", 1), poison("same-id", 2)];
    app.ingest(&bodies, "0", 1).await;
    assert_eq!(dead_letters(app.data_dir.path()).len(), 2);
    app.ingest(&bodies, "0", 1).await;
    app.ingest(&bodies[..1], "0", 1).await;
    let letters = dead_letters(app.data_dir.path());
    assert_eq!(letters.len(), 2, "{letters:?}");
    let mut bodies_kept: Vec<&str> = letters.iter().map(|l| l["body"].as_str().unwrap()).collect();
    bodies_kept.sort();
    let mut sent: Vec<&str> = bodies.iter().map(String::as_str).collect();
    sent.sort();
    assert_eq!(bodies_kept, sent);
}

#[tokio::test]
async fn the_same_batch_from_eight_callers_at_once_never_fails() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut bodies: Vec<String> = (0..40).map(|i| poison(&format!("poison-{i}"), i)).collect();
    bodies.extend((0..10).map(|i| v1_record(&format!("good-{i}"), 10, 1)));
    let invocation = eventhub_invocation("ingest-usage", &bodies, "0", 1);
    for _round in 0..3 {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (app, invocation) = (app.clone(), invocation.clone());
                tokio::spawn(async move { app.invoke("ingest-usage", &invocation).await.status().as_u16() })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap(), 200);
        }
    }
    assert_eq!(app.ledger_totals().await, (110, 10));
    assert_eq!(dead_letters(app.data_dir.path()).len(), 40);
}
