//! The price sync against a local stand-in for the Retail Prices API
//! ([`replay`]): paging, currency and region filters, 1K/1M units, a price
//! change, idempotent re-syncs, failures that change nothing, and the CLI and
//! the `prices-sync` timer running the same service.

mod replay;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chargeback::billing::PriceSource;
use chargeback::billing::synced::{self, SyncedPrice};
use chargeback::domain::{DeploymentType, ServiceTier, TokenKind as MeterKind};
use chargeback::prices::client::{Query, RetryPolicy};
use chargeback::prices::report::SyncReport;
use chargeback::prices::service::{
    Destination, PriceSync, PriceSyncConfig, SyncError, catalogue_document, report_document,
};
use chrono::NaiveDate;
use replay::{Failure, ReplayApi};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::helpers::*;

const FAST: RetryPolicy =
    RetryPolicy { attempts: 3, first_delay: Duration::from_millis(10), max_delay: Duration::from_millis(40) };

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn query(currency: &str, regions: &[&str]) -> Query {
    Query::new(currency, &regions.iter().map(|r| r.to_string()).collect::<Vec<_>>()).unwrap()
}

fn sync(api: &ReplayApi) -> PriceSync {
    let mut config = PriceSyncConfig::new(&api.endpoint, "USD");
    config.retry = FAST;
    let nowhere = Destination::File(std::env::temp_dir().join("not-used.csv"));
    PriceSync::new(config, nowhere, PriceSource::default()).unwrap()
}

async fn sync_to_file(api: &ReplayApi, q: &Query, file: &Path, today: &str) -> Result<SyncReport, SyncError> {
    sync(api).sync_into(q, &Destination::File(file.to_path_buf()), day(today)).await
}

/// The stand-in API and where a catalogue named `name` goes, in a temporary
/// folder of its own (kept while the folder is).
async fn api_and_catalogue(name: &str) -> (ReplayApi, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    (ReplayApi::start().await, dir, file)
}

/// The catalogue as synced on 1 November (its bytes, returned), after which
/// the API raises gpt-4.1's global input price from the 16th.
async fn synced_then_raised_mid_month(api: &ReplayApi, q: &Query, file: &Path) -> Vec<u8> {
    sync_to_file(api, q, file, "2026-11-01").await.unwrap();
    let before = std::fs::read(file).unwrap();
    api.change_price("gpt 4.1 Inp glbl Tokens", "0.0022", "2026-11-16");
    before
}

fn lines(file: &Path) -> Vec<SyncedPrice> {
    synced::parse(&std::fs::read_to_string(file).unwrap(), "t").unwrap()
}

fn find<'a>(lines: &'a [SyncedPrice], model: &str, kind: MeterKind, tier: ServiceTier) -> Vec<&'a SyncedPrice> {
    lines.iter().filter(|l| l.model == model && l.kind == kind && l.tier == tier).collect()
}

