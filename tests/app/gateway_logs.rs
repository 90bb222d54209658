//! Golden scenarios of API Management's resource logs: each
//! `tests/fixtures/records/scenarios/*.json` is a sequence of batches (event
//! bodies from the golden fixtures or inline) received at given times, and
//! sweeps of overdue calls; its `.expected.json` twin is the outcome of every
//! step, the calls still waiting after it, and at the end the ledger and the
//! dead letters. They run against the embedded store and PostgreSQL with the
//! real ingestor. `UPDATE_GOLDEN=1` rewrites the expectations (review the
//! diff).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chargeback::config::parse_duration;
use chargeback::directory::{Directory, SeedFiles};
use chargeback::domain::Tenant;
use chargeback::ingest::{ContentIdentities, Event, Ingestor};
use chargeback::storage::embedded::{FolderDeadLetters, SqliteLedger};
use chargeback::storage::postgres::{PgConfig, PgLedger};
use chargeback::storage::sql::gateway_logs::SqlGatewayLogs;
use chargeback::storage::sql::support::{SqlDeadLetters, SqlReports};
use chargeback::storage::{DeadLetterStore, GatewayLogStore, Ledger, ReportStore};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::contract::subjects::unique_name;
use crate::helpers::service_env;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/records")
}

/// One backend's stores for a scenario.
struct Stores {
    ledger: Arc<dyn Ledger>,
    reports: Arc<dyn ReportStore>,
    dead_letters: Arc<dyn DeadLetterStore>,
    halves: Arc<dyn GatewayLogStore>,
    tenant: Tenant,
    _dir: Option<tempfile::TempDir>,
}

async fn embedded() -> Stores {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteLedger::open(&dir.path().join("ledger.sqlite")).await.unwrap();
    Stores {
        halves: Arc::new(SqlGatewayLogs::new(sqlite.pool().clone())),
        reports: Arc::new(SqlReports::new(sqlite.pool().clone())),
        dead_letters: Arc::new(FolderDeadLetters::new(dir.path().join("dead-letter"))),
        ledger: Arc::new(sqlite),
        tenant: Tenant::default_tenant(),
        _dir: Some(dir),
    }
}

