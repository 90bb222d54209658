//! A meter's `unitOfMeasure` and the per-1M (or per-hour) price it gives.
//!
//! Azure quotes token meters per `1K`, `1K Tokens`, `1M` or `1M Tokens`
//! (older meters per 1K, the GPT-5 family per 1M) and provisioned units per
//! `1 Hour`. Every token price we keep is per 1M tokens, computed exactly.

use rust_decimal::Decimal;

/// What one unit of a meter's price is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// This many tokens.
    Tokens(u64),
    /// This many hours.
    Hours(u32),
}

/// A unit of measure we do not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unit of measure {0:?} is not tokens (1K, 1M, 1K Tokens, 1M Tokens) or hours (1 Hour)")]
pub struct UnitError(pub String);

impl Unit {
    /// Reads a `unitOfMeasure`.
    pub fn parse(raw: &str) -> Result<Self, UnitError> {
        let error = || UnitError(raw.to_owned());
        let text = raw.trim().to_ascii_lowercase();
        if let Some(count) = text.strip_suffix("hours").or_else(|| text.strip_suffix("hour")) {
            let hours: u32 = count.trim().parse().map_err(|_| error())?;
            return if hours == 0 { Err(error()) } else { Ok(Self::Hours(hours)) };
        }
        let count = text.strip_suffix("tokens").or_else(|| text.strip_suffix("token")).unwrap_or(&text).trim();
        let (digits, multiplier) = match count.strip_suffix('k') {
            Some(d) => (d, 1_000),
            None => match count.strip_suffix('m') {
                Some(d) => (d, 1_000_000),
                None => (count, 1),
            },
        };
        let n: u64 = digits.trim().parse().map_err(|_| error())?;
        match n.checked_mul(multiplier) {
            Some(tokens) if tokens > 0 => Ok(Self::Tokens(tokens)),
            _ => Err(error()),
        }
    }

    /// A price per this unit as a price per 1M tokens (token units) or per
    /// one hour (hour units), exactly.
    pub fn normalise(self, price: Decimal) -> Decimal {
        match self {
            Self::Tokens(n) => price * Decimal::from(1_000_000u64) / Decimal::from(n),
            Self::Hours(h) => price / Decimal::from(h),
        }
    }

    /// Whether it counts tokens.
    pub fn is_tokens(self) -> bool {
        matches!(self, Self::Tokens(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn every_unit_azure_uses_normalises_to_per_1m_exactly() {
        for (unit, price, per_1m) in [
            ("1K", "0.00015", "0.15"),
            ("1K Tokens", "0.0025", "2.5"),
            ("1M", "0.75", "0.75"),
            ("1M Tokens", "1.25", "1.25"),
            ("100K", "0.01", "0.1"),
        ] {
            let unit = Unit::parse(unit).unwrap();
            assert!(unit.is_tokens());
            assert_eq!(unit.normalise(d(price)).normalize(), d(per_1m), "{unit:?}");
        }
        assert_eq!(Unit::parse("1 Hour"), Ok(Unit::Hours(1)));
        assert_eq!(Unit::parse("1 Hour").unwrap().normalise(d("2")), d("2"));
    }

    #[test]
    fn other_units_are_refused() {
        for unit in ["", "1/Month", "10 Images", "0K", "1 GB", "1M Characters", "0 Hours"] {
            assert!(Unit::parse(unit).is_err(), "{unit}");
        }
    }
}
