//! Function `monthly-rollup`: a timer (`0 0 2 1 * *`, 02:00 UTC on the 1st)
//! that starts the rollup of the month that just ended and hands its chunks
//! to the `rollup-chunks` queue, after counting the API Management calls
//! whose grace period has passed (so the month's statement has them).

use chrono::Utc;

use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};
use super::{FunctionState, TIMER_BINDING, push_followups};
use crate::domain::Period;
use crate::rollup::{Followups, Started};

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "monthly-rollup";

/// Handles one tick: starts last month's rollup unless it is running.
pub async fn invoke(state: &FunctionState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    invocation::timer(&request, TIMER_BINDING)?;
    let period = Period::of(Utc::now().date_naive()).previous();
    let mut response = InvocationResponse::default();
    let settled = state.ingestor.settle_overdue(&state.tenant, Utc::now()).await?;
    if settled.any() {
        response.logs.push(settled.to_string());
    }
    match state.rollups.start(&state.tenant, period, "timer").await? {
        Started::New { instance, chunks, finish } => {
            response.logs.push(format!(
                "started rollup {} run {} with {} chunks",
                instance.id,
                instance.run,
                chunks.len()
            ));
            push_followups(&mut response, &Followups { chunks, finish })?;
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
