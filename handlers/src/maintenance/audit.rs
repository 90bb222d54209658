//! The audit that proves the usage cells: a month's days recounted from
//! their records and compared with the cells ingest kept, in one snapshot
//! of the ledger. A difference is a failed check, reported with the
//! partition (day, party), the cell's key and both figures; a repair
//! rebuilds the cells of the days that differ from their records, then
//! checks them again. `chargeback audit` and the nightly maintenance run it
//! (`docs/operations.md`); the nightly run sends a failed check as an alert
//! on the `budget-alerts` queue.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rand::seq::IndexedRandom;
use serde::Serialize;

use crate::domain::{Period, Tenant, TokenSource, TokenTotals, UsageAggregate};
use crate::storage::{Ledger, StorageError};

/// What to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditOptions {
    /// The month.
    pub period: Period,
    /// Check this many days of the month, drawn at random; `None`: every day.
    pub sample_days: Option<usize>,
    /// Rebuild the cells of the days that differ, then check them again.
    pub repair: bool,
}

/// One cell on which the cells and the records disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The partition's day.
    pub day: NaiveDate,
    /// The partition's party.
    pub party: String,
    /// The cell's model ('' when the records do not say).
    pub model: String,
    /// The cell's deployment ('' when the records do not say).
    pub deployment: String,
    /// The cell's token source.
    #[serde(serialize_with = "source_name")]
    pub token_source: TokenSource,
    /// The cell's service tier ('' when the responses do not say).
    pub service_tier: String,
    /// The provisioned deployment the cell's calls spilled from ('' when none).
    pub spilled_from: String,
    /// What the stored cell says (`None`: no cell).
    pub cells: Option<Figures>,
    /// What the records say (`None`: no record).
    pub records: Option<Figures>,
}

fn source_name<S: serde::Serializer>(source: &TokenSource, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(source.as_str())
}

/// Requests and token sums, as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Records.
    pub requests: u64,
    /// Prompt tokens, cached included.
    pub prompt_tokens: u64,
    /// Completion tokens, reasoning included.
    pub completion_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Prompt tokens written to the prompt cache.
    pub cache_write_tokens: u64,
    /// Audio prompt tokens.
    pub audio_prompt_tokens: u64,
    /// Audio completion tokens.
    pub audio_completion_tokens: u64,
    /// Accepted predicted-output tokens.
    pub accepted_prediction_tokens: u64,
    /// Rejected predicted-output tokens.
    pub rejected_prediction_tokens: u64,
}

impl From<TokenTotals> for Figures {
    fn from(t: TokenTotals) -> Self {
        Self {
            requests: t.requests,
            prompt_tokens: t.prompt,
            completion_tokens: t.completion,
            cached_tokens: t.cached,
            reasoning_tokens: t.reasoning,
            cache_write_tokens: t.cache_write,
            audio_prompt_tokens: t.audio_prompt,
            audio_completion_tokens: t.audio_completion,
            accepted_prediction_tokens: t.accepted_prediction,
            rejected_prediction_tokens: t.rejected_prediction,
        }
    }
}

/// What an audit found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// The tenant.
    pub tenant: Tenant,
    /// The month.
    pub period: Period,
    /// `false` when the ledger keeps no cells (Table Storage computes them
    /// from the records whenever they are read): nothing to prove.
    pub applicable: bool,
    /// The days checked.
    pub days: Vec<NaiveDate>,
    /// Cells compared (the union of both sides).
    pub cells_compared: usize,
    /// Requests the records of those days hold.
    pub requests: u64,
    /// Where the cells and the records disagree, in key order.
    pub differences: Vec<Difference>,
    /// Days whose cells were rebuilt from their records.
    pub repaired_days: Vec<NaiveDate>,
    /// After a repair: the differences a second check still found.
    pub after_repair: Option<Vec<Difference>>,
    /// When the check was made.
    pub checked_at: DateTime<Utc>,
}

