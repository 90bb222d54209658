//! Function `rollup-chunk`: one message of `rollup-chunks` aggregates one
//! ledger partition. A failure answers 5xx so the queue redelivers the
//! message; on the last delivery (`DequeueCount` = `maxDequeueCount`) the
//! chunk is first marked failed with its error, and the host then moves the
//! message to `rollup-chunks-poison`. The last chunk to finish sends the
//! finish message.

use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};
use super::{FunctionState, MESSAGE_BINDING, push_followups};
use crate::rollup::ChunkMessage;

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "rollup-chunk";

/// Handles one message.
pub async fn invoke(state: &FunctionState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let message: ChunkMessage = invocation::queue_message(&request, MESSAGE_BINDING)?;
    let next = state.rollups.run_chunk(&message, invocation::dequeue_count(&request)).await?;
    let mut response = InvocationResponse::default();
    push_followups(&mut response, &next)?;
    response.logs.push(format!(
        "chunk {} ({} {}) of {}/{} run {} aggregated{}",
        message.chunk,
        message.day,
        message.party,
        message.tenant,
        message.period,
        message.run,
        if next.finish.is_some() { "; the month is ready to finish" } else { "" }
    ));
    Ok(response)
}
