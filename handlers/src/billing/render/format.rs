//! How the report pages write amounts, counts and text: thousands grouped,
//! two decimals, a currency symbol where there is one, `unpriced` instead
//! of an amount for usage without a price, and HTML escaping.

use rust_decimal::Decimal;

use super::UNPRICED;
use crate::domain::{Currency, Money};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `$1,234.50` or `1,234.50 CHF` style amounts (two decimals, thousands grouped).
pub(crate) fn money(m: &Money) -> String {
    amount_in(m.amount(), m.currency())
}

/// What a cost cell shows: the amount; `unpriced` when the usage has no
/// price; the amount and `+ unpriced` when part of it has none. Never an
/// amount for usage without a price.
pub(crate) fn cost_text(cost: Option<&Money>, has_unpriced: bool) -> String {
    match (cost, has_unpriced) {
        (None, _) => UNPRICED.to_owned(),
        (Some(m), true) => format!("{} + {UNPRICED}", money(m)),
        (Some(m), false) => money(m),
    }
}

/// [`money`] of an amount in a currency.
pub(crate) fn amount_in(amount: Decimal, currency: &Currency) -> String {
    let currency = currency.as_str();
    let text = format!("{:.2}", amount.abs());
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let sign = if amount.is_sign_negative() && !amount.is_zero() { "-" } else { "" };
    let symbol = match currency {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        _ => "",
    };
    if symbol.is_empty() {
        format!("{sign}{}.{cents} {currency}", group_thousands(whole))
    } else {
        format!("{sign}{symbol}{}.{cents}", group_thousands(whole))
    }
}

/// Whole numbers with thousands grouped.
pub(crate) fn count(value: u64) -> String {
    group_thousands(&value.to_string())
}

/// `12.3M`, `456K`, `789` for chart labels.
pub(crate) fn tokens_short(value: u64) -> String {
    let scaled = |div: u64, unit: &str| {
        let tenths = value / (div / 10);
        format!("{}.{}{unit}", tenths / 10, tenths % 10)
    };
    match value {
        v if v >= 1_000_000_000 => scaled(1_000_000_000, "B"),
        v if v >= 1_000_000 => scaled(1_000_000, "M"),
        v if v >= 10_000 => scaled(1_000, "K"),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_counts_are_grouped() {
        let m = |s: &str, c: &str| Money::new(s.parse::<Decimal>().unwrap(), Currency::parse(c).unwrap());
        assert_eq!(money(&m("1234567.5", "USD")), "$1,234,567.50");
        assert_eq!(money(&m("0.05", "CHF")), "0.05 CHF");
        assert_eq!(money(&m("-12", "EUR")), "-€12.00");
        assert_eq!(cost_text(None, true), "unpriced");
        assert_eq!(cost_text(Some(&m("3", "USD")), true), "$3.00 + unpriced");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(
            (tokens_short(12_345_678), tokens_short(45_600), tokens_short(999)),
            ("12.3M".into(), "45.6K".into(), "999".into())
        );
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }
}
