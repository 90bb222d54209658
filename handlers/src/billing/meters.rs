//! A statement line's charges by meter: what FOCUS calls one charge row and
//! what an invoice bills as one meter.
//!
//! A pay-as-you-go line is priced per token kind (input, cached input,
//! output), at the price in force on each day of its usage, so one line holds
//! one meter charge per token kind, price and token source. A provisioned
//! line holds one per token source. The line's cost (rounded once to cents)
//! is split over its meter charges in proportion to their exact costs (by
//! tokens on a provisioned deployment) with the largest-remainder method, so
//! the meter charges add up to the line to the cent.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::allocation::split_cents;
use crate::domain::{
    Currency, Money, Price, TokenKind, TokenSource, UsageAggregate, serialize_amount, serialize_optional_amount,
};

/// What a meter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Meter {
    /// Prompt tokens that were not cached, at the input rate.
    InputTokens,
    /// Cached prompt tokens, at the cached input rate.
    CachedInputTokens,
    /// Completion tokens (reasoning included), at the output rate.
    OutputTokens,
    /// Tokens on a provisioned (PTU) deployment: a share of its cost.
    ProvisionedThroughput,
}

impl Meter {
    /// The meter's name as FOCUS's AI examples write it (`SkuMeter`).
    pub fn name(self) -> &'static str {
        match self {
            Self::InputTokens => "Input Tokens",
            Self::CachedInputTokens => "Cached Input Tokens",
            Self::OutputTokens => "Output Tokens",
            Self::ProvisionedThroughput => "Provisioned Throughput",
        }
    }

    /// A short lowercase name for identifiers (`input`, `cached-input`, …).
    pub fn slug(self) -> &'static str {
        match self {
            Self::InputTokens => "input",
            Self::CachedInputTokens => "cached-input",
            Self::OutputTokens => "output",
            Self::ProvisionedThroughput => "provisioned",
        }
    }
}

/// The price a meter charge was made at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MeterPrice {
    /// The catalogue's model name (`gpt-4o`), which an invoice meter names too.
    pub model: String,
    /// First day the price applies.
    pub effective_from: NaiveDate,
    /// Price of 1M tokens of this meter.
    pub per_1m: Decimal,
}

/// One meter of one statement line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterCharge {
    /// What is counted.
    pub meter: Meter,
    /// Where the token counts come from.
    #[serde(serialize_with = "token_source_name")]
    pub token_source: TokenSource,
    /// Tokens.
    pub tokens: u64,
    /// The price (pay-as-you-go meters only).
    pub price: Option<MeterPrice>,
    /// `tokens × price / 1M`, exact (pay-as-you-go meters only).
    #[serde(serialize_with = "serialize_optional_amount")]
    pub exact_cost: Option<Money>,
    /// The meter's share of the line's cost, in cents.
    #[serde(serialize_with = "serialize_amount")]
    pub cost: Money,
}

fn token_source_name<S: serde::Serializer>(source: &TokenSource, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(source.as_str())
}

/// Meter charges of one line, accumulated over its aggregates.
#[derive(Debug, Clone, Default)]
pub(crate) struct MeterTally {
    by_key: BTreeMap<(Meter, TokenSource, Option<MeterPrice>), u64>,
}

impl MeterTally {
    /// Adds a pay-as-you-go aggregate priced at `applied`, one price per
    /// token kind it used (the caller found each kind's price in force).
    pub(crate) fn add_priced(&mut self, applied: &[&Price], a: &UsageAggregate) {
        let t = &a.tokens;
        for price in applied {
            let (meter, tokens) = match price.kind {
                TokenKind::Input => (Meter::InputTokens, t.prompt.saturating_sub(t.cached)),
                TokenKind::CachedInput => (Meter::CachedInputTokens, t.cached),
                TokenKind::Output => (Meter::OutputTokens, t.completion),
                // The statement prices no other kind until the ledger records it.
                _ => continue,
            };
            if tokens > 0 {
                let price = MeterPrice {
                    model: price.model.clone(),
                    effective_from: price.effective_from,
                    per_1m: price.price,
                };
                *self.by_key.entry((meter, a.token_source, Some(price))).or_default() += tokens;
            }
        }
    }

    /// Adds an aggregate on a provisioned deployment.
    pub(crate) fn add_provisioned(&mut self, a: &UsageAggregate) {
        let tokens = a.tokens.total();
        if tokens > 0 {
            *self.by_key.entry((Meter::ProvisionedThroughput, a.token_source, None)).or_default() += tokens;
        }
    }

