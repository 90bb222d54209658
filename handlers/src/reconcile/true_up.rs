//! The true-up: each group's difference distributed over the statement
//! lines it comes from, by their cost share (largest remainder, to the cent),
//! as correction lines of their own. The original lines are never changed.
//!
//! A meter only on the invoice has no lines to share it: it becomes one
//! correction line charged to the business unit [`INVOICE_ONLY`] (decide
//! centrally who carries it, as for unused capacity). The trued-up statement
//! sums to the invoice's total to the cent.

use rust_decimal::Decimal;

use super::{Reconciliation, Status};
use crate::billing::allocation::split_cents;
use crate::billing::{ChargeLine, Statement};
use crate::domain::{AccountId, DeploymentType, LineKind, Money, TokenCounts};

/// The business unit of corrections for meters only on the invoice.
pub const INVOICE_ONLY: &str = "invoice only";

/// Why a statement cannot be trued up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrueUpError {
    /// Priced lines whose deployment names no account: the invoice cannot say what they cost.
    #[error(
        "cannot true up {period}: the deployment(s) {deployments} have priced usage but no resource_id in the \
         deployment file, so the invoice cannot be matched to them"
    )]
    UnmappedDeployments {
        /// The month.
        period: crate::domain::Period,
        /// Their names.
        deployments: String,
    },
}

/// The statement with the reconciliation's corrections added.
pub fn true_up(statement: &Statement, reconciliation: &Reconciliation) -> Result<Statement, TrueUpError> {
    let mut unmapped: Vec<&str> = statement
        .lines
        .iter()
        .filter(|l| l.resource_id.is_none() && l.cost.as_ref().is_some_and(|c| !c.is_zero()))
        .map(|l| if l.deployment.is_empty() { "(unnamed)" } else { l.deployment.as_str() })
        .collect();
    if !unmapped.is_empty() {
        unmapped.sort_unstable();
        unmapped.dedup();
        return Err(TrueUpError::UnmappedDeployments { period: statement.period, deployments: unmapped.join(", ") });
    }
    let money = |amount: Decimal| Money::new(amount, statement.currency.clone());
    let mut corrections = Vec::new();
    for group in &reconciliation.groups {
        let difference = group.difference.amount();
        if difference.is_zero() {
            continue;
        }
        let why = format!(
            "{} {} on {}: invoice {} vs ours {} ({:+})",
            group.status.as_str(),
            group.meter,
            account_name(&group.resource_id),
            group.invoice_cost.cents_text(),
            group.our_cost.cents_text(),
            difference
        );
        if group.status == Status::InvoiceOnly || group.shares.is_empty() {
            corrections.push(ChargeLine {
                kind: LineKind::Correction,
                business_unit: INVOICE_ONLY.to_owned(),
                application: String::new(),
                model: group.meter.clone(),
                deployment: group.deployment.clone(),
                deployment_type: DeploymentType::Global,
                service_tier: String::new(),
                spilled_from: String::new(),
                resource_id: AccountId::parse(&group.resource_id).ok(),
                region: None,
                tokens: TokenCounts::default(),
                cost: Some(group.difference.clone()),
                currency: statement.currency.clone(),
                note: format!("{why}; no usage of ours to share it"),
                meters: Vec::new(),
            });
            continue;
        }
        let weights: Vec<Decimal> = group.shares.iter().map(|(_, _, cost)| *cost).collect();
        let weights = if weights.iter().all(Decimal::is_zero) { vec![Decimal::ONE; weights.len()] } else { weights };
        let magnitude = split_cents(difference.abs(), &weights);
        for ((line_index, _, _), share) in group.shares.iter().zip(magnitude) {
            if share.is_zero() {
                continue;
            }
            let amount = if difference.is_sign_negative() { -share } else { share };
            let line = &statement.lines[*line_index];
            corrections.push(ChargeLine {
                kind: LineKind::Correction,
                tokens: TokenCounts::default(),
                cost: Some(money(amount)),
                note: format!("{why}; this line's cost share"),
                meters: Vec::new(),
                ..line.clone()
            });
        }
    }
    Ok(statement.with_corrections(merge(corrections)))
}

/// One correction per corrected line and group: shares of one group on one
/// line (a line's input and output meters) are added together.
fn merge(corrections: Vec<ChargeLine>) -> Vec<ChargeLine> {
    let mut merged: Vec<ChargeLine> = Vec::with_capacity(corrections.len());
    for c in corrections {
        match merged.iter_mut().find(|m| {
            (&m.business_unit, &m.application, &m.model, &m.deployment, &m.service_tier, &m.spilled_from, &m.note)
                == (
                    &c.business_unit,
                    &c.application,
                    &c.model,
                    &c.deployment,
                    &c.service_tier,
                    &c.spilled_from,
                    &c.note,
                )
        }) {
            Some(m) => {
                let sum = |l: &ChargeLine| l.cost.as_ref().map(Money::amount).unwrap_or_default();
                m.cost = Some(Money::new(sum(m) + sum(&c), c.currency.clone()));
            }
            None => merged.push(c),
        }
    }
    merged
}

/// The account's name (the last segment of its ARM id).
fn account_name(resource_id: &str) -> &str {
    match resource_id.rsplit('/').next() {
        Some("") | None => "(no account)",
        Some(name) => name,
    }
}
