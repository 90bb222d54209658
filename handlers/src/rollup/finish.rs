//! The finish step's pricing and reports: the month's aggregates, priced
//! with the tenant's directory and the prices ([`Pricing`]), into the
//! statement, its result lines and its report files.

use crate::billing::{self, Pricing};
use crate::domain::{Period, Tenant, UsageAggregate};
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
    pricing: &Pricing,
    tenant: &Tenant,
    period: Period,
    aggregates: &[UsageAggregate],
) -> Result<Priced, RollupError> {
    let statement = pricing.statement(tenant, period, aggregates).await?;
    let results = statement
        .lines
        .iter()
        .map(|l| ResultLine {
            kind: l.kind,
            business_unit: l.business_unit.clone(),
            application: l.application.clone(),
            model: l.model.clone(),
            deployment: l.deployment.clone(),
            currency: statement.currency.clone(),
            tokens: l.tokens.totals(),
            cost: l.cost.clone(),
        })
        .collect();
    let summary = serde_json::json!({
        "period": period,
        "currency": statement.currency,
        "total": statement.total.amount().to_string(),
        "unusedCapacity": statement.unused_capacity.amount().to_string(),
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
