//! Function `budget-alerts`: a timer (`0 */5 * * * *`) that checks this
//! month's budgets against the ledger ([`crate::budgets`]) and sends each
//! newly crossed threshold once, as a message of the `budget-alerts` queue
//! (output binding `alerts`). Whatever consumes the queue (a Logic App, an
//! email or Teams flow, an APIM subscription switch) acts on it.

use chrono::Utc;

use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};
use super::{FunctionState, TIMER_BINDING};
use crate::domain::Period;

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "budget-alerts";
/// The queue output binding.
pub const ALERTS_BINDING: &str = "alerts";

/// Handles one tick.
pub async fn invoke(state: &FunctionState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    invocation::timer(&request, TIMER_BINDING)?;
    let now = Utc::now();
    let period = Period::of(now.date_naive());
    let alerts = state.budgets.check(&state.tenant, period, now).await?;
    let mut response = InvocationResponse::default();
    for a in &alerts {
        response.logs.push(format!(
            "budget alert: {} reached {} % of its {} budget ({} of {} {})",
            a.business_unit,
            a.threshold_percent,
            a.measure.as_str(),
            a.spent,
            a.budget,
            a.budget.unit()
        ));
    }
    invocation::push_messages(&mut response, ALERTS_BINDING, &alerts)?;
    response.return_value = serde_json::json!({"period": period, "raised": alerts.len()});
    Ok(response)
}
