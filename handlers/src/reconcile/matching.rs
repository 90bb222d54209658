//! Matching the invoice to the statement: by Azure OpenAI account (and
//! deployment, where the export names one), then by meter.
//!
//! Both sides become groups keyed by account and meter: the statement's meter
//! charges by the price's model, the deployment type and the token kind; the
//! invoice's rows by the same, read from the meter name with the price sync's
//! meter parser (`prices::meter`). A provisioned deployment's shares and its
//! unused capacity form one `provisioned` group per account, matched to the
//! account's PTU hourly (or reservation) rows. Each group gets a status:
//!
//! - `match`: the costs differ by no more than one cent per meter charge of
//!   ours in the group (our lines are rounded once to cents; Azure's rows are
//!   not), and the tokens by no more than 0.1 % (at least 1,000 tokens: Azure
//!   meters tokens in thousands);
//! - `over` / `under`: the invoice bills more / less than our ledger;
//! - `invoice only`: Microsoft billed a meter we have no usage for;
//! - `ledger only`: we have priced usage Microsoft did not bill.
//!
//! Invoice rows of accounts the deployment file does not list are reported
//! apart and never matched by guess; statement lines whose deployment has no
//! `resource_id` are `ledger only` under an empty account.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::invoice::{Invoice, InvoiceRow};
use crate::billing::allocation::to_cents;
use crate::billing::{DeploymentCatalogue, Meter, Statement};
use crate::domain::{DeploymentType, LineKind, Money, serialize_amount};
use crate::prices::meter::{self as parser, MeterKind, Scope};

/// How far apart a group's tokens may be and still match: 0.1 %.
pub const TOKEN_TOLERANCE_RATIO: Decimal = Decimal::from_parts(1, 0, 0, false, 3);
/// The least token tolerance.
pub const TOKEN_TOLERANCE_MIN: u64 = 1_000;

/// A group's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Status {
    /// Within the tolerance.
    #[serde(rename = "match")]
    Match,
    /// The invoice bills more than the ledger.
    #[serde(rename = "over")]
    Over,
    /// The invoice bills less than the ledger.
    #[serde(rename = "under")]
    Under,
    /// Only on the invoice.
    #[serde(rename = "invoice only")]
    InvoiceOnly,
    /// Only in the ledger.
    #[serde(rename = "ledger only")]
    LedgerOnly,
}

impl Status {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::Over => "over",
            Self::Under => "under",
            Self::InvoiceOnly => "invoice only",
            Self::LedgerOnly => "ledger only",
        }
    }
}

/// What a group meters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum MeterGroup {
    /// Tokens of a model on a deployment type.
    Tokens { model: String, deployment_type: DeploymentType, kind: String, tier: String },
    /// A provisioned deployment's hours.
    Provisioned,
    /// A meter the parser cannot read (invoice only, by name).
    Unread(String),
}

impl MeterGroup {
    /// The group's meter as reports show it (`gpt-4o global input`).
    pub(crate) fn label(&self) -> String {
        match self {
            Self::Tokens { model, deployment_type, kind, tier } if tier.is_empty() => {
                format!("{model} {deployment_type} {kind}")
            }
            Self::Tokens { model, deployment_type, kind, tier } => format!("{model} {deployment_type} {kind} {tier}"),
            Self::Provisioned => "provisioned".to_owned(),
            Self::Unread(name) => format!("unread meter {name:?}"),
        }
    }
}

/// A group's key: account (lower case), deployment ('' unless the invoice
/// names deployments of the account), meter.
pub(crate) type GroupKey = (String, String, MeterGroup);

/// Where a group's cost comes from in the statement: (line index, meter
/// index or `None` for the whole line, its cost).
pub(crate) type Share = (usize, Option<usize>, Decimal);

/// One account and meter: the invoice's figures against ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The account's ARM id ('' for our lines on deployments without one).
    pub resource_id: String,
    /// The deployment, when the invoice names deployments.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deployment: String,
    /// The meter (`gpt-4o global input`, `provisioned`).
    pub meter: String,
    /// The outcome.
    pub status: Status,
    /// What the invoice bills, in cents (its rows' exact sum, rounded so the
    /// groups add up to the invoice total).
    #[serde(serialize_with = "serialize_amount")]
    pub invoice_cost: Money,
    /// What the statement charges.
    #[serde(serialize_with = "serialize_amount")]
    pub our_cost: Money,
    /// Invoice less ours.
    #[serde(serialize_with = "serialize_amount")]
    pub difference: Money,
    /// The difference in percent of ours (none when ours is zero).
    pub percent: Option<Decimal>,
    /// Invoice tokens (PTU groups: hours).
    pub invoice_quantity: Option<Decimal>,
    /// Our tokens (none for PTU groups: hours are not comparable).
    pub our_quantity: Option<Decimal>,
    /// Invoice rows in the group.
    pub invoice_rows: usize,
    /// Our meter charges (or lines) in the group.
    pub our_charges: usize,
    /// Where our cost comes from, for the true-up.
    #[serde(skip)]
    pub(crate) shares: Vec<Share>,
    /// The invoice's exact cost before rounding.
    #[serde(skip)]
    pub(crate) invoice_exact: Decimal,
}

