//! Which budget thresholds a month's spending has crossed (pure; the
//! alerting that acts on it is the rest of [`super`]).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::domain::{Budget, Money, Name};

/// The thresholds reported, in percent of the monthly budget.
pub const THRESHOLDS_PERCENT: [u32; 3] = [50, 80, 100];

/// A threshold a business unit's month-to-date cost has reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetCrossing {
    /// The business unit.
    pub business_unit: Name,
    /// The threshold reached, in percent (50, 80 or 100).
    pub threshold_percent: u32,
    /// Month-to-date cost.
    pub spent: Money,
    /// The monthly budget.
    pub budget: Money,
}

/// Every threshold reached, per business unit with a budget, ordered by
/// business unit then threshold. `month_to_date` is each business unit's
/// cost; a cost in another currency than the budget's is not compared. A
/// budget of zero is crossed (at every threshold) by any cost above zero.
pub fn crossed_thresholds(
    month_to_date: &BTreeMap<String, Money>,
    budgets: &BTreeMap<Name, Budget>,
) -> Vec<BudgetCrossing> {
    let mut out = Vec::new();
    for (unit, budget) in budgets {
        let limit = budget.monthly();
        let Some(spent) = month_to_date.get(unit.as_str()).filter(|s| s.currency() == limit.currency()) else {
            continue;
        };
        for percent in THRESHOLDS_PERCENT {
            let reached = if limit.is_zero() {
                spent.amount() > Decimal::ZERO
            } else {
                spent.amount() * Decimal::from(100) >= limit.amount() * Decimal::from(percent)
            };
            if reached {
                out.push(BudgetCrossing {
                    business_unit: unit.clone(),
                    threshold_percent: percent,
                    spent: spent.clone(),
                    budget: limit.clone(),
                });
            }
        }
    }
    out
}

/// The token thresholds reached by `used` tokens of a `limit` a month.
pub fn crossed_token_thresholds(used: u64, limit: u64) -> impl Iterator<Item = u32> {
    THRESHOLDS_PERCENT.into_iter().filter(move |&percent| {
        u128::from(used) * 100 >= u128::from(limit) * u128::from(percent) && (limit > 0 || used > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn eur(amount: &str) -> Money {
        Money::new(amount.parse().unwrap(), Currency::parse("EUR").unwrap())
    }

    fn budget(amount: &str) -> Budget {
        Budget::new(eur(amount), None).unwrap()
    }

    #[test]
    fn thresholds_are_reached_exactly_at_their_percentage() {
        let budgets: BTreeMap<Name, Budget> = [
            (Name::parse("finance").unwrap(), budget("1000.00")),
            (Name::parse("hr").unwrap(), budget("200")),
            (Name::parse("legal").unwrap(), budget("0")),
            (Name::parse("sales").unwrap(), budget("1")),
        ]
        .into();
        let spent: BTreeMap<String, Money> = [
            ("finance".to_owned(), eur("799.99")),
            ("hr".to_owned(), eur("200.00")),
            ("legal".to_owned(), eur("0")),
            ("sales".to_owned(), Money::new(Decimal::from(5), Currency::USD)),
            ("unbudgeted".to_owned(), eur("5")),
        ]
        .into();
        let crossed: Vec<(String, u32)> = crossed_thresholds(&spent, &budgets)
            .into_iter()
            .map(|c| (c.business_unit.to_string(), c.threshold_percent))
            .collect();
        assert_eq!(crossed, vec![("finance".into(), 50), ("hr".into(), 50), ("hr".into(), 80), ("hr".into(), 100)]);
        assert_eq!(crossed_token_thresholds(2_000_000, 3_000_000).collect::<Vec<_>>(), [50]);
        assert_eq!(crossed_token_thresholds(0, 0).count(), 0);
    }
}
