//! The decisions of a maintenance run, free of any database: the thresholds,
//! what was measured, and which action each measurement calls for (with the
//! figure and threshold that justify it, for the log).

use std::fmt;
use std::time::Duration;

use anyhow::Context;

/// Thresholds and budget (env `CHARGEBACK_MAINTENANCE`, `key=value` pairs
/// separated by commas; see `docs/operations.md`). Integers only: percentages
/// are whole percents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    /// `analyze_min_rows`: rows modified since the last analyze before a table
    /// is stale, plus `analyze_percent` of its live rows. Default 500 + 10 %.
    pub analyze_min_rows: i64,
    /// `analyze_percent`. Default 10.
    pub analyze_percent: i64,
    /// `vacuum_min_dead_rows`: dead tuples before `VACUUM (ANALYZE)`, plus
    /// `vacuum_percent` of live rows. Default 1000 + 10 %.
    pub vacuum_min_dead_rows: i64,
    /// `vacuum_percent`. Default 10.
    pub vacuum_percent: i64,
    /// `reindex_bloat_percent`: estimated index bloat (share of the index
    /// that is empty space) from which it is rebuilt. Default 30.
    pub reindex_bloat_percent: i64,
    /// `reindex_min_bytes`: smaller indexes are never rebuilt. Default 8 MiB.
    pub reindex_min_bytes: i64,
    /// `pgstattuple`: 1 measures index bloat with `pgstatindex` when the
    /// extension is usable (it reads each candidate index in full), 0 always
    /// uses the catalog estimate. Default 1.
    pub pgstattuple: bool,
    /// `partition_months_ahead`: monthly partitions created ahead of the
    /// current month (tables partitioned by month only). Default 2.
    pub partition_months_ahead: i32,
    /// `retention_months`: partitions of months older than this many months
    /// before the current one are detached. Default 0: never.
    pub retention_months: i32,
    /// `retention_drop`: 1 drops detached partitions, 0 keeps them as archive
    /// tables. Default 0.
    pub retention_drop: bool,
    /// `sqlite_free_pages`: free pages before an incremental vacuum. Default 1000.
    pub sqlite_free_pages: i64,
    /// `budget_seconds`: no new action starts after this. Default 480 (the
    /// host's functionTimeout is 10 minutes).
    pub budget: Duration,
    /// `lock_timeout_ms`: how long an action waits for a table lock before it
    /// gives up (so ingestion is never queued behind it). Default 5000.
    pub lock_timeout: Duration,
    /// `audit_sample_days`: the nightly audit of the usage cells checks this
    /// many days of yesterday's month, drawn at random; 0 checks every day.
    /// Default 0.
    pub audit_sample_days: usize,
    /// `audit_repair`: 1 rebuilds the cells of the days the nightly audit
    /// found wrong (after alerting); 0 leaves that to `chargeback audit
    /// --repair`. Default 0.
    pub audit_repair: bool,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            analyze_min_rows: 500,
            analyze_percent: 10,
            vacuum_min_dead_rows: 1000,
            vacuum_percent: 10,
            reindex_bloat_percent: 30,
            reindex_min_bytes: 8 * 1024 * 1024,
            pgstattuple: true,
            partition_months_ahead: 2,
            retention_months: 0,
            retention_drop: false,
            sqlite_free_pages: 1000,
            budget: Duration::from_secs(480),
            lock_timeout: Duration::from_secs(5),
            audit_sample_days: 0,
            audit_repair: false,
        }
    }
}

impl Thresholds {
    /// The defaults with `key=value,…` applied; unknown keys are refused.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut t = Self::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').with_context(|| format!("{pair:?} is not key=value"))?;
            let n: i64 = value.trim().parse().with_context(|| format!("{key}={value:?} is not an integer"))?;
            anyhow::ensure!(n >= 0, "{key}={n} must not be negative");
            let secs = || Duration::from_secs(n.unsigned_abs());
            let months = || i32::try_from(n).ok().filter(|m| *m <= 1200).with_context(|| format!("{key}={n} months"));
            match key.trim() {
                "analyze_min_rows" => t.analyze_min_rows = n,
                "analyze_percent" => t.analyze_percent = n,
                "vacuum_min_dead_rows" => t.vacuum_min_dead_rows = n,
                "vacuum_percent" => t.vacuum_percent = n,
                "reindex_bloat_percent" => t.reindex_bloat_percent = n,
                "reindex_min_bytes" => t.reindex_min_bytes = n,
                "pgstattuple" => t.pgstattuple = n != 0,
                "partition_months_ahead" => t.partition_months_ahead = months()?,
                "retention_months" => t.retention_months = months()?,
                "retention_drop" => t.retention_drop = n != 0,
                "sqlite_free_pages" => t.sqlite_free_pages = n,
                "budget_seconds" => t.budget = secs(),
                "lock_timeout_ms" => t.lock_timeout = Duration::from_millis(n.unsigned_abs()),
                "audit_sample_days" => t.audit_sample_days = usize::try_from(n).unwrap_or(usize::MAX),
                "audit_repair" => t.audit_repair = n != 0,
                other => anyhow::bail!("unknown maintenance setting {other:?}"),
            }
        }
        Ok(t)
    }

    /// From `CHARGEBACK_MAINTENANCE`, defaults when unset.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::parse(&std::env::var("CHARGEBACK_MAINTENANCE").unwrap_or_default()).context("CHARGEBACK_MAINTENANCE")
    }
}