async fn postgres() -> Option<Stores> {
    let url = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL")?;
    let mut config = PgConfig::new(url);
    config.max_connections = 2;
    let pool = config.connect().await.unwrap();
    Some(Stores {
        ledger: Arc::new(PgLedger::new(pool.clone())),
        reports: Arc::new(SqlReports::new(pool.clone())),
        dead_letters: Arc::new(SqlDeadLetters::new(pool.clone())),
        halves: Arc::new(SqlGatewayLogs::new(pool)),
        tenant: Tenant::parse(&unique_name()).unwrap(),
        _dir: None,
    })
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

fn body(spec: &Value) -> Vec<u8> {
    if let Some(file) = spec.get("file").and_then(Value::as_str) {
        let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
        text.strip_suffix('\n').unwrap_or(&text).as_bytes().to_vec()
    } else {
        serde_json::to_vec(&spec["inline"]).unwrap()
    }
}

/// The calls not counted yet, as the usage view would see them at `now`.
async fn waiting(stores: &Stores, now: DateTime<Utc>, grace: chrono::TimeDelta) -> Value {
    let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let to = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let calls = stores.halves.open_calls_between(&stores.tenant, from, to).await.unwrap();
    Value::Array(
        calls
            .iter()
            .map(|c| {
                let counts =
                    c.chunks.iter().find_map(|k| k.usage).map(|u| json!([u.prompt(), u.completion(), u.cached()]));
                json!({
                    "correlation_id": c.correlation_id.as_str(),
                    "chunks": c.chunks.iter().map(|k| k.sequence).collect::<Vec<_>>(),
                    "gateway": c.gateway.is_some(),
                    "tokens": counts,
                    "state": if c.first_received + grace <= now { "unattributed" } else { "awaiting_attribution" },
                })
            })
            .collect(),
    )
}

async fn ledger(stores: &Stores) -> Value {
    let from = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    let mut out = Vec::new();
    for partition in stores.ledger.partitions(&stores.tenant, from, to).await.unwrap() {
        for e in stores.ledger.scan(&partition).await.unwrap() {
            out.push(json!({
                "id": e.id.as_str(), "day": partition.day.to_string(), "party": partition.party,
                "model": e.model, "deployment": e.deployment, "token_source": e.token_source.as_str(),
                "prompt": e.tokens.prompt, "completion": e.tokens.completion, "cached": e.tokens.cached,
            }));
        }
    }
    out.sort_by_key(|v| v["id"].as_str().unwrap_or_default().to_owned());
    Value::Array(out)
}

async fn letters(stores: &Stores) -> Value {
    let mut letters = stores.dead_letters.list(&stores.tenant).await.unwrap();
    letters.sort_by(|a, b| a.id.cmp(&b.id));
    Value::Array(
        letters
            .iter()
            .map(|l| json!({"id": l.id.as_str(), "reason": l.reason.as_str(), "detail": l.detail, "origin": l.origin}))
            .collect(),
    )
}

async fn run(path: &Path, stores: Stores) -> Value {
    let scenario: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let grace = parse_duration(scenario["grace"].as_str().unwrap()).unwrap();
    let fingerprinter = chargeback::domain::Fingerprinter::new(b"golden-test-secret");
    // No seed files: the scenarios need no applications or deployments.
    let seeds = SeedFiles {
        applications: "/nonexistent/applications.csv".into(),
        deployments: "/nonexistent/deployments.csv".into(),
    };
    let directory = Directory::new(stores.reports.clone(), seeds);
    let ingestor = Ingestor::new(
        stores.ledger.clone(),
        stores.dead_letters.clone(),
        directory,
        fingerprinter,
        stores.tenant.clone(),
    )
    .with_gateway_logs(stores.halves.clone(), grace);
    let mut steps = Vec::new();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    for (n, step) in scenario["steps"].as_array().unwrap().iter().enumerate() {
        let at = time(&step["at"]);
        let outcome = if step.get("settle_overdue").is_some() {
            json!({"settled": ingestor.settle_overdue(&stores.tenant, at).await.unwrap()})
        } else {
            let mut identities = ContentIdentities::default();
            let events: Vec<Event> = step["events"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, spec)| {
                    let body = body(spec);
                    Event { origin: identities.next(&format!("{name}:step{n}"), i + 1, &body), body }
                })
                .collect();
            let outcome = ingestor.ingest_at(&events, at).await.unwrap();
            assert!(outcome.balances(), "{name} step {n}: {outcome:?}");
            serde_json::to_value(&outcome).unwrap()
        };
        steps.push(json!({"at": step["at"], "outcome": outcome, "waiting": waiting(&stores, at, grace).await}));
    }
    json!({"steps": steps, "ledger": ledger(&stores).await, "dead_letters": letters(&stores).await})
}

fn scenarios() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".json") && !p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    paths.sort();
    paths
}

async fn check_all(make: impl AsyncFn() -> Option<Stores>, update: bool) {
    let mut checked = 0;
    for path in scenarios() {
        let Some(stores) = make().await else { return };
        let actual = run(&path, stores).await;
        let expected_path = path.with_extension("expected.json");
        if update {
            std::fs::write(&expected_path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
        } else {
            let expected: Value = serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
                panic!("{} is missing: run with UPDATE_GOLDEN=1 and review it", expected_path.display())
            }))
            .unwrap();
            assert_eq!(actual, expected, "{}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} scenarios found");
}

#[tokio::test]
async fn resource_log_scenarios_give_the_recorded_ledger_on_the_embedded_store() {
    check_all(async || Some(embedded().await), std::env::var_os("UPDATE_GOLDEN").is_some()).await;
}

#[tokio::test]
async fn resource_log_scenarios_give_the_recorded_ledger_on_postgres() {
    // The same expectations: the SQL text is shared, the results must be too.
    if postgres().await.is_none() {
        return;
    }
    check_all(postgres, false).await;
}
