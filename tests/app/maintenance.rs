//! Nightly SQL maintenance (issue 6): against the real PostgreSQL that
//! `scripts/services.sh` starts (each test in a schema of its own, which is a
//! tenant), and on the embedded SQLite through the timer function and the CLI.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chargeback::directory::{Directory, SeedFiles};
use chargeback::domain::{Fingerprinter, Tenant};
use chargeback::ingest::{Event, EventOrigin, Ingestor};
use chargeback::maintenance::{self, Database, Options, RunOutcome, Thresholds};
use chargeback::storage::postgres::{PgConfig, PgLedger};
use chargeback::storage::sql::support::{SqlDeadLetters, SqlReports};
use chrono::Datelike;
use serde_json::{Value, json};
use sqlx::{Connection, PgPool, Row};

use crate::helpers::*;

fn unique_name() -> String {
    format!("m{:016x}", rand::random::<u64>())
}

/// A fresh schema (a tenant of its own) with the migrations applied.
async fn pg_tenant() -> Option<(PgPool, Tenant)> {
    let url = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL")?;
    let schema = unique_name();
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let mut config = PgConfig::new(format!("{url}{sep}options[search_path]={schema}"));
    config.max_connections = 6;
    let pool = config.connect().await.unwrap();
    Some((pool, Tenant::parse(&schema).unwrap()))
}

/// Thresholds small enough for a test-sized table.
fn test_thresholds() -> Thresholds {
    Thresholds { reindex_min_bytes: 64 * 1024, ..Thresholds::default() }
}

async fn run(pool: &PgPool, tenant: &Tenant, thresholds: Thresholds) -> maintenance::Report {
    let options = Options { thresholds, dry_run: false };
    let mut reports =
        maintenance::run_tenants(&[(tenant.clone(), Database::Postgres(pool.clone()))], &options).await.unwrap();
    reports.remove(0)
}

/// The ledger's partition (it is partitioned by month) that the bloat tests
/// fill, and its partition index (tenant, day, party).
const PARTITION: &str = "ledger_y2026m11";
const PARTITION_INDEX: &str = "ledger_y2026m11_tenant_day_party_idx";

