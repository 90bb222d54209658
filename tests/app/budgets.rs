//! Budget alerts through the `budget-alerts` timer, invoked as the host does
//! (payload and output binding names from its `function.json`): each
//! threshold fires once; replayed records fire nothing more.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::spawn_api;
use crate::helpers::{binding, function_json};

/// A gpt-4o record of now (global price: 2.50 USD per 1M input tokens).
fn record(id: &str, prompt: u64) -> Value {
    let at = (Utc::now() - Duration::seconds(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({"schema": "usage.v1", "id": id, "timestamp": at, "subscription_id": "sub-a",
           "deployment": "gpt-4o-std", "model": "gpt-4o", "status": 200, "streamed": false,
           "usage": {"prompt_tokens": prompt, "completion_tokens": 0, "total_tokens": prompt}})
}

/// One timer tick; the alerts handed to the queue output.
async fn tick(api: &crate::api::ApiApp) -> Vec<(String, u64)> {
    let timer = binding("budget-alerts", "timerTrigger");
    let name = timer["name"].as_str().unwrap();
    let body = json!({"Data": {name: {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
                      "Metadata": {"sys": {"MethodName": "budget-alerts", "UtcNow": Utc::now().to_rfc3339()}}});
    let response = api.app.invoke("budget-alerts", &body).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let body: Value = response.json().await.unwrap();
    let output = function_json("budget-alerts")["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "queue" && b["direction"] == "out")
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut alerts: Vec<(String, u64)> = body["Outputs"][&output]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|a| (a["measure"].as_str().unwrap().to_owned(), a["threshold_percent"].as_u64().unwrap()))
                .collect()
        })
        .unwrap_or_default();
    alerts.sort();
    alerts
}

#[tokio::test]
async fn each_threshold_fires_once_and_replays_fire_nothing() {
    let api = spawn_api().await;
    let map = json!({"application": "chatbot", "business_unit": "finance"});
    assert_eq!(api.call(Method::PUT, "/api/admin/applications/sub-a", Some(map)).await.status(), 201);
    let budget = json!({"monthly_amount": "10.00", "currency": "USD", "monthly_tokens": 3000000});
    assert_eq!(api.call(Method::PUT, "/api/admin/budgets/finance", Some(budget)).await.status(), 201);
    assert_eq!(tick(&api).await, [], "nothing spent yet");

    // 2M tokens: 5.00 USD (50 % of the money) and 67 % of the tokens.
    let first = [record("b1", 1_000_000), record("b2", 1_000_000)];
    api.ingest(&first).await;
    assert_eq!(tick(&api).await, [("cost".to_owned(), 50), ("tokens".to_owned(), 50)]);
    let replay: Vec<String> = first.iter().map(Value::to_string).collect();
    let outcome = api.app.ingest(&replay, "0", 1).await;
    assert_eq!(outcome["duplicates"], 2, "{outcome}");
    assert_eq!(tick(&api).await, [], "a replay crosses nothing new");

    // 4M tokens: 10.00 USD, both budgets spent.
    api.ingest(&[record("b3", 1_000_000), record("b4", 1_000_000)]).await;
    assert_eq!(
        tick(&api).await,
        [("cost".to_owned(), 80), ("cost".to_owned(), 100), ("tokens".to_owned(), 80), ("tokens".to_owned(), 100)]
    );
    assert_eq!(tick(&api).await, [], "each threshold once a month");
}
