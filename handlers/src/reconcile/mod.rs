//! Reconciling a month's statement with the Azure invoice (issue #17).
//!
//! The invoice is Azure Cost Management's FOCUS cost export for the month
//! ([`Invoice`]). Its Azure OpenAI rows are matched to the statement by
//! account and meter ([`matching`]); each group gets a status and the month
//! reconciles when every group matches. [`true_up`] then distributes each
//! group's difference over its statement lines by cost share, as correction
//! lines of their own, so the trued-up statement sums to the invoice to the
//! cent. Everything here is pure: the rollup (`Rollups::reconcile` for the
//! CLI and the API, and its finish step when [`InvoiceExports`] are
//! configured) reads the month and the export, and writes the results.

mod invoice;
mod matching;
mod render;
pub mod sample;
mod true_up;

#[cfg(test)]
mod scenarios;

pub use invoice::{ColumnSet, Invoice, InvoiceError, InvoiceRow};
pub use matching::{Group, Status, TOKEN_TOLERANCE_MIN, TOKEN_TOLERANCE_RATIO, UnknownResource};
pub use render::{RECONCILIATION_FILES, csv, json, table};
pub use true_up::{INVOICE_ONLY, TrueUpError, true_up};

use std::path::PathBuf;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::billing::allocation::to_cents;
use crate::billing::{DeploymentCatalogue, Statement};
use crate::domain::{Currency, Money, Period, TokenCounts, serialize_amount};

/// The month's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Total {
    /// The invoice's Azure OpenAI cost on our accounts, rounded once to cents.
    #[serde(serialize_with = "serialize_amount")]
    pub invoice_cost: Money,
    /// The statement's total.
    #[serde(serialize_with = "serialize_amount")]
    pub our_cost: Money,
    /// Invoice less ours.
    #[serde(serialize_with = "serialize_amount")]
    pub difference: Money,
    /// Whether every group matches.
    pub reconciles: bool,
}

/// A month's statement against its invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    /// The month.
    pub period: Period,
    /// The currency of both.
    pub currency: Currency,
    /// The invoice file.
    pub invoice: String,
    /// The FOCUS column set of the export.
    pub columns: ColumnSet,
    /// One per account and meter.
    pub groups: Vec<Group>,
    /// Totals, and whether the month reconciles.
    pub total: Total,
    /// Invoice accounts the deployment file does not list: reported, never
    /// matched by guess, and not in the totals.
    pub unknown_resources: Vec<UnknownResource>,
    /// Rows of the export: all, Azure OpenAI, other services and tax.
    pub invoice_rows: usize,
    /// Azure OpenAI rows.
    pub openai_rows: usize,
    /// Rows of other services (and tax): ignored.
    pub other_rows: usize,
    /// Our usage without a price: not compared (it has no cost to compare).
    pub unpriced: TokenCounts,
}

/// Matches `invoice` to `statement` (computed without corrections).
pub fn reconcile(statement: &Statement, invoice: &Invoice, deployments: &DeploymentCatalogue) -> Reconciliation {
    let grouped = matching::group(statement, invoice, deployments);
    let invoice_cost: Decimal = grouped.groups.iter().map(|g| g.invoice_cost.amount()).sum();
    let our_cost = statement.total.amount();
    let reconciles = grouped.groups.iter().all(|g| g.status == Status::Match);
    let money = |amount: Decimal| Money::new(amount, statement.currency.clone());
    Reconciliation {
        period: statement.period,
        currency: statement.currency.clone(),
        invoice: invoice.file.clone(),
        columns: invoice.columns,
        total: Total {
            invoice_cost: money(invoice_cost),
            our_cost: money(our_cost),
            difference: money(invoice_cost - our_cost),
            reconciles,
        },
        groups: grouped.groups,
        unknown_resources: grouped.unknown,
        invoice_rows: invoice.total_rows,
        openai_rows: invoice.rows.len(),
        other_rows: invoice.other_rows,
        unpriced: statement.unpriced,
    }
}

impl Reconciliation {
    /// Groups that do not match.
    pub fn mismatches(&self) -> usize {
        self.groups.iter().filter(|g| g.status != Status::Match).count()
    }
}

/// The month's report files for `statement` (trued up, or not) and the
/// reconciliation's files: (name, bytes).
pub fn report_files(statement: &Statement, reconciliation: &Reconciliation) -> Vec<(String, Vec<u8>)> {
    let mut files = crate::billing::render(statement);
    files.push((RECONCILIATION_FILES[0].to_owned(), json(reconciliation)));
    files.push((RECONCILIATION_FILES[1].to_owned(), csv(reconciliation)));
    files
}

/// Where the monthly rollup finds each month's invoice export, and whether
/// it trues the month up to it (`CHARGEBACK_INVOICE_FILE`,
/// `CHARGEBACK_INVOICE_TRUE_UP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceExports {
    /// The export's path; `{month}` in it becomes the month (YYYY-MM).
    pub pattern: String,
    /// Whether the rollup adds the correction lines to the month's reports.
    pub true_up: bool,
}

impl InvoiceExports {
    /// The export of a month.
    pub fn path(&self, period: Period) -> PathBuf {
        PathBuf::from(self.pattern.replace("{month}", &period.to_string()))
    }
}

/// Rounds each exact amount to cents so that the rounded amounts sum to
/// `total` (a whole number of cents within a few cents of the exact sum):
/// the cents the plain roundings are off go, one each, to the amounts whose
/// rounding moved them furthest the other way (ties to the earlier amount).
/// Works for amounts of either sign.
pub(crate) fn round_to_total(exact: &[Decimal], total: Decimal) -> Vec<Decimal> {
    let mut rounded: Vec<Decimal> = exact.iter().map(|e| to_cents(*e)).collect();
    let cent = Decimal::new(1, 2);
    let mut left = total - rounded.iter().sum::<Decimal>();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    let residual = |i: &usize| exact[*i] - rounded[*i];
    if left > Decimal::ZERO {
        order.sort_by(|a, b| residual(b).cmp(&residual(a)).then(a.cmp(b)));
    } else {
        order.sort_by(|a, b| residual(a).cmp(&residual(b)).then(a.cmp(b)));
    }
    let step = if left > Decimal::ZERO { cent } else { -cent };
    for i in order.into_iter().cycle().take(exact.len() * 100) {
        if left.is_zero() {
            break;
        }
        rounded[i] += step;
        left -= step;
    }
    rounded
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn roundings_add_up_to_the_rounded_total() {
        let exact = [d("0.004"), d("0.004"), d("0.004")];
        assert_eq!(round_to_total(&exact, d("0.01")), vec![d("0.01"), d("0"), d("0")]);
        let exact = [d("1.005"), d("-0.335")];
        // 1.00 and -0.34 (half to even) are a cent short; both moved by half a cent, the first takes it.
        assert_eq!(round_to_total(&exact, d("0.67")), vec![d("1.01"), d("-0.34")]);
    }

    proptest! {
        #[test]
        fn rounded_amounts_always_sum_to_the_total(micros in prop::collection::vec(-10_000_000_000i64..10_000_000_000, 0..30)) {
            let exact: Vec<Decimal> = micros.iter().map(|m| Decimal::new(*m, 6)).collect();
            let total = to_cents(exact.iter().copied().sum());
            let rounded = round_to_total(&exact, total);
            prop_assert_eq!(rounded.iter().copied().sum::<Decimal>(), total);
            for (r, e) in rounded.iter().zip(&exact) {
                prop_assert_eq!(r.round_dp(2), *r);
                prop_assert!((*r - *e).abs() < d("0.02"));
            }
        }
    }
}
