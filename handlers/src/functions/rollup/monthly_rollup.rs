//! Function `monthly-rollup`: a timer (`0 0 2 1 * *`, 02:00 UTC on the 1st)
//! that starts the rollup of the month that just ended and hands its chunks
//! to the `rollup-chunks` queue.

use chrono::Utc;
use serde_json::Value;

use super::super::invocation::{InvocationRequest, InvocationResponse};
use super::super::{AppState, InvocationError};
use super::{add_messages, rollups};
use crate::rollup::{Period, Started};

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "monthly-rollup";
/// The timer binding.
pub const TIMER_BINDING: &str = "timer";

/// Handles one tick: starts last month's rollup unless it is running.
pub async fn invoke(state: &AppState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    if !matches!(request.data(TIMER_BINDING), Some(Value::Object(_))) {
        return Err(InvocationError::BadRequest(format!("Data.{TIMER_BINDING} is missing or not a timer object")));
    }
    let period = Period::of(Utc::now().date_naive()).previous();
    let mut response = InvocationResponse::default();
    match rollups(state).start(&state.settings.tenant, period, "timer").await? {
        Started::New { instance, chunks, finish } => {
            response.logs.push(format!(
                "started rollup {} run {} with {} chunks",
                instance.id,
                instance.run,
                chunks.len()
            ));
            add_messages(&mut response, &chunks, finish.as_ref())?;
            response.return_value = instance.status_view();
        }
        Started::AlreadyRunning(instance) => {
            response
                .logs
                .push(format!("rollup {} run {} is already running; not started again", instance.id, instance.run));
            response.return_value = instance.status_view();
        }
    }
    Ok(response)
}
