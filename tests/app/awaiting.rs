//! Usage awaiting attribution (`docs/record-format.md`, section 4): an API
//! Management call whose gateway log has not arrived is reported apart by the
//! usage service and the statement, in no line and in no total; it moves into
//! its caller's line when the gateway log comes, or to `unattributed` after
//! the grace period; at every step the awaiting tokens and the lines add up
//! to the tokens sent. On the embedded store (through the composition root,
//! rollup included), on PostgreSQL, and over `/api/usage`.

use std::sync::Arc;

use chargeback::directory::{Directory, SeedFiles};
use chargeback::domain::{Name, Period, Tenant};
use chargeback::ingest::{ContentIdentities, Event, Ingestor};
use chargeback::rollup::{local, report_name};
use chargeback::startup::services_over;
use chargeback::storage::postgres::{PgConfig, PgLedger};
use chargeback::storage::sql::gateway_logs::SqlGatewayLogs;
use chargeback::storage::sql::support::{SqlDeadLetters, SqlReports};
use chargeback::usage::{GroupBy, Usage, UsageFilters, UsageQuery, UsageReport};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::contract::subjects::unique_name;
use crate::helpers::{service_env, settings};

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// A `GatewayLlmLogs` record: the tokens of call `id`, not its caller.
fn llm(id: &str, model: &str, prompt: u64, completion: u64, cached: u64) -> Value {
    json!({"time": "2026-11-26T11:33:02Z", "category": "GatewayLlmLogs", "correlationId": id,
           "properties": {"correlationId": id, "deploymentName": model, "modelName": model,
                          "promptTokens": prompt, "completionTokens": completion,
                          "totalTokens": prompt + completion, "promptCachedTokens": cached,
                          "sequenceNumber": 0}})
}

/// A `GatewayLogs` record: the caller of call `id`.
fn gateway(id: &str, subscription: &str) -> Value {
    json!({"time": "2026-11-26T11:33:02Z", "category": "GatewayLogs", "correlationId": id,
           "properties": {"apimSubscriptionId": subscription, "responseCode": 200}})
}

fn events(tag: &str, records: &[Value]) -> Vec<Event> {
    let mut identities = ContentIdentities::default();
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let body = r.to_string().into_bytes();
            Event { origin: identities.next(tag, i + 1, &body), body }
        })
        .collect()
}

fn november(tenant: &Tenant, filters: UsageFilters) -> UsageQuery {
    UsageQuery {
        tenant: tenant.clone(),
        from: time("2026-11-01T00:00:00Z"),
        to: time("2026-12-01T00:00:00Z"),
        group_by: GroupBy::Party,
        filters,
    }
}

fn lines(report: &UsageReport) -> Vec<(String, u64, u64)> {
    report.lines.iter().map(|l| (l.key.clone(), l.tokens.requests, l.tokens.total_tokens)).collect()
}

/// Awaiting + lines = what was sent, request for request and token for token.
fn assert_nothing_lost(report: &UsageReport, requests: u64, tokens: u64) {
    assert_eq!(report.total.tokens.requests + report.awaiting.tokens.requests, requests, "{report:?}");
    assert_eq!(report.total.tokens.total_tokens + report.awaiting.tokens.total_tokens, tokens, "{report:?}");
    assert!(report.lines.iter().all(|l| l.key != "unassigned"), "awaiting is never unassigned: {report:?}");
}

