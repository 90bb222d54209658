//! Sums that cannot overflow: rows stored before the per-record maximum
//! existed (two records of 5e18 were enough) made SQLite's SUM fail with
//! "integer overflow" and PostgreSQL's cast of its numeric sum fail with
//! "bigint out of range", so `chargeback usage`, `/api/usage` and the rollup
//! all failed for that month, for good. The cells counted from such rows
//! (the migration to cells, the audit's repair) cannot fail either.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{chargeback, on_postgresql, run_ok};
use crate::api::{ApiApp, spawn_api, spawn_with};
use crate::helpers::*;

const LEGACY: i64 = 5_000_000_000_000_000_000;

/// Statements copying the row `id` under other ids with `LEGACY` prompt
/// tokens and an unpriced model, straight into the ledger table, as the old
/// code stored them.
fn legacy_rows(id: &str, copies: usize, columns: &[String], tenant: &str) -> Vec<String> {
    (0..copies)
        .map(|n| {
            let select: Vec<String> = columns
                .iter()
                .map(|c| match c.as_str() {
                    "record_id" => format!("'legacy-{n}'"),
                    "prompt_tokens" => LEGACY.to_string(),
                    // Unpriced: a price on 10^19 tokens is an amount no
                    // micro-unit column holds; the sums are what is tested.
                    "model" => "'legacy-model'".to_owned(),
                    "deployment" => "'legacy-deployment'".to_owned(),
                    // A cell each: one cell holds at most i64::MAX (and
                    // saturates there); their sum across cells is exact.
                    "party" => format!("'legacy-party-{n}'"),
                    other => other.to_owned(),
                })
                .collect();
            format!(
                "INSERT INTO ledger ({}) SELECT {} FROM ledger WHERE tenant = '{tenant}' AND record_id = '{id}'",
                columns.join(", "),
                select.join(", ")
            )
        })
        .collect()
}

async fn month_stays_readable(api: &ApiApp, cli_env: &[(&str, &str)]) {
    // Two normal records of 10 + 5, and two copies of the first with LEGACY prompt tokens.
    let expected = 2 * LEGACY as u64 + 2 * 5 + 2 * 15;
    // The rows went into the ledger behind the cells' back: the audit's
    // repair recounts the cells from the records, as the migration to cells
    // counted an old ledger's (the same sums).
    let mut repair = chargeback(&api.settings.data_dir);
    repair.args(["audit", "--month", "2026-11", "--repair"]).envs(cli_env.iter().copied());
    let repaired = repair.output().unwrap();
    let said = String::from_utf8_lossy(&repaired.stdout).into_owned() + &String::from_utf8_lossy(&repaired.stderr);
    assert!(said.contains("repaired"), "{said}");
    let mut cmd = chargeback(&api.settings.data_dir);
    cmd.args(["usage", "--month", "2026-11", "--format", "json"]).envs(cli_env.iter().copied());
    let report: Value = serde_json::from_str(&run_ok(&mut cmd)).unwrap();
    assert_eq!(report["total"]["total_tokens"], expected, "{report}");
    let usage = api.get_json("/api/usage?from=2026-11-01&to=2026-12-01&group_by=day").await;
    assert_eq!(usage["total"]["total_tokens"], expected, "{usage}");
    let started = api.call(Method::POST, "/api/rollups/2026-11", None).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let status = api.rollup_status_when_over("2026-11").await;
    assert_eq!(status["runtimeStatus"], "Completed", "{status}");
}

#[tokio::test]
async fn rows_stored_before_the_maximum_no_longer_make_a_month_unreadable() {
    let api = spawn_api().await;
    api.app.ingest(&[v1_record("normal-1", 10, 5), v1_record("normal-2", 10, 5)], "0", 1).await;
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", api.settings.data_dir.join("ledger.sqlite").display()))
            .await
            .unwrap();
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('ledger')").fetch_all(&pool).await.unwrap();
    for sql in legacy_rows("normal-1", 2, &columns, "default") {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    pool.close().await;
    month_stays_readable(&api, &[]).await;
}

#[tokio::test]
async fn rows_stored_before_the_maximum_no_longer_make_a_month_unreadable_on_postgresql() {
    let Some(url) = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (s, tenant) = on_postgresql(dir.path(), &url, "sums");
    let api = spawn_with(s, dir).await;
    api.app.ingest(&[v1_record("normal-1", 10, 5), v1_record("normal-2", 10, 5)], "0", 1).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'ledger' AND table_schema = current_schema() ORDER BY ordinal_position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for sql in legacy_rows("normal-1", 2, &columns, &tenant) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    let env = [
        ("CHARGEBACK_LEDGER", "postgres"),
        ("DATABASE_URL", url.as_str()),
        ("CHARGEBACK_TENANT", tenant.as_str()),
        ("CHARGEBACK_FINGERPRINT_SECRET", "sums"),
    ];
    month_stays_readable(&api, &env).await;
}