    /// The charges in `currency`, with `line_cost` (cents) split over them:
    /// by exact cost when priced, by tokens on a provisioned deployment.
    pub(crate) fn charges(&self, line_cost: Decimal, currency: &Currency) -> Vec<MeterCharge> {
        let exact: Vec<Option<Decimal>> = self
            .by_key
            .iter()
            .map(|((_, _, price), tokens)| {
                price.as_ref().map(|p| Decimal::from(*tokens) * p.per_1m / Decimal::from(1_000_000u32))
            })
            .collect();
        let weights: Vec<Decimal> =
            self.by_key.values().zip(&exact).map(|(tokens, e)| e.unwrap_or_else(|| Decimal::from(*tokens))).collect();
        let money = |amount: Decimal| Money::new(amount, currency.clone());
        self.by_key
            .iter()
            .zip(exact)
            .zip(split_cents(line_cost, &weights))
            .map(|((((meter, source, price), tokens), exact), share)| MeterCharge {
                meter: *meter,
                token_source: *source,
                tokens: *tokens,
                exact_cost: exact.map(money),
                price: price.clone(),
                cost: money(share),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TokenTotals;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn price(kind: TokenKind, per_1m: &str) -> Price {
        Price {
            model: "m".into(),
            version: String::new(),
            deployment_type: crate::domain::DeploymentType::Global,
            region: String::new(),
            tier: crate::domain::ServiceTier::Default,
            kind,
            effective_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            currency: Currency::USD,
            price: d(per_1m),
            source: String::new(),
            read_on: None,
            origin: "t".into(),
            layer: crate::domain::PriceLayer::Shipped,
            meter_id: String::new(),
        }
    }

    fn aggregate(source: TokenSource, prompt: u64, cached: u64, completion: u64) -> UsageAggregate {
        UsageAggregate {
            day: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            party: "p".into(),
            model: "m".into(),
            deployment: String::new(),
            token_source: source,
            service_tier: String::new(),
            spilled_from: String::new(),
            tokens: TokenTotals { requests: 1, prompt, completion, cached, ..Default::default() },
        }
    }

    #[test]
    fn one_charge_per_token_kind_and_source_adding_up_to_the_line() {
        let (input, cached, output) =
            (price(TokenKind::Input, "2.50"), price(TokenKind::CachedInput, "1.25"), price(TokenKind::Output, "10"));
        let p = [&input, &cached, &output];
        let mut tally = MeterTally::default();
        tally.add_priced(&p, &aggregate(TokenSource::Reported, 1_000_000, 400_000, 200_000));
        tally.add_priced(&[&input, &output], &aggregate(TokenSource::Estimated, 1_000, 0, 333));
        let charges = tally.charges(d("4.01"), &Currency::USD);
        let kinds: Vec<_> = charges.iter().map(|c| (c.meter, c.token_source, c.tokens)).collect();
        assert_eq!(
            kinds,
            vec![
                (Meter::InputTokens, TokenSource::Reported, 600_000),
                (Meter::InputTokens, TokenSource::Estimated, 1_000),
                (Meter::CachedInputTokens, TokenSource::Reported, 400_000),
                (Meter::OutputTokens, TokenSource::Reported, 200_000),
                (Meter::OutputTokens, TokenSource::Estimated, 333),
            ]
        );
        assert_eq!(charges[0].exact_cost.as_ref().map(Money::amount), Some(d("1.5")));
        assert_eq!(charges[4].exact_cost.as_ref().map(Money::amount), Some(d("0.00333")));
        assert_eq!(charges.iter().map(|c| c.cost.amount()).sum::<Decimal>(), d("4.01"));
    }

    #[test]
    fn provisioned_tokens_share_by_tokens() {
        let mut tally = MeterTally::default();
        tally.add_provisioned(&aggregate(TokenSource::Reported, 100, 0, 200));
        tally.add_provisioned(&aggregate(TokenSource::Estimated, 100, 0, 0));
        tally.add_provisioned(&aggregate(TokenSource::Pending, 0, 0, 0));
        let charges = tally.charges(d("1.00"), &Currency::USD);
        assert_eq!(charges.len(), 2);
        assert_eq!((charges[0].cost.amount(), charges[1].cost.amount()), (d("0.75"), d("0.25")));
        assert!(charges.iter().all(|c| c.price.is_none() && c.meter == Meter::ProvisionedThroughput));
    }
}
