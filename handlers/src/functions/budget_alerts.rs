//! Function `budget-alerts`: a timer (`0 */5 * * * *`) that checks this
//! month's budgets against the ledger ([`crate::budgets`]) and sends each
//! newly crossed threshold once, as a message of the `budget-alerts` queue
//! (output binding `alerts`). Whatever consumes the queue (a Logic App, an
//! email or Teams flow, an APIM subscription switch) acts on it.

use chrono::Utc;
use serde_json::Value;

use super::invocation::{InvocationRequest, InvocationResponse};
use super::{AppState, InvocationError};
use crate::domain::Period;

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "budget-alerts";
/// The timer binding.
pub const TIMER_BINDING: &str = "timer";
/// The queue output binding.
pub const ALERTS_BINDING: &str = "alerts";

/// Handles one tick.
pub async fn invoke(state: &AppState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    if !matches!(request.data(TIMER_BINDING), Some(Value::Object(_))) {
        return Err(InvocationError::BadRequest(format!("Data.{TIMER_BINDING} is missing or not a timer object")));
    }
    let now = Utc::now();
    let period = Period::of(now.date_naive());
    let alerts = crate::budgets::check(&state.stores, &state.settings, &state.settings.tenant, period, now).await?;
    let mut response = InvocationResponse::default();
    for a in &alerts {
        response.logs.push(format!(
            "budget alert: {} reached {} % of its {} budget ({} of {} {})",
            a.business_unit, a.threshold_percent, a.measure, a.spent, a.budget, a.unit
        ));
    }
    if !alerts.is_empty() {
        let items = serde_json::to_value(&alerts).map_err(|e| InvocationError::BadRequest(e.to_string()))?;
        response.outputs.insert(ALERTS_BINDING.to_owned(), items);
    }
    response.return_value = serde_json::json!({"period": period, "raised": alerts.len()});
    Ok(response)
}
