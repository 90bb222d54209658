//! Rounding to cents and splitting an amount of cents exactly.

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds an exact amount once to cents, half to even (banker's rounding).
pub(crate) fn to_cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
}

/// Splits `total` (a whole number of cents) in proportion to `weights` with the
/// largest-remainder method: every share is the floor of its exact share in
/// cents, and the cents left over go one each to the largest remainders (ties
/// to the earlier weight). The shares sum exactly to `total`. All-zero weights
/// give all-zero shares (the caller keeps the total elsewhere).
pub(crate) fn split_cents(total: Decimal, weights: &[Decimal]) -> Vec<Decimal> {
    let sum: Decimal = weights.iter().sum();
    if sum.is_zero() || total.is_zero() {
        return vec![Decimal::ZERO; weights.len()];
    }
    let total_cents = total * Decimal::ONE_HUNDRED;
    let mut cents = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = total_cents * *w / sum;
        let floor = exact.floor();
        cents.push(floor);
        remainders.push((exact - floor, i));
    }
    let mut left = total_cents - cents.iter().sum::<Decimal>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left <= Decimal::ZERO {
            break;
        }
        cents[i] += Decimal::ONE;
        left -= Decimal::ONE;
    }
    cents.into_iter().map(|c| c / Decimal::ONE_HUNDRED).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn rounding_is_half_to_even_once() {
        assert_eq!(to_cents(d("0.125")), d("0.12"));
        assert_eq!(to_cents(d("0.135")), d("0.14"));
        assert_eq!(to_cents(d("0.1251")), d("0.13"));
    }

    #[test]
    fn a_third_each_gives_the_odd_cent_to_the_first() {
        assert_eq!(split_cents(d("1.00"), &[d("1"), d("1"), d("1")]), vec![d("0.34"), d("0.33"), d("0.33")]);
    }

    #[test]
    fn zero_weights_take_nothing() {
        assert_eq!(split_cents(d("5.00"), &[d("0"), d("3")]), vec![d("0"), d("5.00")]);
        assert_eq!(split_cents(d("5.00"), &[d("0"), d("0")]), vec![d("0"), d("0")]);
    }

    proptest! {
        #[test]
        fn shares_always_sum_to_the_total(cents in 0i64..10_000_000_000, weights in prop::collection::vec(0u64..1_000_000_000, 1..20)) {
            let total = Decimal::new(cents, 2);
            let weights: Vec<Decimal> = weights.into_iter().map(Decimal::from).collect();
            let shares = split_cents(total, &weights);
            if weights.iter().any(|w| !w.is_zero()) {
                prop_assert_eq!(shares.iter().sum::<Decimal>(), total);
            }
            for (s, w) in shares.iter().zip(&weights) {
                prop_assert_eq!(s.round_dp(2), *s);
                if w.is_zero() { prop_assert!(s.is_zero()); }
            }
        }
    }
}
