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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use super::allocation::{split_cents, to_cents};
use super::{DeploymentCatalogue, DeploymentType, Price, PriceCatalogue};
use crate::domain::{TokenSource, UsageAggregate};
use crate::mapping::ApplicationMap;

/// The business unit of unused provisioned capacity lines.
pub const UNUSED_CAPACITY: &str = "unused capacity";

/// Currency of a statement that prices nothing.
const DEFAULT_CURRENCY: &str = "USD";

/// Why a statement cannot be computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BillingError {
    /// The month does not exist.
    #[error("{year}-{month:02} is not a month")]
    InvalidPeriod {
        /// Year.
        year: i32,
        /// Month (1–12).
        month: u32,
    },
    /// An aggregate's day is not in the period.
    #[error("usage of {day} is not in {period}")]
    OutsidePeriod {
        /// The aggregate's day.
        day: NaiveDate,
        /// The period.
        period: Period,
    },
    /// Prices or PTU costs in more than one currency.
    #[error("a statement has one currency, but prices and PTU costs use {0}")]
    MixedCurrencies(String),
}

/// A calendar month (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    first_day: NaiveDate,
}

impl Period {
    /// The month `year`-`month`.
    pub fn new(year: i32, month: u32) -> Result<Self, BillingError> {
        NaiveDate::from_ymd_opt(year, month, 1)
            .filter(|_| {
                NaiveDate::from_ymd_opt(year, month, 1)
                    .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
                    .is_some()
            })
            .map(|first_day| Self { first_day })
            .ok_or(BillingError::InvalidPeriod { year, month })
    }

    /// Its first day.
    pub fn first_day(&self) -> NaiveDate {
        self.first_day
    }

    /// Its days, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let month = self.first_day.month();
        self.first_day.iter_days().take_while(move |d| d.month() == month)
    }

    /// Number of days.
    pub fn day_count(&self) -> u32 {
        self.days().count() as u32
    }

    /// Number of hours (days × 24).
    pub fn hours(&self) -> u32 {
        self.day_count() * 24
    }

    /// Whether `day` is in the month.
    pub fn contains(&self, day: NaiveDate) -> bool {
        day.year() == self.first_day.year() && day.month() == self.first_day.month()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first_day.format("%Y-%m"))
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Requests and tokens. Cached tokens are part of prompt tokens, reasoning
/// tokens part of completion tokens; `total` is prompt + completion, of which
/// `estimated` were counted by us; `pending_requests` were not counted yet
/// (their tokens are zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenCounts {
    /// Records.
    pub requests: u64,
    /// Prompt tokens, cached included.
    pub prompt_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Completion tokens, reasoning included.
    pub completion_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Prompt + completion.
    pub total_tokens: u64,
    /// Of the total, tokens we estimated.
    pub estimated_tokens: u64,
    /// Records not counted yet.
    pub pending_requests: u64,
}

impl TokenCounts {
    fn add_aggregate(&mut self, a: &UsageAggregate) {
        self.requests += a.requests;
        self.prompt_tokens += a.prompt;
        self.cached_tokens += a.cached;
        self.completion_tokens += a.completion;
        self.reasoning_tokens += a.reasoning;
        self.total_tokens += a.prompt + a.completion;
        match a.token_source {
            TokenSource::Estimated => self.estimated_tokens += a.prompt + a.completion,
            TokenSource::Pending => self.pending_requests += a.requests,
            TokenSource::Reported => {}
        }
    }

    fn add(&mut self, o: &TokenCounts) {
        self.requests += o.requests;
        self.prompt_tokens += o.prompt_tokens;
        self.cached_tokens += o.cached_tokens;
        self.completion_tokens += o.completion_tokens;
        self.reasoning_tokens += o.reasoning_tokens;
        self.total_tokens += o.total_tokens;
        self.estimated_tokens += o.estimated_tokens;
        self.pending_requests += o.pending_requests;
    }
}

/// What a statement line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineKind {
    /// Pay-as-you-go usage (priced, or unpriced when its cost is `None`).
    Usage,
    /// Usage of a provisioned deployment: a share of its cost.
    Provisioned,
    /// A provisioned deployment's capacity nobody used.
    UnusedCapacity,
}

impl LineKind {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Provisioned => "provisioned",
            Self::UnusedCapacity => "unused-capacity",
        }
    }
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
    /// Requests and tokens.
    #[serde(flatten)]
    pub tokens: TokenCounts,
    /// Cost in cents precision; `None` when unpriced (never $0 for lack of a price).
    pub cost: Option<Decimal>,
    /// Currency of the cost.
    pub currency: String,
    /// Why a line is unpriced, or how a PTU share was made.
    pub note: String,
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
    /// Pay-as-you-go and used PTU cost of the day.
    pub cost: Decimal,
}

