//! PostgreSQL maintenance of one tenant (the connection's current schema):
//! a session advisory lock on a dedicated connection makes the run a
//! singleton; tables are measured in `pg_stat_user_tables` and vacuumed or
//! analyzed, then indexes are measured (`pgstatindex` when the pgstattuple
//! extension is usable, a catalog estimate otherwise) and rebuilt with
//! `REINDEX INDEX CONCURRENTLY`. Every statement runs under `lock_timeout`,
//! and none of them blocks inserts (ANALYZE, plain VACUUM and concurrent
//! REINDEX take no lock that conflicts with writes).

use std::time::Instant;

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, Row};

use super::log::RunLog;
use super::partitions::{self, KeyType, PartitionedTable};
use super::plan::{self, Action, BloatMethod, IndexStats, Step, TableStats};
use super::{ActionRecord, Budget, Options, Report, RunOutcome, held_back, millis};
use crate::domain::Tenant;
use crate::storage::sql::support::now_us;

/// The advisory lock key's text; its `hashtext` is the key.
fn lock_key(tenant: &Tenant) -> String {
    format!("chargeback-maintenance:{}", tenant.as_str())
}

/// Runs maintenance of one tenant, or skips it when another run holds its lock.
pub async fn run(pool: &PgPool, tenant: &Tenant, options: &Options, budget: &Budget) -> anyhow::Result<Report> {
    let mut conn = PgConnection::connect_with(&pool.connect_options()).await.context("maintenance connection")?;
    let key = lock_key(tenant);
    let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
        .bind(&key)
        .fetch_one(&mut conn)
        .await
        .context("taking the maintenance lock")?;
    if !held {
        if !options.dry_run {
            RunLog::<PgPool>::skipped(pool, tenant.as_str(), "another run holds the advisory lock").await?;
        }
        let _ = conn.close().await;
        return Ok(Report {
            tenant: tenant.as_str().to_owned(),
            run_id: String::new(),
            outcome: RunOutcome::SkippedLockHeld,
            actions: Vec::new(),
            notes: Vec::new(),
        });
    }
    let result = locked_run(&mut conn, pool, tenant, options, budget).await;
    let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))").bind(&key).execute(&mut conn).await;
    let _ = conn.close().await;
    result
}

async fn locked_run(
    conn: &mut PgConnection,
    pool: &PgPool,
    tenant: &Tenant,
    options: &Options,
    budget: &Budget,
) -> anyhow::Result<Report> {
    let t = &options.thresholds;
    let set = format!("SET lock_timeout = {}", millis(t.lock_timeout));
    sqlx::raw_sql(AssertSqlSafe(set)).execute(&mut *conn).await?;
    let mut log = if options.dry_run { None } else { Some(RunLog::<PgPool>::start(pool, tenant.as_str()).await?) };
    let mut report = Report {
        tenant: tenant.as_str().to_owned(),
        run_id: log.as_ref().map(|l| l.run_id.clone()).unwrap_or_default(),
        outcome: if options.dry_run { RunOutcome::Planned } else { RunOutcome::Completed },
        actions: Vec::new(),
        notes: Vec::new(),
    };

    let tables = measure_tables(conn).await?;
    let steps: Vec<(Step, String)> = tables.iter().filter_map(|s| plan::table_step(t, s)).map(with_sql).collect();
    execute(conn, &steps, options, budget, &mut report, log.as_mut()).await?;

    let method = if t.pgstattuple { bloat_method(conn, options.dry_run).await } else { Method::Catalog };
    report.notes.push(match &method {
        Method::Pgstattuple(_) => "index bloat measured with pgstatindex (pgstattuple)".to_owned(),
        Method::Catalog => {
            "index bloat estimated from the catalog (pgstattuple not available or not wanted)".to_owned()
        }
    });
    let indexes = measure_indexes(conn, &method, t.reindex_min_bytes).await?;
    let steps: Vec<(Step, String)> = indexes.iter().filter_map(|s| plan::index_step(t, s)).map(with_sql).collect();
    execute(conn, &steps, options, budget, &mut report, log.as_mut()).await?;

    let (partitioned, note) = measure_partitioned(conn).await?;
    report.notes.push(note);
    let today = chrono::Utc::now().date_naive();
    let steps: Vec<(Step, String)> =
        partitioned.iter().flat_map(|p| partitions::partition_steps(p, today, t)).collect();
    execute(conn, &steps, options, budget, &mut report, log.as_mut()).await?;
    if let Some(log) = &log {
        let outcome = match report.outcome {
            RunOutcome::BudgetSpent => "budget-spent",
            _ => "completed",
        };
        log.finish(outcome, &format!("{} actions", report.actions.len())).await?;
    }
    Ok(report)
}