/// The three steps of a call's life, on any backend: awaiting, attributed
/// when its gateway log comes, unattributed after the grace period.
async fn the_life_of_open_calls(ingestor: &Ingestor, usage: &Usage, tenant: &Tenant) {
    let t0 = time("2026-11-26T11:34:00Z");
    let outcome = ingestor
        .ingest_at(&events("llm", &[llm("c-1", "gpt-4o", 812, 455, 512), llm("c-2", "gpt-4o-mini", 100, 50, 0)]), t0)
        .await
        .unwrap();
    assert!(outcome.balances(), "{outcome:?}");

    let report = usage.report(november(tenant, UsageFilters::default())).await.unwrap();
    assert!(lines(&report).is_empty(), "nobody is charged yet");
    let a = &report.awaiting;
    assert_eq!((a.calls(), a.tokens.prompt_tokens, a.tokens.completion_tokens), (2, 912, 505));
    assert_eq!((a.tokens.cached_tokens, a.tokens.total_tokens, a.tokens.pending_requests), (512, 1417, 0));
    assert_eq!(a.oldest_received, Some(t0));
    let by_model: Vec<(&str, u64)> = a.lines.iter().map(|l| (l.model.as_str(), l.tokens.total_tokens)).collect();
    assert_eq!(by_model, [("gpt-4o", 1267), ("gpt-4o-mini", 150)]);
    assert!(report.awaiting_not_filtered_by.is_empty());
    assert_nothing_lost(&report, 2, 1417);

    // The model filter applies; a caller filter cannot, and the report says so.
    let name = |n: &str| Some(Name::parse(n).unwrap());
    let mini = usage.report(november(tenant, UsageFilters { model: name("gpt-4o-mini"), ..Default::default() })).await;
    assert_eq!(mini.unwrap().awaiting.tokens.total_tokens, 150);
    let party = usage.report(november(tenant, UsageFilters { party: name("sub-x"), ..Default::default() })).await;
    let party = party.unwrap();
    assert_eq!((party.awaiting.calls(), party.awaiting_not_filtered_by.clone()), (2, vec!["party"]));
    // Another month has none.
    let mut december = november(tenant, UsageFilters::default());
    (december.from, december.to) = (time("2026-12-01T00:00:00Z"), time("2027-01-01T00:00:00Z"));
    assert!(usage.report(december).await.unwrap().awaiting.is_empty());

    // c-1's caller arrives: it moves into the caller's line, exactly.
    let t1 = t0 + TimeDelta::minutes(5);
    ingestor.ingest_at(&events("gw", &[gateway("c-1", "sub-finance")]), t1).await.unwrap();
    let report = usage.report(november(tenant, UsageFilters::default())).await.unwrap();
    assert_eq!(lines(&report), [("sub-finance".to_owned(), 1, 1267)]);
    assert_eq!((report.awaiting.calls(), report.awaiting.tokens.total_tokens), (1, 150));
    assert_nothing_lost(&report, 2, 1417);

    // The grace period passes without c-2's caller: unattributed.
    let settled = ingestor.settle_overdue(tenant, t0 + TimeDelta::minutes(61)).await.unwrap();
    assert_eq!(settled.unattributed, 1);
    let report = usage.report(november(tenant, UsageFilters::default())).await.unwrap();
    assert_eq!(lines(&report), [("sub-finance".to_owned(), 1, 1267), ("unattributed".to_owned(), 1, 150)]);
    assert!(report.awaiting.is_empty(), "{:?}", report.awaiting);
    assert_nothing_lost(&report, 2, 1417);
}

#[tokio::test]
async fn open_calls_are_reported_apart_until_attributed_or_unattributed_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path());
    let stores = chargeback::startup::stores(&config).await.unwrap();
    let services = services_over(&config, &stores).unwrap();
    let tenant = services.tenant.clone();
    the_life_of_open_calls(&services.ingestor, &services.usage, &tenant).await;

    // A third call is still open when the month is rolled up: the statement
    // shows it apart and charges nobody for it.
    let t2 = time("2026-11-26T12:40:00Z");
    services.ingestor.ingest_at(&events("late", &[llm("c-3", "gpt-4o", 300, 30, 0)]), t2).await.unwrap();
    let period = Period::new(2026, 11).unwrap();
    local::run(&services.rollups, &tenant, period, 2, "test").await.unwrap();
    let file = |name: &str| {
        let stores = stores.clone();
        let name = report_name(&tenant, period, name);
        async move { String::from_utf8(stores.outputs.get(&name).await.unwrap().unwrap().body).unwrap() }
    };
    let statement: Value = serde_json::from_str(&file("chargeback.json").await).unwrap();
    assert_eq!(statement["tokens"]["total_tokens"], 1417, "charged: c-1 and c-2 only");
    let awaiting = &statement["awaiting_attribution"];
    assert_eq!((awaiting["requests"].as_u64(), awaiting["total_tokens"].as_u64()), (Some(1), Some(330)), "{awaiting}");
    assert_eq!(awaiting["oldest_received"], "2026-11-26T12:40:00Z");
    assert_eq!(awaiting["lines"][0]["model"], "gpt-4o");
    let charged: u64 = statement["lines"].as_array().unwrap().iter().map(|l| l["total_tokens"].as_u64().unwrap()).sum();
    assert_eq!(charged, 1417, "no line holds the open call");

    let csv = file("chargeback.csv").await;
    let row = csv.lines().find(|l| l.contains(",awaiting_attribution,")).expect("an awaiting row");
    assert!(row.contains(",330,") && row.contains(",not charged,"), "{row}");
    let html = file("chargeback.html").await;
    assert!(html.contains("<h2>Awaiting attribution</h2>") && html.contains("not charged"), "the page shows it");
    assert!(html.contains("charged to its caller when the caller's log arrives"), "the page says what becomes of it");
    let focus = file("focus.csv").await;
    assert!(!focus.contains("awaiting"), "FOCUS has no such row");
}

