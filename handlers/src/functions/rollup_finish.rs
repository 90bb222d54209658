//! Function `rollup-finish`: prices a month whose chunks are all done, writes
//! its results and reports and completes the run. Runs one at a time per
//! tenant (a lease); a worker that finds the lease held fails the delivery
//! so the queue tries again later.

use serde_json::Value;

use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};
use super::{FunctionState, MESSAGE_BINDING};
use crate::rollup::FinishMessage;

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "rollup-finish";

/// Handles one message.
pub async fn invoke(state: &FunctionState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let message: FinishMessage = invocation::queue_message(&request, MESSAGE_BINDING)?;
    let done = state.rollups.finish(&message, invocation::dequeue_count(&request)).await?;
    let mut response = InvocationResponse::default();
    match done {
        Some(instance) => {
            response.logs.push(format!("rollup {} run {} completed", instance.id, instance.run));
            response.return_value = instance.status_view();
        }
        None => {
            response
                .logs
                .push(format!("rollup {}/{} run {}: nothing to finish", message.tenant, message.period, message.run));
            response.return_value = Value::Null;
        }
    }
    Ok(response)
}