impl AuditReport {
    /// Whether the check passed (a repaired check still failed).
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

impl std::fmt::Display for AuditReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.applicable {
            return writeln!(
                f,
                "audit {} {}: this ledger keeps no usage cells (Table Storage computes them from the records): \
                 nothing to check",
                self.tenant, self.period
            );
        }
        let outcome = if self.passed() { "passed" } else { "FAILED" };
        writeln!(
            f,
            "audit {} {}: {outcome}: {} days, {} cells, {} requests recounted from the records; {} differences",
            self.tenant,
            self.period,
            self.days.len(),
            self.cells_compared,
            self.requests,
            self.differences.len()
        )?;
        for d in &self.differences {
            let show = |x: &Option<Figures>| match x {
                Some(x) => format!(
                    "requests {} prompt {} completion {} cached {} reasoning {} cache_write {} audio_prompt {} \
                     audio_completion {} accepted_prediction {} rejected_prediction {}",
                    x.requests,
                    x.prompt_tokens,
                    x.completion_tokens,
                    x.cached_tokens,
                    x.reasoning_tokens,
                    x.cache_write_tokens,
                    x.audio_prompt_tokens,
                    x.audio_completion_tokens,
                    x.accepted_prediction_tokens,
                    x.rejected_prediction_tokens
                ),
                None => "none".to_owned(),
            };
            writeln!(
                f,
                "  partition {} {}: model {:?} deployment {:?} {} tier {:?} spilled from {:?}: cells [{}] records [{}]",
                d.day,
                d.party,
                d.model,
                d.deployment,
                d.token_source.as_str(),
                d.service_tier,
                d.spilled_from,
                show(&d.cells),
                show(&d.records)
            )?;
        }
        if !self.repaired_days.is_empty() {
            let again = self.after_repair.as_ref().map_or(0, Vec::len);
            writeln!(
                f,
                "  repaired: the cells of {} days rebuilt from their records; checked again: {again} differences",
                self.repaired_days.len()
            )?;
        }
        Ok(())
    }
}

/// The alert a failed check sends on the `budget-alerts` queue: `kind`
/// tells it from a budget alert; at most [`ALERT_DIFFERENCES`] differences
/// are listed, `differences` counts them all.
#[derive(Debug, Clone, Serialize)]
pub struct AuditAlert {
    /// Stable per tenant, month and check time.
    pub id: String,
    /// Always `ledger-audit`.
    pub kind: &'static str,
    /// The tenant.
    pub tenant: Tenant,
    /// The month.
    pub period: Period,
    /// How many cells differ.
    pub differences: usize,
    /// The first of them, with both figures.
    pub cells: Vec<Difference>,
    /// Whether they were repaired (and the second check passed).
    pub repaired: bool,
    /// When the check was made.
    pub checked_at: DateTime<Utc>,
}

/// Differences listed in an alert at most.
pub const ALERT_DIFFERENCES: usize = 20;

impl AuditReport {
    /// The alert of a failed check; `None` when it passed.
    pub fn alert(&self) -> Option<AuditAlert> {
        (!self.passed()).then(|| AuditAlert {
            id: format!("{}/{}/ledger-audit/{}", self.tenant, self.period, self.checked_at.timestamp()),
            kind: "ledger-audit",
            tenant: self.tenant.clone(),
            period: self.period,
            differences: self.differences.len(),
            cells: self.differences.iter().take(ALERT_DIFFERENCES).cloned().collect(),
            repaired: !self.repaired_days.is_empty() && self.after_repair.as_ref().is_some_and(Vec::is_empty),
            checked_at: self.checked_at,
        })
    }
}

/// The audit over a ledger.
#[derive(Debug, Clone)]
pub struct Audit {
    ledger: Arc<dyn Ledger>,
}

/// A cell's key: the columns of `storage::sql::cells::KEY` but the tenant.
type Key = (NaiveDate, String, String, String, TokenSource, String, String);

fn by_key(cells: Vec<UsageAggregate>) -> BTreeMap<Key, TokenTotals> {
    let mut out: BTreeMap<Key, TokenTotals> = BTreeMap::new();
    for c in cells {
        *out.entry((c.day, c.party, c.model, c.deployment, c.token_source, c.service_tier, c.spilled_from))
            .or_default() += c.tokens;
    }
    out
}

/// The cells on which two sides differ, in key order.
fn compare(stored: Vec<UsageAggregate>, recounted: Vec<UsageAggregate>) -> (usize, u64, Vec<Difference>) {
    let (stored, recounted) = (by_key(stored), by_key(recounted));
    let requests = recounted.values().map(|t| t.requests).sum();
    let keys: std::collections::BTreeSet<&Key> = stored.keys().chain(recounted.keys()).collect();
    let differences = keys
        .iter()
        .filter_map(|&key| {
            let (cells, records) = (stored.get(key), recounted.get(key));
            (cells != records).then(|| Difference {
                day: key.0,
                party: key.1.clone(),
                model: key.2.clone(),
                deployment: key.3.clone(),
                token_source: key.4,
                service_tier: key.5.clone(),
                spilled_from: key.6.clone(),
                cells: cells.copied().map(Figures::from),
                records: records.copied().map(Figures::from),
            })
        })
        .collect();
    (keys.len(), requests, differences)
}