/// Runs (or, dry, lists) steps in order; stops starting them when the budget is spent.
async fn execute(
    conn: &mut PgConnection,
    steps: &[(Step, String)],
    options: &Options,
    budget: &Budget,
    report: &mut Report,
    mut log: Option<&mut RunLog<PgPool>>,
) -> anyhow::Result<()> {
    for (step, sql) in steps {
        let started_at_us = now_us();
        let started = Instant::now();
        let outcome = if let Some(held) = held_back(options, budget, report) {
            held
        } else {
            match sqlx::raw_sql(AssertSqlSafe(sql.clone())).execute(&mut *conn).await {
                Ok(_) => "done".to_owned(),
                Err(e) => {
                    tracing::warn!(action = step.action.as_str(), target = %step.target, error = %e, "maintenance action failed");
                    format!("failed: {e}")
                }
            }
        };
        let record = ActionRecord::finished(step, started, outcome);
        if let Some(log) = log.as_deref_mut() {
            log.action(&record, started_at_us).await?;
        }
        report.actions.push(record);
    }
    Ok(())
}

/// A table or index step with its SQL; targets are identifiers quoted by `format('%I.%I')`.
fn with_sql(step: Step) -> (Step, String) {
    let sql = match step.action {
        Action::Analyze => format!("ANALYZE {}", step.target),
        Action::VacuumAnalyze => format!("VACUUM (ANALYZE) {}", step.target),
        Action::Reindex => format!("REINDEX INDEX CONCURRENTLY {}", step.target),
        other => format!("SELECT 'not a table or index action: {}'", other.as_str()),
    };
    (step, sql)
}

async fn measure_tables(conn: &mut PgConnection) -> anyhow::Result<Vec<TableStats>> {
    sqlx::query("SELECT pg_stat_clear_snapshot()").execute(&mut *conn).await?;
    let rows = sqlx::query(
        "SELECT format('%I.%I', schemaname, relname) AS name, n_live_tup, n_dead_tup, n_mod_since_analyze, \
         (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) AS ever_analyzed \
         FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY relname",
    )
    .fetch_all(&mut *conn)
    .await
    .context("reading pg_stat_user_tables")?;
    rows.into_iter()
        .map(|r| {
            Ok(TableStats {
                name: r.try_get("name")?,
                live: r.try_get("n_live_tup")?,
                dead: r.try_get("n_dead_tup")?,
                modified_since_analyze: r.try_get("n_mod_since_analyze")?,
                ever_analyzed: r.try_get("ever_analyzed")?,
            })
        })
        .collect()
}

/// How index bloat is measured here.
enum Method {
    /// pgstattuple, installed in this (quoted) schema.
    Pgstattuple(String),
    Catalog,
}

/// pgstattuple when installed (or installable, outside dry runs) and callable.
async fn bloat_method(conn: &mut PgConnection, dry_run: bool) -> Method {
    if !dry_run {
        // Needs the right to create extensions; without it the catalog estimate serves.
        let _ = sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pgstattuple SCHEMA public").execute(&mut *conn).await;
    }
    let schema: Option<String> = sqlx::query_scalar(
        "SELECT format('%I', n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname = 'pgstattuple'",
    )
    .fetch_optional(&mut *conn)
    .await
    .ok()
    .flatten();
    match schema {
        Some(s) => Method::Pgstattuple(s),
        None => Method::Catalog,
    }
}

