//! The usage cells (issue 13): existing ledgers migrate to cells with
//! identical totals, a `chargeback ingest` killed halfway and run again ends
//! exactly where a clean run does, and `chargeback audit` proves the cells,
//! names a tampered one and repairs it.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use chargeback::domain::Tenant;
use chargeback::storage::Ledger;
use chargeback::storage::embedded::sqlite::SqliteLedger;
use chargeback::storage::postgres::PgLedger;
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use crate::helpers::*;

fn chargeback(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chargeback"));
    cmd.arg("--data-dir").arg(data_dir).env_remove("CHARGEBACK_FINGERPRINT_SECRET").env_remove("RUST_LOG");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `count` event bodies over nine days of November 2026: records with ids
/// of their own, and id-less APIM sample lines of which many are identical
/// (so their identity is their content and how often it came before).
fn bodies(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            if i % 4 == 3 {
                // Ten distinct bodies, each repeated: occurrences must be numbered the same on a rerun.
                let day = 20 + i % 3;
                json!({"Timestamp": format!("11/{day}/2026 10:00:00 AM"), "ApiOperation": "chat.completion",
                       "AppKey": "00112233445566778899aabbccddeeff", "PromptTokens": (10 + i % 10).to_string(),
                       "CompletionTokens": "3", "TotalTokens": (13 + i % 10).to_string()})
                .to_string()
            } else {
                let at = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
                    + chrono::Duration::seconds((i as i64 * 29) % (9 * 86_400));
                let (prompt, completion) = (50 + (i % 700) as u64, 1 + (i % 90) as u64);
                json!({"schema": "usage.v1", "id": format!("k-{i:07}"), "timestamp": at.to_rfc3339(),
                       "application": format!("app-{:02}", i % 11), "deployment": format!("dep-{}", i % 3),
                       "model": if i % 5 == 0 { "gpt-4o-mini" } else { "gpt-4o" }, "status": 200, "streamed": false,
                       "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                 "total_tokens": prompt + completion}})
                .to_string()
            }
        })
        .collect()
}

async fn open_pool(path: &Path) -> SqlitePool {
    SqlitePool::connect_with(SqliteConnectOptions::new().filename(path).create_if_missing(true)).await.unwrap()
}

/// Every stored cell, and the ledger's record count, of an embedded ledger.
async fn stored_state(data_dir: &Path) -> (Vec<(String, String, String, String, String, i64, i64, i64)>, i64) {
    let pool = open_pool(&data_dir.join("ledger.sqlite")).await;
    let cells = sqlx::query_as(
        "SELECT day, party, model, deployment, token_source, requests, prompt_tokens, completion_tokens \
         FROM usage_cells ORDER BY tenant, day, party, model, deployment, token_source",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let records = sqlx::query_scalar("SELECT count(*) FROM ledger").fetch_one(&pool).await.unwrap();
    pool.close().await;
    (cells, records)
}

/// Records the ledger holds right now, read beside a running writer (0
/// while it does not exist yet).
async fn committed(path: &Path) -> i64 {
    if !path.exists() {
        return 0;
    }
    let Ok(mut conn) = sqlx::SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path)).await else {
        return 0;
    };
    let n = sqlx::query_scalar("SELECT count(*) FROM ledger").fetch_one(&mut conn).await.unwrap_or(0);
    let _ = conn.close().await;
    n
}

/// `chargeback` with a fixed fingerprint secret, so that two data
/// directories fingerprint the same keys alike.
fn chargeback_keyed(data_dir: &Path) -> Command {
    let mut cmd = chargeback(data_dir);
    cmd.env("CHARGEBACK_FINGERPRINT_SECRET", "kill-test-secret");
    cmd
}

