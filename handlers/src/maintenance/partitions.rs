//! Monthly partitions of PostgreSQL tables partitioned by range on one
//! column: the coming months' partitions are created ahead of time, and,
//! only when configured (`retention_months` > 0), partitions older than the
//! retention are detached (kept as archive tables) or detached and dropped.
//!
//! Only children named `<parent>_yYYYYmMM` are ever touched; other children
//! (a default partition, hand-made ones) are left alone.

use chrono::{Datelike, NaiveDate};

use super::plan::{Action, Step, Thresholds};

/// The partition key's type, which decides how a month's bounds are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Text holding `YYYY-MM-DD…` (compares like dates).
    Text,
    /// Microseconds since the Unix epoch, UTC.
    Micros,
    /// `date`, `timestamp` or `timestamptz`.
    Time,
}

impl KeyType {
    /// From `format_type` of the key column; `None` for types we do not partition by month.
    pub fn from_type_name(name: &str) -> Option<Self> {
        match name {
            "text" | "character varying" => Some(Self::Text),
            "bigint" => Some(Self::Micros),
            "date" | "timestamp without time zone" | "timestamp with time zone" => Some(Self::Time),
            _ => None,
        }
    }

    fn bound(self, month_start: NaiveDate) -> String {
        match self {
            Self::Text => format!("'{}'", month_start.format("%Y-%m-%d")),
            Self::Micros => {
                let micros = month_start.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_micros());
                micros.to_string()
            }
            Self::Time => format!("'{} 00:00:00+00'", month_start.format("%Y-%m-%d")),
        }
    }
}

/// A table partitioned by range on one column, with its children's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionedTable {
    /// Schema (unquoted).
    pub schema: String,
    /// Table name (unquoted).
    pub table: String,
    /// The key column's type.
    pub key: KeyType,
    /// Names of its partitions (unquoted).
    pub children: Vec<String>,
}

/// A SQL identifier, quoted.
fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The first day of the month `offset` months from `day`'s month.
fn month_start(day: NaiveDate, offset: i32) -> Option<NaiveDate> {
    let index = day.year() * 12 + i32::try_from(day.month0()).ok()? + offset;
    NaiveDate::from_ymd_opt(index.div_euclid(12), u32::try_from(index.rem_euclid(12)).ok()? + 1, 1)
}

/// The month a child named `<parent>_yYYYYmMM` holds.
fn child_month(parent: &str, child: &str) -> Option<NaiveDate> {
    let rest = child.strip_prefix(parent)?.strip_prefix("_y")?;
    let (year, month) = rest.split_once('m')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)
}

/// The steps a partitioned table needs today, each with its SQL.
pub fn partition_steps(p: &PartitionedTable, today: NaiveDate, t: &Thresholds) -> Vec<(Step, String)> {
    let parent = format!("{}.{}", quote(&p.schema), quote(&p.table));
    let mut steps = Vec::new();
    for offset in 0..=t.partition_months_ahead {
        let (Some(from), Some(to)) = (month_start(today, offset), month_start(today, offset + 1)) else { continue };
        let child = format!("{}_y{}", p.table, from.format("%Ym%m"));
        if p.children.contains(&child) {
            continue;
        }
        let target = format!("{}.{}", quote(&p.schema), quote(&child));
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {target} PARTITION OF {parent} FOR VALUES FROM ({}) TO ({})",
            p.key.bound(from),
            p.key.bound(to)
        );
        let reason = format!(
            "month {} has no partition; partitions are kept {} months ahead",
            from.format("%Y-%m"),
            t.partition_months_ahead
        );
        steps.push((Step { action: Action::CreatePartition, target, reason }, sql));
    }
    if t.retention_months > 0
        && let Some(oldest_kept) = month_start(today, -t.retention_months)
    {
        let mut old: Vec<(&String, NaiveDate)> = p
            .children
            .iter()
            .filter_map(|c| child_month(&p.table, c).map(|m| (c, m)))
            .filter(|(_, m)| *m < oldest_kept)
            .collect();
        old.sort_by_key(|(_, m)| *m);
        for (child, month) in old {
            let target = format!("{}.{}", quote(&p.schema), quote(child));
            let reason = format!(
                "month {} is older than the retention of {} months (keeps {} on)",
                month.format("%Y-%m"),
                t.retention_months,
                oldest_kept.format("%Y-%m")
            );
            let detach = format!("ALTER TABLE {parent} DETACH PARTITION {target} CONCURRENTLY");
            steps.push((
                Step { action: Action::DetachPartition, target: target.clone(), reason: reason.clone() },
                detach,
            ));
            if t.retention_drop {
                let drop = format!("DROP TABLE IF EXISTS {target}");
                steps.push((Step { action: Action::DropPartition, target, reason }, drop));
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(children: &[&str]) -> PartitionedTable {
        PartitionedTable {
            schema: "s".into(),
            table: "usage".into(),
            key: KeyType::Text,
            children: children.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_coming_months_are_created_across_the_year_end_and_existing_ones_are_kept() {
        let steps = partition_steps(&table(&["usage_y2026m11"]), day(2026, 11, 26), &Thresholds::default());
        let sql: Vec<&str> = steps.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            sql,
            [
                "CREATE TABLE IF NOT EXISTS \"s\".\"usage_y2026m12\" PARTITION OF \"s\".\"usage\" FOR VALUES FROM ('2026-12-01') TO ('2027-01-01')",
                "CREATE TABLE IF NOT EXISTS \"s\".\"usage_y2027m01\" PARTITION OF \"s\".\"usage\" FOR VALUES FROM ('2027-01-01') TO ('2027-02-01')",
            ]
        );
        assert_eq!(steps[0].0.reason, "month 2026-12 has no partition; partitions are kept 2 months ahead");
    }

    #[test]
    fn retention_is_never_applied_by_default() {
        let steps = partition_steps(
            &table(&["usage_y2020m01", "usage_y2026m11", "usage_y2026m12", "usage_y2027m01"]),
            day(2026, 11, 1),
            &Thresholds::default(),
        );
        assert!(steps.is_empty(), "{steps:?}");
    }

    #[test]
    fn old_months_are_detached_and_dropped_only_when_configured() {
        let t = Thresholds { retention_months: 12, partition_months_ahead: 0, ..Thresholds::default() };
        let p = table(&["usage_y2025m10", "usage_y2025m11", "usage_default", "usage_y2026m11"]);
        let steps = partition_steps(&p, day(2026, 11, 26), &t);
        let actions: Vec<(Action, &str)> = steps.iter().map(|(s, _)| (s.action, s.target.as_str())).collect();
        assert_eq!(actions, [(Action::DetachPartition, "\"s\".\"usage_y2025m10\"")]);
        let t = Thresholds { retention_drop: true, ..t };
        let steps = partition_steps(&p, day(2026, 11, 26), &t);
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[1].1, "DROP TABLE IF EXISTS \"s\".\"usage_y2025m10\"");
    }

    #[test]
    fn bounds_follow_the_key_type() {
        assert_eq!(KeyType::Micros.bound(day(2026, 12, 1)), "1796083200000000");
        assert_eq!(KeyType::Time.bound(day(2026, 12, 1)), "'2026-12-01 00:00:00+00'");
        assert_eq!(KeyType::from_type_name("integer"), None);
    }
}