/// Invoice rows of an account the deployment file does not list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownResource {
    /// The account.
    pub resource_id: String,
    /// Its cost on the invoice (exact, as exported).
    #[serde(serialize_with = "serialize_amount")]
    pub invoice_cost: Money,
    /// Its rows.
    pub invoice_rows: usize,
    /// Its meters, as the invoice names them.
    pub meters: Vec<String>,
}

/// The invoice's rows and the statement's charges, grouped.
pub(crate) struct Grouped {
    pub(crate) groups: Vec<Group>,
    pub(crate) unknown: Vec<UnknownResource>,
}

#[derive(Default)]
struct Side {
    exact: Decimal,
    rows: usize,
    quantity: Option<Decimal>,
    our_cost: Decimal,
    our_tokens: Decimal,
    shares: Vec<Share>,
}

/// Groups both sides and gives each group its status.
pub(crate) fn group(statement: &Statement, invoice: &Invoice, deployments: &DeploymentCatalogue) -> Grouped {
    let mut sides: BTreeMap<GroupKey, (Side, Side)> = BTreeMap::new();
    let mut unknown: BTreeMap<String, UnknownResource> = BTreeMap::new();
    let named: std::collections::BTreeSet<String> =
        invoice.rows.iter().filter(|r| !r.deployment.is_empty()).map(|r| r.account.to_ascii_lowercase()).collect();

    for row in &invoice.rows {
        if !deployments.knows_account(&row.account) {
            let u = unknown.entry(row.account.to_ascii_lowercase()).or_insert_with(|| UnknownResource {
                resource_id: row.account.clone(),
                invoice_cost: Money::zero(invoice.currency.clone()),
                invoice_rows: 0,
                meters: Vec::new(),
            });
            u.invoice_cost = Money::new(u.invoice_cost.amount() + row.cost.amount(), invoice.currency.clone());
            u.invoice_rows += 1;
            if !u.meters.contains(&row.meter_name) {
                u.meters.push(row.meter_name.clone());
            }
            continue;
        }
        let (meter, quantity) = read_meter(row);
        let key = (row.account.to_ascii_lowercase(), row.deployment.to_ascii_lowercase(), meter);
        let side = &mut sides.entry(key).or_default().0;
        side.exact += row.cost.amount();
        side.rows += 1;
        if let Some(q) = quantity {
            *side.quantity.get_or_insert(Decimal::ZERO) += q;
        }
    }

    for (index, line) in statement.lines.iter().enumerate() {
        let Some(cost) = line.cost.as_ref().map(Money::amount) else { continue };
        let account = line.resource_id.as_ref().map(|a| a.as_str().to_ascii_lowercase()).unwrap_or_default();
        let deployment = if named.contains(&account) { line.deployment.to_ascii_lowercase() } else { String::new() };
        match line.kind {
            LineKind::Usage => {
                for (m, charge) in line.meters.iter().enumerate() {
                    let Some(price) = &charge.price else { continue };
                    let meter = MeterGroup::Tokens {
                        model: price.model.to_ascii_lowercase(),
                        deployment_type: line.deployment_type,
                        kind: ours(charge.meter).to_owned(),
                        tier: String::new(),
                    };
                    let side = &mut sides.entry((account.clone(), deployment.clone(), meter)).or_default().1;
                    side.our_cost += charge.cost.amount();
                    side.our_tokens += Decimal::from(charge.tokens);
                    side.shares.push((index, Some(m), charge.cost.amount()));
                }
            }
            LineKind::Provisioned | LineKind::UnusedCapacity if !cost.is_zero() || !line.meters.is_empty() => {
                let side = &mut sides.entry((account.clone(), deployment, MeterGroup::Provisioned)).or_default().1;
                side.our_cost += cost;
                side.shares.push((index, None, cost));
            }
            _ => {}
        }
    }

    let exact: Vec<Decimal> = sides.values().map(|(theirs, _)| theirs.exact).collect();
    let rounded = super::round_to_total(&exact, to_cents(exact.iter().copied().sum()));
    let money = |amount: Decimal| Money::new(amount, statement.currency.clone());
    let groups = sides
        .into_iter()
        .zip(rounded)
        .filter(|((_, (theirs, ours)), _)| theirs.rows > 0 || !ours.shares.is_empty())
        .map(|(((account, deployment, meter), (theirs, ours)), invoice_cost)| {
            let provisioned = meter == MeterGroup::Provisioned;
            let our_quantity = (!provisioned).then_some(ours.our_tokens);
            let resource_id = display_account(statement, invoice, &account);
            let status = status(&theirs, &ours, invoice_cost, provisioned);
            let difference = invoice_cost - ours.our_cost;
            Group {
                resource_id,
                deployment,
                meter: meter.label(),
                status,
                invoice_cost: money(invoice_cost),
                our_cost: money(ours.our_cost),
                difference: money(difference),
                percent: (!ours.our_cost.is_zero())
                    .then(|| (difference * Decimal::ONE_HUNDRED / ours.our_cost).round_dp(2)),
                invoice_quantity: theirs.quantity,
                our_quantity,
                invoice_rows: theirs.rows,
                our_charges: ours.shares.len(),
                shares: ours.shares,
                invoice_exact: theirs.exact,
            }
        })
        .collect();
    Grouped { groups, unknown: unknown.into_values().collect() }
}

