//! The monthly rollup through the Functions path: the start function's
//! queue outputs are carried by a real queue (SQL on the embedded backend,
//! Azurite on Azure) to `rollup-chunk` invocations, whose `finish` output is
//! carried to `rollup-finish`, exactly as the host would; the invocations are
//! built from our own `function.json` files. And the rollup's guarantees:
//! totals reconcile with the ledger, retries and re-runs change nothing, two
//! starts run once, two handler processes share one rollup.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chargeback::config::{LedgerBackend, Secret, StorageSettings};
use chargeback::domain::{Period, Tenant, TokenSource, TokenTotals, UsageAggregate, UsageRecord};
use chargeback::rollup::{ChunkState, RollupInstance, Rollups, RuntimeStatus, Started, local, report_name};
use chargeback::startup::{Application, Services, Stores, services_over};
use chargeback::storage::azure::StorageAccount;
use chargeback::storage::embedded::SqliteLedger;
use chargeback::storage::{
    AppendOutcome, CapacityCell, Ledger, LedgerEntry, LedgerPartition, LedgerRange, StorageError,
};
use chrono::{Datelike, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::contract::subjects::unique_name;
use crate::helpers::{binding, eventhub_invocation, function_json, host_settings, service_env, settings};
use crate::host_queues::{SqlQueue, StorageQueue, WorkQueue};

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The month the tests roll up: the one before this one, as the timer does.
fn last_month() -> Period {
    Period::of(Utc::now().date_naive()).previous()
}

/// A v1 record of `party` on day `day` of `period`.
fn record(id: &str, party: &str, period: Period, day: u32, model: &str, prompt: u64, completion: u64) -> String {
    let date = NaiveDate::from_ymd_opt(period.year(), period.month(), day).unwrap();
    json!({"schema": "usage.v1", "id": id, "timestamp": format!("{date}T10:15:00Z"), "subscription_id": party,
           "deployment": format!("{model}-prod"), "model": model, "status": 200, "streamed": false,
           "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                     "prompt_tokens_details": {"cached_tokens": prompt / 4},
                     "completion_tokens_details": {"reasoning_tokens": completion / 5}}})
    .to_string()
}

/// Records of five parties over six days and two models.
fn month_of_records(period: Period, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    for party in 0..5u64 {
        for day in 1..=6u32 {
            for n in 0..4u64 {
                let model = if n % 2 == 0 { "gpt-4o" } else { "gpt-4o-mini" };
                let id = format!("{tag}-{party}-{day}-{n}");
                out.push(record(&id, &format!("sub-{party}"), period, day, model, 100 + party * 7 + n, 20 + n));
            }
        }
    }
    out
}

/// A handler the test talks to as the host does.
struct Handler {
    address: String,
    client: reqwest::Client,
}

