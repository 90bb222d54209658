//! Budget alerts: when a business unit's month-to-date cost (or tokens)
//! reaches 50 %, 80 % and 100 % of its monthly budget, one alert per
//! threshold and month.
//!
//! The month-to-date cost is priced from the ledger exactly as the rollup
//! prices a month ([`crate::rollup::statement`]), so an alert and the
//! month's chargeback never disagree. "Once" is a conditional create: the
//! alert's record (`alerts/<tenant>/<month>/…`, in the state store) is
//! written only if absent, and only an alert whose record this run created
//! is sent. Replayed records change no total (the ledger is idempotent), so
//! they cross nothing new; a threshold already alerted is never alerted
//! again. `docs/operations.md` documents the payload.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::api::admin::Directory;
use crate::api::admin::budgets::{THRESHOLDS_PERCENT, crossed_thresholds};
use crate::config::Settings;
use crate::domain::{Period, Tenant};
use crate::rollup::RollupError;
use crate::startup::Stores;
use crate::storage::{LedgerRange, StorageError, WriteCondition};

/// An alert: a business unit reached a threshold of its monthly budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetAlert {
    /// Stable identity (`<tenant>/<month>/<business unit>/<measure>/<percent>`): consumers may dedupe on it.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// The month.
    pub period: Period,
    /// The business unit.
    pub business_unit: String,
    /// `cost` (money) or `tokens`.
    pub measure: String,
    /// 50, 80 or 100.
    pub threshold_percent: u32,
    /// Month-to-date spending when the threshold was found crossed (a decimal string for money).
    pub spent: String,
    /// The monthly budget.
    pub budget: String,
    /// The budget's currency (`tokens` for token budgets).
    pub unit: String,
    /// When the ledger was read up to.
    pub as_of: DateTime<Utc>,
}

/// Checks the budgets of a tenant's month against the ledger up to `as_of`
/// and returns the alerts raised by this check (none already raised).
pub async fn check(
    stores: &Stores,
    settings: &Settings,
    tenant: &Tenant,
    period: Period,
    as_of: DateTime<Utc>,
) -> Result<Vec<BudgetAlert>, RollupError> {
    let directory = Directory::load(stores, settings, tenant).await.map_err(|e| match e {
        crate::api::admin::DirectoryError::Storage(s) => RollupError::Storage(s),
        other => RollupError::Pricing(other.to_string()),
    })?;
    if directory.budgets.is_empty() {
        return Ok(Vec::new());
    }
    let start = period.first_day().and_time(chrono::NaiveTime::MIN).and_utc();
    let end = period.next_first_day().and_time(chrono::NaiveTime::MIN).and_utc().min(as_of);
    if end <= start {
        return Ok(Vec::new());
    }
    let aggregates = stores.ledger.usage_cells(&LedgerRange { tenant: tenant.clone(), from: start, to: end }).await?;
    let statement = crate::rollup::statement(settings, stores, tenant, period, &aggregates).await?;

    let mut candidates = Vec::new();
    let cost: BTreeMap<String, Decimal> = statement
        .business_units
        .iter()
        .filter(|b| {
            directory.budget(&b.business_unit).is_some_and(|budget| budget.currency.as_str() == statement.currency)
        })
        .map(|b| (b.business_unit.clone(), b.cost))
        .collect();
    for crossing in crossed_thresholds(&cost, &directory.budgets) {
        candidates.push((
            crossing.business_unit.to_string(),
            "cost",
            crossing.threshold_percent,
            crossing.spent.to_string(),
            crossing.budget.to_string(),
            crossing.currency.as_str().to_owned(),
        ));
    }
    for unit in &statement.business_units {
        let Some(limit) = directory.budget(&unit.business_unit).and_then(|b| b.monthly_tokens) else { continue };
        let used = unit.tokens.total_tokens;
        for percent in THRESHOLDS_PERCENT {
            if u128::from(used) * 100 >= u128::from(limit) * u128::from(percent) && (limit > 0 || used > 0) {
                candidates.push((
                    unit.business_unit.clone(),
                    "tokens",
                    percent,
                    used.to_string(),
                    limit.to_string(),
                    "tokens".to_owned(),
                ));
            }
        }
    }

    let mut raised = Vec::new();
    for (business_unit, measure, percent, spent, budget, unit) in candidates {
        let alert = BudgetAlert {
            id: format!("{tenant}/{period}/{business_unit}/{measure}/{percent}"),
            tenant: tenant.to_string(),
            period,
            business_unit,
            measure: measure.to_owned(),
            threshold_percent: percent,
            spent,
            budget,
            unit,
            as_of: end,
        };
        let body = serde_json::to_vec(&alert).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        if stores.reports.put(&record_name(&alert), &body, WriteCondition::IfAbsent).await?.is_some() {
            raised.push(alert);
        }
    }
    Ok(raised)
}

/// Where an alert's record is kept (the business unit hex-encoded: it is free text).
fn record_name(alert: &BudgetAlert) -> String {
    format!(
        "alerts/{}/{}/{}-{}-{}.json",
        alert.tenant,
        alert.period,
        hex::encode(alert.business_unit.as_bytes()),
        alert.measure,
        alert.threshold_percent
    )
}