fn status(theirs: &Side, ours: &Side, invoice_cost: Decimal, provisioned: bool) -> Status {
    if theirs.rows == 0 {
        return Status::LedgerOnly;
    }
    if ours.shares.is_empty() {
        return Status::InvoiceOnly;
    }
    let difference = invoice_cost - ours.our_cost;
    let cents = Decimal::new(1, 2) * Decimal::from(ours.shares.len().max(1));
    let cost_ok = difference.abs() <= cents;
    let token_difference = theirs.quantity.unwrap_or_default() - ours.our_tokens;
    let tolerance =
        (theirs.quantity.unwrap_or_default() * TOKEN_TOLERANCE_RATIO).max(Decimal::from(TOKEN_TOLERANCE_MIN));
    let tokens_ok = provisioned || token_difference.abs() <= tolerance;
    match (cost_ok && tokens_ok, difference.cmp(&Decimal::ZERO)) {
        (true, _) => Status::Match,
        (false, std::cmp::Ordering::Greater) => Status::Over,
        (false, std::cmp::Ordering::Less) => Status::Under,
        (false, std::cmp::Ordering::Equal) if token_difference > Decimal::ZERO => Status::Over,
        (false, std::cmp::Ordering::Equal) => Status::Under,
    }
}

/// The account id as the deployment file (else the invoice) writes it.
fn display_account(statement: &Statement, invoice: &Invoice, lower: &str) -> String {
    statement
        .lines
        .iter()
        .filter_map(|l| l.resource_id.as_ref().map(|a| a.as_str()))
        .chain(invoice.rows.iter().map(|r| r.account.as_str()))
        .find(|id| id.eq_ignore_ascii_case(lower))
        .unwrap_or(lower)
        .to_owned()
}

/// Our meter's kind in the parser's words.
fn ours(meter: Meter) -> &'static str {
    match meter {
        Meter::InputTokens => MeterKind::Input.as_str(),
        Meter::CachedInputTokens => MeterKind::CachedInput.as_str(),
        Meter::OutputTokens => MeterKind::Output.as_str(),
        Meter::ProvisionedThroughput => MeterKind::ProvisionedUnit.as_str(),
    }
}

/// An invoice row's meter group and quantity (tokens, or hours for PTU rows).
fn read_meter(row: &InvoiceRow) -> (MeterGroup, Option<Decimal>) {
    let meter = match parser::parse(&row.meter_name, "", &row.product) {
        Ok(m) => m,
        Err(_) => return (MeterGroup::Unread(row.meter_name.clone()), row.quantity),
    };
    let per_unit = parser::Unit::parse(&row.unit).ok();
    let quantity = row.quantity.map(|q| match per_unit {
        Some(parser::Unit::Tokens(n)) => q * Decimal::from(n),
        Some(parser::Unit::Hours(h)) => q * Decimal::from(h),
        None => q,
    });
    if meter.kind == MeterKind::ProvisionedUnit {
        return (MeterGroup::Provisioned, quantity);
    }
    let deployment_type = match meter.scope {
        Scope::Global => DeploymentType::Global,
        Scope::DataZone => DeploymentType::DataZone,
        Scope::Regional => DeploymentType::Regional,
    };
    match meter.model {
        Some(model) => (
            MeterGroup::Tokens {
                model: model.to_ascii_lowercase(),
                deployment_type,
                kind: meter.kind.as_str().to_owned(),
                tier: meter.tier.as_str().to_owned(),
            },
            quantity,
        ),
        None => (MeterGroup::Unread(row.meter_name.clone()), quantity),
    }
}