async fn measure_indexes(conn: &mut PgConnection, method: &Method, min_bytes: i64) -> anyhow::Result<Vec<IndexStats>> {
    const FROM: &str = "FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid \
         JOIN pg_class c ON c.oid = s.indexrelid JOIN pg_am am ON am.oid = c.relam \
         WHERE s.schemaname = current_schema() AND am.amname = 'btree' AND i.indisvalid ORDER BY s.indexrelname";
    if let Method::Pgstattuple(schema) = method {
        // Only indexes big enough to matter are read in full.
        let sql = format!(
            "SELECT format('%I.%I', s.schemaname, s.indexrelname) AS name, pg_relation_size(s.indexrelid) AS bytes, \
             CASE WHEN pg_relation_size(s.indexrelid) < $1 THEN 0 ELSE \
             (SELECT CASE WHEN p.leaf_pages = 0 OR p.avg_leaf_density = 'NaN' THEN 0 \
              ELSE greatest(0, least(100, round(100 - p.avg_leaf_density * 100 / 90)))::bigint END \
              FROM {schema}.pgstatindex(s.indexrelid::regclass) p) END AS bloat {FROM}"
        );
        match sqlx::query(AssertSqlSafe(sql)).bind(min_bytes).fetch_all(&mut *conn).await {
            Ok(rows) => {
                return rows
                    .into_iter()
                    .map(|r| {
                        Ok(IndexStats {
                            name: r.try_get("name")?,
                            bytes: r.try_get("bytes")?,
                            bloat_percent: r.try_get("bloat")?,
                            method: BloatMethod::Pgstattuple,
                        })
                    })
                    .collect();
            }
            Err(e) => tracing::warn!(error = %e, "pgstatindex failed; using the catalog estimate"),
        }
    }
    // Entry: line pointer (4) + MAXALIGN(tuple header 8 + key columns' average width).
    let sql = format!(
        "SELECT format('%I.%I', s.schemaname, s.indexrelname) AS name, pg_relation_size(s.indexrelid) AS bytes, \
         c.relpages::bigint AS pages, greatest(c.reltuples, 0)::bigint AS rows, \
         (4 + ((8 + coalesce((SELECT sum(coalesce(st.avg_width, 8)) FROM pg_attribute a \
            LEFT JOIN pg_stats st ON st.schemaname = s.schemaname AND st.tablename = s.relname AND st.attname = a.attname \
            WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey::int2[])), 8) + 7) / 8) * 8)::bigint AS entry_bytes, \
         current_setting('block_size')::bigint AS page_bytes {FROM}"
    );
    let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut *conn).await.context("reading index sizes")?;
    rows.into_iter()
        .map(|r| {
            let bloat = plan::catalog_bloat_percent(
                r.try_get("rows")?,
                r.try_get("entry_bytes")?,
                r.try_get("pages")?,
                r.try_get("page_bytes")?,
            );
            Ok(IndexStats {
                name: r.try_get("name")?,
                bytes: r.try_get("bytes")?,
                bloat_percent: bloat,
                method: BloatMethod::Catalog,
            })
        })
        .collect()
}

/// The schema's tables partitioned by range on one column of a date-like
/// type, with their children; and a note on what was found.
async fn measure_partitioned(conn: &mut PgConnection) -> anyhow::Result<(Vec<PartitionedTable>, String)> {
    let rows = sqlx::query(
        "SELECT n.nspname AS schema, c.relname AS tbl, p.partstrat::text AS strategy, p.partnatts::int AS columns, \
         format_type(a.atttypid, NULL) AS key_type, \
         ARRAY(SELECT k.relname::text FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid \
               WHERE i.inhparent = c.oid ORDER BY k.relname) AS children \
         FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] \
         WHERE n.nspname = current_schema() AND NOT c.relispartition ORDER BY c.relname",
    )
    .fetch_all(&mut *conn)
    .await
    .context("reading partitioned tables")?;
    let mut tables = Vec::new();
    let mut skipped = Vec::new();
    for r in rows {
        let table: String = r.try_get("tbl")?;
        let key_type: Option<String> = r.try_get("key_type")?;
        let strategy: String = r.try_get("strategy")?;
        let columns: i32 = r.try_get("columns")?;
        match key_type.as_deref().and_then(KeyType::from_type_name) {
            Some(key) if strategy == "r" && columns == 1 => tables.push(PartitionedTable {
                schema: r.try_get("schema")?,
                table,
                key,
                children: r.try_get("children")?,
            }),
            _ => skipped.push(table),
        }
    }
    let mut note = if tables.is_empty() {
        "no table is partitioned by month: no partitions to create, no retention to apply".to_owned()
    } else {
        let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
        format!("partitioned by month: {}", names.join(", "))
    };
    if !skipped.is_empty() {
        note.push_str(&format!("; left alone (not range on one date-like column): {}", skipped.join(", ")));
    }
    Ok((tables, note))
}
