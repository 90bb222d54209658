//! The finish step's pricing and reports: the month's aggregates, priced
//! with the tenant's directory and the prices ([`Pricing`]), into the
//! statement, its result lines and its report files; and, when invoice
//! exports are configured ([`InvoiceExports`]), the month's reconciliation
//! with its export (and its true-up, when asked for).

use crate::billing::{self, DeploymentCatalogue, Pricing, Statement};
use crate::domain::{Awaiting, Period, Tenant, UsageAggregate};
use crate::reconcile::{self, Invoice, InvoiceExports, Reconciliation};
use crate::storage::ResultLine;

use super::RollupError;

/// A priced month.
#[derive(Debug, Clone)]
pub struct Priced {
    /// Lines for `chargeback_results`.
    pub results: Vec<ResultLine>,
    /// Report files (name, content).
    pub files: Vec<(String, Vec<u8>)>,
    /// Headline figures for the status.
    pub summary: serde_json::Value,
}

/// Prices a month's aggregates with the tenant's current directory and
/// prices, shows its usage awaiting attribution apart (not priced), and
/// reconciles it with its invoice export when one is configured.
pub async fn price_month(
    pricing: &Pricing,
    invoices: Option<&InvoiceExports>,
    tenant: &Tenant,
    period: Period,
    aggregates: &[UsageAggregate],
    awaiting: Awaiting,
) -> Result<Priced, RollupError> {
    let (statement, deployments) = pricing.statement_and_deployments(tenant, period, aggregates).await?;
    let statement = statement.with_awaiting(awaiting);
    let (statement, reconciliation) = reconciled(invoices, statement, &deployments)?;
    Ok(priced(&statement, reconciliation.as_ref()))
}

/// The results, report files and summary of a statement (trued up or not),
/// with the reconciliation's files and figures when there is one.
pub fn priced(statement: &Statement, reconciliation: Option<&Reconciliation>) -> Priced {
    let results = statement
        .lines
        .iter()
        .map(|l| ResultLine {
            kind: l.kind,
            business_unit: l.business_unit.clone(),
            application: l.application.clone(),
            model: l.model.clone(),
            deployment: l.deployment.clone(),
            service_tier: l.service_tier.clone(),
            spilled_from: l.spilled_from.clone(),
            currency: statement.currency.clone(),
            tokens: l.tokens.totals(),
            cost: l.cost.clone(),
        })
        .collect();
    let mut summary = serde_json::json!({
        "period": statement.period,
        "currency": statement.currency,
        "total": statement.total.amount().to_string(),
        "unusedCapacity": statement.unused_capacity.amount().to_string(),
        "requests": statement.tokens.requests,
        "tokens": statement.tokens.total_tokens,
        "estimatedTokens": statement.tokens.estimated_tokens,
        "pendingRequests": statement.tokens.pending_requests,
        "unpricedTokens": statement.unpriced.total_tokens,
        "lines": statement.lines.len(),
        "awaitingAttributionCalls": statement.awaiting_attribution.calls(),
        "awaitingAttributionTokens": statement.awaiting_attribution.tokens.total_tokens,
        "businessUnits": statement.business_units.len(),
    });
    let files = match reconciliation {
        Some(r) => {
            summary["reconciles"] = r.total.reconciles.into();
            summary["invoiceCost"] = r.total.invoice_cost.amount().to_string().into();
            summary["corrections"] = statement.corrections.amount().to_string().into();
            reconcile::report_files(statement, r)
        }
        None => billing::render(statement),
    };
    Priced { results, files, summary }
}

/// The month reconciled with its configured invoice export, and trued up
/// when configured; the statement unchanged when no export is configured
/// or the month's export is not there (yet).
fn reconciled(
    invoices: Option<&InvoiceExports>,
    statement: Statement,
    deployments: &DeploymentCatalogue,
) -> Result<(Statement, Option<Reconciliation>), RollupError> {
    let Some(exports) = invoices else { return Ok((statement, None)) };
    let path = exports.path(statement.period);
    if !path.exists() {
        tracing::warn!(invoice = %path.display(), period = %statement.period, "no invoice export for the month: not reconciled");
        return Ok((statement, None));
    }
    let invoice = Invoice::load(&path, statement.period, &statement.currency)?;
    let reconciliation = reconcile::reconcile(&statement, &invoice, deployments);
    let statement = if exports.true_up { reconcile::true_up(&statement, &reconciliation)? } else { statement };
    Ok((statement, Some(reconciliation)))
}