/// What one maintenance step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `ANALYZE table`.
    Analyze,
    /// `VACUUM (ANALYZE) table`.
    VacuumAnalyze,
    /// `REINDEX INDEX CONCURRENTLY index`.
    Reindex,
    /// SQLite `PRAGMA integrity_check`.
    IntegrityCheck,
    /// SQLite `ANALYZE`.
    SqliteAnalyze,
    /// SQLite `PRAGMA optimize`.
    Optimize,
    /// SQLite `PRAGMA incremental_vacuum`.
    IncrementalVacuum,
    /// `CREATE TABLE … PARTITION OF …` for a coming month.
    CreatePartition,
    /// `ALTER TABLE … DETACH PARTITION … CONCURRENTLY` past the retention.
    DetachPartition,
    /// `DROP TABLE` of a detached partition (`retention_drop=1`).
    DropPartition,
}

impl Action {
    /// The name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Analyze => "analyze",
            Self::VacuumAnalyze => "vacuum-analyze",
            Self::Reindex => "reindex",
            Self::IntegrityCheck => "integrity-check",
            Self::SqliteAnalyze => "sqlite-analyze",
            Self::Optimize => "optimize",
            Self::IncrementalVacuum => "incremental-vacuum",
            Self::CreatePartition => "create-partition",
            Self::DetachPartition => "detach-partition",
            Self::DropPartition => "drop-partition",
        }
    }
}

/// One planned step: the action, on what, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What to do.
    pub action: Action,
    /// Table or index (schema-qualified on PostgreSQL), or the database file.
    pub target: String,
    /// The measured figure and the threshold it crossed.
    pub reason: String,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.action.as_str(), self.target, self.reason)
    }
}

/// A table's figures from `pg_stat_user_tables`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// `schema.table`, quoted for SQL.
    pub name: String,
    /// `n_live_tup`.
    pub live: i64,
    /// `n_dead_tup`.
    pub dead: i64,
    /// `n_mod_since_analyze`.
    pub modified_since_analyze: i64,
    /// Whether it was ever analyzed (manually or by autovacuum).
    pub ever_analyzed: bool,
}

/// The step a table needs, if any: `VACUUM (ANALYZE)` when dead tuples pile
/// up (it refreshes statistics too), else `ANALYZE` when statistics are stale.
/// A table never analyzed counts every row inserted as modified, so the same
/// threshold covers it; smaller tables are left to autovacuum.
pub fn table_step(t: &Thresholds, s: &TableStats) -> Option<Step> {
    let dead_limit = t.vacuum_min_dead_rows.saturating_add(s.live.saturating_mul(t.vacuum_percent) / 100);
    if s.dead >= dead_limit && s.dead > 0 {
        let reason = format!(
            "dead tuples {} >= {} ({} + {}% of {} live)",
            s.dead, dead_limit, t.vacuum_min_dead_rows, t.vacuum_percent, s.live
        );
        return Some(Step { action: Action::VacuumAnalyze, target: s.name.clone(), reason });
    }
    let stale_limit = t.analyze_min_rows.saturating_add(s.live.saturating_mul(t.analyze_percent) / 100);
    if s.modified_since_analyze >= stale_limit && s.modified_since_analyze > 0 {
        let reason = format!(
            "rows modified since last analyze {} >= {} ({} + {}% of {} live)",
            s.modified_since_analyze, stale_limit, t.analyze_min_rows, t.analyze_percent, s.live
        );
        return Some(Step { action: Action::Analyze, target: s.name.clone(), reason });
    }
    None
}

/// How an index's bloat was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BloatMethod {
    /// `pgstatindex` (extension pgstattuple): leaf density of the real pages.
    Pgstattuple,
    /// Estimate from the catalog: rows × entry width against the pages used.
    Catalog,
}

/// An index's size and estimated bloat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexStats {
    /// `schema.index`, quoted for SQL.
    pub name: String,
    /// Size on disk.
    pub bytes: i64,
    /// Estimated share of empty space, in percent (0–100).
    pub bloat_percent: i64,
    /// How it was measured.
    pub method: BloatMethod,
}

