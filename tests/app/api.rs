//! The HTTP API, driven as the Functions host drives it with
//! `enableForwardingHttpRequest`: the raw request, on its own path
//! (`/api/<route>`), on every backend.

use chargeback::config::{LedgerBackend, Secret, Settings, StorageSettings};
use chargeback::domain::Tenant;
use chargeback::startup::Application;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

pub const KEY: &str = "test-api-key-0123456789";

/// A handler serving the API standalone, protected by [`KEY`].
pub struct ApiApp {
    pub app: TestApp,
    pub settings: Settings,
}

pub async fn spawn_with(mut settings: Settings, data_dir: tempfile::TempDir) -> ApiApp {
    settings.data_dir = data_dir.path().to_path_buf();
    let app = Application::build(&settings, 0).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let key = settings.api.key.as_ref().map(|k| String::from_utf8_lossy(k.expose()).into_owned());
    ApiApp { app: TestApp { address, data_dir, client: reqwest::Client::new(), key }, settings }
}

pub fn keyed_settings(dir: &std::path::Path) -> Settings {
    let mut s = settings(dir);
    s.api.key = Some(Secret::new(KEY));
    s
}

pub async fn spawn_api() -> ApiApp {
    let dir = tempfile::tempdir().unwrap();
    let s = keyed_settings(dir.path());
    spawn_with(s, dir).await
}