#[tokio::test]
async fn open_calls_are_reported_apart_until_attributed_or_unattributed_on_postgres() {
    let Some(url) = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL") else { return };
    let mut config = PgConfig::new(url);
    config.max_connections = 2;
    let pool = config.connect().await.unwrap();
    let tenant = Tenant::parse(&unique_name()).unwrap();
    let ledger = Arc::new(PgLedger::new(pool.clone()));
    let halves = Arc::new(SqlGatewayLogs::new(pool.clone()));
    let seeds = SeedFiles {
        applications: "/nonexistent/applications.csv".into(),
        deployments: "/nonexistent/deployments.csv".into(),
    };
    let directory = Directory::new(Arc::new(SqlReports::new(pool.clone())), seeds);
    let ingestor = Ingestor::new(
        ledger.clone(),
        Arc::new(SqlDeadLetters::new(pool)),
        directory.clone(),
        chargeback::domain::Fingerprinter::new(b"awaiting-test-secret"),
        tenant.clone(),
    )
    .with_gateway_logs(halves.clone(), chargeback::ingest::DEFAULT_GRACE);
    let usage = Usage::new(ledger, directory).with_gateway_logs(halves);
    the_life_of_open_calls(&ingestor, &usage, &tenant).await;
}

#[tokio::test]
async fn the_usage_api_shows_usage_awaiting_attribution_apart_and_an_explicit_zero_otherwise() {
    let api = crate::api::spawn_api().await;
    let bodies = [llm("c-api", "gpt-4o", 812, 455, 512).to_string()];
    let outcome = api.app.ingest(&bodies, "0", 1).await;
    assert_eq!(outcome["received"], 1, "{outcome}");
    let usage = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=party").await;
    assert_eq!(usage["groups"], json!([]), "{usage}");
    assert_eq!(usage["total"]["total_tokens"], 0);
    let awaiting = &usage["awaiting_attribution"];
    assert_eq!((awaiting["requests"].as_u64(), awaiting["total_tokens"].as_u64()), (Some(1), Some(1267)), "{usage}");
    assert_eq!(awaiting["cached_tokens"], 512);
    assert_eq!(awaiting["lines"][0]["deployment"], "gpt-4o");
    assert_eq!(awaiting["not_filtered_by"], json!([]));

    let by_unit = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&business_unit=finance").await;
    assert_eq!(by_unit["awaiting_attribution"]["not_filtered_by"], json!(["business_unit"]));
    assert_eq!(by_unit["awaiting_attribution"]["requests"], 1);
    let other = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&deployment=other").await;
    let zero = &other["awaiting_attribution"];
    assert_eq!((zero["requests"].as_u64(), zero["total_tokens"].as_u64()), (Some(0), Some(0)), "{other}");
    assert_eq!((zero["oldest_received"].clone(), zero["lines"].clone()), (Value::Null, json!([])));
}

/// The nightly maintenance's tick, as the host posts it, at `now`.
fn nightly_tick(now: DateTime<Utc>) -> Value {
    let trigger = crate::helpers::binding("nightly-maintenance", "timerTrigger");
    let name = trigger["name"].as_str().unwrap();
    json!({
        "Data": { name: {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false} },
        "Metadata": { "sys": {"MethodName": "nightly-maintenance", "UtcNow": now.to_rfc3339()} }
    })
}

#[tokio::test]
async fn the_nightly_maintenance_counts_calls_past_their_grace_without_more_traffic() {
    let api = crate::api::spawn_api().await;
    let bodies = [llm("c-quiet", "gpt-4o", 812, 455, 512).to_string()];
    assert_eq!(api.app.ingest(&bodies, "0", 1).await["received"], 1);
    // A tick within the grace period (60 minutes by default) changes nothing.
    let early: Value = api.app.invoke("nightly-maintenance", &nightly_tick(Utc::now())).await.json().await.unwrap();
    assert_eq!(early["ReturnValue"]["settled"], json!({"attributed": 0, "unattributed": 0}), "{early}");
    let usage = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=party").await;
    assert_eq!(usage["awaiting_attribution"]["total_tokens"], 1267, "{usage}");

    // The next night, no gateway log came and no other batch arrived: unattributed.
    let later = Utc::now() + TimeDelta::hours(2);
    let response = api.app.invoke("nightly-maintenance", &nightly_tick(later)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["ReturnValue"]["settled"], json!({"attributed": 0, "unattributed": 1}), "{body}");
    assert!(body["Logs"].to_string().contains("0 attributed, 1 unattributed"), "{body}");
    let usage = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=party").await;
    assert_eq!(usage["groups"][0]["key"], "unattributed", "{usage}");
    assert_eq!(usage["total"]["total_tokens"], 1267);
    assert_eq!(usage["awaiting_attribution"]["requests"], 0, "{usage}");
}
