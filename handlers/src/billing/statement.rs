//! The monthly chargeback statement.
//!
//! Rounding: each line's cost is computed exactly (decimal, from the price in
//! force on each day of its usage) and rounded once to cents, half to even.
//! Business unit totals and the grand total are sums of rounded lines, so the
//! lines always add up to the totals. A provisioned deployment's cost is
//! rounded to cents once and split over its lines (and over days) with the
//! largest-remainder method, so the shares add up to it exactly. The daily
//! trend splits the rounded pay-as-you-go total over days in proportion to the
//! exact daily amounts the same way, so the days add up to the statement
//! (unused capacity is not a day's cost and is shown apart).
//!
//! Each priced line also carries its charges by meter ([`MeterCharge`]: one
//! per token kind, price and token source), its cost split over them to the
//! cent, which the FOCUS export and the invoice reconciliation work from. A
//! true-up against the invoice adds correction lines
//! ([`Statement::with_corrections`]); the lines it corrects are never changed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::allocation::{split_cents, to_cents};
use super::meters::{MeterCharge, MeterTally};
use super::{DeploymentCatalogue, Lookup, PriceCatalogue};
pub use crate::domain::LineKind;
use crate::domain::{
    AccountId, ApplicationMap, Awaiting, Currency, DeploymentType, Money, Period, Price, Region, ServiceTier,
    TokenCounts, TokenKind, UsageAggregate, serialize_amount, serialize_optional_amount,
};

/// The business unit of unused provisioned capacity lines.
pub const UNUSED_CAPACITY: &str = "unused capacity";

/// Why a statement cannot be computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BillingError {
    /// An aggregate's day is not in the period.
    #[error("usage of {day} is not in {period}")]
    OutsidePeriod {
        /// The aggregate's day.
        day: NaiveDate,
        /// The period.
        period: Period,
    },
    /// Prices or PTU costs in more than one currency.
    #[error("a statement has one currency, but prices and PTU costs use {}", .0.iter().map(Currency::as_str).collect::<Vec<_>>().join(", "))]
    MixedCurrencies(Vec<Currency>),
}

/// One line of the statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChargeLine {
    /// What the line is.
    pub kind: LineKind,
    /// Business unit (`unassigned` for unmapped parties, [`UNUSED_CAPACITY`]).
    pub business_unit: String,
    /// Application (the party when unmapped; empty for unused capacity).
    pub application: String,
    /// Model as the records name it (from the deployment file when they do not).
    pub model: String,
    /// Deployment ('' when the records do not say).
    pub deployment: String,
    /// How the deployment is billed.
    pub deployment_type: DeploymentType,
    /// The service tier the calls were billed at ('' when the responses do not say).
    pub service_tier: String,
    /// The provisioned deployment these calls spilled over from ('' when they
    /// did not). `deployment` is then the standard deployment that served
    /// them: they are priced at its rates and are not in the provisioned
    /// deployment's token share.
    pub spilled_from: String,
    /// The deployment's Azure OpenAI account, when the directory says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<AccountId>,
    /// The account's region, when the directory says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// Requests and tokens.
    #[serde(flatten)]
    pub tokens: TokenCounts,
    /// Cost in cents precision; `None` when unpriced (never $0 for lack of a price).
    #[serde(serialize_with = "serialize_optional_amount")]
    pub cost: Option<Money>,
    /// Currency of the statement.
    pub currency: Currency,
    /// Why a line is unpriced, how a PTU share was made, or what a correction corrects.
    pub note: String,
    /// The line's charges by meter, adding up to its cost (priced usage and
    /// provisioned lines; empty for the others).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub meters: Vec<MeterCharge>,
}

impl ChargeLine {
    /// Whether the line has no price.
    pub fn is_unpriced(&self) -> bool {
        self.cost.is_none()
    }
}

/// One day of the trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyTotal {
    /// UTC day.
    pub day: NaiveDate,
    /// Requests and tokens of the day (all lines).
    #[serde(flatten)]
    pub tokens: TokenCounts,
    /// Pay-as-you-go and used PTU cost of the day's priced usage; `None`
    /// when all of the day's usage is unpriced (never zero for lack of a price).
    #[serde(serialize_with = "serialize_optional_amount")]
    pub cost: Option<Money>,
    /// Of the day's tokens, those without a price.
    pub unpriced_tokens: u64,
}

/// A business unit's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusinessUnitTotal {
    /// Business unit.
    pub business_unit: String,
    /// Requests and tokens.
    #[serde(flatten)]
    pub tokens: TokenCounts,
    /// Sum of its priced lines; `None` when none of its lines has a price
    /// (never zero for lack of a price).
    #[serde(serialize_with = "serialize_optional_amount")]
    pub cost: Option<Money>,
    /// Lines without a price.
    pub unpriced_lines: usize,
}

/// What a provisioned (PTU) deployment cost in the month and how much of it
/// was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvisionedUse {
    /// The deployment, as the directory writes it.
    pub deployment: String,
    /// The model it serves.
    pub model: String,
    /// Hours in the month.
    pub hours: u32,
    /// Its cost for the month, rounded once to cents.
    #[serde(serialize_with = "serialize_amount")]
    pub cost: Money,
    /// Tokens the month offers at the declared capacity, if declared.
    pub capacity_tokens: Option<u64>,
    /// Tokens used on it (prompt + completion).
    pub used_tokens: u64,
    /// The used part of the cost, shared by the lines on it.
    #[serde(serialize_with = "serialize_amount")]
    pub used_cost: Money,
}

