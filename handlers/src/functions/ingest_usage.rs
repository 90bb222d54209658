//! Function `ingest-usage`: an Event Hubs batch of token-usage records.
//!
//! Bindings (see `ingest-usage/function.json`): trigger `events`
//! (`cardinality: many`, `dataType: string`). Each event body is one record.
//! Poison records are dead-lettered and the invocation still succeeds; only a
//! failure of a store fails it (5xx), so the host retries the batch under the
//! function's bounded retry policy.

use serde_json::Value;

use super::FunctionState;
use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "ingest-usage";
/// The trigger binding's name in `function.json`.
pub const EVENTS_BINDING: &str = "events";

/// Handles one invocation.
pub async fn invoke(
    state: &FunctionState,
    mut request: InvocationRequest,
) -> Result<InvocationResponse, InvocationError> {
    let events = invocation::eventhub_batch(&mut request, EVENTS_BINDING, FUNCTION_NAME)?;
    let outcome = state.ingestor.ingest(&events).await?;
    let summary = format!(
        "received {} accepted {} duplicates {} dead-lettered {}",
        outcome.received, outcome.accepted, outcome.duplicates, outcome.dead_lettered
    );
    Ok(InvocationResponse {
        logs: vec![summary],
        return_value: serde_json::to_value(&outcome).unwrap_or(Value::Null),
        ..Default::default()
    })
}
