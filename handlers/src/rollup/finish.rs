//! The finish step's pricing and reports: the month's aggregates, the
//! tenant's directory (applications, deployments), and the price catalogue
//! into the statement, its SQL lines and its report files; and, when an
//! invoice export is configured (`CHARGEBACK_INVOICE_FILE`), the month's
//! reconciliation with it (and its true-up, `CHARGEBACK_INVOICE_TRUE_UP`).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::api::admin::Directory;
use crate::billing::{self, DeploymentCatalogue, PriceCatalogue, Statement};
use crate::config::Settings;
use crate::domain::{Period, Tenant, UsageAggregate};
use crate::startup::Stores;
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

/// Prices a month's aggregates with the tenant's current directory and prices.
pub async fn price_month(
    settings: &Settings,
    stores: &Stores,
    tenant: &Tenant,
    period: Period,
    aggregates: &[UsageAggregate],
) -> Result<Priced, RollupError> {
    let (statement, deployments) = statement_and_deployments(settings, stores, tenant, period, aggregates).await?;
    let (statement, reconciliation) = reconciled(settings, statement, &deployments)?;
    let results = statement
        .lines
        .iter()
        .map(|l| ResultLine {
            kind: l.kind.as_str().to_owned(),
            business_unit: l.business_unit.clone(),
            application: l.application.clone(),
            model: l.model.clone(),
            deployment: l.deployment.clone(),
            currency: statement.currency.clone(),
            requests: l.tokens.requests,
            prompt: l.tokens.prompt_tokens,
            completion: l.tokens.completion_tokens,
            cached: l.tokens.cached_tokens,
            reasoning: l.tokens.reasoning_tokens,
            amount_micros: l.cost.and_then(micros),
        })
        .collect();
    let mut summary = serde_json::json!({
        "period": period,
        "currency": statement.currency,
        "total": statement.total.to_string(),
        "unusedCapacity": statement.unused_capacity.to_string(),
        "requests": statement.tokens.requests,
        "tokens": statement.tokens.total_tokens,
        "estimatedTokens": statement.tokens.estimated_tokens,
        "pendingRequests": statement.tokens.pending_requests,
        "unpricedTokens": statement.unpriced.total_tokens,
        "lines": statement.lines.len(),
        "businessUnits": statement.business_units.len(),
    });
    let files = match &reconciliation {
        Some(r) => {
            summary["reconciles"] = r.total.reconciles.into();
            summary["invoiceCost"] = r.total.invoice_cost.to_string().into();
            summary["corrections"] = statement.corrections.to_string().into();
            crate::reconcile::report_files(&statement, r)
        }
        None => billing::render(&statement),
    };
    Ok(Priced { results, files, summary })
}

/// The month reconciled with its configured invoice export, and trued up
/// when configured; the statement unchanged when no export is configured.
fn reconciled(
    settings: &Settings,
    statement: Statement,
    deployments: &DeploymentCatalogue,
) -> Result<(Statement, Option<crate::reconcile::Reconciliation>), RollupError> {
    let Some(path) = settings.invoice_path(statement.period) else { return Ok((statement, None)) };
    if !path.exists() {
        tracing::warn!(invoice = %path.display(), period = %statement.period, "no invoice export for the month: not reconciled");
        return Ok((statement, None));
    }
    let invoice = crate::reconcile::Invoice::load(&path, statement.period, &statement.currency)
        .map_err(|e| RollupError::Pricing(e.to_string()))?;
    let reconciliation = crate::reconcile::reconcile(&statement, &invoice, deployments);
    let statement = if settings.invoice_true_up {
        crate::reconcile::true_up(&statement, &reconciliation).map_err(|e| RollupError::Pricing(e.to_string()))?
    } else {
        statement
    };
    Ok((statement, Some(reconciliation)))
}

/// The statement of a month from its aggregates.
pub async fn statement(
    settings: &Settings,
    stores: &Stores,
    tenant: &Tenant,
    period: Period,
    aggregates: &[UsageAggregate],
) -> Result<Statement, RollupError> {
    Ok(statement_and_deployments(settings, stores, tenant, period, aggregates).await?.0)
}

/// The statement of a month from its aggregates, and the deployments it was priced with.
pub async fn statement_and_deployments(
    settings: &Settings,
    stores: &Stores,
    tenant: &Tenant,
    period: Period,
    aggregates: &[UsageAggregate],
) -> Result<(Statement, DeploymentCatalogue), RollupError> {
    let directory = Directory::load(stores, settings, tenant).await.map_err(|e| match e {
        crate::api::admin::DirectoryError::Storage(s) => RollupError::Storage(s),
        other => RollupError::Pricing(other.to_string()),
    })?;
    let deployments = directory.deployment_catalogue().map_err(|e| RollupError::Pricing(format!("{e:#}")))?;
    let prices =
        PriceCatalogue::load(settings.prices_file.as_deref()).map_err(|e| RollupError::Pricing(e.to_string()))?;
    let statement = billing::compute(period, aggregates, &directory.applications, &deployments, &prices)
        .map_err(|e| RollupError::Pricing(e.to_string()))?;
    Ok((statement, deployments))
}

/// A cent amount in micro-units (exact: amounts are whole cents).
fn micros(amount: Decimal) -> Option<i64> {
    (amount * Decimal::from(1_000_000)).to_i64()
}