#[tokio::test]
async fn an_ingest_killed_halfway_and_run_again_ends_with_the_totals_and_cells_of_a_clean_run() {
    const EVENTS: usize = 12_500;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let lines = bodies(EVENTS);
    std::fs::write(&file, lines.join("\n")).unwrap();

    let clean = dir.path().join("clean");
    let out = run(chargeback_keyed(&clean).args(["ingest", "--batch-size", "1000"]).arg(&file));
    assert!(out.status.success(), "{}", text(&out));
    let clean_state = stored_state(&clean).await;
    assert_eq!(clean_state.1, EVENTS as i64, "every line is a record");

    // The same lines on standard input, which stays open: the ingest is
    // still running when it is killed, whatever the machine's speed.
    let killed = dir.path().join("killed");
    let mut child = chargeback_keyed(&killed)
        .args(["ingest", "--batch-size", "1000", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for line in &lines {
            if writeln!(stdin, "{line}").is_err() {
                break;
            }
        }
        stdin // kept open until the process is gone
    });
    let ledger = killed.join("ledger.sqlite");
    let give_up = Instant::now() + Duration::from_secs(300);
    while committed(&ledger).await < (EVENTS / 3) as i64 {
        assert!(Instant::now() < give_up, "the ingest never stored a third of the lines");
        assert!(child.try_wait().unwrap().is_none(), "the ingest ended before it was killed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "killed, not ended: {status:?}");
    drop(feeder.join().unwrap());
    let partial = committed(&ledger).await;
    assert!(partial > 0 && partial < EVENTS as i64, "killed halfway: {partial} of {EVENTS} stored");

    let out = run(chargeback_keyed(&killed).args(["ingest", "--batch-size", "1000"]).arg(&file));
    assert!(out.status.success(), "{}", text(&out));
    let again = String::from_utf8_lossy(&out.stdout).to_string();
    let accepted = EVENTS as i64 - partial;
    assert!(
        again.contains(&format!("received {EVENTS}  accepted {accepted}  duplicates {partial}  dead-lettered 0")),
        "{again}"
    );
    let (cells, records) = stored_state(&killed).await;
    let differ: Vec<_> = cells
        .iter()
        .filter(|c| !clean_state.0.contains(c))
        .map(|c| ("after the kill", c))
        .chain(clean_state.0.iter().filter(|c| !cells.contains(c)).map(|c| ("clean", c)))
        .collect();
    assert!(differ.is_empty(), "cells that differ from a clean run's: {differ:?}");
    assert_eq!(records, clean_state.1, "records");
    let audit = run(chargeback_keyed(&killed).args(["audit", "--month", "2026-11"]));
    assert!(audit.status.success() && text(&audit).contains("passed"), "{}", text(&audit));
}

#[test]
fn the_audit_passes_on_clean_cells_names_a_tampered_cell_and_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, bodies(400).join("\n")).unwrap();
    let data = dir.path().join("data");
    assert!(run(chargeback(&data).arg("ingest").arg(&file)).status.success());

    let clean = run(chargeback(&data).args(["audit", "--month", "2026-11"]));
    let report = text(&clean);
    assert!(clean.status.success(), "{report}");
    assert!(report.contains("audit default 2026-11: passed: 30 days") && report.contains("400 requests"), "{report}");
    assert!(report.contains("; 0 differences"), "{report}");
    let sampled = run(chargeback(&data).args(["audit", "--month", "2026-11", "--sample", "3", "--json"]));
    let sampled: serde_json::Value = serde_json::from_slice(&sampled.stdout).unwrap();
    assert_eq!(sampled["days"].as_array().unwrap().len(), 3, "{sampled}");

    // A cell that no longer says what its records say, and a cell with no record.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = open_pool(&data.join("ledger.sqlite")).await;
        sqlx::query(
            "UPDATE usage_cells SET prompt_tokens = prompt_tokens + 7 \
             WHERE day = '2026-11-20' AND party = 'app-01' AND model = 'gpt-4o' AND deployment = 'dep-1'",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO usage_cells (tenant, day, party, model, deployment, token_source, service_tier, \
             spilled_from, requests, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, \
             cache_write_tokens, audio_prompt_tokens, audio_completion_tokens, accepted_prediction_tokens, \
             rejected_prediction_tokens) \
             VALUES ('default', '2026-11-25', 'app-99', 'gpt-4o', '', 'reported', 'priority', '', \
             1, 10, 1, 0, 0, 3, 0, 0, 0, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });

    let failed = run(chargeback(&data).args(["audit", "--month", "2026-11"]));
    let report = text(&failed);
    assert_eq!(failed.status.code(), Some(1), "{report}");
    assert!(report.contains("FAILED") && report.contains("2 differences"), "{report}");
    assert!(report.contains("partition 2026-11-20 app-01: model \"gpt-4o\" deployment \"dep-1\" reported"), "{report}");
    assert!(report.contains("partition 2026-11-25 app-99") && report.contains("records [none]"), "{report}");
    let added = report.lines().find(|l| l.contains("partition 2026-11-25 app-99")).unwrap();
    assert!(added.contains("tier \"priority\"") && added.contains("cache_write 3"), "{added}");
    let line = report.lines().find(|l| l.contains("partition 2026-11-20 app-01")).unwrap();
    let figure = |side: &str| -> u64 {
        let part = line.split(&format!("{side} [")).nth(1).unwrap();
        part.split("prompt ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(figure("cells"), figure("records") + 7, "{line}");

    let repaired = run(chargeback(&data).args(["audit", "--month", "2026-11", "--repair"]));
    let report = text(&repaired);
    assert_eq!(repaired.status.code(), Some(1), "the check itself failed: {report}");
    assert!(report.contains("repaired: the cells of 2 days rebuilt from their records; checked again: 0"), "{report}");
    let after = run(chargeback(&data).args(["audit", "--month", "2026-11"]));
    assert!(after.status.success() && text(&after).contains("passed"), "{}", text(&after));
}

/// The migrations of `engine` up to `last`, copied to a folder of their own.
fn migrations_up_to(engine: &str, last: i64) -> tempfile::TempDir {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let version: i64 = name.split('_').next().unwrap().parse().unwrap();
        if version <= last {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    dir
}

/// Ledger rows as the code before cells wrote them: two tenants, days
/// across a month's end, absent models and deployments, every token source.
struct OldRow {
    tenant: &'static str,
    id: String,
    at_us: i64,
    day: String,
    party: String,
    model: Option<&'static str>,
    deployment: Option<&'static str>,
    tokens: [i64; 4],
    source: &'static str,
}

fn old_rows() -> Vec<OldRow> {
    (0..600)
        .map(|i: i64| {
            let at = Utc.with_ymd_and_hms(2026, 10, 29, 0, 0, 0).unwrap() + chrono::Duration::minutes(i * 23);
            let source = ["reported", "reported", "estimated", "pending"][(i % 4) as usize];
            let (prompt, completion) = if source == "pending" { (0, 0) } else { (100 + i * 3, 10 + i % 50) };
            OldRow {
                tenant: if i % 7 == 0 { "other" } else { "default" },
                id: format!("old-{i:05}"),
                at_us: at.timestamp_micros(),
                day: at.date_naive().to_string(),
                party: format!("app-{}", i % 5),
                model: [Some("gpt-4o"), None, Some("gpt-4o-mini")][(i % 3) as usize],
                deployment: if i % 6 == 1 { None } else { Some("dep") },
                tokens: [prompt, completion, prompt / 4, completion / 3],
                source,
            }
        })
        .collect()
}

const INSERT_OLD: &str = "INSERT INTO ledger (tenant, record_id, occurred_at_us, day, party, model, deployment, \
     streamed, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, token_source, shape) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, false, $8, $9, $10, $11, $12, 'usage.v1')";

/// The totals per cell key, summed straight from the records (written
/// here, not taken from the code under test).
const TOTALS_OF_RECORDS: &str = "SELECT tenant, day, party, COALESCE(model, ''), COALESCE(deployment, ''), \
     token_source, CAST(count(*) AS BIGINT), CAST(sum(prompt_tokens) AS BIGINT), \
     CAST(sum(completion_tokens) AS BIGINT), CAST(sum(cached_tokens) AS BIGINT), \
     CAST(sum(reasoning_tokens) AS BIGINT) FROM ledger GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6";
const TOTALS_OF_CELLS: &str = "SELECT tenant, day, party, model, deployment, token_source, requests, prompt_tokens, \
     completion_tokens, cached_tokens, reasoning_tokens FROM usage_cells ORDER BY 1, 2, 3, 4, 5, 6";

/// Stores [`old_rows`] the way a ledger at migration 0008 held them, in one
/// transaction of `pool` (SQLite's or PostgreSQL's: the statement is the
/// same, the pool types are not).
macro_rules! store_old_rows {
    ($pool:expr) => {{
        let mut tx = $pool.begin().await.unwrap();
        for r in old_rows() {
            sqlx::query(INSERT_OLD)
                .bind(r.tenant)
                .bind(&r.id)
                .bind(r.at_us)
                .bind(&r.day)
                .bind(&r.party)
                .bind(r.model)
                .bind(r.deployment)
                .bind(r.tokens[0])
                .bind(r.tokens[1])
                .bind(r.tokens[2])
                .bind(r.tokens[3])
                .bind(r.source)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }};
}

type Totals = Vec<(String, String, String, String, String, String, i64, i64, i64, i64, i64)>;

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

/// What the migrated ledger must still do: cells that pass the audit's
/// check, and the old identities still claimed.
async fn check_migrated(ledger: &dyn Ledger, before: &Totals) {
    let check = ledger.check_cells(&Tenant::default_tenant(), day(10, 1), day(11, 30)).await.unwrap().unwrap();
    assert_eq!(check.stored, check.recounted);
    let requests: u64 = check.stored.iter().map(|c| c.tokens.requests).sum();
    let want: i64 = before.iter().filter(|t| t.0 == "default").map(|t| t.6).sum();
    assert_eq!(requests, want as u64);
    // A replay of an old record is a duplicate (its id was claimed before the migration).
    let old = record_like_old(&old_rows()[1]);
    let outcome = ledger.append(&[old]).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, 1));
}

fn record_like_old(row: &OldRow) -> chargeback::domain::UsageRecord {
    let tenant = Tenant::parse(row.tenant).unwrap();
    let at = Utc.timestamp_micros(row.at_us).unwrap();
    crate::contract::behaviour::record(&tenant, &row.id, &row.party, at, 3)
}

#[tokio::test]
async fn an_existing_sqlite_ledger_migrates_to_cells_with_identical_totals_and_without_the_covering_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let pool = open_pool(&path).await;
    let old = migrations_up_to("sqlite", 8);
    sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&pool).await.unwrap();
    store_old_rows!(pool);
    let covering = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'ledger_partition_totals'";
    assert_eq!(sqlx::query_scalar::<_, i64>(covering).fetch_one(&pool).await.unwrap(), 1);
    let before: Totals = sqlx::query_as(TOTALS_OF_RECORDS).fetch_all(&pool).await.unwrap();
    pool.close().await;

    let ledger = SqliteLedger::open(&path).await.unwrap(); // applies the rest
    let pool = ledger.pool().clone();
    let cells: Totals = sqlx::query_as(TOTALS_OF_CELLS).fetch_all(&pool).await.unwrap();
    assert_eq!(cells, before, "the cells hold exactly the records' totals");
    let records: Totals = sqlx::query_as(TOTALS_OF_RECORDS).fetch_all(&pool).await.unwrap();
    assert_eq!(records, before, "the records are untouched");
    assert_eq!(sqlx::query_scalar::<_, i64>(covering).fetch_one(&pool).await.unwrap(), 0, "0008's index is gone");
    check_migrated(&ledger, &before).await;
}

