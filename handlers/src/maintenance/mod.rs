//! Nightly SQL maintenance (issue 6): refresh planner statistics, vacuum
//! where dead tuples pile up, rebuild bloated indexes (PostgreSQL), and
//! `ANALYZE` / `PRAGMA optimize` / incremental vacuum / integrity check
//! (SQLite). One run per tenant at a time (advisory lock or lease), tenants
//! one after another, within a time budget; every action is logged in SQL
//! with the figure that justified it. The timer function `nightly-maintenance`
//! and `chargeback maintain` both call [`run_tenants`].
//!
//! A tenant is one database (or one PostgreSQL schema: the connection's
//! `search_path`). See `docs/operations.md`. The nightly run also audits the
//! usage cells against their records ([`audit`]).

pub mod audit;
pub mod log;
pub mod partitions;
pub mod plan;
pub mod postgres;
pub mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{PgPool, SqlitePool};

use crate::domain::Tenant;
use crate::storage::embedded::sqlite::SqliteLedger;
use crate::storage::postgres::PgConfig;
pub use plan::{Action, Step, Thresholds};

/// The name of the job in `maintenance_log`.
pub const JOB: &str = "nightly-maintenance";

/// The tenant maintained and where its database is, as configuration says
/// (opened on use).
#[derive(Debug, Clone)]
pub struct MaintenanceSource {
    /// The tenant (the lock's and the log's name).
    pub tenant: Tenant,
    /// Its database.
    pub database: DatabaseSource,
}

/// Where a tenant's database is.
#[derive(Debug, Clone)]
pub enum DatabaseSource {
    /// PostgreSQL (the chargeback schema and maybe the ledger).
    Postgres(PgConfig),
    /// The embedded SQLite ledger file.
    Sqlite(PathBuf),
    /// No SQL database is configured (Table Storage only): nothing to maintain.
    Nothing,
}

impl MaintenanceSource {
    /// Opens (and migrates) the tenant's database; `None` when there is none.
    pub async fn open(&self) -> anyhow::Result<Option<(Tenant, Database)>> {
        Ok(self.database.open().await?.map(|db| (self.tenant.clone(), db)))
    }
}

impl DatabaseSource {
    /// Opens (and migrates) the database.
    pub async fn open(&self) -> anyhow::Result<Option<Database>> {
        Ok(match self {
            Self::Postgres(config) => {
                let mut config = config.clone();
                config.max_connections = 2;
                Some(Database::Postgres(config.connect().await?))
            }
            Self::Sqlite(path) => Some(Database::Sqlite(SqliteLedger::open(path).await?.pool().clone())),
            Self::Nothing => None,
        })
    }
}

/// An open tenant database.
#[derive(Debug, Clone)]
pub enum Database {
    /// PostgreSQL; maintenance covers the connection's current schema.
    Postgres(PgPool),
    /// SQLite.
    Sqlite(SqlitePool),
}

/// How a run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// Every planned action ran (some may have failed; see each).
    Completed,
    /// The budget ran out; the remaining actions were not started.
    BudgetSpent,
    /// Another run held the tenant's lock; this one did nothing.
    SkippedLockHeld,
    /// `--dry-run`: the plan was printed, nothing done.
    Planned,
}

/// One action as run (or planned).
#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    /// `analyze`, `reindex`, …
    pub action: &'static str,
    /// Table, index or file.
    pub target: String,
    /// The figure and the threshold.
    pub reason: String,
    /// How long it took.
    pub duration_ms: u64,
    /// `done`, `failed: …`, `skipped: budget spent`, `planned`.
    pub outcome: String,
}

impl ActionRecord {
    /// The record of a step that started at `started` and ended with `outcome`.
    pub(crate) fn finished(step: &plan::Step, started: std::time::Instant, outcome: String) -> Self {
        Self {
            action: step.action.as_str(),
            target: step.target.clone(),
            reason: step.reason.clone(),
            duration_ms: millis(started.elapsed()),
            outcome,
        }
    }
}

/// What a run of one tenant did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The tenant.
    pub tenant: String,
    /// The run's id in `maintenance_log` (empty for dry runs and skips).
    pub run_id: String,
    /// How it went.
    pub outcome: RunOutcome,
    /// Each action, in order.
    pub actions: Vec<ActionRecord>,
    /// Remarks that are not actions (bloat method, partitioning).
    pub notes: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.outcome {
            RunOutcome::Completed => "completed",
            RunOutcome::BudgetSpent => "stopped: budget spent",
            RunOutcome::SkippedLockHeld => "skipped: another maintenance run holds this tenant's lock",
            RunOutcome::Planned => "dry run: plan only, nothing done",
        };
        writeln!(f, "tenant {}: {outcome}", self.tenant)?;
        if !self.run_id.is_empty() {
            writeln!(f, "  run {} (maintenance_log / maintenance_actions)", self.run_id)?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        if self.actions.is_empty() && self.outcome != RunOutcome::SkippedLockHeld {
            writeln!(f, "  nothing to do")?;
        }
        for a in &self.actions {
            if self.outcome == RunOutcome::Planned {
                writeln!(f, "  {} {}: {} ({})", a.action, a.target, a.outcome, a.reason)?;
            } else {
                writeln!(f, "  {} {}: {} ({}; {} ms)", a.action, a.target, a.outcome, a.reason, a.duration_ms)?;
            }
        }
        Ok(())
    }
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Thresholds and budget.
    pub thresholds: Thresholds,
    /// Print the plan only.
    pub dry_run: bool,
}

/// Runs maintenance for each tenant, one after another, sharing one budget.
pub async fn run_tenants(tenants: &[(Tenant, Database)], options: &Options) -> anyhow::Result<Vec<Report>> {
    let budget = Budget::start(options.thresholds.budget);
    let mut reports = Vec::with_capacity(tenants.len());
    for (tenant, database) in tenants {
        let report = match database {
            Database::Postgres(pool) => postgres::run(pool, tenant, options, &budget).await?,
            Database::Sqlite(pool) => sqlite::run(pool, tenant, options, &budget).await?,
        };
        tracing::info!(tenant = %tenant.as_str(), outcome = ?report.outcome, actions = report.actions.len(), "maintenance run");
        reports.push(report);
    }
    Ok(reports)
}

/// The time a run may spend starting actions.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    started: Instant,
    limit: Duration,
}

impl Budget {
    /// A budget starting now.
    pub fn start(limit: Duration) -> Self {
        Self { started: Instant::now(), limit }
    }

    /// Whether it is spent.
    pub fn spent(&self) -> bool {
        self.started.elapsed() >= self.limit
    }
}

/// Milliseconds of a duration, for the log.
/// The outcome of a step that must not run, on either engine: `planned` in a
/// dry run, `skipped: budget spent` once the budget is spent (which the
/// report then says).
pub(crate) fn held_back(options: &Options, budget: &Budget, report: &mut Report) -> Option<String> {
    if options.dry_run {
        Some("planned".to_owned())
    } else if budget.spent() {
        report.outcome = RunOutcome::BudgetSpent;
        Some("skipped: budget spent".to_owned())
    } else {
        None
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