/// A business unit's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusinessUnitTotal {
    /// Business unit.
    pub business_unit: String,
    /// Requests and tokens.
    #[serde(flatten)]
    pub tokens: TokenCounts,
    /// Sum of its priced lines.
    pub cost: Decimal,
    /// Lines without a price.
    pub unpriced_lines: usize,
}

/// A month's chargeback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// The month.
    pub period: Period,
    /// Currency of every amount.
    pub currency: String,
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
    pub total: Decimal,
    /// Unused provisioned capacity (part of the total).
    pub unused_capacity: Decimal,
    /// The prices the statement used.
    pub prices_used: Vec<Price>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LineKey {
    business_unit: String,
    application: String,
    model: String,
    deployment: String,
    kind: LineKind,
    priced: bool,
}

#[derive(Debug, Default)]
struct Accumulated {
    tokens: TokenCounts,
    exact: Decimal,
    deployment_type: Option<DeploymentType>,
    note: String,
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
    let mut currencies = BTreeSet::new();
    let mut used: BTreeMap<(String, DeploymentType, NaiveDate, String), Price> = BTreeMap::new();

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
            kind: LineKind::Usage,
            priced: true,
        };
        let mut exact = Decimal::ZERO;
        let mut note = String::new();
        if deployment_type == DeploymentType::Provisioned {
            key.kind = LineKind::Provisioned;
            *ptu_daily_tokens.entry(a.deployment.to_ascii_lowercase()).or_default().entry(a.day).or_default() +=
                a.prompt + a.completion;
        } else {
            match prices.price_for(model, deployment_type, a.day).and_then(|p| usage_cost(p, a).map(|c| (p, c))) {
                Some((price, cost)) => {
                    exact = cost;
                    currencies.insert(price.currency.clone());
                    *daily_payg.entry(a.day).or_default() += cost;
                    used.entry((
                        price.model.clone(),
                        price.deployment_type,
                        price.effective_from,
                        price.origin.clone(),
                    ))
                    .or_insert_with(|| price.clone());
                }
                None => {
                    key.priced = false;
                    note = unpriced_reason(prices, model, deployment_type, a);
                }
            }
        }
        let line = lines.entry(key).or_default();
        line.tokens.add_aggregate(a);
        line.exact += exact;
        line.deployment_type = Some(deployment_type);
        if line.note.is_empty() {
            line.note = note;
        }
    }

    let mut statement_lines: Vec<ChargeLine> = Vec::with_capacity(lines.len());
    for (key, acc) in &lines {
        let cost = match key.kind {
            LineKind::Usage if key.priced => Some(to_cents(acc.exact)),
            LineKind::Usage => None,
            _ => Some(Decimal::ZERO),
        };
        statement_lines.push(ChargeLine {
            kind: key.kind,
            business_unit: key.business_unit.clone(),
            application: key.application.clone(),
            model: key.model.clone(),
            deployment: key.deployment.clone(),
            deployment_type: acc.deployment_type.unwrap_or(DeploymentCatalogue::DEFAULT_TYPE),
            tokens: acc.tokens,
            cost,
            currency: String::new(),
            note: acc.note.clone(),
        });
    }

    let payg_total: Decimal = statement_lines.iter().filter(|l| l.kind == LineKind::Usage).filter_map(|l| l.cost).sum();
    let days: Vec<NaiveDate> = daily_tokens.keys().copied().collect();
    let payg_weights: Vec<Decimal> = days.iter().map(|d| daily_payg.get(d).copied().unwrap_or_default()).collect();
    let mut daily_cost: Vec<Decimal> = split_cents(payg_total, &payg_weights);

    let mut unused_capacity = Decimal::ZERO;
    for (name, model, ptu) in deployments.provisioned_deployments() {
        currencies.insert(ptu.currency.clone());
        let cost = to_cents(ptu.cost_for(period.hours()));
        let on_it: Vec<usize> = (0..statement_lines.len())
            .filter(|i| {
                statement_lines[*i].kind == LineKind::Provisioned
                    && statement_lines[*i].deployment.eq_ignore_ascii_case(name)
            })
            .collect();
        let tokens: u64 = on_it.iter().map(|i| statement_lines[*i].tokens.total_tokens).sum();
        let (used_cost, how) = match ptu.capacity_tokens_per_minute {
            Some(tpm) => {
                let capacity = Decimal::from(tpm) * Decimal::from(period.day_count() * 24 * 60);
                let share = (Decimal::from(tokens) / capacity).min(Decimal::ONE);
                let used = to_cents(cost * share);
                (
                    used,
                    format!(
                        "{name}: {cost} for {tpm} tokens/min; {}% of capacity used",
                        (share * Decimal::ONE_HUNDRED).round_dp(2)
                    ),
                )
            }
            None if tokens > 0 => (cost, format!("{name}: {cost} shared by tokens")),
            None => (Decimal::ZERO, format!("{name}: {cost}; no usage this month")),
        };
        let weights: Vec<Decimal> =
            on_it.iter().map(|i| Decimal::from(statement_lines[*i].tokens.total_tokens)).collect();
        for (i, share) in on_it.iter().zip(split_cents(used_cost, &weights)) {
            statement_lines[*i].cost = Some(share);
            statement_lines[*i].note = how.clone();
        }
        let per_day = ptu_daily_tokens.get(&name.to_ascii_lowercase());
        let day_weights: Vec<Decimal> =
            days.iter().map(|d| Decimal::from(per_day.and_then(|m| m.get(d)).copied().unwrap_or(0))).collect();
        for (total, share) in daily_cost.iter_mut().zip(split_cents(used_cost, &day_weights)) {
            *total += share;
        }
        let unused = cost - used_cost;
        if !unused.is_zero() {
            unused_capacity += unused;
            statement_lines.push(ChargeLine {
                kind: LineKind::UnusedCapacity,
                business_unit: UNUSED_CAPACITY.to_owned(),
                application: String::new(),
                model: model.to_owned(),
                deployment: name.to_owned(),
                deployment_type: DeploymentType::Provisioned,
                tokens: TokenCounts::default(),
                cost: Some(unused),
                currency: String::new(),
                note: how,
            });
        }
    }

    if currencies.len() > 1 {
        return Err(BillingError::MixedCurrencies(currencies.into_iter().collect::<Vec<_>>().join(", ")));
    }
    let currency = currencies.into_iter().next().unwrap_or_else(|| DEFAULT_CURRENCY.to_owned());
    for line in &mut statement_lines {
        line.currency = currency.clone();
    }
    statement_lines.sort_by(|a, b| {
        (a.kind == LineKind::UnusedCapacity, &a.business_unit, &a.application, &a.model, &a.deployment, a.kind).cmp(&(
            b.kind == LineKind::UnusedCapacity,
            &b.business_unit,
            &b.application,
            &b.model,
            &b.deployment,
            b.kind,
        ))
    });

    let mut units: BTreeMap<String, BusinessUnitTotal> = BTreeMap::new();
    let (mut tokens, mut unpriced, mut total) = (TokenCounts::default(), TokenCounts::default(), Decimal::ZERO);
    for line in &statement_lines {
        let unit = units.entry(line.business_unit.clone()).or_insert_with(|| BusinessUnitTotal {
            business_unit: line.business_unit.clone(),
            tokens: TokenCounts::default(),
            cost: Decimal::ZERO,
            unpriced_lines: 0,
        });
        unit.tokens.add(&line.tokens);
        tokens.add(&line.tokens);
        match line.cost {
            Some(cost) => {
                unit.cost += cost;
                total += cost;
            }
            None => {
                unit.unpriced_lines += 1;
                unpriced.add(&line.tokens);
            }
        }
    }
    let daily = days
        .iter()
        .zip(daily_cost)
        .map(|(day, cost)| DailyTotal { day: *day, tokens: daily_tokens[day], cost })
        .collect();
    Ok(Statement {
        period,
        currency,
        lines: statement_lines,
        daily,
        business_units: units.into_values().collect(),
        tokens,
        unpriced,
        total,
        unused_capacity,
        prices_used: used.into_values().collect(),
    })
}