/// Fills the ledger's November 2026 partition with `rows` records, then
/// updates every row's indexed party (so every index entry gets a dead twin)
/// and deletes 9 rows in 10.
async fn make_bloat_and_stale_statistics(pool: &PgPool, rows: i64) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {PARTITION} PARTITION OF ledger FOR VALUES FROM ('2026-11-01') TO ('2026-12-01'); \
         ALTER TABLE {PARTITION} SET (autovacuum_enabled = false)"
    )))
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ledger (tenant, record_id, occurred_at_us, day, party, streamed, prompt_tokens, \
         completion_tokens, cached_tokens, reasoning_tokens, token_source, shape) \
         SELECT 'default', 'r' || lpad(g::text, 8, '0'), 1790000000000000 + g * 10, '2026-11-26', \
         'sub-' || lpad(g::text, 8, '0'), FALSE, 10, 5, 0, 0, 'reported', 'usage.v1' FROM generate_series(1, $1) g",
    )
    .bind(rows)
    .execute(pool)
    .await
    .unwrap();
    sqlx::raw_sql("UPDATE ledger SET party = party || '-moved'").execute(pool).await.unwrap();
    sqlx::raw_sql("DELETE FROM ledger WHERE (occurred_at_us / 10) % 10 <> 0").execute(pool).await.unwrap();
    // Statistics reach the shared counters within a second or so, each
    // statement's separately: wait for both (every row updated, 9 in 10 deleted).
    let expected_dead = rows + rows * 9 / 10;
    for _ in 0..100 {
        let dead: i64 = sqlx::query_scalar("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = $1::regclass")
            .bind(PARTITION)
            .fetch_one(pool)
            .await
            .unwrap();
        if dead >= expected_dead {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the dead tuples never showed in pg_stat_user_tables");
}

async fn index_bytes(pool: &PgPool, index: &str) -> i64 {
    sqlx::query_scalar("SELECT pg_relation_size($1::regclass)").bind(index).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn maintenance_refreshes_statistics_rebuilds_the_bloated_index_logs_why_and_then_has_nothing_to_do() {
    let Some((pool, tenant)) = pg_tenant().await else { return };
    make_bloat_and_stale_statistics(&pool, 20_000).await;
    let before = index_bytes(&pool, PARTITION_INDEX).await;

    let report = run(&pool, &tenant, test_thresholds()).await;
    println!("{report}");
    assert_eq!(report.outcome, RunOutcome::Completed);
    let ledger = format!("{}.{PARTITION}", tenant.as_str());
    let vacuum = report.actions.iter().find(|a| a.target == ledger).expect("the ledger is maintained");
    assert_eq!((vacuum.action, vacuum.outcome.as_str()), ("vacuum-analyze", "done"));
    assert!(vacuum.reason.starts_with("dead tuples "), "{}", vacuum.reason);
    let index = format!("{}.{PARTITION_INDEX}", tenant.as_str());
    let reindex = report.actions.iter().find(|a| a.target == index).expect("the bloated index is rebuilt");
    assert_eq!((reindex.action, reindex.outcome.as_str()), ("reindex", "done"));
    assert!(reindex.reason.starts_with("bloat ") && reindex.reason.contains(">= 30%"), "{}", reindex.reason);

    let analyzed: bool =
        sqlx::query_scalar("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relid = $1::regclass")
            .bind(PARTITION)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(analyzed, "last_analyze is set");
    let after = index_bytes(&pool, PARTITION_INDEX).await;
    assert!(after < before, "the rebuilt index is smaller: {after} < {before}");

    // The log says what was done and why, with the figures.
    let logged =
        sqlx::query("SELECT action, target, reason, outcome FROM maintenance_actions WHERE run_id = $1 ORDER BY seq")
            .bind(&report.run_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(logged.len(), report.actions.len());
    let reasons: Vec<String> = logged.iter().map(|r| r.get::<String, _>("reason")).collect();
    assert!(reasons.iter().any(|r| r.contains("dead tuples") && r.contains(">=")), "{reasons:?}");
    let run_row: String = sqlx::query_scalar("SELECT outcome FROM maintenance_log WHERE id = $1")
        .bind(&report.run_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(run_row, "completed");

    let again = run(&pool, &tenant, test_thresholds()).await;
    println!("{again}");
    assert_eq!(again.outcome, RunOutcome::Completed);
    assert!(again.actions.is_empty(), "a second run right after does nothing: {again}");
}

#[tokio::test]
async fn a_run_that_finds_the_tenant_locked_skips_and_says_so_and_of_two_concurrent_runs_one_skips() {
    let Some((pool, tenant)) = pg_tenant().await else { return };
    make_bloat_and_stale_statistics(&pool, 5_000).await;

    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(hashtext('chargeback-maintenance:' || $1))")
        .bind(tenant.as_str())
        .execute(&mut *holder)
        .await
        .unwrap();
    let skipped = run(&pool, &tenant, test_thresholds()).await;
    assert_eq!(skipped.outcome, RunOutcome::SkippedLockHeld);
    assert!(skipped.to_string().contains("skipped: another maintenance run holds this tenant's lock"), "{skipped}");
    let logged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM maintenance_log WHERE tenant = $1 AND outcome = 'skipped'")
            .bind(tenant.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(logged, 1);
    sqlx::query("SELECT pg_advisory_unlock(hashtext('chargeback-maintenance:' || $1))")
        .bind(tenant.as_str())
        .execute(&mut *holder)
        .await
        .unwrap();
    drop(holder);

    // Two runs started together: never both at once. One skips; or, if the
    // first finished before the second asked, their runs do not overlap.
    let mut skips = 0;
    for _ in 0..3 {
        let (a, b) = tokio::join!(run(&pool, &tenant, test_thresholds()), run(&pool, &tenant, test_thresholds()));
        match (a.outcome, b.outcome) {
            (RunOutcome::Completed, RunOutcome::SkippedLockHeld)
            | (RunOutcome::SkippedLockHeld, RunOutcome::Completed) => {
                skips += 1;
            }
            (RunOutcome::Completed, RunOutcome::Completed) => {
                let span = |id: &str| {
                    let pool = pool.clone();
                    let id = id.to_owned();
                    async move {
                        let row =
                            sqlx::query("SELECT started_at_us, finished_at_us FROM maintenance_log WHERE id = $1")
                                .bind(id)
                                .fetch_one(&pool)
                                .await
                                .unwrap();
                        (row.get::<i64, _>(0), row.get::<i64, _>(1))
                    }
                };
                let ((s1, f1), (s2, f2)) = (span(&a.run_id).await, span(&b.run_id).await);
                assert!(f1 <= s2 || f2 <= s1, "two runs overlapped:\n{a}{b}");
            }
            other => panic!("unexpected outcomes {other:?}:\n{a}{b}"),
        }
    }
    assert!(skips > 0, "of two runs started together, one skips");
}

#[tokio::test]
async fn without_pgstattuple_the_catalog_estimate_finds_the_bloated_index() {
    let Some((pool, tenant)) = pg_tenant().await else { return };
    make_bloat_and_stale_statistics(&pool, 10_000).await;
    let report = run(&pool, &tenant, Thresholds { pgstattuple: false, ..test_thresholds() }).await;
    println!("{report}");
    let index = format!("{}.{PARTITION_INDEX}", tenant.as_str());
    let reindex = report.actions.iter().find(|a| a.target == index).expect("the bloated index is rebuilt");
    assert_eq!(reindex.outcome, "done");
    assert!(reindex.reason.contains("(catalog estimate) >= 30%"), "{}", reindex.reason);
    let again = run(&pool, &tenant, Thresholds { pgstattuple: false, ..test_thresholds() }).await;
    assert!(again.actions.is_empty(), "the estimate sees the rebuilt index as tight: {again}");
}

#[tokio::test]
async fn the_timer_function_on_postgresql_does_what_the_cli_does() {
    let Some((pool, tenant)) = pg_tenant().await else { return };
    make_bloat_and_stale_statistics(&pool, 5_000).await;
    let url = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL").unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = host_settings(data_dir.path());
    settings.tenant = tenant.clone();
    settings.storage.ledger = Some(chargeback::config::LedgerBackend::Postgres);
    settings.fingerprint_secret = Some(chargeback::config::Secret::new("shared-ledger-secret"));
    let sep = if url.contains('?') { '&' } else { '?' };
    settings.storage.database_url =
        Some(chargeback::config::Secret::new(format!("{url}{sep}options[search_path]={}", tenant.as_str())));
    let app = chargeback::startup::Application::build(&settings, 0).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let response = reqwest::Client::new()
        .post(format!("{address}/nightly-maintenance"))
        .json(&timer_invocation("nightly-maintenance"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let logs = body["Logs"].to_string();
    assert!(logs.contains(&format!("vacuum-analyze {}.{PARTITION}: done (dead tuples ", tenant.as_str())), "{logs}");
    let run_id = body["ReturnValue"]["maintenance"][0]["run_id"].as_str().unwrap().to_owned();
    let logged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM maintenance_actions WHERE run_id = $1 AND outcome = 'done'")
            .bind(run_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(logged >= 1);
    // The CLI's run right after finds nothing left to do.
    let again = run(&pool, &tenant, Thresholds::default()).await;
    assert!(again.actions.is_empty(), "{again}");
}

#[tokio::test]
async fn monthly_partitions_are_created_ahead_and_old_ones_detached_only_when_retention_is_configured() {
    let Some((pool, tenant)) = pg_tenant().await else { return };
    let today = chrono::Utc::now().date_naive();
    let this_month = today.format("%Y-%m-01").to_string();
    let next_month = (today.with_day(1).unwrap() + chrono::Months::new(1)).format("%Y-%m-01").to_string();
    let child = |month: &str| format!("usage_monthly_y{}m{}", &month[0..4], &month[5..7]);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE usage_monthly (day TEXT NOT NULL, tokens BIGINT NOT NULL) PARTITION BY RANGE (day); \
         CREATE TABLE usage_monthly_y2020m01 PARTITION OF usage_monthly FOR VALUES FROM ('2020-01-01') TO ('2020-02-01'); \
         CREATE TABLE {} PARTITION OF usage_monthly FOR VALUES FROM ('{this_month}') TO ('{next_month}'); \
         INSERT INTO usage_monthly VALUES ('2020-01-15', 7)",
        child(&this_month)
    )))
    .execute(&pool)
    .await
    .unwrap();

    let report = run(&pool, &tenant, test_thresholds()).await;
    println!("{report}");
    let created: Vec<&str> = report
        .actions
        .iter()
        .filter(|a| a.action == "create-partition" && a.outcome == "done" && a.target.contains("usage_monthly"))
        .map(|a| a.target.as_str())
        .collect();
    assert_eq!(created.len(), 2, "the next two months: {report}");
    // The ledger is partitioned by month too: this month and the next two get theirs.
    let ledger_months = report
        .actions
        .iter()
        .filter(|a| a.action == "create-partition" && a.outcome == "done" && a.target.contains("\"ledger_y"))
        .count();
    assert_eq!(ledger_months, 3, "{report}");
    assert!(created[0].contains(&child(&next_month)), "{created:?}");
    assert!(report.actions.iter().all(|a| a.action != "detach-partition"), "no retention by default: {report}");
    // A row of next month now has a partition to go to.
    sqlx::query("INSERT INTO usage_monthly VALUES ($1, 1)").bind(&next_month).execute(&pool).await.unwrap();

    let report = run(&pool, &tenant, Thresholds { retention_months: 24, ..test_thresholds() }).await;
    println!("{report}");
    let detached: Vec<&str> =
        report.actions.iter().filter(|a| a.action == "detach-partition").map(|a| a.target.as_str()).collect();
    assert_eq!(detached.len(), 1, "{report}");
    assert!(detached[0].contains("usage_monthly_y2020m01"));
    assert!(report.actions.iter().all(|a| a.outcome == "done"), "{report}");
    // Detached, not dropped: kept as an archive table with its rows.
    let archived: i64 = sqlx::query_scalar("SELECT tokens FROM usage_monthly_y2020m01").fetch_one(&pool).await.unwrap();
    assert_eq!(archived, 7);
    let in_parent: i64 =
        sqlx::query_scalar("SELECT count(*) FROM usage_monthly WHERE day < '2021'").fetch_one(&pool).await.unwrap();
    assert_eq!(in_parent, 0);

    let again = run(&pool, &tenant, Thresholds { retention_months: 24, ..test_thresholds() }).await;
    assert!(again.actions.is_empty(), "{again}");
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_with_its_figures_and_changes_nothing() {
    let Some((pool, tenant)) = pg_tenant().await else { return };
    make_bloat_and_stale_statistics(&pool, 5_000).await;
    let options = Options { thresholds: test_thresholds(), dry_run: true };
    let reports =
        maintenance::run_tenants(&[(tenant.clone(), Database::Postgres(pool.clone()))], &options).await.unwrap();
    let plan = reports[0].to_string();
    println!("{plan}");
    assert_eq!(reports[0].outcome, RunOutcome::Planned);
    assert!(
        plan.contains(&format!("vacuum-analyze {}.{PARTITION}: planned (dead tuples 9500 >= 1050", tenant.as_str())),
        "{plan}"
    );
    let analyzed: bool =
        sqlx::query_scalar("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relid = $1::regclass")
            .bind(PARTITION)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!analyzed, "a dry run analyzes nothing");
    let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM maintenance_log").fetch_one(&pool).await.unwrap();
    assert_eq!(logged, 0, "a dry run writes no log");
}

#[tokio::test]
async fn tenants_run_in_turn_and_no_action_starts_once_the_budget_is_spent() {
    let (Some((first, a)), Some((second, b))) = (pg_tenant().await, pg_tenant().await) else { return };
    make_bloat_and_stale_statistics(&first, 2_000).await;
    make_bloat_and_stale_statistics(&second, 2_000).await;
    let options = Options { thresholds: Thresholds { budget: Duration::ZERO, ..test_thresholds() }, dry_run: false };
    let tenants = [(a.clone(), Database::Postgres(first.clone())), (b.clone(), Database::Postgres(second.clone()))];
    let reports = maintenance::run_tenants(&tenants, &options).await.unwrap();
    assert_eq!(reports.iter().map(|r| r.tenant.as_str()).collect::<Vec<_>>(), [a.as_str(), b.as_str()]);
    for (report, pool) in reports.iter().zip([&first, &second]) {
        println!("{report}");
        assert_eq!(report.outcome, RunOutcome::BudgetSpent);
        assert!(
            !report.actions.is_empty() && report.actions.iter().all(|x| x.outcome == "skipped: budget spent"),
            "{report}"
        );
        let run: String = sqlx::query_scalar("SELECT outcome FROM maintenance_log WHERE id = $1")
            .bind(&report.run_id)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(run, "budget-spent");
    }
}

#[tokio::test]
async fn an_action_that_cannot_get_its_lock_in_time_fails_alone_and_the_run_goes_on() {
    let Some((pool, tenant)) = pg_tenant().await else { return };
    make_bloat_and_stale_statistics(&pool, 5_000).await;
    // Someone holds a lock that VACUUM and REINDEX CONCURRENTLY wait for.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::raw_sql("LOCK TABLE ledger IN SHARE UPDATE EXCLUSIVE MODE").execute(&mut *blocker).await.unwrap();
    let thresholds = Thresholds { lock_timeout: Duration::from_millis(200), ..test_thresholds() };
    let started = std::time::Instant::now();
    let report = run(&pool, &tenant, thresholds).await;
    println!("{report}");
    blocker.rollback().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10), "the run did not wait for the lock");
    let ledger = format!("{}.{PARTITION}", tenant.as_str());
    let vacuum = report.actions.iter().find(|a| a.target == ledger).unwrap();
    assert!(vacuum.outcome.starts_with("failed: ") && vacuum.outcome.contains("lock timeout"), "{report}");
    assert_eq!(report.outcome, RunOutcome::Completed);
}

#[tokio::test]
async fn maintenance_while_ingestion_writes_loses_no_record_and_fails_no_batch() {
    let Some((pool, tenant)) = pg_tenant().await else { return };
    let seeds = SeedFiles { applications: "/nonexistent/a.csv".into(), deployments: "/nonexistent/d.csv".into() };
    let ingestor = Ingestor::new(
        Arc::new(PgLedger::new(pool.clone())),
        Arc::new(SqlDeadLetters::new(pool.clone())),
        Directory::new(Arc::new(SqlReports::new(pool.clone())), seeds),
        Fingerprinter::new(b"test secret"),
        Tenant::default_tenant(),
    );
    let (batches, per_batch) = (40_i64, 50_i64);
    let writer = tokio::spawn(async move {
        for b in 0..batches {
            let events: Vec<Event> = (0..per_batch)
                .map(|i| Event {
                    body: v1_record(&format!("rec-{b}-{i}"), 10, 1).into_bytes(),
                    origin: EventOrigin::EventHub {
                        hub: "apim-usage".into(),
                        partition: "0".into(),
                        sequence: b * per_batch + i,
                        enqueued: None,
                    },
                })
                .collect();
            let outcome = ingestor.ingest(&events).await.expect("no ingestion error during maintenance");
            assert_eq!(outcome.accepted, u64::try_from(per_batch).unwrap());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    // Every threshold at zero: each run analyzes the modified tables and
    // rebuilds every index, concurrently with the writer.
    let everything = Thresholds {
        analyze_min_rows: 0,
        analyze_percent: 0,
        reindex_bloat_percent: 0,
        reindex_min_bytes: 0,
        ..Thresholds::default()
    };
    let mut actions_done = 0;
    while !writer.is_finished() {
        let report = run(&pool, &tenant, everything.clone()).await;
        assert!(report.actions.iter().all(|a| a.outcome == "done"), "{report}");
        actions_done += report.actions.len();
    }
    writer.await.unwrap();
    assert!(actions_done > 0, "maintenance ran while ingesting");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, batches * per_batch, "no lost record");
}

/// The host's invocation body for a timer tick, built from the function's
/// `function.json`.
fn timer_invocation(function: &str) -> Value {
    let trigger = binding(function, "timerTrigger");
    let name = trigger["name"].as_str().unwrap();
    json!({
        "Data": { name: {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false} },
        "Metadata": { "sys": {"MethodName": function, "UtcNow": "2026-11-27T03:15:00Z"} }
    })
}

#[test]
fn the_timer_runs_nightly_and_never_on_startup() {
    let trigger = binding("nightly-maintenance", "timerTrigger");
    assert_eq!(trigger["schedule"], "0 15 3 * * *");
    assert_eq!(trigger["runOnStartup"], false);
    assert_eq!(trigger["useMonitor"], true);
    let retry = &function_json("nightly-maintenance")["retry"];
    assert!(retry["maxRetryCount"].as_u64().is_some_and(|n| n <= 3), "bounded retry: {retry}");
}

#[tokio::test]
async fn the_timer_function_runs_the_maintenance_and_logs_each_action_in_sql() {
    let app = spawn_app().await;
    let response = app.invoke("nightly-maintenance", &timer_invocation("nightly-maintenance")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let logs = body["Logs"].to_string();
    assert!(logs.contains("integrity-check main: done") && logs.contains("optimize main: done"), "{logs}");
    assert_eq!(body["ReturnValue"]["maintenance"][0]["outcome"], "completed", "{body}");

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", app.data_dir.path().join("ledger.sqlite").display()))
        .await
        .unwrap();
    let logged: Vec<String> = sqlx::query_scalar(
        "SELECT action || ' ' || outcome || ' (' || reason || ')' FROM maintenance_actions ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(logged.iter().any(|l| l.starts_with("integrity-check done (")), "{logged:?}");
}

#[tokio::test]
async fn on_sqlite_a_run_that_finds_the_lease_held_skips_and_says_so() {
    use chargeback::storage::LeaseStore;
    let dir = tempfile::tempdir().unwrap();
    let ledger =
        chargeback::storage::embedded::sqlite::SqliteLedger::open(&dir.path().join("ledger.sqlite")).await.unwrap();
    let pool = ledger.pool().clone();
    let leases = chargeback::storage::sql::support::SqlLeases::new(pool.clone());
    let held = leases.acquire("maintenance:default", Duration::from_secs(30)).await.unwrap().unwrap();
    let options = Options { thresholds: Thresholds::default(), dry_run: false };
    let tenants = [(Tenant::default_tenant(), Database::Sqlite(pool.clone()))];
    let report = maintenance::run_tenants(&tenants, &options).await.unwrap().remove(0);
    assert_eq!(report.outcome, RunOutcome::SkippedLockHeld, "{report}");
    leases.release(&held).await.unwrap();
    let report = maintenance::run_tenants(&tenants, &options).await.unwrap().remove(0);
    assert_eq!(report.outcome, RunOutcome::Completed, "{report}");
    let outcomes: Vec<String> =
        sqlx::query_scalar("SELECT outcome FROM maintenance_log ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(outcomes, ["skipped", "completed"]);
}

#[tokio::test]
async fn the_timer_refuses_a_payload_without_its_timer() {
    let app = spawn_app().await;
    let response = app.invoke("nightly-maintenance", &json!({"Data": {}, "Metadata": {}})).await;
    assert_eq!(response.status(), 400);
}

#[test]
fn the_cli_prints_the_plan_on_a_dry_run_and_then_does_the_same_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let chargeback = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chargeback"));
        cmd.arg("--data-dir").arg(dir.path()).env_remove("DATABASE_URL").env_remove("CHARGEBACK_MAINTENANCE");
        cmd
    };
    let out = chargeback().args(["maintain", "--dry-run"]).output().unwrap();
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(plan.contains("dry run: plan only") && plan.contains("integrity-check main: planned"), "{plan}");
    let out = chargeback().args(["maintain", "--set", "budget_seconds=60"]).output().unwrap();
    let done = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(done.contains("tenant default: completed") && done.contains("integrity-check main: done"), "{done}");
    let out = chargeback().args(["maintain", "--set", "vacuum=1"]).output().unwrap();
    assert!(!out.status.success(), "unknown settings are refused");
}

#[tokio::test]
async fn the_nightly_audit_passes_quietly_and_alerts_on_the_budget_alerts_queue_when_a_cell_is_wrong() {
    let alerts = function_json("nightly-maintenance")["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "alerts")
        .cloned()
        .unwrap();
    assert_eq!((alerts["type"].as_str(), alerts["direction"].as_str()), (Some("queue"), Some("out")));
    assert_eq!(alerts["queueName"], binding("budget-alerts", "queue")["queueName"], "the budget alerts' queue");

    let app = spawn_app().await;
    let bodies: Vec<String> = (0..40).map(|i| v1_record(&format!("n-{i}"), 10 + i, 1)).collect();
    app.ingest(&bodies, "0", 1).await;
    // The tick of 2026-11-27 03:15 audits yesterday's month, 2026-11.
    let body: Value =
        app.invoke("nightly-maintenance", &timer_invocation("nightly-maintenance")).await.json().await.unwrap();
    assert!(body["Logs"].to_string().contains("audit default 2026-11: passed"), "{body}");
    assert!(body["Outputs"].get("alerts").is_none(), "no alert for a clean check: {body}");
    assert_eq!(body["ReturnValue"]["audit"]["requests"], 40, "{body}");

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", app.data_dir.path().join("ledger.sqlite").display()))
        .await
        .unwrap();
    sqlx::query("UPDATE usage_cells SET requests = requests - 1").execute(&pool).await.unwrap();
    let response = app.invoke("nightly-maintenance", &timer_invocation("nightly-maintenance")).await;
    assert_eq!(response.status(), 200, "a failed check is reported, not retried");
    let body: Value = response.json().await.unwrap();
    assert!(body["Logs"].to_string().contains("audit default 2026-11: FAILED"), "{body}");
    let sent = body["Outputs"]["alerts"].as_array().unwrap();
    assert_eq!(sent.len(), 1, "{body}");
    let alert = &sent[0];
    assert_eq!((alert["kind"].as_str(), alert["period"].as_str()), (Some("ledger-audit"), Some("2026-11")), "{alert}");
    assert_eq!(alert["differences"], 1, "{alert}");
    let cell = &alert["cells"][0];
    assert_eq!(cell["day"], "2026-11-26", "{alert}");
    assert_eq!((cell["cells"]["requests"].as_u64(), cell["records"]["requests"].as_u64()), (Some(39), Some(40)));
}