#[tokio::test]
async fn a_sync_follows_every_page_with_the_filter_currency_and_regions_asked_for() {
    let (api, _dir, file) = api_and_catalogue("prices.csv").await;
    let report = sync_to_file(&api, &query("USD", &["eastus2"]), &file, "2026-11-20").await.unwrap();

    // 24 meters in eastus2, 7 a page.
    assert_eq!((report.items, report.pages), (24, 4));
    let requests = api.requests();
    assert_eq!(requests.len(), 4);
    let first = &requests[0];
    assert_eq!(first["api-version"], "2023-01-01-preview");
    assert_eq!(first["currencyCode"], "'USD'");
    assert_eq!(
        first["$filter"],
        "serviceName eq 'Foundry Models' and startswith(productName, 'Azure OpenAI') and priceType eq 'Consumption' and (armRegionName eq 'eastus2')"
    );
    assert_eq!(requests[3]["$skip"], "21", "the last page came from NextPageLink");

    assert_eq!(report.added.len(), 21, "{}", report.to_text());
    let got = lines(&file);
    assert_eq!(got.len(), 21);
    assert!(
        got.iter().all(|l| l.currency.as_str() == "USD" && l.read_on == day("2026-11-20") && !l.meter_id.is_empty())
    );
    // Per-1K meters become per 1M; global lines carry no region, data-zone lines theirs.
    let mini = find(&got, "gpt-4o-mini", MeterKind::Input, ServiceTier::Default);
    assert_eq!((mini[0].price, mini[0].region.as_str(), mini[0].version.as_str()), (d("0.15"), "", "0718"));
    assert_eq!(find(&got, "gpt-4o-mini", MeterKind::Input, ServiceTier::Batch)[0].price, d("0.075"));
    assert_eq!(find(&got, "gpt-4o-mini", MeterKind::CachedInput, ServiceTier::Default)[0].price, d("0.075"));
    let o3_mini = find(&got, "o3-mini", MeterKind::Input, ServiceTier::Default);
    assert_eq!(
        (o3_mini[0].price, o3_mini[0].deployment_type, o3_mini[0].region.as_str()),
        (d("1.21"), DeploymentType::DataZone, "eastus2")
    );
    assert_eq!(find(&got, "gpt-5-pro", MeterKind::Output, ServiceTier::Default)[0].price, d("120"));
    assert_eq!(find(&got, "gpt-5-mini", MeterKind::Input, ServiceTier::Default)[0].price, d("0.25"));
    assert_eq!(find(&got, "gpt-5.4-mini", MeterKind::Input, ServiceTier::Priority)[0].price, d("1.5"));
    assert_eq!(find(&got, "gpt-6-sol", MeterKind::CacheWrite, ServiceTier::Default)[0].price, d("2.5"));
    let ptu: Vec<_> =
        got.iter().filter(|l| l.kind == MeterKind::ProvisionedUnit).map(|l| (l.deployment_type, l.price)).collect();
    assert_eq!(ptu, [(DeploymentType::Global, d("1")), (DeploymentType::DataZone, d("1.1"))]);
    // Every line names its meter and a URL answering it.
    let source = &mini[0].source;
    assert!(source.starts_with(&api.endpoint) && source.contains(&mini[0].meter_id), "{source}");

    // What it could not read is listed with its ids, never guessed.
    let unparsed: Vec<&str> = report.unparsed.iter().map(|n| n.meter_name.as_str()).collect();
    assert_eq!(unparsed, ["54 mini Inp Flex Gl 1M Tokens", "Az-Text-Embedding-3-Large Tokens"]);
    assert!(report.unparsed.iter().all(|n| n.meter_ids.len() == 1 && n.regions == ["eastus2"]));
    assert_eq!(report.skipped.len(), 1, "the long-context band");
    let text = report.to_text();
    assert!(
        text.contains("Unparsed meters") && text.contains("54 mini Inp Flex Gl") && text.contains("written to"),
        "{text}"
    );
}

#[tokio::test]
async fn both_regions_give_per_region_data_zone_lines_and_one_global_line() {
    let (api, _dir, file) = api_and_catalogue("prices.csv").await;
    let report = sync_to_file(&api, &query("USD", &["swedencentral", "eastus2"]), &file, "2026-11-20").await.unwrap();
    assert_eq!((report.items, report.pages), (48, 7));
    let got = lines(&file);
    let o3_mini: Vec<_> = find(&got, "o3-mini", MeterKind::Input, ServiceTier::Default)
        .iter()
        .map(|l| (l.region.as_str(), l.price))
        .collect();
    assert_eq!(o3_mini, [("eastus2", d("1.21")), ("swedencentral", d("1.25"))]);
    assert_eq!(find(&got, "gpt-4.1", MeterKind::Input, ServiceTier::Default).len(), 1, "global: one line");
    assert_eq!(got.len(), 26);
}