impl Audit {
    /// The audit of this ledger's cells.
    pub fn new(ledger: Arc<dyn Ledger>) -> Self {
        Self { ledger }
    }

    /// Checks a tenant's month (or a sample of its days), and repairs when asked.
    pub async fn run(&self, tenant: &Tenant, options: &AuditOptions) -> Result<AuditReport, StorageError> {
        let first = options.period.first_day();
        let all: Vec<NaiveDate> = first.iter_days().take_while(|d| *d < options.period.next_first_day()).collect();
        let mut report = AuditReport {
            tenant: tenant.clone(),
            period: options.period,
            applicable: true,
            days: Vec::new(),
            cells_compared: 0,
            requests: 0,
            differences: Vec::new(),
            repaired_days: Vec::new(),
            after_repair: None,
            checked_at: Utc::now(),
        };
        // Contiguous runs of days, each checked in one snapshot: the whole
        // month at once, or each sampled day alone.
        let runs: Vec<(NaiveDate, NaiveDate)> = match options.sample_days {
            Some(n) if n < all.len() => {
                let mut days: Vec<NaiveDate> = all.choose_multiple(&mut rand::rng(), n).copied().collect();
                days.sort();
                days.into_iter().map(|d| (d, d)).collect()
            }
            _ => all.first().zip(all.last()).map(|(a, b)| (*a, *b)).into_iter().collect(),
        };
        for &(from, to) in &runs {
            let Some(check) = self.ledger.check_cells(tenant, from, to).await? else {
                report.applicable = false;
                return Ok(report);
            };
            let (cells, requests, differences) = compare(check.stored, check.recounted);
            report.cells_compared += cells;
            report.requests += requests;
            report.differences.extend(differences);
            report.days.extend(from.iter_days().take_while(|d| *d <= to));
        }
        if options.repair && !report.differences.is_empty() {
            let days: std::collections::BTreeSet<NaiveDate> = report.differences.iter().map(|d| d.day).collect();
            let mut again = Vec::new();
            for &day in &days {
                self.ledger.rebuild_cells(tenant, day, day).await?;
                if let Some(check) = self.ledger.check_cells(tenant, day, day).await? {
                    again.extend(compare(check.stored, check.recounted).2);
                }
            }
            report.repaired_days = days.into_iter().collect();
            report.after_repair = Some(again);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(party: &str, requests: u64) -> UsageAggregate {
        UsageAggregate {
            day: NaiveDate::from_ymd_opt(2026, 10, 2).unwrap_or_default(),
            party: party.into(),
            model: "m".into(),
            deployment: String::new(),
            token_source: TokenSource::Reported,
            service_tier: String::new(),
            spilled_from: String::new(),
            tokens: TokenTotals { requests, prompt: requests * 10, completion: requests, ..Default::default() },
        }
    }

    #[test]
    fn equal_sides_differ_nowhere_and_each_kind_of_difference_is_named() {
        let (n, requests, none) = compare(vec![cell("a", 2), cell("b", 1)], vec![cell("b", 1), cell("a", 2)]);
        assert_eq!((n, requests, none.len()), (2, 3, 0));
        let (n, _, found) = compare(vec![cell("a", 2), cell("c", 5)], vec![cell("a", 3), cell("b", 1)]);
        assert_eq!(n, 3);
        let summary: Vec<(&str, Option<u64>, Option<u64>)> = found
            .iter()
            .map(|d| (d.party.as_str(), d.cells.map(|f| f.requests), d.records.map(|f| f.requests)))
            .collect();
        assert_eq!(summary, [("a", Some(2), Some(3)), ("b", None, Some(1)), ("c", Some(5), None)]);
    }

    #[test]
    fn the_billing_dimensions_are_part_of_the_key_and_of_the_figures() {
        let mut priority = cell("a", 1);
        priority.service_tier = "priority".into();
        let mut writes = cell("a", 1);
        writes.tokens.cache_write = 4;
        // Same sums under another tier: a cell missing on each side.
        let (n, _, found) = compare(vec![priority], vec![cell("a", 1)]);
        assert_eq!((n, found.len()), (2, 2));
        assert_eq!(found.iter().map(|d| d.service_tier.as_str()).collect::<Vec<_>>(), ["", "priority"]);
        // Only a cache-write sum differs: named, with both figures.
        let (_, _, found) = compare(vec![writes], vec![cell("a", 1)]);
        let figures =
            found.iter().map(|d| (d.cells.map(|f| f.cache_write_tokens), d.records.map(|f| f.cache_write_tokens)));
        assert_eq!(figures.collect::<Vec<_>>(), [(Some(4), Some(0))]);
    }
}