#[tokio::test]
async fn an_existing_postgresql_ledger_migrates_to_cells_and_month_partitions_with_identical_totals() {
    let Some(url) = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL") else { return };
    let schema = format!("mig{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&format!("{url}{sep}options[search_path]={schema}"))
        .await
        .unwrap();
    let old = migrations_up_to("postgres", 8);
    sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&pool).await.unwrap();
    store_old_rows!(pool);
    let before: Totals = sqlx::query_as(TOTALS_OF_RECORDS).fetch_all(&pool).await.unwrap();

    let all = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    sqlx::migrate::Migrator::new(all).await.unwrap().run(&pool).await.unwrap();
    let cells: Totals = sqlx::query_as(TOTALS_OF_CELLS).fetch_all(&pool).await.unwrap();
    assert_eq!(cells, before, "the cells hold exactly the records' totals");
    let records: Totals = sqlx::query_as(TOTALS_OF_RECORDS).fetch_all(&pool).await.unwrap();
    assert_eq!(records, before, "the records are untouched");
    let months: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'ledger' AND p.relnamespace = c.relnamespace \
         AND c.relnamespace = to_regnamespace($1) ORDER BY 1",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(months, ["ledger_y2026m10", "ledger_y2026m11"], "the ledger is partitioned by month");
    check_migrated(&PgLedger::new(pool.clone()), &before).await;
}