/// The catalog estimate of an index's bloat, in percent: the pages its
/// entries would fill at the B-tree's default fillfactor (90 %) against the
/// pages it has. `entry_bytes` is the tuple header, item pointer and key width.
pub fn catalog_bloat_percent(rows: i64, entry_bytes: i64, pages: i64, page_bytes: i64) -> i64 {
    if pages <= 1 || page_bytes <= 0 {
        return 0;
    }
    // Usable space per page at fillfactor 90, less the page header and special space.
    let usable = (page_bytes - 24 - 16) * 90 / 100;
    let needed = (rows.max(0).saturating_mul(entry_bytes.max(1)) + usable - 1) / usable.max(1);
    // The meta page is never data.
    let needed = needed + 1;
    if needed >= pages { 0 } else { (pages - needed) * 100 / pages }
}

/// The step an index needs, if any: `REINDEX … CONCURRENTLY` over the bloat
/// threshold, never under the minimum size.
pub fn index_step(t: &Thresholds, s: &IndexStats) -> Option<Step> {
    if s.bytes < t.reindex_min_bytes || s.bloat_percent < t.reindex_bloat_percent {
        return None;
    }
    let how = match s.method {
        BloatMethod::Pgstattuple => "pgstatindex",
        BloatMethod::Catalog => "catalog estimate",
    };
    let reason = format!(
        "bloat {}% ({how}) >= {}%, size {} bytes >= {}",
        s.bloat_percent, t.reindex_bloat_percent, s.bytes, t.reindex_min_bytes
    );
    Some(Step { action: Action::Reindex, target: s.name.clone(), reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(live: i64, dead: i64, modified: i64) -> TableStats {
        TableStats { name: "t".into(), live, dead, modified_since_analyze: modified, ever_analyzed: true }
    }

    #[test]
    fn a_quiet_table_needs_nothing() {
        assert_eq!(table_step(&Thresholds::default(), &table(100_000, 50, 400)), None);
    }

    #[test]
    fn stale_statistics_call_for_analyze_with_the_figure_and_threshold() {
        let step = table_step(&Thresholds::default(), &table(10_000, 0, 1_600)).unwrap();
        assert_eq!(step.action, Action::Analyze);
        assert_eq!(step.reason, "rows modified since last analyze 1600 >= 1500 (500 + 10% of 10000 live)");
        assert_eq!(table_step(&Thresholds::default(), &table(10_000, 0, 1_499)), None);
    }

    #[test]
    fn piled_up_dead_tuples_call_for_vacuum_analyze_which_covers_statistics() {
        let step = table_step(&Thresholds::default(), &table(10_000, 2_000, 50_000)).unwrap();
        assert_eq!(step.action, Action::VacuumAnalyze);
        assert!(step.reason.starts_with("dead tuples 2000 >= 2000"), "{}", step.reason);
    }

    #[test]
    fn a_small_never_analyzed_table_is_left_to_autovacuum() {
        let mut s = table(10, 0, 10);
        s.ever_analyzed = false;
        assert_eq!(table_step(&Thresholds::default(), &s), None);
        s.modified_since_analyze = 600;
        assert_eq!(table_step(&Thresholds::default(), &s).unwrap().action, Action::Analyze);
    }

    #[test]
    fn the_catalog_estimate_sees_a_mostly_empty_index() {
        // 1000 entries of 32 bytes fit in 5 pages (+ meta); 100 pages is ~94 % empty.
        assert_eq!(catalog_bloat_percent(1_000, 32, 100, 8192), 94);
        // A tight index is not bloated, and a tiny one never is.
        assert_eq!(catalog_bloat_percent(100_000, 32, 436, 8192), 0);
        assert_eq!(catalog_bloat_percent(0, 32, 1, 8192), 0);
    }

    #[test]
    fn only_large_enough_and_bloated_enough_indexes_are_rebuilt() {
        let t = Thresholds::default();
        let s =
            |bytes, bloat_percent| IndexStats { name: "i".into(), bytes, bloat_percent, method: BloatMethod::Catalog };
        assert_eq!(index_step(&t, &s(64 << 20, 29)), None);
        assert_eq!(index_step(&t, &s(1 << 20, 90)), None);
        let step = index_step(&t, &s(64 << 20, 45)).unwrap();
        assert_eq!(step.action, Action::Reindex);
        assert_eq!(step.reason, "bloat 45% (catalog estimate) >= 30%, size 67108864 bytes >= 8388608");
    }

    #[test]
    fn settings_parse_with_defaults_and_refuse_unknown_keys() {
        let t = Thresholds::parse("budget_seconds=60, reindex_min_bytes=0").unwrap();
        assert_eq!(t.budget, Duration::from_secs(60));
        assert_eq!(t.reindex_min_bytes, 0);
        assert_eq!(t.analyze_percent, 10);
        assert_eq!(Thresholds::parse("").unwrap(), Thresholds::default());
        assert!(Thresholds::parse("vacuum=1").is_err());
        assert!(Thresholds::parse("budget_seconds=-1").is_err());
    }
}
