//! Money: an exact decimal amount in a currency. Never a float.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize, Serializer};

/// An ISO 4217 currency code (three upper-case letters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Why a text is not a currency code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?}: use an ISO 4217 code: three upper-case letters such as EUR or USD")]
pub struct CurrencyError(pub String);

impl Currency {
    /// The currency of statements that price nothing and of provisioned
    /// deployments that name none.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a code as written: exactly three upper-case letters.
    pub fn parse(raw: &str) -> Result<Self, CurrencyError> {
        match raw.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(CurrencyError(raw.to_owned())),
        }
    }

    /// Parses a code from a file, where case does not matter (`usd`).
    pub fn parse_any_case(raw: &str) -> Result<Self, CurrencyError> {
        Self::parse(&raw.trim().to_ascii_uppercase()).map_err(|_| CurrencyError(raw.to_owned()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        // Three ASCII letters are UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;

    fn try_from(raw: String) -> Result<Self, CurrencyError> {
        Self::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest amount of money a budget or a provisioned cost may state (a
/// sanity bound, not a business rule): 10^12.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0);

/// Why an amount given by a person is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AmountError {
    /// Below zero.
    #[error("must not be negative")]
    Negative,
    /// Above [`MAX_AMOUNT`].
    #[error("is larger than {MAX_AMOUNT}")]
    TooLarge,
    /// More than six decimal places (micro-units are the finest we keep).
    #[error("has more than 6 decimal places")]
    TooPrecise,
}

/// Checks an amount a person states (a budget, a provisioned cost): not
/// negative, at most [`MAX_AMOUNT`], at most six decimal places.
pub fn check_amount(amount: Decimal) -> Result<Decimal, AmountError> {
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(AmountError::Negative);
    }
    if amount > MAX_AMOUNT {
        return Err(AmountError::TooLarge);
    }
    if amount.scale() > 6 {
        return Err(AmountError::TooPrecise);
    }
    Ok(amount)
}

/// An amount of money in a currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

/// Two amounts of different currencies were to be added.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot add {left} and {right} amounts")]
pub struct CurrencyMismatch {
    /// The currency of the left amount.
    pub left: Currency,
    /// The currency of the right amount.
    pub right: Currency,
}

impl Money {
    /// `amount` of `currency`.
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Nothing, in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    /// The amount.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// The sum of two amounts of one currency.
    pub fn checked_add(&self, other: &Money) -> Result<Money, CurrencyMismatch> {
        if self.currency != other.currency {
            return Err(CurrencyMismatch { left: self.currency.clone(), right: other.currency.clone() });
        }
        Ok(Self::new(self.amount + other.amount, self.currency.clone()))
    }

    /// The amount in micro-units of the currency, as stored (`None` past
    /// the range of `i64` or finer than a micro-unit).
    pub fn to_micros(&self) -> Option<i64> {
        let micros = self.amount * Decimal::from(1_000_000);
        if micros.fract().is_zero() { micros.to_i64() } else { None }
    }

    /// An amount stored in micro-units.
    pub fn from_micros(micros: i64, currency: Currency) -> Self {
        Self::new(Decimal::new(micros, 6).normalize(), currency)
    }

    /// The amount with two decimals (`12.30`), as reports write it.
    pub fn cents_text(&self) -> String {
        format!("{:.2}", self.amount)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// Serialises an amount as its decimal string, for documents that state the
/// currency once beside the amounts (the statement).
pub fn serialize_amount<S: Serializer>(money: &Money, s: S) -> Result<S::Ok, S::Error> {
    Serialize::serialize(&money.amount, s)
}

/// [`serialize_amount`] of an optional amount (`null` when absent).
pub fn serialize_optional_amount<S: Serializer>(money: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
    Serialize::serialize(&money.as_ref().map(|m| m.amount), s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(amount: &str) -> Money {
        Money::new(amount.parse().unwrap(), Currency::USD)
    }

    #[test]
    fn max_amount_is_a_trillion() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000u64));
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        for bad in ["eur", "EURO", "E1R", "", "€"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Currency::parse_any_case(" usd ").unwrap(), Currency::USD);
    }

    #[test]
    fn amounts_add_only_in_one_currency_and_keep_micro_units() {
        assert_eq!(usd("1.25").checked_add(&usd("2.50")).unwrap(), usd("3.75"));
        let eur = Money::new(Decimal::ONE, Currency::parse("EUR").unwrap());
        assert!(usd("1").checked_add(&eur).is_err());
        assert_eq!(usd("12.34").to_micros(), Some(12_340_000));
        assert_eq!(Money::from_micros(12_340_000, Currency::USD), usd("12.34"));
        assert_eq!(usd("0.0000001").to_micros(), None);
        assert_eq!(usd("12.3").cents_text(), "12.30");
    }

    #[test]
    fn stated_amounts_are_bounded() {
        assert!(check_amount("1500.50".parse().unwrap()).is_ok());
        assert_eq!(check_amount("-1".parse().unwrap()), Err(AmountError::Negative));
        assert_eq!(check_amount("0.0000001".parse().unwrap()), Err(AmountError::TooPrecise));
        assert_eq!(check_amount(MAX_AMOUNT + Decimal::ONE), Err(AmountError::TooLarge));
    }
}