/// A month's chargeback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// The month.
    pub period: Period,
    /// Currency of every amount.
    pub currency: Currency,
    /// Lines by business unit, application, model, deployment.
    pub lines: Vec<ChargeLine>,
    /// Every day of the month.
    pub daily: Vec<DailyTotal>,
    /// Totals by business unit, by business unit name.
    pub business_units: Vec<BusinessUnitTotal>,
    /// Requests and tokens of the month: exactly those of the aggregates.
    pub tokens: TokenCounts,
    /// Requests and tokens without a price.
    pub unpriced: TokenCounts,
    /// Sum of every line's cost.
    #[serde(serialize_with = "serialize_amount")]
    pub total: Money,
    /// Unused provisioned capacity (part of the total).
    #[serde(serialize_with = "serialize_amount")]
    pub unused_capacity: Money,
    /// Corrections from a true-up against the invoice (part of the total).
    #[serde(serialize_with = "serialize_amount")]
    pub corrections: Money,
    /// The provisioned deployments: cost, capacity and use.
    pub provisioned: Vec<ProvisionedUse>,
    /// The prices the statement used.
    pub prices_used: Vec<Price>,
    /// API Management calls of the month whose caller was not known yet when
    /// the statement was made (usage awaiting attribution): in no line, no
    /// business unit and not in `tokens` or `total`, so not charged. Each is
    /// charged to its caller when the caller's log arrives, or to
    /// `unattributed` after the grace period, in the next rollup of the month.
    pub awaiting_attribution: Awaiting,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LineKey {
    business_unit: String,
    application: String,
    model: String,
    deployment: String,
    service_tier: String,
    spilled_from: String,
    kind: LineKind,
    priced: bool,
}

#[derive(Debug, Default)]
struct Accumulated {
    tokens: TokenCounts,
    exact: Decimal,
    deployment_type: Option<DeploymentType>,
    note: String,
    meters: MeterTally,
}

