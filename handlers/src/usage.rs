//! Token totals per application, business unit, model, deployment or day,
//! with reported, estimated and pending (uncounted) usage kept apart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{Tenant, TokenCounts, TokenSource};
use crate::mapping::ApplicationMap;
use crate::storage::{Grouping, Ledger, StorageError, UsageQuery};

/// What usage is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    /// Application (from the mapping; the party itself when unmapped).
    App,
    /// Business unit (from the mapping; `unassigned` when unmapped).
    BusinessUnit,
    /// Model.
    Model,
    /// Deployment.
    Deployment,
    /// UTC day.
    Day,
}

/// Totals of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageLine {
    /// The group.
    pub key: String,
    /// Requests and tokens; estimated tokens (streamed responses without
    /// usage) and pending requests (not counted yet, their tokens are not in
    /// the totals) apart.
    #[serde(flatten)]
    pub tokens: TokenCounts,
}

impl UsageLine {
    /// The line of one group's records of one token source, from `[requests,
    /// prompt, completion, cached, reasoning]`.
    pub fn counted(key: String, source: TokenSource, counts: [u64; 5]) -> Self {
        Self { key, tokens: TokenCounts::counted(source, counts) }
    }

    /// Adds another line's counts to this one (the key stays).
    pub fn add(&mut self, other: &UsageLine) {
        self.tokens.add(&other.tokens);
    }
}

/// A usage report: lines sorted by key, and their sum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// One line per group.
    pub lines: Vec<UsageLine>,
    /// The sum of the lines.
    pub total: UsageLine,
}

/// Builds a usage report from the ledger.
pub async fn usage_report(
    ledger: &dyn Ledger,
    map: &ApplicationMap,
    tenant: &Tenant,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: GroupBy,
) -> Result<UsageReport, StorageError> {
    let grouping = match by {
        GroupBy::App | GroupBy::BusinessUnit => Grouping::Party,
        GroupBy::Model => Grouping::Model,
        GroupBy::Deployment => Grouping::Deployment,
        GroupBy::Day => Grouping::Day,
    };
    let rows = ledger.totals(&UsageQuery { tenant: tenant.clone(), from, to, group_by: grouping }).await?;
    let mut lines: BTreeMap<String, UsageLine> = BTreeMap::new();
    for row in rows {
        let key = match by {
            GroupBy::App => map.application(&row.key).to_owned(),
            GroupBy::BusinessUnit => map.business_unit(&row.key).to_owned(),
            _ => row.key.clone(),
        };
        let counts = [row.requests, row.prompt, row.completion, row.cached, row.reasoning];
        let line = UsageLine::counted(key.clone(), row.token_source, counts);
        lines.entry(key.clone()).or_insert_with(|| UsageLine { key, ..Default::default() }).add(&line);
    }
    let lines: Vec<UsageLine> = lines.into_values().collect();
    let mut total = UsageLine { key: "TOTAL".to_owned(), ..Default::default() };
    for line in &lines {
        total.add(line);
    }
    Ok(UsageReport { from, to, lines, total })
}

const HEADERS: [&str; 9] =
    ["group", "requests", "prompt", "cached", "completion", "reasoning", "total", "estimated", "pending_requests"];

fn cells(line: &UsageLine) -> [String; 9] {
    [
        line.key.clone(),
        line.tokens.requests.to_string(),
        line.tokens.prompt_tokens.to_string(),
        line.tokens.cached_tokens.to_string(),
        line.tokens.completion_tokens.to_string(),
        line.tokens.reasoning_tokens.to_string(),
        line.tokens.total_tokens.to_string(),
        line.tokens.estimated_tokens.to_string(),
        line.tokens.pending_requests.to_string(),
    ]
}

impl UsageReport {
    /// A fixed-width text table with a total line.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<[String; 9]> = vec![HEADERS.map(str::to_owned)];
        rows.extend(self.lines.iter().map(cells));
        rows.push(cells(&self.total));
        let mut widths = [0usize; 9];
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for (i, row) in rows.iter().enumerate() {
            if i == rows.len() - 1 {
                let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 2 * 8));
            }
            for (j, (w, c)) in widths.iter().zip(row).enumerate() {
                let sep = if j == 0 { "" } else { "  " };
                if j == 0 {
                    let _ = write!(out, "{sep}{c:<w$}");
                } else {
                    let _ = write!(out, "{sep}{c:>w$}");
                }
            }
            out.push('\n');
        }
        out
    }

    /// CSV with a header and a total line.
    pub fn to_csv(&self) -> anyhow::Result<String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(HEADERS)?;
        for line in self.lines.iter().chain(std::iter::once(&self.total)) {
            writer.write_record(cells(line))?;
        }
        Ok(String::from_utf8(writer.into_inner()?)?)
    }
}
