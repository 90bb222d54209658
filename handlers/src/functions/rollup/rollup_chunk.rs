//! Function `rollup-chunk`: one message of `rollup-chunks` aggregates one
//! ledger partition. A failure answers 5xx so the queue redelivers the
//! message; on the last delivery (`DequeueCount` = `maxDequeueCount`) the
//! chunk is first marked failed with its error, and the host then moves the
//! message to `rollup-chunks-poison`. The last chunk to finish sends the
//! finish message.

use super::super::invocation::{InvocationRequest, InvocationResponse};
use super::super::{AppState, InvocationError};
use super::{add_followups, dequeue_count, read_message, rollups};
use crate::rollup::ChunkMessage;

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "rollup-chunk";

/// Handles one message.
pub async fn invoke(state: &AppState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let message: ChunkMessage = read_message(&request)?;
    let next = rollups(state).run_chunk(&message, dequeue_count(&request)).await?;
    let mut response = InvocationResponse::default();
    add_followups(&mut response, &next)?;
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
