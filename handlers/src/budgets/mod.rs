//! Budget alerts: when a business unit's month-to-date cost (or tokens)
//! reaches 50 %, 80 % and 100 % of its monthly budget, one alert per
//! threshold and month.
//!
//! The month-to-date cost is priced from the ledger exactly as the rollup
//! prices a month ([`Pricing`]), so an alert and the month's chargeback
//! never disagree. "Once" is a conditional create: the alert's record
//! (`alerts/<tenant>/<month>/…`, in the state store) is written only if
//! absent, and only an alert whose record this check created is raised.
//! Replayed records change no total (the ledger is idempotent), so they
//! cross nothing new; a threshold already alerted is never alerted again.
//! `docs/operations.md` documents the payload.

pub mod thresholds;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::billing::{Pricing, PricingError};
use crate::directory::DirectoryError;
use crate::domain::{Money, Period, Tenant};
use crate::storage::{Ledger, LedgerRange, ReportStore, StorageError, WriteCondition};
use thresholds::{crossed_thresholds, crossed_token_thresholds};

/// What a budget limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Measure {
    /// Money.
    Cost,
    /// Tokens.
    Tokens,
}

impl Measure {
    /// The name in the payload.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cost => "cost",
            Self::Tokens => "tokens",
        }
    }
}

/// An amount spent or budgeted: money, or tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Amount {
    /// Money in a currency.
    Money(Money),
    /// Tokens.
    Tokens(u64),
}

impl Amount {
    /// The unit: the currency code, or `tokens`.
    pub fn unit(&self) -> &str {
        match self {
            Self::Money(m) => m.currency().as_str(),
            Self::Tokens(_) => "tokens",
        }
    }
}

impl fmt::Display for Amount {
    /// The number without its unit (a decimal for money).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Money(m) => write!(f, "{}", m.amount()),
            Self::Tokens(n) => write!(f, "{n}"),
        }
    }
}

/// An alert: a business unit reached a threshold of its monthly budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetAlert {
    /// Stable identity (`<tenant>/<month>/<business unit>/<measure>/<percent>`): consumers may dedupe on it.
    pub id: String,
    /// Tenant.
    pub tenant: Tenant,
    /// The month.
    pub period: Period,
    /// The business unit.
    pub business_unit: String,
    /// Money or tokens.
    pub measure: Measure,
    /// 50, 80 or 100.
    pub threshold_percent: u32,
    /// Month-to-date spending when the threshold was found crossed.
    pub spent: Amount,
    /// The monthly budget.
    pub budget: Amount,
    /// When the ledger was read up to.
    pub as_of: DateTime<Utc>,
}

/// The payload of an alert (`docs/operations.md`): amounts as decimal
/// strings, their unit (a currency or `tokens`) beside them.
#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    tenant: &'a Tenant,
    period: Period,
    business_unit: &'a str,
    measure: &'static str,
    threshold_percent: u32,
    spent: String,
    budget: String,
    unit: &'a str,
    as_of: DateTime<Utc>,
}

impl Serialize for BudgetAlert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Payload {
            id: &self.id,
            tenant: &self.tenant,
            period: self.period,
            business_unit: &self.business_unit,
            measure: self.measure.as_str(),
            threshold_percent: self.threshold_percent,
            spent: self.spent.to_string(),
            budget: self.budget.to_string(),
            unit: self.budget.unit(),
            as_of: self.as_of,
        }
        .serialize(s)
    }
}

/// Why the budgets could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum BudgetsError {
    /// A store failed; the check can be retried.
    #[error("a store failed")]
    Storage(#[from] StorageError),
    /// The directory could not be read.
    #[error("reading the budgets failed")]
    Directory(#[from] DirectoryError),
    /// The month-to-date cost could not be priced.
    #[error("pricing the month to date failed")]
    Pricing(#[from] PricingError),
}

/// The budget check.
#[derive(Debug, Clone)]
pub struct Budgets {
    ledger: Arc<dyn Ledger>,
    state: Arc<dyn ReportStore>,
    pricing: Pricing,
}

impl Budgets {
    /// Checks usage of `ledger`, priced by `pricing`, and keeps alert records in `state`.
    pub fn new(ledger: Arc<dyn Ledger>, state: Arc<dyn ReportStore>, pricing: Pricing) -> Self {
        Self { ledger, state, pricing }
    }

    /// Checks the budgets of a tenant's month against the ledger up to
    /// `as_of` and returns the alerts raised by this check (none already raised).
    pub async fn check(
        &self,
        tenant: &Tenant,
        period: Period,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<BudgetAlert>, BudgetsError> {
        let directory = self.pricing.directory().view(tenant).await?;
        if directory.budgets.is_empty() {
            return Ok(Vec::new());
        }
        let start = period.first_day().and_time(chrono::NaiveTime::MIN).and_utc();
        let end = period.next_first_day().and_time(chrono::NaiveTime::MIN).and_utc().min(as_of);
        if end <= start {
            return Ok(Vec::new());
        }
        let aggregates = self.ledger.usage_cells(&LedgerRange { tenant: tenant.clone(), from: start, to: end }).await?;
        let statement = self.pricing.statement(tenant, period, &aggregates).await?;

        let mut candidates = Vec::new();
        let cost: BTreeMap<String, Money> = statement
            .business_units
            .iter()
            .map(|b| {
                (b.business_unit.clone(), b.cost.clone().unwrap_or_else(|| Money::zero(statement.currency.clone())))
            })
            .collect();
        for crossing in crossed_thresholds(&cost, &directory.budgets) {
            candidates.push((
                crossing.business_unit.to_string(),
                Measure::Cost,
                crossing.threshold_percent,
                Amount::Money(crossing.spent),
                Amount::Money(crossing.budget),
            ));
        }
        for unit in &statement.business_units {
            let Some(limit) = directory.budget(&unit.business_unit).and_then(|b| b.monthly_tokens()) else { continue };
            let used = unit.tokens.total_tokens;
            for percent in crossed_token_thresholds(used, limit) {
                candidates.push((
                    unit.business_unit.clone(),
                    Measure::Tokens,
                    percent,
                    Amount::Tokens(used),
                    Amount::Tokens(limit),
                ));
            }
        }

        let mut raised = Vec::new();
        for (business_unit, measure, percent, spent, budget) in candidates {
            let alert = BudgetAlert {
                id: format!("{tenant}/{period}/{business_unit}/{}/{percent}", measure.as_str()),
                tenant: tenant.clone(),
                period,
                business_unit,
                measure,
                threshold_percent: percent,
                spent,
                budget,
                as_of: end,
            };
            let name = record_name(&alert);
            let body =
                serde_json::to_vec(&alert).map_err(|source| StorageError::Document { name: name.clone(), source })?;
            if self.state.put(&name, &body, WriteCondition::IfAbsent).await?.is_some() {
                raised.push(alert);
            }
        }
        Ok(raised)
    }
}

/// Where an alert's record is kept (the business unit hex-encoded: it is free text).
fn record_name(alert: &BudgetAlert) -> String {
    format!(
        "alerts/{}/{}/{}-{}-{}.json",
        alert.tenant,
        alert.period,
        hex::encode(alert.business_unit.as_bytes()),
        alert.measure.as_str(),
        alert.threshold_percent
    )
}
