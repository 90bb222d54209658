//! The finish step's pricing and reports: the month's aggregates, the
//! application mapping, deployments and prices into results and report files.

use crate::config::Settings;
use crate::domain::{Tenant, UsageAggregate};
use crate::startup::Stores;
use crate::storage::ResultLine;

use super::{Period, RollupError};

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

/// Prices a month's aggregates.
pub async fn price_month(
    _settings: &Settings,
    _stores: &Stores,
    _tenant: &Tenant,
    period: Period,
    aggregates: &[UsageAggregate],
) -> Result<Priced, RollupError> {
    // Interim until pricing lands: totals only.
    let tokens: u64 = aggregates.iter().map(|a| a.prompt + a.completion).sum();
    let requests: u64 = aggregates.iter().map(|a| a.requests).sum();
    let summary = serde_json::json!({"period": period, "requests": requests, "tokens": tokens});
    Ok(Priced { results: Vec::new(), files: vec![("summary.json".into(), summary.to_string().into_bytes())], summary })
}