impl Handler {
    async fn invoke(&self, function: &str, body: &Value) -> (u16, Value) {
        let response = self.client.post(format!("{}/{function}", self.address)).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn ingest(&self, bodies: &[String], first_sequence: i64) {
        for (i, batch) in bodies.chunks(100).enumerate() {
            let invocation = eventhub_invocation("ingest-usage", batch, "0", first_sequence + i as i64 * 100);
            let (status, body) = self.invoke("ingest-usage", &invocation).await;
            assert_eq!(status, 200, "{body}");
        }
    }

    /// POSTs the wrapped HTTP request the host sends to `rollup-start` or `rollup-rerun`.
    async fn http(&self, function: &str, period: &str) -> (u16, Value, Value) {
        let trigger = binding(function, "httpTrigger");
        let route = trigger["route"].as_str().unwrap().replace("{period}", period);
        let method = trigger["methods"][0].as_str().unwrap().to_uppercase();
        let request = json!({
            "Url": format!("https://contoso-chargeback.azurewebsites.net/api/{route}"),
            "Method": method,
            "Query": {},
            "Headers": {"Content-Type": ["application/json"], "x-functions-key": ["redacted-by-host"]},
            "Params": {"period": period},
            "Identities": [],
            "Body": "",
        });
        let name = trigger["name"].as_str().unwrap();
        let (status, body) = self.invoke(function, &json!({"Data": {name: request}, "Metadata": {}})).await;
        assert_eq!(status, 200, "{body}");
        let res_name = binding(function, "http")["name"].as_str().unwrap().to_owned();
        let res = body["Outputs"][&res_name].clone();
        let code: u16 = res["statusCode"].as_str().unwrap().parse().unwrap();
        let content: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
        (code, content, body["Outputs"].clone())
    }
}

/// The queue output bindings of a function: binding name → queue name.
fn queue_outputs(function: &str) -> Vec<(String, String)> {
    function_json(function)["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "queue" && b["direction"] == "out")
        .map(|b| (b["name"].as_str().unwrap().to_owned(), b["queueName"].as_str().unwrap().to_owned()))
        .collect()
}

/// The host's side of the queues: one real queue per queue name.
struct HostQueues {
    chunks: Arc<dyn WorkQueue>,
    finish: Arc<dyn WorkQueue>,
}

impl HostQueues {
    fn queue(&self, name: &str) -> &Arc<dyn WorkQueue> {
        match name {
            "rollup-chunks" => &self.chunks,
            "rollup-finish" => &self.finish,
            other => panic!("no queue {other} in this app"),
        }
    }

    /// Sends a function's queue outputs as the host does: one message per array element.
    async fn send_outputs(&self, function: &str, outputs: &Value) {
        for (binding_name, queue_name) in queue_outputs(function) {
            if let Some(items) = outputs[&binding_name].as_array() {
                for item in items {
                    self.queue(&queue_name).send(&item.to_string()).await.unwrap();
                }
            }
        }
    }

    /// Delivers messages of `queue_name` to `function` on the handlers (one
    /// worker each) until the queue stays empty; returns failed deliveries.
    async fn drain(&self, queue_name: &str, function: &str, handlers: &[&Handler]) -> u32 {
        let trigger = binding(function, "queueTrigger");
        assert_eq!(trigger["queueName"], queue_name);
        let name = trigger["name"].as_str().unwrap().to_owned();
        let failures = AtomicU32::new(0);
        let workers = handlers.iter().map(|h| self.deliver(queue_name, function, &name, h, &failures));
        futures::future::join_all(workers).await;
        failures.load(Ordering::Relaxed)
    }

    async fn deliver(
        &self,
        queue_name: &str,
        function: &str,
        binding_name: &str,
        handler: &Handler,
        failures: &AtomicU32,
    ) {
        let queue = self.queue(queue_name);
        let mut idle = 0;
        while idle < 20 {
            let items = queue.receive(2, Duration::from_secs(1)).await.unwrap();
            if items.is_empty() {
                idle += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            idle = 0;
            for item in items {
                // A queue message arrives as a JSON-encoded string, its metadata beside it.
                let invocation = json!({
                    "Data": {binding_name: serde_json::to_string(&item.body).unwrap()},
                    "Metadata": {"DequeueCount": item.dequeue_count, "Id": item.id,
                                 "sys": {"MethodName": function, "UtcNow": Utc::now().to_rfc3339()}}
                });
                let (status, body) = handler.invoke(function, &invocation).await;
                if status == 200 {
                    self.send_outputs(function, &body["Outputs"]).await;
                    queue.delete(&item).await.unwrap();
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Runs the chunk queue, then the finish queue, to the end.
    async fn run(&self, handlers: &[&Handler]) -> u32 {
        let failures = self.drain("rollup-chunks", "rollup-chunk", handlers).await;
        failures + self.drain("rollup-finish", "rollup-finish", handlers).await
    }
}

/// The sum of the ledger for a period, straight from the ledger.
async fn ledger_sums(ledger: &dyn Ledger, tenant: &Tenant, period: Period) -> TokenTotals {
    let range = LedgerRange {
        tenant: tenant.clone(),
        from: period.first_day().and_hms_opt(0, 0, 0).unwrap().and_utc(),
        to: period.next_first_day().and_hms_opt(0, 0, 0).unwrap().and_utc(),
    };
    ledger.usage_cells(&range).await.unwrap().iter().map(|c| c.tokens).sum()
}

fn aggregate_sums(rows: &[UsageAggregate]) -> TokenTotals {
    rows.iter().map(|r| r.tokens).sum()
}

async fn month_aggregates(stores: &Stores, rollups: &Rollups, tenant: &Tenant, period: Period) -> Vec<UsageAggregate> {
    let instance = rollups.status(tenant, period).await.unwrap().unwrap();
    let plan = rollups.plan(&instance).await.unwrap();
    let partitions: Vec<LedgerPartition> =
        plan.iter().map(|c| LedgerPartition { tenant: tenant.clone(), day: c.day, party: c.party.clone() }).collect();
    stores.rollup.aggregates(tenant, &partitions).await.unwrap()
}

async fn embedded_handler() -> (Handler, tempfile::TempDir, chargeback::config::Settings) {
    let dir = tempfile::tempdir().unwrap();
    let config = host_settings(dir.path());
    let app = Application::build(&config, 0).await.unwrap();
    let handler = Handler { address: format!("http://127.0.0.1:{}", app.port()), client: reqwest::Client::new() };
    tokio::spawn(app.run_until_stopped());
    (handler, dir, config)
}

#[tokio::test]
async fn the_http_start_fans_out_through_the_queue_and_reconciles_with_the_ledger() {
    let (handler, dir, config) = embedded_handler().await;
    let period = last_month();
    handler.ingest(&month_of_records(period, "a"), 0).await;

    let (code, status, outputs) = handler.http("rollup-start", &period.to_string()).await;
    assert_eq!(code, 202, "{status}");
    assert_eq!(status["runtimeStatus"], "Pending");
    assert_eq!(status["chunks"]["total"], 30, "five parties × six days");
    assert_eq!(status["statusQueryGetUri"], format!("/api/rollups/{period}"));
    assert_eq!(outputs["chunks"].as_array().unwrap().len(), 30);

    // The host's queue: a SQL queue in the handler's own database file.
    let pool = SqliteLedger::open(&dir.path().join("ledger.sqlite")).await.unwrap().pool().clone();
    let queues = HostQueues {
        chunks: Arc::new(SqlQueue::new(pool.clone(), "host-rollup-chunks", 5)),
        finish: Arc::new(SqlQueue::new(pool, "host-rollup-finish", 5)),
    };
    queues.send_outputs("rollup-start", &outputs).await;
    assert_eq!(queues.run(&[&handler]).await, 0, "no delivery failed");

    let stores = chargeback::startup::stores(&config).await.unwrap();
    let rollups = services_over(&config, &stores).unwrap().rollups;
    let tenant = Tenant::default_tenant();
    let instance = rollups.status(&tenant, period).await.unwrap().unwrap();
    assert_eq!(instance.status, RuntimeStatus::Completed, "{:?}", instance.status_view());
    assert_eq!(instance.count(ChunkState::Done), 30);
    let aggregates = month_aggregates(&stores, &rollups, &tenant, period).await;
    assert_eq!(aggregate_sums(&aggregates), ledger_sums(stores.ledger.as_ref(), &tenant, period).await);
    assert_eq!(aggregate_sums(&aggregates).requests, 120);

    // A second start while nothing runs makes run 2; a start during a run is refused with 409.
    let (code, status, _) = handler.http("rollup-start", &period.to_string()).await;
    assert_eq!((code, status["run"].as_u64()), (202, Some(2)));
    let (code, problem, outputs) = handler.http("rollup-start", &period.to_string()).await;
    assert_eq!(code, 409, "{problem}");
    assert_eq!(problem["status"], 409);
    assert!(outputs.get("chunks").is_none(), "a refused start sends nothing");
}

#[tokio::test]
async fn a_bad_month_gets_a_problem_and_sends_nothing() {
    let (handler, _dir, _config) = embedded_handler().await;
    for bad in ["2026-13", "last-month", "2026-10'; DROP TABLE ledger; --"] {
        let (code, problem, outputs) = handler.http("rollup-start", bad).await;
        assert_eq!(code, 400, "{bad}: {problem}");
        assert_eq!(problem["parameter"], "period");
        assert!(problem["detail"].as_str().unwrap().contains("YYYY-MM"), "{problem}");
        assert!(outputs.get("chunks").is_none());
    }
    let (code, problem, _) = handler.http("rollup-rerun", "2026-10").await;
    assert_eq!(code, 404, "re-running a month never started: {problem}");
}

#[tokio::test]
async fn the_timer_starts_last_month() {
    let (handler, _dir, _config) = embedded_handler().await;
    let period = last_month();
    handler.ingest(&month_of_records(period, "t"), 0).await;
    let timer = binding("monthly-rollup", "timerTrigger");
    assert_eq!(timer["schedule"], "0 0 2 1 * *", "02:00 UTC on the 1st");
    let name = timer["name"].as_str().unwrap();
    let tick = json!({"Data": {name: {"Schedule": {"AdjustForDST": true},
        "ScheduleStatus": {"Last": "2026-10-01T02:00:00+00:00", "Next": "2026-12-01T02:00:00+00:00",
                           "LastUpdated": "2026-10-01T02:00:00+00:00"}, "IsPastDue": false}},
        "Metadata": {"sys": {"MethodName": "monthly-rollup", "UtcNow": Utc::now().to_rfc3339()}}});
    let (status, body) = handler.invoke("monthly-rollup", &tick).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ReturnValue"]["period"], period.to_string());
    assert_eq!(body["Outputs"]["chunks"].as_array().unwrap().len(), 30);
    let first = &body["Outputs"]["chunks"][0];
    assert_eq!(first["period"], period.to_string());
    assert!(first.get("day").is_some() && first.get("party").is_some(), "references, not data: {first}");
}

/// A ledger that fails `aggregate` for one partition a number of times, then works.
#[derive(Debug)]
struct FlakyLedger {
    inner: Arc<dyn Ledger>,
    party: String,
    failures_left: AtomicU32,
}

#[async_trait]
impl Ledger for FlakyLedger {
    async fn append(&self, records: &[UsageRecord]) -> Result<AppendOutcome, StorageError> {
        self.inner.append(records).await
    }
    async fn health(&self) -> Result<(), StorageError> {
        self.inner.health().await
    }
    async fn partitions(
        &self,
        tenant: &Tenant,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<LedgerPartition>, StorageError> {
        self.inner.partitions(tenant, from, to).await
    }
    async fn scan(&self, partition: &LedgerPartition) -> Result<Vec<LedgerEntry>, StorageError> {
        self.inner.scan(partition).await
    }
    async fn usage_cells(&self, range: &LedgerRange) -> Result<Vec<UsageAggregate>, StorageError> {
        self.inner.usage_cells(range).await
    }
    async fn capacity_cells(&self, range: &LedgerRange) -> Result<Vec<CapacityCell>, StorageError> {
        self.inner.capacity_cells(range).await
    }
    async fn aggregate(&self, partition: &LedgerPartition) -> Result<Vec<UsageAggregate>, StorageError> {
        if partition.party == self.party
            && self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
        {
            return Err(StorageError::Refused("injected: connection reset".into()));
        }
        self.inner.aggregate(partition).await
    }
}

/// Lines of an exported file as events.
fn file_events(bodies: &[String]) -> Vec<chargeback::ingest::Event> {
    let mut identities = chargeback::ingest::ContentIdentities::default();
    bodies
        .iter()
        .enumerate()
        .map(|(i, b)| chargeback::ingest::Event {
            body: b.clone().into_bytes(),
            origin: identities.next("test.jsonl", i + 1, b.as_bytes()),
        })
        .collect()
}

/// Embedded stores with records of last month ingested, and the services
/// over them with the ledger wrapped to fail.
async fn embedded_stores(failures: u32) -> (Stores, Services, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path());
    let mut stores = chargeback::startup::stores(&config).await.unwrap();
    let ingestor = services_over(&config, &stores).unwrap().ingestor;
    ingestor.ingest(&file_events(&month_of_records(last_month(), "f"))).await.unwrap();
    stores.ledger = Arc::new(FlakyLedger {
        inner: stores.ledger.clone(),
        party: "sub-2".into(),
        failures_left: AtomicU32::new(failures),
    });
    let services = services_over(&config, &stores).unwrap();
    (stores, services, dir)
}

#[tokio::test]
async fn a_chunk_that_fails_twice_then_succeeds_changes_nothing() {
    let period = last_month();
    let tenant = Tenant::default_tenant();
    let (clean_stores, clean_services, _d1) = embedded_stores(0).await;
    let clean = clean_services.rollups;
    local::run(&clean, &tenant, period, 3, "test").await.unwrap();

    let (stores, services, _d2) = embedded_stores(2).await;
    let rollups = services.rollups;
    let instance = local::run(&rollups, &tenant, period, 3, "test").await.unwrap();
    assert_eq!(instance.status, RuntimeStatus::Completed);
    assert_eq!(
        month_aggregates(&stores, &rollups, &tenant, period).await,
        month_aggregates(&clean_stores, &clean, &tenant, period).await
    );
}

#[tokio::test]
async fn a_chunk_that_keeps_failing_fails_the_run_and_a_rerun_retries_only_it() {
    let period = last_month();
    let tenant = Tenant::default_tenant();
    // Six chunks of sub-2 (one per day), each failing five times: all given up.
    let (stores, services, _dir) = embedded_stores(6 * 5).await;
    let rollups = services.rollups;
    let error = local::run(&rollups, &tenant, period, 2, "test").await.unwrap_err();
    assert!(chain(&error).contains("injected"), "{}", chain(&error));
    let failed = rollups.status(&tenant, period).await.unwrap().unwrap();
    assert_eq!(failed.status, RuntimeStatus::Failed);
    assert_eq!((failed.count(ChunkState::Failed), failed.count(ChunkState::Done)), (6, 24));
    let view = failed.status_view();
    assert!(view["failures"][0]["error"].as_str().unwrap().contains("injected"), "{view}");
    assert_eq!(view["failures"][0]["attempts"], 5);

    let (rerun, next) = rollups.rerun_failed(&tenant, period).await.unwrap();
    assert_eq!(rerun.status, RuntimeStatus::Running);
    assert_eq!(next.chunks.len(), 6, "only the failed chunks");
    assert!(next.chunks.iter().all(|c| c.party == "sub-2"));
    let (finish, failure) = local::work_chunks(&rollups, next.chunks, 2).await;
    assert!(failure.is_none());
    local::finish_with_retries(&rollups, &finish.expect("the last chunk sends the finish")).await.unwrap();
    let done = rollups.status(&tenant, period).await.unwrap().unwrap();
    assert_eq!(done.status, RuntimeStatus::Completed);
    assert_eq!(done.run, failed.run, "the same run, completed");
    let aggregates = month_aggregates(&stores, &rollups, &tenant, period).await;
    assert_eq!(aggregate_sums(&aggregates), ledger_sums(stores.ledger.as_ref(), &tenant, period).await);
}

#[tokio::test]
async fn two_concurrent_starts_of_one_month_run_once() {
    let (_stores, services, _dir) = embedded_stores(0).await;
    let (a, b): (Rollups, Rollups) = (services.rollups.clone(), services.rollups);
    let tenant = Tenant::default_tenant();
    let (x, y) = tokio::join!(a.start(&tenant, last_month(), "a"), b.start(&tenant, last_month(), "b"));
    let started = [x.unwrap(), y.unwrap()];
    let new = started.iter().filter(|s| matches!(s, Started::New { .. })).count();
    let refused = started.iter().filter(|s| matches!(s, Started::AlreadyRunning(_))).count();
    assert_eq!((new, refused), (1, 1));
}

#[tokio::test]
async fn late_records_and_a_rerun_update_the_month_and_a_rerun_without_news_changes_nothing() {
    let period = last_month();
    let tenant = Tenant::default_tenant();
    let (stores, services, _dir) = embedded_stores(0).await;
    let rollups = services.rollups.clone();
    local::run(&rollups, &tenant, period, 4, "test").await.unwrap();
    let first = month_aggregates(&stores, &rollups, &tenant, period).await;
    let report = |stores: Stores| async move {
        let mut files = Vec::new();
        for file in chargeback::billing::REPORT_FILES {
            let name = report_name(&Tenant::default_tenant(), period, file);
            files.push(stores.outputs.get(&name).await.unwrap().unwrap().body);
        }
        files
    };
    let first_report = report(stores.clone()).await;
    local::run(&rollups, &tenant, period, 4, "test").await.unwrap();
    assert_eq!(month_aggregates(&stores, &rollups, &tenant, period).await, first, "identical on re-run");
    assert_eq!(report(stores.clone()).await, first_report, "byte-identical report files on re-run");

    // Late records: one for an existing partition, one for a new party.
    let ingestor = services.ingestor;
    let late = [
        record("late-1", "sub-1", period, 3, "gpt-4o", 1000, 10),
        record("late-2", "sub-9", period, 28, "gpt-4o", 5, 5),
    ];
    ingestor.ingest(&file_events(&late)).await.unwrap();
    let instance = local::run(&rollups, &tenant, period, 4, "test").await.unwrap();
    assert_eq!(instance.total(), 31);
    let updated = month_aggregates(&stores, &rollups, &tenant, period).await;
    let (before, after) = (aggregate_sums(&first), aggregate_sums(&updated));
    assert_eq!(after.requests, before.requests + 2);
    assert_eq!(after.prompt, before.prompt + 1005);
    assert_eq!(after, ledger_sums(stores.ledger.as_ref(), &tenant, period).await);
}

/// A `chargeback serve` process on the given backends.
struct ServeProcess {
    child: Child,
    handler: Handler,
    _dir: tempfile::TempDir,
}

impl ServeProcess {
    fn start(envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chargeback"));
        // As the host starts it: the port in FUNCTIONS_CUSTOMHANDLER_PORT.
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("CHARGEBACK_DATA_DIR", dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "chargeback serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            handler: Handler { address: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new() },
            _dir: dir,
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn two_handler_processes_share_one_rollup_on_azurite_and_postgres() {
    let (Some(storage), Some(database)) = (
        service_env("CHARGEBACK_TEST_AZURE_STORAGE", "Azurite"),
        service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL"),
    ) else {
        return;
    };
    let tenant_name = unique_name();
    let envs = [
        ("AzureWebJobsStorage", storage.as_str()),
        ("CHARGEBACK_LEDGER", "postgres"),
        ("DATABASE_URL", database.as_str()),
        ("CHARGEBACK_TENANT", tenant_name.as_str()),
        ("CHARGEBACK_FINGERPRINT_SECRET", "rollup-test-secret"),
    ];
    let (a, b) = (ServeProcess::start(&envs), ServeProcess::start(&envs));
    let period = last_month();
    a.handler.ingest(&month_of_records(period, "p"), 0).await;

    let (code, status, outputs) = a.handler.http("rollup-start", &period.to_string()).await;
    assert_eq!(code, 202, "{status}");
    // The host's queues: real Azurite queues.
    let account = StorageAccount::from_connection_string(&storage).unwrap();
    let queues = HostQueues {
        chunks: Arc::new(StorageQueue::open(&account, &format!("{tenant_name}-chunks"), 5).await.unwrap()),
        finish: Arc::new(StorageQueue::open(&account, &format!("{tenant_name}-finish"), 5).await.unwrap()),
    };
    queues.send_outputs("rollup-start", &outputs).await;
    assert_eq!(queues.run(&[&a.handler, &b.handler]).await, 0);

    // Both processes see the same completed run, reconciled with the PostgreSQL ledger.
    let mut config = settings(std::path::Path::new("/nonexistent"));
    config.tenant = Tenant::parse(&tenant_name).unwrap();
    config.fingerprint_secret = Some(Secret::new("rollup-test-secret"));
    config.storage = StorageSettings {
        azure_connection: Some(Secret::new(storage.clone())),
        ledger: Some(LedgerBackend::Postgres),
        database_url: Some(Secret::new(database.clone())),
        ..StorageSettings::default()
    };
    let stores = chargeback::startup::stores(&config).await.unwrap();
    let rollups = services_over(&config, &stores).unwrap().rollups;
    let instance: RollupInstance = rollups.status(&config.tenant, period).await.unwrap().unwrap();
    assert_eq!(instance.status, RuntimeStatus::Completed, "{}", instance.status_view());
    assert_eq!(instance.count(ChunkState::Done), 30);
    let aggregates = month_aggregates(&stores, &rollups, &config.tenant, period).await;
    assert_eq!(aggregate_sums(&aggregates), ledger_sums(stores.ledger.as_ref(), &config.tenant, period).await);
    assert!(aggregates.iter().all(|r| r.token_source == TokenSource::Reported));
    assert_eq!(aggregates.iter().map(|r| r.day.day()).max(), Some(6));
}

#[tokio::test]
async fn the_month_is_priced_to_the_cent_and_its_lines_sum_to_its_total() {
    use rust_decimal::{Decimal, RoundingStrategy};
    let period = last_month();
    let tenant = Tenant::default_tenant();
    let (stores, services, _dir) = embedded_stores(0).await;
    // Big calls on top of the small ones: two parties, two models, five days.
    let mut big = Vec::new();
    for (party, model) in [("sub-big-a", "gpt-4o"), ("sub-big-b", "gpt-4o-mini"), ("sub-big-a", "gpt-4o-mini")] {
        for day in 1..=5u32 {
            let id = format!("big-{party}-{model}-{day}");
            big.push(record(
                &id,
                party,
                period,
                day,
                model,
                1_234_567 + u64::from(day) * 1000,
                345_678 + u64::from(day),
            ));
        }
    }
    services.ingestor.ingest(&file_events(&big)).await.unwrap();
    let rollups = services.rollups;
    local::run(&rollups, &tenant, period, 4, "test").await.unwrap();

    // Independently: the shipped global prices per 1M tokens (input, cached input, output).
    let price = |model: &str| -> [Decimal; 3] {
        match model {
            "gpt-4o" => ["2.50".parse().unwrap(), "1.25".parse().unwrap(), "10.00".parse().unwrap()],
            _ => ["0.15".parse().unwrap(), "0.075".parse().unwrap(), "0.60".parse().unwrap()],
        }
    };
    let mut expected: std::collections::BTreeMap<(String, String), Decimal> = Default::default();
    let mut add = |party: &str, model: &str, prompt: u64, completion: u64| {
        let cached = prompt / 4;
        let [input, cached_input, output] = price(model);
        let exact = (Decimal::from(prompt - cached) * input
            + Decimal::from(cached) * cached_input
            + Decimal::from(completion) * output)
            / Decimal::from(1_000_000);
        *expected.entry((party.to_owned(), model.to_owned())).or_default() += exact;
    };
    for (party, model) in [("sub-big-a", "gpt-4o"), ("sub-big-b", "gpt-4o-mini"), ("sub-big-a", "gpt-4o-mini")] {
        for day in 1..=5u64 {
            add(party, model, 1_234_567 + day * 1000, 345_678 + day);
        }
    }
    for party in 0..5u64 {
        for _day in 1..=6u32 {
            for n in 0..4u64 {
                let model = if n % 2 == 0 { "gpt-4o" } else { "gpt-4o-mini" };
                add(&format!("sub-{party}"), model, 100 + party * 7 + n, 20 + n);
            }
        }
    }
    let lines = stores.rollup.results(&tenant, period).await.unwrap();
    assert_eq!(lines.len(), expected.len(), "{lines:?}");
    let mut total_micros = 0i64;
    for line in &lines {
        let exact = expected[&(line.application.clone(), line.model.clone())];
        let cents = exact.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
        let micros = line.cost.as_ref().expect("priced").to_micros().unwrap();
        assert_eq!(Decimal::new(micros, 6), cents, "{line:?}");
        total_micros += micros;
    }
    let instance = rollups.status(&tenant, period).await.unwrap().unwrap();
    let summary = instance.summary.unwrap();
    let total: Decimal = summary["total"].as_str().unwrap().parse().unwrap();
    assert_eq!(Decimal::new(total_micros, 6), total, "the lines sum to the total");
    assert!(total > Decimal::from(30), "big enough to mean something: {total}");
}

#[tokio::test]
async fn two_tenants_on_one_store_keep_their_own_report_files() {
    let period = last_month();
    let dir = tempfile::tempdir().unwrap();
    let mut totals = Vec::new();
    for (name, prompt) in [("alpha", 1000), ("beta", 7)] {
        let mut config = settings(dir.path());
        config.tenant = Tenant::parse(name).unwrap();
        let services = chargeback::startup::services(&config).await.unwrap();
        let records = [record(&format!("{name}-1"), "sub-a", period, 2, "gpt-4o", prompt, 10)];
        services.ingestor.ingest(&file_events(&records)).await.unwrap();
        local::run(&services.rollups, &config.tenant, period, 2, "test").await.unwrap();
        totals.push((config.tenant.clone(), prompt + 10, services.rollups));
    }
    // Both months are on one store, each under its tenant: neither overwrote the other.
    for (tenant, tokens, rollups) in &totals {
        let json = rollups.report_file(tenant, period, "chargeback.json").await.unwrap().expect("its report");
        let statement: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(statement["tokens"]["total_tokens"], *tokens, "{tenant}'s own month");
        let path = dir.path().join("reports").join(tenant.as_str()).join(period.to_string()).join("chargeback.html");
        assert!(path.is_file(), "{}", path.display());
    }
}
