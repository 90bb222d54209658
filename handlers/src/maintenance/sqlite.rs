//! SQLite (embedded) maintenance of one tenant's database file: integrity
//! check, `ANALYZE` when the database was never analyzed, `PRAGMA optimize`
//! (which re-analyzes only what changed) and an incremental vacuum when free
//! pages pile up and the file is in incremental auto-vacuum mode. A lease in
//! the `leases` table (the embedded lease store) makes the run a singleton.

use std::time::{Duration, Instant};

use sqlx::SqlitePool;

use super::log::RunLog;
use super::plan::{Action, Step};
use super::{ActionRecord, Budget, Options, Report, RunOutcome, held_back};
use crate::domain::Tenant;
use crate::storage::LeaseStore;
use crate::storage::sql::support::{SqlLeases, now_us};

/// Lease time; renewed before each action.
const LEASE_TTL: Duration = Duration::from_secs(60);

/// Runs maintenance of one tenant's SQLite database, or skips it when another
/// run holds its lease.
pub async fn run(pool: &SqlitePool, tenant: &Tenant, options: &Options, budget: &Budget) -> anyhow::Result<Report> {
    let leases = SqlLeases::new(pool.clone());
    let lease_name = format!("maintenance:{}", tenant.as_str());
    let mut report = Report {
        tenant: tenant.as_str().to_owned(),
        run_id: String::new(),
        outcome: if options.dry_run { RunOutcome::Planned } else { RunOutcome::Completed },
        actions: Vec::new(),
        notes: Vec::new(),
    };
    let Some(lease) = leases.acquire(&lease_name, LEASE_TTL).await? else {
        if !options.dry_run {
            RunLog::<SqlitePool>::skipped(pool, tenant.as_str(), "another run holds the lease").await?;
        }
        report.outcome = RunOutcome::SkippedLockHeld;
        return Ok(report);
    };
    let result = async {
        let steps = plan(pool, options).await?;
        let mut log =
            if options.dry_run { None } else { Some(RunLog::<SqlitePool>::start(pool, tenant.as_str()).await?) };
        report.run_id = log.as_ref().map(|l| l.run_id.clone()).unwrap_or_default();
        for step in &steps {
            let started_at_us = now_us();
            let started = Instant::now();
            let outcome = if let Some(held) = held_back(options, budget, &mut report) {
                held
            } else if !leases.renew(&lease).await? {
                // Another run may have taken over; doing more would no longer be a singleton.
                report.outcome = RunOutcome::BudgetSpent;
                "skipped: lease lost".to_owned()
            } else {
                match execute(pool, step.action).await {
                    Ok(()) => "done".to_owned(),
                    Err(e) => format!("failed: {e}"),
                }
            };
            let record = ActionRecord::finished(step, started, outcome);
            if let Some(log) = log.as_mut() {
                log.action(&record, started_at_us).await?;
            }
            report.actions.push(record);
        }
        if let Some(log) = &log {
            let outcome = if report.outcome == RunOutcome::BudgetSpent { "budget-spent" } else { "completed" };
            log.finish(outcome, &format!("{} actions", report.actions.len())).await?;
        }
        anyhow::Ok(())
    }
    .await;
    leases.release(&lease).await?;
    result.map(|()| report)
}

/// The steps this database needs, each with its figure.
async fn plan(pool: &SqlitePool, options: &Options) -> anyhow::Result<Vec<Step>> {
    let t = &options.thresholds;
    let file = "main".to_owned();
    let mut steps = vec![Step {
        action: Action::IntegrityCheck,
        target: file.clone(),
        reason: "nightly integrity check".to_owned(),
    }];
    let stat_tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").fetch_one(pool).await?;
    if stat_tables == 0 {
        steps.push(Step {
            action: Action::SqliteAnalyze,
            target: file.clone(),
            reason: "never analyzed (no sqlite_stat1)".to_owned(),
        });
    }
    steps.push(Step {
        action: Action::Optimize,
        target: file.clone(),
        reason: "nightly; re-analyzes only tables whose statistics drifted".to_owned(),
    });
    let auto_vacuum: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(pool).await?;
    let free: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(pool).await?;
    if auto_vacuum == 2 && free >= t.sqlite_free_pages {
        steps.push(Step {
            action: Action::IncrementalVacuum,
            target: file,
            reason: format!("free pages {free} >= {}", t.sqlite_free_pages),
        });
    }
    Ok(steps)
}

async fn execute(pool: &SqlitePool, action: Action) -> anyhow::Result<()> {
    match action {
        Action::IntegrityCheck => {
            let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(pool).await?;
            anyhow::ensure!(problems == ["ok"], "integrity check: {}", problems.join("; "));
        }
        Action::SqliteAnalyze => {
            sqlx::raw_sql("ANALYZE").execute(pool).await?;
        }
        Action::Optimize => {
            sqlx::raw_sql("PRAGMA optimize").execute(pool).await?;
        }
        Action::IncrementalVacuum => {
            sqlx::raw_sql("PRAGMA incremental_vacuum").execute(pool).await?;
        }
        other => anyhow::bail!("not a SQLite action: {}", other.as_str()),
    }
    Ok(())
}