/// The exact cost of an aggregate at a price: prompt tokens less cached at the
/// input rate, cached tokens at the cached rate, completion tokens (reasoning
/// included) at the output rate. `None` when it needs a rate the price lacks.
fn usage_cost(price: &Price, a: &UsageAggregate) -> Option<Decimal> {
    let per_token = |rate: Decimal, tokens: u64| Decimal::from(tokens) * rate / Decimal::from(1_000_000u32);
    let uncached = a.prompt.saturating_sub(a.cached);
    let mut cost = per_token(price.input_per_1m, uncached);
    if a.cached > 0 {
        cost += per_token(price.cached_input_per_1m?, a.cached);
    }
    if a.completion > 0 {
        cost += per_token(price.output_per_1m?, a.completion);
    }
    Some(cost)
}

fn unpriced_reason(
    prices: &PriceCatalogue,
    model: &str,
    deployment_type: DeploymentType,
    a: &UsageAggregate,
) -> String {
    if model.is_empty() {
        return "the records name no model and the deployment file does not map the deployment".to_owned();
    }
    match prices.price_for(model, deployment_type, a.day) {
        None => format!("no {deployment_type} price for {model} on {}", a.day),
        Some(p) if a.cached > 0 && p.cached_input_per_1m.is_none() => {
            format!("no confirmed cached input price for {} {deployment_type}", p.model)
        }
        Some(p) => format!("no confirmed output price for {} {deployment_type}", p.model),
    }
}
