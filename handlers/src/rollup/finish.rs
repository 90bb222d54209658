//! The finish step's pricing and reports: the month's aggregates, the
//! tenant's directory (applications, deployments), and the price catalogue
//! into the statement, its SQL lines and its report files.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::api::admin::Directory;
use crate::billing::{self, PriceCatalogue, Statement};
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
    let statement = statement(settings, stores, tenant, period, aggregates).await?;
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
    let summary = serde_json::json!({
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
    Ok(Priced { results, files: billing::render(&statement), summary })
}

/// The statement of a month from its aggregates.
pub async fn statement(
    settings: &Settings,
    stores: &Stores,
    tenant: &Tenant,
    period: Period,
    aggregates: &[UsageAggregate],
) -> Result<Statement, RollupError> {
    let directory = Directory::load(stores, settings, tenant).await.map_err(|e| match e {
        crate::api::admin::DirectoryError::Storage(s) => RollupError::Storage(s),
        other => RollupError::Pricing(other.to_string()),
    })?;
    let deployments = directory.deployment_catalogue().map_err(|e| RollupError::Pricing(format!("{e:#}")))?;
    let prices =
        PriceCatalogue::load(settings.prices_file.as_deref()).map_err(|e| RollupError::Pricing(e.to_string()))?;
    billing::compute(period, aggregates, &directory.applications, &deployments, &prices)
        .map_err(|e| RollupError::Pricing(e.to_string()))
}

/// A cent amount in micro-units (exact: amounts are whole cents).
fn micros(amount: Decimal) -> Option<i64> {
    (amount * Decimal::from(1_000_000)).to_i64()
}
