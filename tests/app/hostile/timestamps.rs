//! `-0500` and `-05` offsets used to be read as UTC (Oct 31 23:30 −05:00 was
//! charged to October) and `+25:00` was accepted.

use serde_json::json;

use crate::api::spawn_api;

fn at(id: &str, timestamp: &str) -> String {
    json!({"schema": "usage.v1", "id": id, "timestamp": timestamp, "subscription_id": "sub-a", "model": "gpt-4o",
           "status": 200, "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}})
    .to_string()
}

#[tokio::test]
async fn an_offset_in_any_iso_form_is_applied_and_an_impossible_one_is_refused() {
    let api = spawn_api().await;
    let bodies = [
        at("basic", "2026-10-31T23:30:00-0500"),
        at("hours-only", "2026-10-31T23:30:00-05"),
        at("extended", "2026-10-31T23:30:00-05:00"),
        at("spaced", "2026-10-31 23:30:00 -0500"),
        at("impossible", "2026-11-15T12:00:00+25:00"),
        at("no-such-minute", "2026-11-15T12:00:00+05:75"),
    ];
    let outcome = api.app.ingest(&bodies, "0", 1).await;
    assert_eq!(outcome["accepted"], 4, "{outcome}");
    assert_eq!(outcome["reasons"], json!({"invalid_timestamp": 2}), "{outcome}");
    let november = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=day").await;
    assert_eq!(november["total"]["requests"], 4, "04:30 UTC on 1 November: {november}");
    assert_eq!(november["groups"][0]["key"], "2026-11-01", "{november}");
    let october = api.get_json("/api/usage?from=2026-10-01&to=2026-11-01").await;
    assert_eq!(october["total"]["requests"], 0, "{october}");
}