impl ApiApp {
    /// The status of `period`'s rollup once it has completed or failed
    /// (polled every 100 ms, for 30 s at most: then the last status seen).
    pub async fn rollup_status_when_over(&self, period: &str) -> Value {
        let mut status = Value::Null;
        for _ in 0..300 {
            status = self.get_json(&format!("/api/rollups/{period}")).await;
            if status["runtimeStatus"] == "Completed" || status["runtimeStatus"] == "Failed" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        status
    }

    pub async fn call(&self, method: Method, path_and_query: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .request(method, format!("{}{path_and_query}", self.app.address))
            .header("x-functions-key", KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn get_json(&self, path_and_query: &str) -> Value {
        let response = self.call(Method::GET, path_and_query, None).await;
        assert_eq!(response.status(), 200, "{path_and_query}: {:?}", response.text().await);
        response.json().await.unwrap()
    }

    /// Ingests records through `ingest-usage` as the host posts them.
    pub async fn ingest(&self, records: &[Value]) {
        let bodies: Vec<String> = records.iter().map(Value::to_string).collect();
        let outcome = self.app.ingest(&bodies, "0", 1).await;
        assert_eq!(outcome["accepted"], records.len(), "{outcome}");
    }
}

fn record(id: &str, party: &str, at: &str, status: u16, latency: Option<u64>, tokens: (u64, u64)) -> Value {
    let mut r = json!({"schema": "usage.v1", "id": id, "timestamp": at, "subscription_id": party,
        "deployment": "gpt-4o-prod", "model": "gpt-4o", "status": status, "streamed": false,
        "usage": {"prompt_tokens": tokens.0, "completion_tokens": tokens.1, "total_tokens": tokens.0 + tokens.1}});
    if let Some(ms) = latency {
        r["latency_ms"] = json!(ms);
    }
    r
}

fn traffic() -> Vec<Value> {
    vec![
        record("r1", "sub-a", "2026-11-26T11:05:00Z", 200, Some(100), (1000, 200)),
        record("r2", "sub-a", "2026-11-26T11:10:00Z", 200, Some(300), (500, 100)),
        record("r3", "sub-a", "2026-11-26T11:20:00Z", 429, Some(5), (0, 0)),
        record("r4", "sub-b", "2026-11-26T11:30:00Z", 400, None, (40, 0)),
        record("r5", "sub-b", "2026-11-27T09:00:00Z", 200, Some(900), (2000, 300)),
    ]
}

fn group<'a>(usage: &'a Value, key: &str) -> &'a Value {
    usage["groups"].as_array().unwrap().iter().find(|g| g["key"] == key).unwrap_or_else(|| panic!("{key}: {usage}"))
}

/// Every endpoint, on whatever backend `api` runs on.
pub async fn every_endpoint_answers_over_the_forwarded_path(api: &ApiApp) {
    api.ingest(&traffic()).await;

    // Admin: map sub-a to an application of finance, with a business unit and a budget.
    let created = api
        .call(
            Method::PUT,
            "/api/admin/applications/sub-a",
            Some(json!({"application": "chatbot", "business_unit": "finance"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED, "{:?}", created.text().await);
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let body = json!({"display_name": "Finance & Risk", "cost_center": "CC-1001"});
    assert_eq!(api.call(Method::PUT, "/api/admin/business-units/finance", Some(body)).await.status(), 201);
    let budget = json!({"monthly_amount": "1500.00", "currency": "EUR", "monthly_tokens": 5000000});
    assert_eq!(api.call(Method::PUT, "/api/admin/budgets/finance", Some(budget)).await.status(), 201);
    let deployment = json!({"model": "gpt-4o", "deployment_type": "provisioned", "ptu_monthly_cost": "20000",
                            "capacity_tokens_per_minute": 300000, "currency": "EUR"});
    assert_eq!(api.call(Method::PUT, "/api/admin/deployments/gpt-4o-prod", Some(deployment)).await.status(), 201);

    // A write with a stale ETag is refused; the current one is accepted.
    let listed = api.call(Method::GET, "/api/admin/applications", None).await;
    let current = listed.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(current, etag);
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed["items"], json!([{"party": "sub-a", "application": "chatbot", "business_unit": "finance"}]));
    let change = json!({"application": "chatbot", "business_unit": "finance"});
    let put_b = api.client_put_if_match("/api/admin/applications/sub-b", &change, &current).await;
    assert_eq!(put_b.status(), 201);
    let stale = api.client_put_if_match("/api/admin/applications/sub-b", &change, &current).await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(stale.headers()["content-type"], "application/problem+json");
    let gone = api.call(Method::DELETE, "/api/admin/applications/sub-b", None).await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert_eq!(api.call(Method::GET, "/api/admin/applications/sub-b", None).await.status(), 404);
    let item = api.get_json("/api/admin/budgets/finance").await;
    assert_eq!(
        item,
        json!({"business_unit": "finance", "monthly_amount": "1500.00", "currency": "EUR", "monthly_tokens": 5000000})
    );

    // Usage, by business unit through the mapping just written.
    let usage = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=business_unit").await;
    assert_eq!(group(&usage, "finance")["total_tokens"], 1800);
    assert_eq!(group(&usage, "finance")["requests"], 3);
    assert_eq!(group(&usage, "unassigned")["total_tokens"], 2340);
    assert_eq!(usage["total"]["reported_tokens"], 4140);
    assert_eq!(usage["total"]["estimated_tokens"], 0);
    // Filtered and by day; the time range is half-open and takes RFC 3339 times.
    let by_day = api
        .get_json("/api/usage?from=2026-11-26T11:00:00Z&to=2026-11-27T09:00:00Z&group_by=day&business_unit=unassigned")
        .await;
    assert_eq!(by_day["groups"], json!([group(&by_day, "2026-11-26")]));
    assert_eq!(by_day["total"]["total_tokens"], 40);
    let by_app = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=application&model=gpt-4o").await;
    assert_eq!(group(&by_app, "chatbot")["total_tokens"], 1800);
    assert_eq!(group(&by_app, "sub-b")["total_tokens"], 2340);
    let none = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&deployment=other").await;
    assert_eq!(none["groups"], json!([]));

    // Capacity per deployment and hour.
    let capacity = api.get_json("/api/capacity?from=2026-11-26&to=2026-11-28&deployment=gpt-4o-prod").await;
    let hours = capacity["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 2, "{capacity}");
    let eleven = &hours[0];
    assert_eq!(eleven["hour"], "2026-11-26T11:00:00Z");
    assert_eq!((eleven["requests"].clone(), eleven["succeeded"].clone()), (json!(4), json!(2)));
    assert_eq!((eleven["throttled"].clone(), eleven["bad_request"].clone()), (json!(1), json!(1)));
    assert_eq!(eleven["statuses"], json!({"200": 2, "400": 1, "429": 1}));
    assert_eq!(eleven["latency_ms"], json!({"samples": 3, "p50": 100, "p95": 300, "p99": 300}));
    assert_eq!(eleven["tokens_per_second"], "0.511");

    // What the rollup reads.
    let services = chargeback::startup::services(&api.settings).await.unwrap();
    let directory = services.directory.view(&api.settings.tenant).await.unwrap();
    assert_eq!(directory.applications.business_unit("sub-a"), "finance");
    assert_eq!(directory.budget("finance").unwrap().monthly().to_string(), "1500.00 EUR");
    let prod = directory.deployment("gpt-4o-prod").unwrap().provisioned().unwrap();
    assert_eq!(prod.capacity_tokens_per_minute, Some(300000));

    rollup_and_chargeback(api).await;
}

/// The month's rollup and chargeback through the API: started, followed to
/// the end, and its lines reconciled with the ledger to the token and cent.
async fn rollup_and_chargeback(api: &ApiApp) {
    let never = api.call(Method::GET, "/api/chargeback/2026-11", None).await;
    assert_eq!(never.status(), 404);
    let started = api.call(Method::POST, "/api/rollups/2026-11", None).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED, "{:?}", started.text().await);
    assert_eq!(started.headers()["location"], "/api/rollups/2026-11");
    let status = api.rollup_status_when_over("2026-11").await;
    assert_eq!(status["runtimeStatus"], "Completed", "{status}");
    assert_eq!(status["chunks"]["total"], 3, "sub-a and sub-b on the 26th, sub-b on the 27th: {status}");

    let chargeback = api.get_json("/api/chargeback/2026-11").await;
    let lines = chargeback["lines"].as_array().unwrap();
    let tokens: u64 =
        lines.iter().map(|l| l["prompt_tokens"].as_u64().unwrap() + l["completion_tokens"].as_u64().unwrap()).sum();
    assert_eq!(tokens, 4140, "every ledger token, once: {chargeback}");
    // gpt-4o-prod is provisioned: its 20000 EUR month is shared by tokens, the rest is unused capacity.
    assert_eq!(chargeback["currency"], "EUR");
    assert_eq!(chargeback["total"], "20000.00", "{chargeback}");
    let cents: i64 = lines.iter().map(|l| l["cost"].as_str().unwrap().replace('.', "").parse::<i64>().unwrap()).sum();
    assert_eq!(cents, 2_000_000, "the lines sum to the total");
    assert!(lines.iter().any(|l| l["kind"] == "unused-capacity"), "{chargeback}");
    assert!(lines.iter().any(|l| l["business_unit"] == "finance" && l["kind"] == "provisioned"), "{chargeback}");

    let csv = api.call(Method::GET, "/api/chargeback/2026-11?format=csv", None).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(csv.text().await.unwrap().lines().count(), lines.len() + 1);
    let html = api.call(Method::GET, "/api/chargeback/2026-11/chargeback.html", None).await;
    assert_eq!(html.status(), 200);
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    assert!(html.text().await.unwrap().contains("<svg"));
    for (path, expected) in [
        ("/api/chargeback/2026-11/secrets.txt", 404),
        ("/api/chargeback/2026-11?format=xml", 400),
        ("/api/rollups/2026-13", 400),
        ("/api/rollups/2025-01", 404),
    ] {
        let response = api.call(Method::GET, path, None).await;
        assert_eq!(response.status(), expected, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
}

impl ApiApp {
    async fn client_put_if_match(&self, path: &str, body: &Value, etag: &str) -> reqwest::Response {
        self.app
            .client
            .put(format!("{}{path}", self.app.address))
            .header("x-functions-key", KEY)
            .header("if-match", etag)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn every_endpoint_answers_on_the_embedded_backend() {
    every_endpoint_answers_over_the_forwarded_path(&spawn_api().await).await;
}

fn unique() -> String {
    format!("t{:016x}", rand::random::<u64>())
}

#[tokio::test]
async fn every_endpoint_answers_on_azure_storage() {
    let Some(connection) = service_env("CHARGEBACK_TEST_AZURE_STORAGE", "Azurite") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut s = keyed_settings(dir.path());
    let name = unique();
    s.tenant = Tenant::parse(&name).unwrap();
    // A shared ledger needs the one fingerprint secret of every handler.
    s.fingerprint_secret = Some(Secret::new("shared-ledger-secret"));
    s.storage = StorageSettings {
        azure_connection: Some(Secret::new(connection)),
        ledger: Some(LedgerBackend::Table),
        name_prefix: name,
        ..StorageSettings::default()
    };
    every_endpoint_answers_over_the_forwarded_path(&spawn_with(s, dir).await).await;
}

#[tokio::test]
async fn every_endpoint_answers_on_postgresql() {
    let Some(url) = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut s = keyed_settings(dir.path());
    s.tenant = Tenant::parse(&unique()).unwrap();
    s.fingerprint_secret = Some(Secret::new("shared-ledger-secret"));
    s.storage = StorageSettings {
        ledger: Some(LedgerBackend::Postgres),
        database_url: Some(Secret::new(url)),
        ..StorageSettings::default()
    };
    every_endpoint_answers_over_the_forwarded_path(&spawn_with(s, dir).await).await;
}

async fn problem(api: &ApiApp, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let response = api.call(method, path, body).await;
    let status = response.status();
    assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(), "{body}");
    (status, body)
}

#[tokio::test]
async fn bad_input_gets_a_problem_naming_the_parameter_and_never_a_5xx() {
    let api = spawn_api().await;
    api.ingest(&traffic()).await;
    let cases = [
        ("/api/usage?from=yesterday&to=2026-12-01", "from"),
        ("/api/usage?from=2026-11-01&to=2026-13-01", "to"),
        ("/api/usage?to=2026-12-01", "from"),
        ("/api/usage?from=2026-12-01&to=2026-11-01", "to"),
        ("/api/usage?from=2020-01-01&to=2026-01-01", "to"),
        ("/api/usage?from=2026-11-01&to=2026-12-01&group_by=salary", "group_by"),
        ("/api/usage?from=2026-11-01&to=2026-12-01&model=x'%20OR%201=1%20--", "model"),
        ("/api/usage?from=2026-11-01&to=2026-12-01&party=a%3Bdrop%20table%20ledger", "party"),
        ("/api/usage?from=2026-11-01&to=2026-12-01&business_unit=%00", "business_unit"),
        ("/api/usage?from=2026-11-01&to=2026-12-01&sort=1", "sort"),
        ("/api/usage?from=2026-11-01&to=2026-12-01&from=2026-11-02", "from"),
        ("/api/capacity?from=2026-01-01&to=2026-03-01", "to"),
        ("/api/capacity?from=2026-11-01T00:00:00&to=2026-11-02", "from"),
        ("/api/admin/budgets/a'b", "key"),
    ];
    for (path, parameter) in cases {
        let (status, body) = problem(&api, Method::GET, path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
    }
    let bodies = [
        ("/api/admin/budgets/finance", json!({"monthly_amount": 10.5, "currency": "EUR"})),
        ("/api/admin/budgets/finance", json!({"monthly_amount": "-1", "currency": "EUR"})),
        ("/api/admin/budgets/finance", json!({"monthly_amount": "1", "currency": "EUR", "extra": true})),
        ("/api/admin/budgets/finance", json!({"business_unit": "hr", "monthly_amount": "1", "currency": "EUR"})),
        ("/api/admin/applications/sub-a", json!({"application": "x;y", "business_unit": "finance"})),
        (
            "/api/admin/applications",
            json!({"items": [{"party": "p", "application": "a", "business_unit": "b"}, {"party": "p", "application": "a", "business_unit": "b"}]}),
        ),
        ("/api/admin/deployments/d", json!({"model": "m", "ptu_monthly_cost": "1"})),
        ("/api/admin/deployments", json!([])),
    ];
    for (path, body) in bodies {
        let (status, problem_body) = problem(&api, Method::PUT, path, Some(body.clone())).await;
        assert_eq!(status, 400, "{path} {body}: {problem_body}");
        assert_eq!(problem_body["parameter"], "body");
    }
    let not_json = api
        .app
        .client
        .put(format!("{}/api/admin/budgets/x", api.app.address))
        .header("x-functions-key", KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);

    let (status, _) = problem(&api, Method::GET, "/api/no-such-thing", None).await;
    assert_eq!(status, 404);
    let (status, _) = problem(&api, Method::GET, "/api/admin/salaries", None).await;
    assert_eq!(status, 404);
    let (status, _) = problem(&api, Method::DELETE, "/api/usage", None).await;
    assert_eq!(status, 405);
    let (status, _) = problem(&api, Method::GET, "/api/admin/budgets/nobody", None).await;
    assert_eq!(status, 404);
    // Nothing was written by any of it.
    assert_eq!(api.get_json("/api/admin/budgets").await["items"], json!([]));
}

#[tokio::test]
async fn the_standalone_api_takes_its_key_like_the_host_and_refuses_without_one() {
    let api = spawn_api().await;
    let url = |path: &str| format!("{}{path}", api.app.address);
    let usage = "/api/usage?from=2026-11-01&to=2026-12-01";
    let anonymous = api.app.client.get(url(usage)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["content-type"], "application/problem+json");
    let wrong = api.app.client.get(url(usage)).header("x-functions-key", "guess").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let by_query = api.app.client.get(url(&format!("{usage}&code={KEY}"))).send().await.unwrap();
    assert_eq!(by_query.status(), 200);
    let document = api.app.client.get(url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(document.status(), 200, "the OpenAPI document needs no key");

    // No key configured: the API refuses to serve, unless opened explicitly.
    let dir = tempfile::tempdir().unwrap();
    let refused = spawn_with(settings(dir.path()), dir).await;
    let response = refused.app.client.get(format!("{}{usage}", refused.app.address)).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.text().await.unwrap().contains("CHARGEBACK_API_KEY"));
    let dir = tempfile::tempdir().unwrap();
    let mut open = settings(dir.path());
    open.api.no_auth = true;
    let open = spawn_with(open, dir).await;
    assert_eq!(open.app.client.get(format!("{}{usage}", open.app.address)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn under_the_host_the_handler_leaves_keys_to_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.port = Some(7071); // FUNCTIONS_CUSTOMHANDLER_PORT: the host checks the function keys
    let api = spawn_with(s, dir).await;
    let response = api
        .app
        .client
        .get(format!("{}/api/usage?from=2026-11-01&to=2026-12-01&code=host-key", api.app.address))
        .header("X-Azure-Functions-InvocationId", "6a3b1c1e-0000-4000-8000-000000000002")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn admin_collections_start_from_the_configured_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("applications.csv"), "party,application,business_unit\nsub-a,chatbot,finance\n")
        .unwrap();
    std::fs::write(dir.path().join("deployments.csv"), "deployment,model\ngpt-4o-prod,gpt-4o\nmini,gpt-4o-mini\n")
        .unwrap();
    let s = keyed_settings(dir.path());
    let api = spawn_with(s, dir).await;
    let response = api.call(Method::GET, "/api/admin/applications", None).await;
    assert_eq!(response.headers()["etag"], "\"initial\"");
    let listed: Value = response.json().await.unwrap();
    assert_eq!(listed["items"], json!([{"party": "sub-a", "application": "chatbot", "business_unit": "finance"}]));
    let units = api.get_json("/api/admin/business-units").await;
    assert_eq!(units["items"], json!([{"id": "finance", "display_name": "finance"}]));
    let deployments = api.get_json("/api/admin/deployments").await;
    assert_eq!(
        deployments["items"],
        json!([
            {"deployment": "gpt-4o-prod", "model": "gpt-4o"},
            {"deployment": "mini", "model": "gpt-4o-mini"}
        ])
    );
    // The first write starts from the seed (If-Match "initial") and replaces it.
    let response = api
        .client_put_if_match(
            "/api/admin/applications/sub-b",
            &json!({"application": "bot", "business_unit": "hr"}),
            "\"initial\"",
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(api.get_json("/api/admin/applications").await["items"].as_array().unwrap().len(), 2);
}

#[test]
fn the_deployments_csv_may_carry_the_provisioned_columns_in_any_order() {
    use chargeback::directory::seed::read_deployments;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("deployments.csv"),
        "model,deployment,currency,ptu_hourly_cost,deployment_type,capacity_tokens_per_minute\n\
         gpt-4o,gpt-4o-prod,EUR,2.50,provisioned,300000\ngpt-4o-mini,mini,,,,\n",
    )
    .unwrap();
    let path = settings(dir.path()).deployments_path();
    let seeded = read_deployments(&path).unwrap();
    let prod = seeded[&chargeback::domain::Name::parse("gpt-4o-prod").unwrap()].fields();
    assert_eq!(prod.ptu_hourly_cost.unwrap().to_string(), "2.50");
    assert_eq!(prod.capacity_tokens_per_minute, Some(300000));
    assert_eq!(prod.currency.as_ref().unwrap().as_str(), "EUR");
    assert_eq!(seeded.len(), 2);
    std::fs::write(&path, "deployment,model,currency\nd,m,euro\n").unwrap();
    assert!(read_deployments(&path).is_err());
}

/// Tokens per business unit of a month's chargeback lines (unused capacity aside).
fn statement_units(chargeback: &Value) -> std::collections::BTreeMap<String, u64> {
    let mut units = std::collections::BTreeMap::new();
    for line in chargeback["lines"].as_array().unwrap() {
        if line["kind"] == "unused-capacity" {
            continue;
        }
        let tokens = line["prompt_tokens"].as_u64().unwrap() + line["completion_tokens"].as_u64().unwrap();
        *units.entry(line["business_unit"].as_str().unwrap().to_owned()).or_default() += tokens;
    }
    units
}

/// Starts a month's rollup and waits for it to complete.
async fn roll_up(api: &ApiApp, period: &str) {
    let started = api.call(Method::POST, &format!("/api/rollups/{period}"), None).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED, "{:?}", started.text().await);
    for _ in 0..300 {
        let status = api.get_json(&format!("/api/rollups/{period}")).await;
        if status["runtimeStatus"] == "Completed" {
            return;
        }
        assert_ne!(status["runtimeStatus"], "Failed", "{status}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the rollup of {period} did not complete");
}

#[tokio::test]
async fn after_an_application_is_edited_the_cli_the_api_and_the_statement_agree_on_every_business_unit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("applications.csv"),
        "party,application,business_unit\nsub-a,chatbot,finance\nsub-b,search,retail\n",
    )
    .unwrap();
    let api = spawn_with(keyed_settings(dir.path()), dir).await;
    api.ingest(&traffic()).await;
    let edited = api
        .call(
            Method::PUT,
            "/api/admin/applications/sub-b",
            Some(json!({"application": "search", "business_unit": "hr"})),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK, "the seed's entry is replaced: {:?}", edited.text().await);

    let usage = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=business_unit").await;
    let over_api: std::collections::BTreeMap<String, u64> = usage["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), g["total_tokens"].as_u64().unwrap()))
        .collect();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chargeback"))
        .arg("--data-dir")
        .arg(api.app.data_dir.path())
        .args(["usage", "--month", "2026-11", "--by", "business-unit", "--format", "json"])
        .env_remove("CHARGEBACK_FINGERPRINT_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let on_the_command_line: std::collections::BTreeMap<String, u64> = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["key"].as_str().unwrap().to_owned(), l["total_tokens"].as_u64().unwrap()))
        .collect();

    roll_up(&api, "2026-11").await;
    let in_the_statement = statement_units(&api.get_json("/api/chargeback/2026-11").await);

    let expected: std::collections::BTreeMap<String, u64> =
        [("finance".to_owned(), 1800), ("hr".to_owned(), 2340)].into();
    assert_eq!(over_api, expected, "sub-b is hr since the edit, not retail as the seed file says");
    assert_eq!(on_the_command_line, expected);
    assert_eq!(in_the_statement, expected);
}

#[tokio::test]
async fn an_unpriced_model_is_never_an_amount_in_the_api_or_its_report_files() {
    let api = spawn_api().await;
    let at = "2026-11-26T11:05:00Z";
    let mut llama = record("u1", "sub-a", at, 200, None, (1000, 100));
    llama["model"] = json!("llama-3.3-70b");
    llama["deployment"] = json!("oss");
    let mut priced = record("u2", "sub-a", at, 200, None, (2000, 200));
    priced["deployment"] = json!("chat-global");
    let mut own_unit = record("u3", "sub-c", at, 200, None, (300, 30));
    own_unit["model"] = json!("llama-3.3-70b");
    own_unit["deployment"] = json!("oss");
    api.ingest(&[llama, priced, own_unit]).await;
    let map = json!({"application": "lab", "business_unit": "research"});
    assert_eq!(api.call(Method::PUT, "/api/admin/applications/sub-c", Some(map)).await.status(), 201);
    roll_up(&api, "2026-11").await;

    let chargeback = api.get_json("/api/chargeback/2026-11").await;
    let lines = chargeback["lines"].as_array().unwrap();
    let unpriced: Vec<&Value> = lines.iter().filter(|l| l["model"] == "llama-3.3-70b").collect();
    assert_eq!(unpriced.len(), 2, "{chargeback}");
    assert!(unpriced.iter().all(|l| l["cost"].is_null()), "{chargeback}");
    assert_eq!(chargeback["unpricedLines"], 2);

    let csv = api.call(Method::GET, "/api/chargeback/2026-11?format=csv", None).await.text().await.unwrap();
    let llama_rows: Vec<&str> = csv.lines().filter(|l| l.contains("llama-3.3-70b")).collect();
    assert_eq!(llama_rows.len(), 2, "{csv}");
    assert!(llama_rows.iter().all(|r| r.contains(",unpriced,") && !r.contains("0.00")), "{csv}");

    let report = api.get_json("/api/chargeback/2026-11/chargeback.json").await;
    let research = report["business_units"].as_array().unwrap().iter().find(|b| b["business_unit"] == "research");
    assert_eq!(research.unwrap()["cost"], Value::Null, "a unit with no priced usage has no cost: {report}");
    let day = report["daily"].as_array().unwrap().iter().find(|d| d["day"] == "2026-11-26").unwrap();
    assert_eq!(day["unpriced_tokens"], 1430);
    let daily = api.call(Method::GET, "/api/chargeback/2026-11/daily.csv", None).await.text().await.unwrap();
    assert!(daily.lines().any(|l| l.starts_with("2026-11-26,") && l.ends_with(",USD,1430")), "{daily}");
    let html = api.call(Method::GET, "/api/chargeback/2026-11/chargeback.html", None).await.text().await.unwrap();
    let rows = html.split("<tr").skip(1).filter_map(|r| r.split("</tr>").next());
    for row in rows.filter(|r| r.contains("llama-3.3-70b") || r.contains("research")) {
        assert!(!row.contains("$0.00"), "an unpriced row shows no amount: {row}");
    }
}