/// The chargeback of `period` from its daily usage aggregates.
///
/// Parties become applications and business units through `applications`;
/// deployments get their type (and, when the records do not name it, their
/// model) from `deployments`; pay-as-you-go usage is priced from `prices` at
/// the price in force on its day; provisioned deployments' costs are shared
/// by tokens (see `docs/chargeback.md`).
pub fn compute(
    period: Period,
    aggregates: &[UsageAggregate],
    applications: &ApplicationMap,
    deployments: &DeploymentCatalogue,
    prices: &PriceCatalogue,
) -> Result<Statement, BillingError> {
    let mut lines: BTreeMap<LineKey, Accumulated> = BTreeMap::new();
    let mut daily_tokens: BTreeMap<NaiveDate, TokenCounts> =
        period.days().map(|d| (d, TokenCounts::default())).collect();
    let mut daily_payg: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
    let mut ptu_daily_tokens: HashMap<String, BTreeMap<NaiveDate, u64>> = HashMap::new();
    let mut daily_unpriced: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    let mut daily_priced: BTreeSet<NaiveDate> = BTreeSet::new();
    let mut currencies = BTreeSet::new();
    let mut used: BTreeMap<UsedKey, Price> = BTreeMap::new();

    for a in aggregates {
        if !period.contains(a.day) {
            return Err(BillingError::OutsidePeriod { day: a.day, period });
        }
        let model = if a.model.is_empty() { deployments.model(&a.deployment).unwrap_or("") } else { &a.model };
        let deployment_type = deployments.deployment_type(&a.deployment);
        daily_tokens.entry(a.day).or_default().add_aggregate(a);
        let mut key = LineKey {
            business_unit: applications.business_unit(&a.party).to_owned(),
            application: applications.application(&a.party).to_owned(),
            model: model.to_owned(),
            deployment: a.deployment.clone(),
            service_tier: a.service_tier.clone(),
            spilled_from: a.spilled_from.clone(),
            kind: LineKind::Usage,
            priced: true,
        };
        let mut exact = Decimal::ZERO;
        let mut note = String::new();
        let mut priced_at = None;
        if deployment_type == DeploymentType::Provisioned {
            key.kind = LineKind::Provisioned;
            *ptu_daily_tokens.entry(a.deployment.to_ascii_lowercase()).or_default().entry(a.day).or_default() +=
                a.tokens.total();
        } else {
            match usage_cost(prices, model, deployment_type, deployments.region(&a.deployment).map(Region::as_str), a) {
                Ok((cost, applied)) => {
                    exact = cost;
                    *daily_payg.entry(a.day).or_default() += cost;
                    for price in applied.iter().copied() {
                        currencies.insert(price.currency.clone());
                        let (model, version, deployment_type, region, tier, kind) = price.key();
                        used.entry((
                            model,
                            version.to_owned(),
                            deployment_type,
                            region.to_owned(),
                            tier,
                            kind,
                            price.effective_from,
                            price.origin.clone(),
                        ))
                        .or_insert_with(|| price.clone());
                    }
                    priced_at = Some(applied);
                }
                Err(reason) => {
                    key.priced = false;
                    note = reason;
                }
            }
        }
        if key.priced {
            daily_priced.insert(a.day);
        } else {
            *daily_unpriced.entry(a.day).or_default() += a.tokens.total();
        }
        let provisioned = key.kind == LineKind::Provisioned;
        let line = lines.entry(key).or_default();
        match priced_at {
            Some(applied) => line.meters.add_priced(&applied, a),
            None if provisioned => line.meters.add_provisioned(a),
            None => {}
        }
        line.tokens.add_aggregate(a);
        line.exact += exact;
        line.deployment_type = Some(deployment_type);
        if line.note.is_empty() {
            line.note = note;
        }
    }

    // Amounts are exact decimals until the statement's currency is known.
    let mut statement_lines: Vec<(Draft, Option<Decimal>)> = Vec::with_capacity(lines.len());
    for (key, acc) in &lines {
        let cost = match key.kind {
            LineKind::Usage if key.priced => Some(to_cents(acc.exact)),
            LineKind::Usage => None,
            _ => Some(Decimal::ZERO),
        };
        let draft = Draft {
            kind: key.kind,
            business_unit: key.business_unit.clone(),
            application: key.application.clone(),
            model: key.model.clone(),
            deployment: key.deployment.clone(),
            deployment_type: acc.deployment_type.unwrap_or(DeploymentCatalogue::DEFAULT_TYPE),
            service_tier: key.service_tier.clone(),
            spilled_from: key.spilled_from.clone(),
            tokens: acc.tokens,
            note: spilled_note(&key.spilled_from, &acc.note),
            meters: acc.meters.clone(),
        };
        statement_lines.push((draft, cost));
    }

    let payg_total: Decimal =
        statement_lines.iter().filter(|(l, _)| l.kind == LineKind::Usage).filter_map(|(_, c)| *c).sum();
    let days: Vec<NaiveDate> = daily_tokens.keys().copied().collect();
    let payg_weights: Vec<Decimal> = days.iter().map(|d| daily_payg.get(d).copied().unwrap_or_default()).collect();
    let mut daily_cost: Vec<Decimal> = split_cents(payg_total, &payg_weights);

    let mut unused_capacity = Decimal::ZERO;
    let mut provisioned: Vec<(String, String, Decimal, Option<u64>, u64, Decimal)> = Vec::new();
    for (name, model, ptu) in deployments.provisioned_deployments() {
        currencies.insert(ptu.currency.clone());
        let cost = to_cents(ptu.cost_for(period.hours()).amount());
        let on_it: Vec<usize> = (0..statement_lines.len())
            .filter(|i| {
                statement_lines[*i].0.kind == LineKind::Provisioned
                    && statement_lines[*i].0.deployment.eq_ignore_ascii_case(name)
            })
            .collect();
        let tokens = on_it.iter().map(|i| statement_lines[*i].0.tokens.total_tokens).fold(0u64, u64::saturating_add);
        let capacity_tokens =
            ptu.capacity_tokens_per_minute.map(|tpm| tpm.saturating_mul(u64::from(period.day_count() * 24 * 60)));
        let (used_cost, how) = match ptu.capacity_tokens_per_minute {
            Some(tpm) => {
                let capacity = Decimal::from(tpm) * Decimal::from(period.day_count() * 24 * 60);
                let share = (Decimal::from(tokens) / capacity).min(Decimal::ONE);
                let used = to_cents(cost * share);
                let percent = (share * Decimal::ONE_HUNDRED).round_dp(2);
                (used, format!("share of {name} by tokens; {percent}% of {tpm} tokens/min used"))
            }
            None if tokens > 0 => (cost, format!("share of {name} by tokens")),
            None => (Decimal::ZERO, format!("{name}: no usage this month")),
        };
        let weights: Vec<Decimal> =
            on_it.iter().map(|i| Decimal::from(statement_lines[*i].0.tokens.total_tokens)).collect();
        for (i, share) in on_it.iter().zip(split_cents(used_cost, &weights)) {
            statement_lines[*i].1 = Some(share);
            statement_lines[*i].0.note = how.clone();
        }
        provisioned.push((name.to_owned(), model.to_owned(), cost, capacity_tokens, tokens, used_cost));
        let per_day = ptu_daily_tokens.get(&name.to_ascii_lowercase());
        let day_weights: Vec<Decimal> =
            days.iter().map(|d| Decimal::from(per_day.and_then(|m| m.get(d)).copied().unwrap_or(0))).collect();
        for (total, share) in daily_cost.iter_mut().zip(split_cents(used_cost, &day_weights)) {
            *total += share;
        }
        let unused = cost - used_cost;
        if !unused.is_zero() {
            unused_capacity += unused;
            let draft = Draft {
                kind: LineKind::UnusedCapacity,
                business_unit: UNUSED_CAPACITY.to_owned(),
                application: String::new(),
                model: model.to_owned(),
                deployment: name.to_owned(),
                deployment_type: DeploymentType::Provisioned,
                service_tier: String::new(),
                spilled_from: String::new(),
                tokens: TokenCounts::default(),
                note: format!("{name} costs {cost} for the month; {how}"),
                meters: MeterTally::default(),
            };
            statement_lines.push((draft, Some(unused)));
        }
    }

    if currencies.len() > 1 {
        return Err(BillingError::MixedCurrencies(currencies.into_iter().collect()));
    }
    let currency = currencies.into_iter().next().unwrap_or(Currency::USD);
    let money = |amount: Decimal| Money::new(amount, currency.clone());
    let mut statement_lines: Vec<ChargeLine> = statement_lines
        .into_iter()
        .map(|(d, cost)| {
            let meters = match (d.kind, cost) {
                (LineKind::Usage | LineKind::Provisioned, Some(cost)) => d.meters.charges(cost, &currency),
                _ => Vec::new(),
            };
            ChargeLine {
                kind: d.kind,
                business_unit: d.business_unit,
                application: d.application,
                model: d.model,
                resource_id: deployments.resource_id(&d.deployment).cloned(),
                region: deployments.region(&d.deployment).cloned(),
                deployment: d.deployment,
                deployment_type: d.deployment_type,
                service_tier: d.service_tier,
                spilled_from: d.spilled_from,
                tokens: d.tokens,
                cost: cost.map(money),
                currency: currency.clone(),
                note: d.note,
                meters,
            }
        })
        .collect();
    statement_lines.sort_by(|a, b| {
        (
            a.kind == LineKind::UnusedCapacity,
            &a.business_unit,
            &a.application,
            &a.model,
            &a.deployment,
            a.kind,
            &a.service_tier,
            &a.spilled_from,
        )
            .cmp(&(
                b.kind == LineKind::UnusedCapacity,
                &b.business_unit,
                &b.application,
                &b.model,
                &b.deployment,
                b.kind,
                &b.service_tier,
                &b.spilled_from,
            ))
    });

    let totals = Totals::of(&statement_lines, &currency);
    let provisioned = provisioned
        .into_iter()
        .map(|(deployment, model, cost, capacity_tokens, used_tokens, used_cost)| ProvisionedUse {
            deployment,
            model,
            hours: period.hours(),
            cost: money(cost),
            capacity_tokens,
            used_tokens,
            used_cost: money(used_cost),
        })
        .collect();
    let daily = days
        .iter()
        .zip(daily_cost)
        .map(|(day, cost)| {
            let unpriced_tokens = daily_unpriced.get(day).copied().unwrap_or(0);
            let all_unpriced = daily_unpriced.contains_key(day) && !daily_priced.contains(day) && cost.is_zero();
            DailyTotal {
                day: *day,
                tokens: daily_tokens[day],
                cost: (!all_unpriced).then(|| money(cost)),
                unpriced_tokens,
            }
        })
        .collect();
    Ok(Statement {
        period,
        lines: statement_lines,
        daily,
        business_units: totals.business_units,
        tokens: totals.tokens,
        unpriced: totals.unpriced,
        total: totals.total,
        unused_capacity: money(unused_capacity),
        corrections: money(Decimal::ZERO),
        provisioned,
        prices_used: used.into_values().collect(),
        currency,
        awaiting_attribution: Awaiting::default(),
    })
}