#[tokio::test]
async fn another_currency_is_asked_for_and_kept() {
    let (api, _dir, file) = api_and_catalogue("prices-eur.csv").await;
    sync_to_file(&api, &query("eur", &["eastus2"]), &file, "2026-11-20").await.unwrap();
    assert_eq!(api.requests()[0]["currencyCode"], "'EUR'");
    let got = lines(&file);
    assert!(got.iter().all(|l| l.currency.as_str() == "EUR"));
    assert_eq!(find(&got, "gpt-4o-mini", MeterKind::Input, ServiceTier::Default)[0].price, d("0.138"));
    // One catalogue, one currency: USD prices are not mixed into it.
    let before = std::fs::read(&file).unwrap();
    let error = sync_to_file(&api, &query("USD", &["eastus2"]), &file, "2026-11-21").await.unwrap_err();
    assert!(error.to_string().contains("holds EUR prices; a sync in USD needs its own catalogue"), "{error}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[tokio::test]
async fn a_sync_that_sees_nothing_new_changes_nothing_byte_for_byte() {
    let (api, _dir, file) = api_and_catalogue("prices.csv").await;
    let q = query("USD", &["eastus2"]);
    sync_to_file(&api, &q, &file, "2026-11-20").await.unwrap();
    let before = std::fs::read(&file).unwrap();
    let again = sync_to_file(&api, &q, &file, "2026-11-27").await.unwrap();
    assert_eq!((again.added.len(), again.unchanged, again.written.clone()), (0, 21, None));
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert!(again.to_text().contains("nothing new, the catalogue is untouched"));
}

#[tokio::test]
async fn a_mid_month_price_change_is_a_new_line_and_the_old_line_stays() {
    let (api, _dir, file) = api_and_catalogue("prices.csv").await;
    let q = query("USD", &["eastus2"]);
    let before = String::from_utf8(synced_then_raised_mid_month(&api, &q, &file).await).unwrap();
    let report = sync_to_file(&api, &q, &file, "2026-11-20").await.unwrap();
    assert_eq!(report.added.len(), 1);
    assert_eq!(report.added[0].previous, Some(d("2")));
    let after = std::fs::read_to_string(&file).unwrap();
    for line in before.lines() {
        assert!(after.contains(line), "a line in force was edited: {line}");
    }
    let got = lines(&file);
    let history: Vec<_> = find(&got, "gpt-4.1", MeterKind::Input, ServiceTier::Default)
        .iter()
        .map(|l| (l.effective_from, l.price, l.read_on))
        .collect();
    assert_eq!(
        history,
        [(day("2025-04-14"), d("2"), day("2026-11-01")), (day("2026-11-16"), d("2.2"), day("2026-11-20"))]
    );
}

#[tokio::test]
async fn a_429_and_a_503_are_retried_then_the_sync_goes_on() {
    let (api, _dir, file) = api_and_catalogue("prices.csv").await;
    api.fail(0, Failure::Status(429));
    api.fail(2, Failure::Status(503));
    let report = sync_to_file(&api, &query("USD", &["eastus2"]), &file, "2026-11-20").await.unwrap();
    assert_eq!((report.pages, report.added.len()), (4, 21));
    assert_eq!(api.requests().len(), 6, "two retried requests");
}

#[tokio::test]
async fn an_api_that_keeps_failing_fails_the_sync_clearly_and_changes_nothing() {
    let (api, _dir, file) = api_and_catalogue("prices.csv").await;
    let q = query("USD", &["eastus2"]);
    let before = synced_then_raised_mid_month(&api, &q, &file).await;
    for status in [429, 503, 500] {
        // Page 2 fails on every attempt.
        for n in 1..=3 {
            api.fail(n, Failure::Status(status));
        }
        let error = sync_to_file(&api, &q, &file, "2026-11-20").await.unwrap_err();
        let message = format!("{:#}", anyhow::Error::from(error));
        assert!(
            message.contains("the catalogue is unchanged")
                && message.contains(&status.to_string())
                && message.contains("3 attempt"),
            "{message}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), before, "{status}: nothing written");
    }
}

#[tokio::test]
async fn a_truncated_or_non_json_page_fails_the_sync_atomically() {
    let (api, dir, file) = api_and_catalogue("prices.csv").await;
    let q = query("USD", &["eastus2"]);
    let before = synced_then_raised_mid_month(&api, &q, &file).await;
    for (failure, expected) in [(Failure::Truncated, "page 3"), (Failure::NotJson, "page 3")] {
        api.fail(2, failure);
        let error = sync_to_file(&api, &q, &file, "2026-11-20").await.unwrap_err();
        let message = format!("{:#}", anyhow::Error::from(error));
        assert!(message.contains(expected) && message.contains("is not a Retail Prices answer"), "{message}");
        assert_eq!(std::fs::read(&file).unwrap(), before, "the catalogue is untouched");
    }
    // A first sync that fails writes no file at all.
    let fresh = dir.path().join("fresh.csv");
    api.fail(0, Failure::NotJson);
    assert!(sync_to_file(&api, &q, &fresh, "2026-11-20").await.is_err());
    assert!(!fresh.exists());
}

#[tokio::test]
async fn a_thousandfold_or_negative_price_is_rejected_by_the_unit_guard() {
    let (api, _dir, file) = api_and_catalogue("prices.csv").await;
    let q = query("USD", &["eastus2"]);
    sync_to_file(&api, &q, &file, "2026-11-01").await.unwrap();
    // 8 per 1K is the per-1M figure in a per-1K meter: 8000 per 1M.
    api.change_price("gpt 4.1 Outp glbl Tokens", "8", "2026-11-16");
    api.change_price("gpt 4.1 cached Inp glbl Tokens", "-0.0005", "2026-11-16");
    let report = sync_to_file(&api, &q, &file, "2026-11-20").await.unwrap();
    assert!(report.added.is_empty(), "{}", report.to_text());
    let reasons: Vec<&str> = report.rejected.iter().map(|n| n.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("more than 300 times the price it follows")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("not above zero")), "{reasons:?}");
    assert_eq!(find(&lines(&file), "gpt-4.1", MeterKind::Output, ServiceTier::Default)[0].price, d("8"));
}

#[tokio::test]
async fn a_file_that_is_not_a_synced_catalogue_is_never_overwritten() {
    let (api, _dir, file) = api_and_catalogue("my-prices.csv").await;
    let mine =
        "model,deployment_type,effective_from,currency,input_per_1m,cached_input_per_1m,output_per_1m,source,read_on\n";
    std::fs::write(&file, mine).unwrap();
    let error = sync_to_file(&api, &query("USD", &["eastus2"]), &file, "2026-11-20").await.unwrap_err();
    assert!(error.to_string().contains("is not a synced price catalogue"), "{error}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), mine);
    assert!(api.requests().is_empty(), "nothing was asked before the destination was checked");
}

/// The host's body for a timer tick, built from the function's `function.json`.
fn timer_invocation(function: &str) -> Value {
    let trigger = binding(function, "timerTrigger");
    let name = trigger["name"].as_str().unwrap();
    json!({
        "Data": { name: {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false} },
        "Metadata": { "sys": {"MethodName": function, "UtcNow": "2026-11-23T04:30:00Z"} }
    })
}

#[test]
fn the_timer_runs_weekly_never_on_startup_with_a_bounded_retry() {
    let trigger = binding("prices-sync", "timerTrigger");
    assert_eq!(trigger["schedule"], "0 30 4 * * 1", "Mondays 04:30 UTC");
    assert_eq!(trigger["runOnStartup"], false);
    let retry = &function_json("prices-sync")["retry"];
    assert!(retry["maxRetryCount"].as_u64().is_some_and(|n| n <= 3), "bounded retry: {retry}");
    assert!(chargeback::functions::FUNCTIONS.contains(&"prices-sync"));
}

#[tokio::test]
async fn the_timer_function_keeps_the_catalogue_in_the_report_store_and_reports_the_sync() {
    let api = ReplayApi::start().await;
    let data = tempfile::tempdir().unwrap();
    // Posted as the host posts it: under the host, which checks the keys.
    let mut s = host_settings(data.path());
    s.price_sync.endpoint = Some(api.endpoint.clone());
    s.price_sync.regions = vec!["eastus2".into()];
    let app = chargeback::startup::Application::build(&s, 0).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let invoke = |body: Value| {
        let client = client.clone();
        let url = format!("{address}/prices-sync");
        async move { client.post(url).json(&body).send().await.unwrap() }
    };

    let response = invoke(timer_invocation("prices-sync")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["ReturnValue"]["added"].as_array().unwrap().len(), 21, "{body}");
    assert!(body["Logs"][0].as_str().unwrap().contains("21 new line(s)"), "{body}");

    let stores = chargeback::startup::stores(&s).await.unwrap();
    let tenant = &s.tenant;
    let stored = stores.reports.get(&catalogue_document(tenant)).await.unwrap().unwrap();
    assert_eq!(synced::parse(&String::from_utf8(stored.body.clone()).unwrap(), "store").unwrap().len(), 21);
    let last: Value =
        serde_json::from_slice(&stores.reports.get(&report_document(tenant)).await.unwrap().unwrap().body).unwrap();
    assert_eq!(last["unparsed"].as_array().unwrap().len(), 2);

    // Again: nothing new, the document untouched.
    let body: Value = invoke(timer_invocation("prices-sync")).await.json().await.unwrap();
    assert_eq!((body["ReturnValue"]["unchanged"].as_u64(), body["ReturnValue"]["written"].is_null()), (Some(21), true));
    let again = stores.reports.get(&catalogue_document(tenant)).await.unwrap().unwrap();
    assert_eq!((again.body, again.etag), (stored.body.clone(), stored.etag.clone()));

    // A page that is not JSON: a 5xx (the host retries; the causes are logged), the document untouched.
    api.change_price("gpt 4.1 Inp glbl Tokens", "0.0022", "2026-11-16");
    api.fail(1, Failure::NotJson);
    let response = invoke(timer_invocation("prices-sync")).await;
    assert_eq!(response.status(), 500);
    assert_eq!(stores.reports.get(&catalogue_document(tenant)).await.unwrap().unwrap().etag, stored.etag);

    let response = invoke(json!({"Data": {}, "Metadata": {}})).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_cli_syncs_into_a_file_with_the_same_service() {
    let api = ReplayApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prices.csv");
    let mapping = dir.path().join("meters.csv");
    std::fs::write(&mapping, "meter,model,deployment_type,token_kind,service_tier\n54 mini Inp Flex Gl 1M Tokens,gpt-5.4-mini,global,input,flex\n").unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_chargeback"));
    cmd.arg("--data-dir").arg(dir.path().join("data")).args([
        "prices",
        "sync",
        "--endpoint",
        &api.endpoint,
        "--region",
        "eastus2",
        "--out",
    ]);
    cmd.arg(&out)
        .arg("--mapping")
        .arg(&mapping)
        .env_remove("CHARGEBACK_PRICES")
        .env_remove("CHARGEBACK_PRICES_REGIONS");
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("22 new line(s)") && stdout.contains(&format!("written to {}", out.display())), "{stdout}");
    let got = lines(&out);
    assert_eq!(
        find(&got, "gpt-5.4-mini", MeterKind::Input, ServiceTier::Flex)[0].price,
        d("0.375"),
        "the mapping file's meter"
    );
}

/// `chargeback` with a data folder, none of the developer's price settings, and `envs`.
fn chargeback_cli(data: &Path, envs: &[(&str, &Path)], args: &[&str]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_chargeback"));
    cmd.arg("--data-dir").arg(data).args(args);
    for name in ["CHARGEBACK_PRICES", "CHARGEBACK_PRICES_REGIONS", "CHARGEBACK_DEPLOYMENTS", "CHARGEBACK_APPLICATIONS"]
    {
        cmd.env_remove(name);
    }
    cmd.env_remove("CHARGEBACK_FINGERPRINT_SECRET").env_remove("RUST_LOG");
    for (name, value) in envs {
        cmd.env(name, value);
    }
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{args:?}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// A v1 record on `deployment` of November 2026.
fn november_record(
    id: &str,
    day: u32,
    deployment: &str,
    model: &str,
    prompt: u64,
    cached: u64,
    completion: u64,
) -> String {
    json!({"schema": "usage.v1", "id": id, "timestamp": format!("2026-11-{day:02}T10:15:00Z"), "subscription_id": "sub-a",
           "deployment": deployment, "model": model, "status": 200, "streamed": false,
           "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                     "prompt_tokens_details": {"cached_tokens": cached}}})
    .to_string()
}

// Two workers: the CLI runs blocking on one while the replay server answers on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_is_priced_to_the_cent_from_the_synced_catalogue_a_mid_month_change_and_each_region() {
    use rust_decimal::RoundingStrategy;
    let api = ReplayApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("prices.csv"));
    let sync_args = ["prices", "sync", "--endpoint", &api.endpoint, "--region", "eastus2", "--region", "swedencentral"];
    let sync = |data: &Path, out: &Path| {
        let mut args = sync_args.to_vec();
        args.extend(["--out", out.to_str().unwrap()]);
        chargeback_cli(data, &[], &args)
    };
    // The catalogue before and after Microsoft raises gpt-4.1's input price on 16 November.
    sync(&data, &out);
    api.change_price("gpt 4.1 Inp glbl Tokens", "0.0022", "2026-11-16");
    let second = sync(&data, &out);
    assert!(second.contains("1 new line(s)"), "{second}");

    let deployments = dir.path().join("deployments.csv");
    std::fs::write(
        &deployments,
        "deployment,model,deployment_type,region\n\
         gpt41,gpt-4.1,global,\n\
         o3-se,o3-mini,data-zone,swedencentral\n\
         o3-us,o3-mini,data-zone,eastus2\n\
         o3-somewhere,o3-mini,data-zone,\n",
    )
    .unwrap();
    let (p, c, o) = (1_234_567u64, 234_567u64, 345_678u64);
    let records = [
        november_record("a", 10, "gpt41", "gpt-4.1-2025-04-14", p, c, o),
        november_record("b", 20, "gpt41", "gpt-4.1-2025-04-14", p, c, o),
        november_record("c", 12, "o3-se", "o3-mini-2025-01-31", p, 0, o),
        november_record("d", 12, "o3-us", "o3-mini-2025-01-31", p, 0, o),
        november_record("e", 12, "o3-somewhere", "o3-mini-2025-01-31", p, 0, o),
    ];
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, records.join("\n")).unwrap();
    let envs: [(&str, &Path); 2] = [("CHARGEBACK_PRICES", &out), ("CHARGEBACK_DEPLOYMENTS", &deployments)];
    chargeback_cli(&data, &envs, &["ingest", file.to_str().unwrap()]);
    let reports = dir.path().join("reports");
    chargeback_cli(
        &data,
        &envs,
        &["report", "--month", "2026-11", "--rollup", "--format", "json", "--out", reports.to_str().unwrap()],
    );
    let statement: Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("chargeback.json")).unwrap()).unwrap();
    let cost = |deployment: &str| -> Option<Decimal> {
        let line = statement["lines"].as_array().unwrap().iter().find(|l| l["deployment"] == deployment).unwrap();
        line["cost"].as_str().map(|c| c.parse().unwrap())
    };
    // Independently, per 1M: the synced meters (per 1K in the API) times 1000.
    let at = |tokens: u64, per_1m: &str| Decimal::from(tokens) * d(per_1m) / Decimal::from(1_000_000);
    let cents = |x: Decimal| x.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    let gpt41 = (at(p - c, "2") + at(c, "0.5") + at(o, "8")) + (at(p - c, "2.2") + at(c, "0.5") + at(o, "8"));
    assert_eq!(cost("gpt41"), Some(cents(gpt41)), "the old price before the 16th, the new one from it");
    assert_eq!(cost("o3-se"), Some(cents(at(p, "1.25") + at(o, "5"))), "Sweden Central's data-zone price");
    assert_eq!(cost("o3-us"), Some(cents(at(p, "1.21") + at(o, "4.84"))), "East US 2's data-zone price");
    // A data-zone deployment without a region: unpriced with the reason, never a neighbour's price, never zero.
    assert_eq!(cost("o3-somewhere"), None);
    let note =
        statement["lines"].as_array().unwrap().iter().find(|l| l["deployment"] == "o3-somewhere").unwrap()["note"]
            .as_str()
            .unwrap()
            .to_owned();
    assert!(note.contains("priced by region") && note.contains("region in the deployment file"), "{note}");
    let total: Decimal = statement["total"].as_str().unwrap().parse().unwrap();
    assert_eq!(total, cost("gpt41").unwrap() + cost("o3-se").unwrap() + cost("o3-us").unwrap());
    let used = statement["prices_used"].as_array().unwrap();
    assert!(
        used.iter().any(|u| u["model"] == "gpt-4.1" && u["kind"] == "input" && u["effective_from"] == "2026-11-16"),
        "{used:?}"
    );
    assert!(used.iter().all(|u| !u["meter_id"].as_str().unwrap().is_empty()), "every synced price names its meter");
}
