//! A business unit's monthly budget, in money and optionally in tokens.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AmountError, Currency, Money, check_amount};

/// A monthly budget: money per calendar month (UTC) and, optionally,
/// tokens per calendar month. Kept under the business unit's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BudgetFields", into = "BudgetFields")]
pub struct Budget {
    monthly: Money,
    monthly_tokens: Option<u64>,
}

/// The stored and wire form: `{"monthly_amount": "1500.00", "currency":
/// "EUR", "monthly_tokens": 5000000}`, the amount a decimal string.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFields {
    monthly_amount: Decimal,
    currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_tokens: Option<u64>,
}

/// Why a budget is not acceptable (the whole message: it is the answer to
/// the person who gave the budget).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("monthly_amount {0}")]
pub struct BudgetError(pub AmountError);

impl Budget {
    /// A budget of `monthly` money (and `monthly_tokens` tokens) a month.
    pub fn new(monthly: Money, monthly_tokens: Option<u64>) -> Result<Self, BudgetError> {
        check_amount(monthly.amount()).map_err(BudgetError)?;
        Ok(Self { monthly, monthly_tokens })
    }

    /// Money per calendar month.
    pub fn monthly(&self) -> &Money {
        &self.monthly
    }

    /// Tokens per calendar month, if budgeted.
    pub fn monthly_tokens(&self) -> Option<u64> {
        self.monthly_tokens
    }
}

impl TryFrom<BudgetFields> for Budget {
    type Error = BudgetError;

    fn try_from(f: BudgetFields) -> Result<Self, BudgetError> {
        Self::new(Money::new(f.monthly_amount, f.currency), f.monthly_tokens)
    }
}

impl From<Budget> for BudgetFields {
    fn from(b: Budget) -> Self {
        Self {
            monthly_amount: b.monthly.amount(),
            currency: b.monthly.currency().clone(),
            monthly_tokens: b.monthly_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_a_decimal_string_and_negative_or_unknown_fields_are_refused() {
        let b: Budget = serde_json::from_str(r#"{"monthly_amount":"1500.50","currency":"EUR"}"#).unwrap();
        assert_eq!(b.monthly().amount().to_string(), "1500.50");
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"monthly_amount":"1500.50","currency":"EUR"}"#);
        for bad in [
            r#"{"monthly_amount":"-1","currency":"EUR"}"#,
            r#"{"monthly_amount":"1","currency":"eur"}"#,
            r#"{"monthly_amount":"1","currency":"EUR","x":1}"#,
            r#"{"monthly_amount":10.5,"currency":"EUR"}"#,
        ] {
            assert!(serde_json::from_str::<Budget>(bad).is_err(), "{bad}");
        }
    }
}