impl Statement {
    /// The statement with this usage awaiting attribution shown apart (it
    /// changes no line and no total).
    pub fn with_awaiting(mut self, awaiting: Awaiting) -> Statement {
        self.awaiting_attribution = awaiting;
        self
    }

    /// The statement with `corrections` added after its lines as lines of
    /// kind [`LineKind::Correction`] in its currency, and its totals updated.
    /// The other lines are not changed.
    pub fn with_corrections(&self, corrections: Vec<ChargeLine>) -> Statement {
        let mut statement = self.clone();
        let added: Decimal = corrections.iter().filter_map(|l| l.cost.as_ref()).map(Money::amount).sum();
        statement.corrections = Money::new(statement.corrections.amount() + added, statement.currency.clone());
        let currency = statement.currency.clone();
        statement.lines.extend(corrections.into_iter().map(|mut l| {
            l.kind = LineKind::Correction;
            l.cost = l.cost.map(|c| Money::new(c.amount(), currency.clone()));
            l.currency = currency.clone();
            l
        }));
        // Each correction right after the lines it corrects (a stable sort
        // keeps the original order otherwise).
        statement.lines.sort_by(|a, b| {
            let apart = |l: &ChargeLine| l.kind == LineKind::UnusedCapacity || l.business_unit == UNUSED_CAPACITY;
            (apart(a), &a.business_unit, &a.application, &a.model, &a.deployment, a.kind == LineKind::Correction).cmp(
                &(apart(b), &b.business_unit, &b.application, &b.model, &b.deployment, b.kind == LineKind::Correction),
            )
        });
        let totals = Totals::of(&statement.lines, &statement.currency);
        statement.business_units = totals.business_units;
        statement.tokens = totals.tokens;
        statement.unpriced = totals.unpriced;
        statement.total = totals.total;
        statement
    }
}

/// Totals by business unit and of the month: sums of the lines.
struct Totals {
    business_units: Vec<BusinessUnitTotal>,
    tokens: TokenCounts,
    unpriced: TokenCounts,
    total: Money,
}

impl Totals {
    fn of(lines: &[ChargeLine], currency: &Currency) -> Self {
        // Per business unit: tokens, the priced lines' cost (`None` while it has none), unpriced lines.
        let mut units: BTreeMap<String, (TokenCounts, Option<Decimal>, usize)> = BTreeMap::new();
        let (mut tokens, mut unpriced, mut total) = (TokenCounts::default(), TokenCounts::default(), Decimal::ZERO);
        for line in lines {
            let (unit_tokens, unit_cost, unpriced_lines) = units.entry(line.business_unit.clone()).or_default();
            unit_tokens.add(&line.tokens);
            tokens.add(&line.tokens);
            match &line.cost {
                Some(cost) => {
                    *unit_cost.get_or_insert(Decimal::ZERO) += cost.amount();
                    total += cost.amount();
                }
                None => {
                    *unpriced_lines += 1;
                    unpriced.add(&line.tokens);
                }
            }
        }
        let money = |amount: Decimal| Money::new(amount, currency.clone());
        let business_units = units
            .into_iter()
            .map(|(business_unit, (tokens, cost, unpriced_lines))| BusinessUnitTotal {
                business_unit,
                tokens,
                cost: cost.map(money),
                unpriced_lines,
            })
            .collect();
        Self { business_units, tokens, unpriced, total: money(total) }
    }
}

/// A line before the statement's currency is known.
#[derive(Debug)]
struct Draft {
    kind: LineKind,
    business_unit: String,
    application: String,
    model: String,
    deployment: String,
    deployment_type: DeploymentType,
    service_tier: String,
    spilled_from: String,
    tokens: TokenCounts,
    note: String,
    meters: MeterTally,
}

/// A line's note, saying first that its calls spilled over (when they did).
fn spilled_note(spilled_from: &str, note: &str) -> String {
    match (spilled_from.is_empty(), note.is_empty()) {
        (true, _) => note.to_owned(),
        (false, true) => format!("spilled from {spilled_from}"),
        (false, false) => format!("spilled from {spilled_from}; {note}"),
    }
}

/// What identifies a price used: its key, date and file.
type UsedKey = (String, String, DeploymentType, String, ServiceTier, TokenKind, NaiveDate, String);

