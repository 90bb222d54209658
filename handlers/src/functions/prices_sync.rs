//! Function `prices-sync`: a weekly timer (`0 30 4 * * 1`, Mondays 04:30
//! UTC) that reads Azure's Retail Prices API and adds what is new to the
//! tenant's synced price catalogue in the report store
//! (`prices/<tenant>/azure-retail.csv`, the report beside it in
//! `last-sync.json`). The same service as `chargeback prices sync`.

use chrono::Utc;

use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};
use super::{FunctionState, TIMER_BINDING};

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "prices-sync";

/// Handles one tick.
pub async fn invoke(state: &FunctionState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    invocation::timer(&request, TIMER_BINDING)?;
    let report = state.prices.run(None, Utc::now().date_naive()).await?;
    let mut response = InvocationResponse::default();
    response.logs.push(format!(
        "prices sync: {} prices read, {} new line(s), {} unchanged, {} unparsed, {} rejected, {} conflicts; {}",
        report.items,
        report.added.len(),
        report.unchanged,
        report.unparsed.len(),
        report.rejected.len(),
        report.conflicts.len(),
        report.written.as_deref().unwrap_or("catalogue untouched")
    ));
    response.return_value = serde_json::to_value(&report).map_err(|e| InvocationError::Failed(Box::new(e)))?;
    Ok(response)
}
