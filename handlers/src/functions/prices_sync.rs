//! Function `prices-sync`: a weekly timer (`0 30 4 * * 1`, Mondays 04:30
//! UTC) that reads Azure's Retail Prices API and adds what is new to the
//! tenant's synced price catalogue in the report store
//! (`prices/<tenant>/azure-retail.csv`, the report beside it in
//! `last-sync.json`). The same service as `chargeback prices sync`.

use chrono::Utc;
use serde_json::Value;

use super::invocation::{InvocationRequest, InvocationResponse};
use super::{AppState, InvocationError};
use crate::prices::service::Destination;

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "prices-sync";
/// The timer binding.
pub const TIMER_BINDING: &str = "timer";

/// Handles one tick.
pub async fn invoke(state: &AppState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    if !matches!(request.data(TIMER_BINDING), Some(Value::Object(_))) {
        return Err(InvocationError::BadRequest(format!("Data.{TIMER_BINDING} is missing or not a timer object")));
    }
    let settings = &state.settings;
    let sync = crate::startup::price_sync(settings).map_err(|e| InvocationError::Failed(format!("{e:#}")))?;
    let query = crate::startup::price_query(settings, &[]).map_err(|e| InvocationError::Failed(format!("{e:#}")))?;
    let destination = Destination::Store { reports: state.stores.reports.clone(), tenant: settings.tenant.clone() };
    let report = sync.run(&query, &destination, Utc::now().date_naive()).await?;
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
    response.return_value = serde_json::to_value(&report).map_err(|e| InvocationError::Failed(e.to_string()))?;
    Ok(response)
}