/// The exact cost of an aggregate and the prices it used, each token kind at
/// its own price for the aggregate's service tier in force on the day: prompt
/// tokens less cached and less cache writes at the input price, cached tokens
/// at the cached-input price, cache writes at the cache-write price,
/// completion tokens (reasoning included) at the output price. The input
/// price is needed even without prompt tokens, so a model without prices is
/// never a zero line; a tier or kind without a price leaves the aggregate
/// unpriced, never charged at another tier's or kind's rate. `Err` says why
/// the aggregate is unpriced.
fn usage_cost<'a>(
    prices: &'a PriceCatalogue,
    model: &str,
    deployment_type: DeploymentType,
    region: Option<&str>,
    a: &UsageAggregate,
) -> Result<(Decimal, Vec<&'a Price>), String> {
    if model.is_empty() {
        return Err("the records name no model and the deployment file does not map the deployment".to_owned());
    }
    // '' is a response that did not say: the default tier.
    let tier = ServiceTier::parse(&a.service_tier)
        .ok_or_else(|| format!("no prices for the service tier {:?} of {model} {deployment_type}", a.service_tier))?;
    let t = &a.tokens;
    let uncached = t.prompt.saturating_sub(t.cached).saturating_sub(t.cache_write);
    let mut cost = Decimal::ZERO;
    let mut applied = Vec::new();
    for (kind, tokens, needed) in [
        (TokenKind::Input, uncached, true),
        (TokenKind::CachedInput, t.cached, t.cached > 0),
        (TokenKind::CacheWrite, t.cache_write, t.cache_write > 0),
        (TokenKind::Output, t.completion, t.completion > 0),
    ] {
        if !needed {
            continue;
        }
        let q = Lookup { model, deployment_type, region, tier, kind, day: a.day };
        let price = prices.lookup(&q).map_err(|e| e.to_string())?;
        cost += Decimal::from(tokens) * price.price / Decimal::from(1_000_000u32);
        applied.push(price);
    }
    Ok((cost, applied))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::seed::parse_deployments;
    use crate::domain::{TokenSource, TokenTotals};
    use proptest::prelude::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn usd(s: &str) -> Money {
        Money::new(d(s), Currency::USD)
    }

    fn catalogue(csv: &str) -> DeploymentCatalogue {
        DeploymentCatalogue::new(&parse_deployments(csv).unwrap())
    }

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, n).unwrap()
    }

    fn agg(
        n: u32,
        party: &str,
        model: &str,
        deployment: &str,
        prompt: u64,
        cached: u64,
        completion: u64,
    ) -> UsageAggregate {
        UsageAggregate {
            day: day(n),
            party: party.into(),
            model: model.into(),
            deployment: deployment.into(),
            token_source: TokenSource::Reported,
            service_tier: String::new(),
            spilled_from: String::new(),
            tokens: TokenTotals { requests: 1, prompt, completion, cached, ..Default::default() },
        }
    }

    fn apps() -> ApplicationMap {
        ApplicationMap::from_rows([("app-a", "Claims bot", "Insurance"), ("app-b", "Search", "Retail")]).unwrap()
    }

    fn november() -> Period {
        Period::new(2026, 11).unwrap()
    }

    fn run(aggregates: &[UsageAggregate], deployments: &str, prices: &PriceCatalogue) -> Statement {
        compute(november(), aggregates, &apps(), &catalogue(deployments), prices).unwrap()
    }

    #[test]
    fn cached_tokens_at_the_cached_rate_and_reasoning_as_output() {
        // gpt-4o global: 2.50 input, 1.25 cached, 10.00 output per 1M.
        let mut a = agg(3, "app-a", "gpt-4o-2024-08-06", "chat", 1_000_000, 400_000, 200_000);
        a.tokens.reasoning = 50_000;
        let s = run(&[a], "deployment,model\n", &PriceCatalogue::shipped().unwrap());
        // 600k × 2.50 + 400k × 1.25 + 200k × 10.00 = 1.50 + 0.50 + 2.00
        assert_eq!(s.lines[0].cost, Some(usd("4.00")));
        assert_eq!((s.lines[0].business_unit.as_str(), s.lines[0].application.as_str()), ("Insurance", "Claims bot"));
        assert_eq!(s.total, usd("4.00"));
        assert_eq!(s.daily[2].cost, Some(usd("4.00")));
        let kinds: Vec<TokenKind> = s.prices_used.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [TokenKind::Input, TokenKind::CachedInput, TokenKind::Output], "one price per kind used");
    }

    #[test]
    fn unmapped_parties_are_unassigned_and_unknown_models_unpriced_never_zero() {
        let aggregates = [agg(1, "fp_123", "gpt-4o", "", 1000, 0, 10), agg(1, "fp_123", "llama-3", "", 500, 0, 5)];
        let s = run(&aggregates, "deployment,model\n", &PriceCatalogue::shipped().unwrap());
        let unpriced: Vec<_> = s.lines.iter().filter(|l| l.is_unpriced()).collect();
        assert_eq!(unpriced.len(), 1);
        assert_eq!((unpriced[0].model.as_str(), unpriced[0].business_unit.as_str()), ("llama-3", "unassigned"));
        assert_eq!(unpriced[0].application, "fp_123");
        assert!(unpriced[0].note.contains("no global price for llama-3"), "{}", unpriced[0].note);
        assert_eq!((s.unpriced.total_tokens, s.unpriced.requests), (505, 1));
        assert_eq!(s.business_units[0].unpriced_lines, 1);
        assert_eq!(s.business_units[0].cost, Some(usd("0.00")), "gpt-4o is priced: its cost, not the unpriced line's");
        assert_eq!(s.daily[0].unpriced_tokens, 505);
        let only_unpriced =
            run(&[agg(2, "app-b", "llama-3", "", 10, 0, 0)], "deployment,model\n", &PriceCatalogue::shipped().unwrap());
        assert_eq!((only_unpriced.business_units[0].cost.clone(), only_unpriced.daily[1].cost.clone()), (None, None));
        assert_eq!(only_unpriced.daily[0].cost, Some(usd("0")), "a day without usage costs nothing");
    }

    #[test]
    fn pending_records_show_their_requests() {
        let mut pending = agg(2, "app-b", "gpt-4o", "chat", 0, 0, 0);
        pending.token_source = TokenSource::Pending;
        pending.tokens.requests = 7;
        let s = run(&[pending], "deployment,model\n", &PriceCatalogue::shipped().unwrap());
        assert_eq!(s.lines[0].tokens.pending_requests, 7);
        assert_eq!(s.lines[0].cost, Some(usd("0")));
    }

    #[test]
    fn a_price_change_mid_month_splits_the_month() {
        let header = "model,deployment_type,effective_from,currency,input_per_1m,cached_input_per_1m,output_per_1m,source,read_on\n";
        let text = format!("{header}m,global,2026-01-01,USD,1,0.5,2,x,\nm,global,2026-11-16,USD,3,1.5,6,x,\n");
        let prices = PriceCatalogue::parse(&text, "t").unwrap();
        let s = run(
            &[agg(15, "app-a", "m", "", 1_000_000, 0, 0), agg(16, "app-a", "m", "", 1_000_000, 0, 0)],
            "deployment,model\n",
            &prices,
        );
        assert_eq!(s.total, usd("4.00"));
        assert_eq!((s.daily[14].cost.clone(), s.daily[15].cost.clone()), (Some(usd("1.00")), Some(usd("3.00"))));
        assert_eq!(s.prices_used.len(), 2);
    }

    #[test]
    fn usage_before_the_first_effective_date_is_unpriced() {
        let header = "model,deployment_type,effective_from,currency,input_per_1m,cached_input_per_1m,output_per_1m,source,read_on\n";
        let prices = PriceCatalogue::parse(&format!("{header}m,global,2026-11-16,USD,1,0.5,2,x,\n"), "t").unwrap();
        let s = run(
            &[agg(1, "app-a", "m", "", 10, 0, 0), agg(20, "app-a", "m", "", 10, 0, 0)],
            "deployment,model\n",
            &prices,
        );
        assert_eq!(s.lines.len(), 2);
        assert_eq!(s.lines.iter().filter(|l| l.is_unpriced()).count(), 1);
    }

    #[test]
    fn the_deployment_names_the_model_and_its_type() {
        let aggregates = [agg(1, "app-a", "", "eu-nano", 1_000_000, 0, 0)];
        let s = run(
            &aggregates,
            "deployment,model,deployment_type\neu-nano,gpt-5-nano,data-zone\n",
            &PriceCatalogue::shipped().unwrap(),
        );
        assert_eq!((s.lines[0].model.as_str(), s.lines[0].deployment_type), ("gpt-5-nano", DeploymentType::DataZone));
        assert_eq!(s.lines[0].cost, Some(usd("0.06"))); // 0.055 exactly, rounded once, half to even
    }

    #[test]
    fn a_missing_cached_rate_makes_the_line_unpriced() {
        let s = run(
            &[agg(1, "app-a", "gpt-5", "", 100, 50, 10)],
            "deployment,model\n",
            &PriceCatalogue::shipped().unwrap(),
        );
        assert!(s.lines[0].is_unpriced());
        assert!(s.lines[0].note.contains("cached input"), "{}", s.lines[0].note);
    }

    const PTU: &str = "deployment,model,deployment_type,ptu_monthly_cost,capacity_tokens_per_minute\n";

    #[test]
    fn ptu_cost_is_shared_by_tokens_with_unused_capacity_apart() {
        // 30 days × 1440 min × 1000 tpm = 43.2M tokens of capacity for 1000.00.
        let aggregates = [
            agg(1, "app-a", "gpt-4o", "ptu", 10_000_000, 0, 800_000),
            agg(2, "app-b", "gpt-4o", "ptu", 2_000_000, 0, 0),
        ];
        let s =
            run(&aggregates, &format!("{PTU}ptu,gpt-4o,provisioned,1000,1000\n"), &PriceCatalogue::shipped().unwrap());
        let cost = |kind| {
            s.lines.iter().filter(|l| l.kind == kind).map(|l| l.cost.as_ref().unwrap().amount()).sum::<Decimal>()
        };
        // 12.8M / 43.2M = 0.296296… → 296.30 used, 703.70 unused.
        assert_eq!(cost(LineKind::Provisioned), d("296.30"));
        assert_eq!(cost(LineKind::UnusedCapacity), d("703.70"));
        assert_eq!(s.total, usd("1000.00"));
        assert_eq!(s.unused_capacity, usd("703.70"));
        let days: Decimal = s.daily.iter().filter_map(|d| d.cost.as_ref()).map(Money::amount).sum();
        assert_eq!(days + s.unused_capacity.amount(), s.total.amount());
        assert!(s.prices_used.is_empty(), "PTU usage is not also priced pay-as-you-go");
    }

    #[test]
    fn spilled_calls_are_priced_at_the_serving_deployment_and_left_out_of_the_ptu_share() {
        // 2M tokens on the PTU; 1M prompt + 0 completion spilled from it to the
        // standard deployment "chat", priced at gpt-4o global's 2.50 per 1M.
        let mut spilled = agg(1, "app-a", "gpt-4o", "chat", 1_000_000, 0, 0);
        spilled.spilled_from = "ptu".into();
        let aggregates = [agg(1, "app-a", "gpt-4o", "ptu", 2_000_000, 0, 0), spilled];
        let s = run(
            &aggregates,
            &format!(
                "{PTU}ptu,gpt-4o,provisioned,1000,1000
"
            ),
            &PriceCatalogue::shipped().unwrap(),
        );
        let spill = s.lines.iter().find(|l| l.spilled_from == "ptu").unwrap();
        assert_eq!((spill.kind, spill.deployment.as_str()), (LineKind::Usage, "chat"));
        assert_eq!(spill.cost, Some(usd("2.50")), "{spill:?}");
        assert!(spill.note.starts_with("spilled from ptu"), "{}", spill.note);
        let ptu = s.lines.iter().find(|l| l.kind == LineKind::Provisioned).unwrap();
        assert_eq!(ptu.tokens.total_tokens, 2_000_000, "the PTU's share counts its own tokens only");
        // 2M / 43.2M of 1000.00 = 46.30; the spilled call is not in it.
        assert_eq!(ptu.cost, Some(usd("46.30")));
        assert_eq!(s.total, usd("1002.50"));
    }

    #[test]
    fn another_tier_and_cache_writes_are_priced_from_their_own_prices_and_every_dimension_is_summed() {
        // gpt-4o: default tier 2.50 input, 1.25 cached, 3.125 cache write,
        // 10.00 output; priority 5.00 input, 20.00 output; flex no price.
        let header = "model,deployment_type,service_tier,effective_from,currency,input_per_1m,cached_input_per_1m,\
                      cache_write_per_1m,output_per_1m,source,read_on\n";
        let prices = PriceCatalogue::parse(
            &format!(
                "{header}gpt-4o,global,,2026-01-01,USD,2.50,1.25,3.125,10.00,x,\n\
                 gpt-4o,global,priority,2026-01-01,USD,5.00,,,20.00,x,\n\
                 gpt-4o-mini,global,,2026-01-01,USD,0.15,0.075,,0.60,x,\n"
            ),
            "t",
        )
        .unwrap();
        let mut priority = agg(2, "app-a", "gpt-4o", "chat", 1_000_000, 0, 100_000);
        priority.service_tier = "priority".into();
        let mut flex = agg(2, "app-b", "gpt-4o", "chat", 1000, 0, 0);
        flex.service_tier = "flex".into();
        let mut odd = agg(2, "app-b", "gpt-4o", "chat", 1000, 0, 0);
        odd.service_tier = "turbo".into();
        let mut writes = agg(2, "app-b", "gpt-4o", "chat", 2_000_000, 400_000, 200_000);
        writes.tokens.cache_write = 600_000;
        writes.tokens.audio_prompt = 40;
        writes.tokens.audio_completion = 5;
        writes.tokens.accepted_prediction = 7;
        writes.tokens.rejected_prediction = 11;
        let mut mini_writes = agg(2, "app-a", "gpt-4o-mini", "mini", 1000, 0, 0);
        mini_writes.tokens.cache_write = 300;
        let mut default = agg(2, "app-a", "gpt-4o", "chat", 1_000_000, 0, 0);
        default.service_tier = "default".into();
        let s = run(&[priority, flex, odd, writes, mini_writes, default], "deployment,model\n", &prices);
        let line = |tier: &str, app: &str, deployment: &str| {
            s.lines
                .iter()
                .find(|l| l.service_tier == tier && l.application == app && l.deployment == deployment)
                .unwrap()
                .clone()
        };
        // 1M × 5.00 + 100k × 20.00: the priority tier's own rates.
        assert_eq!(line("priority", "Claims bot", "chat").cost, Some(usd("7.00")));
        let f = line("flex", "Search", "chat");
        assert_eq!(f.cost, None, "a tier without prices is never the default tier's rate, never zero");
        assert!(f.note.contains("flex tier"), "{}", f.note);
        let o = line("turbo", "Search", "chat");
        assert_eq!(o.cost, None);
        assert!(o.note.contains("\"turbo\""), "{}", o.note);
        // 1M uncached × 2.50 + 400k cached × 1.25 + 600k written × 3.125 + 200k × 10.00
        // = 2.50 + 0.50 + 1.875 + 2.00
        let w = line("", "Search", "chat");
        assert_eq!(w.cost, Some(usd("6.88")));
        let meters: Vec<(&str, u64)> = w.meters.iter().map(|m| (m.meter.slug(), m.tokens)).collect();
        assert_eq!(
            meters,
            [("input", 1_000_000), ("cached-input", 400_000), ("cache-write", 600_000), ("output", 200_000)]
        );
        let m = line("", "Claims bot", "mini");
        assert_eq!(m.cost, None, "a cache write without its price is unpriced, not input");
        assert!(m.note.contains("cache write"), "{}", m.note);
        assert_eq!(line("default", "Claims bot", "chat").cost, Some(usd("2.50")));
        assert!(s.prices_used.iter().any(|p| p.kind == TokenKind::CacheWrite));
        assert!(s.prices_used.iter().any(|p| p.tier == ServiceTier::Priority));
        let t = &s.tokens;
        assert_eq!(
            (
                t.cache_write_tokens,
                t.audio_prompt_tokens,
                t.audio_completion_tokens,
                t.accepted_prediction_tokens,
                t.rejected_prediction_tokens
            ),
            (600_300, 40, 5, 7, 11)
        );
        assert_eq!((s.unpriced.requests, s.unpriced.cache_write_tokens), (3, 300));

        // The FOCUS rows say the tier, and a priority price has its own SkuPriceId.
        let files = crate::billing::render::render(&s);
        let focus = &files.iter().find(|(name, _)| name == "focus.csv").unwrap().1;
        let mut reader = csv::Reader::from_reader(focus.as_slice());
        let header = reader.headers().unwrap().clone();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (tier, price_id, app) = (column("x_ServiceTier"), column("SkuPriceId"), column("x_Application"));
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let priority: Vec<&str> = rows.iter().filter(|r| &r[tier] == "priority").map(|r| &r[price_id]).collect();
        assert_eq!(
            priority,
            [
                "azure-openai/gpt-4o/global/input/priority/2026-01-01",
                "azure-openai/gpt-4o/global/output/priority/2026-01-01"
            ]
        );
        let plain: Vec<(&str, &str)> = rows
            .iter()
            .filter(|r| &r[app] == "Claims bot" && &r[tier] != "priority")
            .map(|r| (&r[tier], &r[price_id]))
            .collect();
        assert!(plain.contains(&("default", "azure-openai/gpt-4o/global/input/2026-01-01")), "{plain:?}");
    }

    #[test]
    fn ptu_without_capacity_is_wholly_shared_and_unused_only_without_usage() {
        let deployments = "deployment,model,deployment_type,ptu_hourly_cost\nptu,gpt-4o,provisioned,1.00\nidle,gpt-4o,provisioned,2.00\n";
        let aggregates = [agg(1, "app-a", "gpt-4o", "ptu", 1, 0, 0), agg(1, "app-b", "gpt-4o", "ptu", 2, 0, 0)];
        let s = run(&aggregates, deployments, &PriceCatalogue::shipped().unwrap());
        let shares: Vec<_> =
            s.lines.iter().filter(|l| l.kind == LineKind::Provisioned).map(|l| l.cost.clone().unwrap()).collect();
        assert_eq!(shares, vec![usd("240.00"), usd("480.00")]); // 720 h × 1.00 by 1:2
        let unused: Vec<_> = s.lines.iter().filter(|l| l.kind == LineKind::UnusedCapacity).collect();
        assert_eq!(
            (unused.len(), unused[0].deployment.as_str(), unused[0].cost.clone()),
            (1, "idle", Some(usd("1440.00")))
        );
    }

    #[test]
    fn usage_outside_the_period_and_mixed_currencies_are_refused() {
        let deployments = catalogue("deployment,model\n");
        let prices = PriceCatalogue::shipped().unwrap();
        let mut a = agg(1, "app-a", "gpt-4o", "", 1, 0, 0);
        a.day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert!(matches!(
            compute(november(), &[a], &apps(), &deployments, &prices),
            Err(BillingError::OutsidePeriod { .. })
        ));
        let ptu = catalogue("deployment,model,deployment_type,ptu_monthly_cost,currency\np,gpt-4o,provisioned,1,EUR\n");
        let usd = agg(1, "app-a", "gpt-4o", "", 1, 0, 0);
        assert!(matches!(compute(november(), &[usd], &apps(), &ptu, &prices), Err(BillingError::MixedCurrencies(_))));
        assert_eq!((november().day_count(), november().hours()), (30, 720));
    }

    fn arb_aggregate() -> impl Strategy<Value = UsageAggregate> {
        let models =
            prop::sample::select(vec!["gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1", "unknown-model", "gpt-5", ""]);
        let deployments = prop::sample::select(vec!["", "chat", "ptu", "ptu-idle-cap", "eu"]);
        let parties = prop::sample::select(vec!["app-a", "app-b", "fp_x", "<script>"]);
        let sources = prop::sample::select(vec![TokenSource::Reported, TokenSource::Estimated, TokenSource::Pending]);
        (
            1u32..=30,
            parties,
            models,
            deployments,
            sources,
            1u64..1000,
            0u64..10_000_000,
            0u64..10_000_000,
            0u64..100,
            0u64..100,
        )
            .prop_map(
                |(n, party, model, deployment, source, requests, prompt, completion, cached_pct, reasoning_pct)| {
                    let pending = source == TokenSource::Pending;
                    let (prompt, completion) = if pending { (0, 0) } else { (prompt, completion) };
                    UsageAggregate {
                        day: day(n),
                        party: party.into(),
                        model: model.into(),
                        deployment: deployment.into(),
                        token_source: source,
                        service_tier: String::new(),
                        spilled_from: String::new(),
                        tokens: TokenTotals {
                            requests,
                            prompt,
                            completion,
                            cached: prompt * cached_pct / 100,
                            reasoning: completion * reasoning_pct / 100,
                            ..Default::default()
                        },
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn tokens_reconcile_and_lines_sum_to_the_totals(aggregates in prop::collection::vec(arb_aggregate(), 0..60)) {
            let deployments = "deployment,model,deployment_type,ptu_monthly_cost,capacity_tokens_per_minute\n\
                               chat,gpt-4o,global,,\nptu,gpt-4.1,provisioned,1234.57,\nptu-idle-cap,gpt-4o,provisioned,999.99,5000\neu,gpt-4o,data-zone,,\n";
            let s = run(&aggregates, deployments, &PriceCatalogue::shipped().unwrap());
            let sum: TokenTotals = aggregates.iter().map(|a| a.tokens).sum();
            prop_assert_eq!(s.tokens.totals(), sum);
            prop_assert_eq!(s.tokens.total_tokens, sum.total());
            let line_tokens: u64 = s.lines.iter().map(|l| l.tokens.total_tokens).sum();
            prop_assert_eq!(line_tokens, s.tokens.total_tokens);
            let daily_tokens: u64 = s.daily.iter().map(|d| d.tokens.total_tokens).sum();
            prop_assert_eq!(daily_tokens, s.tokens.total_tokens);
            let total = s.total.amount();
            let line_cost: Decimal = s.lines.iter().filter_map(|l| l.cost.as_ref()).map(Money::amount).sum();
            prop_assert_eq!(line_cost, total);
            prop_assert_eq!(s.business_units.iter().filter_map(|b| b.cost.as_ref()).map(Money::amount).sum::<Decimal>(), total);
            let days: Decimal = s.daily.iter().filter_map(|d| d.cost.as_ref()).map(Money::amount).sum();
            prop_assert_eq!(days + s.unused_capacity.amount(), total);
            // Unpriced is never an amount: a group without a priced line has no cost.
            for b in &s.business_units {
                let priced = s.lines.iter().any(|l| l.business_unit == b.business_unit && l.cost.is_some());
                prop_assert_eq!(b.cost.is_some(), priced);
            }
            // Both PTU deployments' costs are in the statement exactly, used or not.
            let ptu: Decimal = s.lines.iter().filter(|l| l.kind != LineKind::Usage).filter_map(|l| l.cost.as_ref()).map(Money::amount).sum();
            prop_assert_eq!(ptu, d("1234.57") + d("999.99"));
            for line in &s.lines {
                if let Some(cost) = line.cost.as_ref().map(Money::amount) {
                    prop_assert_eq!(cost.round_dp(2), cost);
                    prop_assert!(cost >= Decimal::ZERO);
                }
                // The meter charges (FOCUS rows) add up to the line to the cent.
                let metered: u64 = line.meters.iter().map(|m| m.tokens).sum();
                if line.kind != LineKind::UnusedCapacity && line.cost.is_some() {
                    prop_assert_eq!(metered, line.tokens.total_tokens);
                    if metered > 0 {
                        let charged: Decimal = line.meters.iter().map(|m| m.cost.amount()).sum();
                        prop_assert_eq!(Some(charged), line.cost.as_ref().map(Money::amount));
                    }
                }
            }
        }
    }
}
