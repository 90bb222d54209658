//! Which budget thresholds a month's spending has crossed (pure; the alerting
//! that acts on it lives with the rollup).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::entries::{Budget, Currency};
use crate::api::params::Name;

/// The thresholds reported, in percent of the monthly amount.
pub const THRESHOLDS_PERCENT: [u32; 3] = [50, 80, 100];

/// A threshold a business unit's month-to-date cost has reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetCrossing {
    /// The business unit.
    pub business_unit: Name,
    /// The threshold reached, in percent (50, 80 or 100).
    pub threshold_percent: u32,
    /// Month-to-date cost.
    pub spent: Decimal,
    /// The monthly budget.
    pub budget: Decimal,
    /// Currency of both.
    pub currency: Currency,
}

/// Every threshold reached, per business unit with a budget, ordered by
/// business unit then threshold. `month_to_date` is each business unit's
/// cost in its budget's currency. A budget of zero is crossed (at every
/// threshold) by any cost above zero.
pub fn crossed_thresholds(
    month_to_date: &BTreeMap<String, Decimal>,
    budgets: &BTreeMap<Name, Budget>,
) -> Vec<BudgetCrossing> {
    let mut out = Vec::new();
    for (unit, budget) in budgets {
        let Some(spent) = month_to_date.get(unit.as_str()) else { continue };
        for percent in THRESHOLDS_PERCENT {
            let reached = if budget.monthly_amount.is_zero() {
                *spent > Decimal::ZERO
            } else {
                *spent * Decimal::from(100) >= budget.monthly_amount * Decimal::from(percent)
            };
            if reached {
                out.push(BudgetCrossing {
                    business_unit: unit.clone(),
                    threshold_percent: percent,
                    spent: *spent,
                    budget: budget.monthly_amount,
                    currency: budget.currency.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(amount: &str) -> Budget {
        Budget {
            monthly_amount: amount.parse().unwrap(),
            currency: Currency::try_from("EUR".to_owned()).unwrap(),
            monthly_tokens: None,
        }
    }

    #[test]
    fn thresholds_are_reached_exactly_at_their_percentage() {
        let budgets: BTreeMap<Name, Budget> = [
            (Name::try_from("finance".to_owned()).unwrap(), budget("1000.00")),
            (Name::try_from("hr".to_owned()).unwrap(), budget("200")),
            (Name::try_from("legal".to_owned()).unwrap(), budget("0")),
        ]
        .into();
        let spent: BTreeMap<String, Decimal> = [
            ("finance".to_owned(), "799.99".parse().unwrap()),
            ("hr".to_owned(), "200.00".parse().unwrap()),
            ("legal".to_owned(), Decimal::ZERO),
            ("unbudgeted".to_owned(), Decimal::from(5)),
        ]
        .into();
        let crossed: Vec<(String, u32)> = crossed_thresholds(&spent, &budgets)
            .into_iter()
            .map(|c| (c.business_unit.to_string(), c.threshold_percent))
            .collect();
        assert_eq!(crossed, vec![("finance".into(), 50), ("hr".into(), 50), ("hr".into(), 80), ("hr".into(), 100)]);
    }
}
