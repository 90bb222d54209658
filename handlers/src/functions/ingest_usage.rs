//! Function `ingest-usage`: an Event Hubs batch of token-usage records.
//!
//! Bindings (see `ingest-usage/function.json`): trigger `events`
//! (`cardinality: many`, `dataType: string`). Each event body is one record.
//! Poison records are dead-lettered and the invocation still succeeds; only a
//! failure of a store fails it (5xx), so the host retries the batch under the
//! function's bounded retry policy.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::warn;

use super::invocation::{InvocationRequest, InvocationResponse};
use super::{AppState, InvocationError};
use crate::ingest::{ContentIdentities, Event, EventOrigin};

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "ingest-usage";
/// The trigger binding's name in `function.json`.
pub const EVENTS_BINDING: &str = "events";

/// Handles one invocation.
pub async fn invoke(state: &AppState, mut request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let events = read_events(&mut request)?;
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

/// The batch's event bodies, each with its origin.
fn read_events(request: &mut InvocationRequest) -> Result<Vec<Event>, InvocationError> {
    let bodies: Vec<Vec<u8>> = match request.take_batch(EVENTS_BINDING) {
        Ok(Some(items)) => items.into_iter().map(String::into_bytes).collect(),
        Ok(None) => return Err(InvocationError::BadRequest(format!("Data.{EVENTS_BINDING} is missing"))),
        Err(e) => return Err(InvocationError::BadRequest(e.to_string())),
    };
    let positions = Positions::read(request, bodies.len());
    if positions.is_none() {
        warn!(function = FUNCTION_NAME, "trigger metadata has no partition/sequence numbers; using content identity");
    }
    let mut identities = ContentIdentities::default();
    let events = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let origin = match &positions {
                Some(p) => EventOrigin::EventHub {
                    hub: p.hub.clone(),
                    partition: p.partition.clone(),
                    sequence: p.sequences[i],
                    enqueued: p.enqueued.get(i).copied().flatten(),
                },
                // Without positions, the identity is the body's content; read
                // as canonical JSON, so the string and the object form of one
                // event (key order, spacing) are the same event.
                None => identities.next_canonical(FUNCTION_NAME, i + 1, &body),
            };
            Event { body, origin }
        })
        .collect();
    Ok(events)
}

/// Where the batch's events sit in the hub.
struct Positions {
    hub: String,
    partition: String,
    sequences: Vec<i64>,
    enqueued: Vec<Option<DateTime<Utc>>>,
}

impl Positions {
    fn read(request: &InvocationRequest, count: usize) -> Option<Self> {
        let context = request.metadata("PartitionContext").or_else(|| request.metadata("TriggerPartitionContext"))?;
        let text = |key: &str| {
            context.get(key).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())))
        };
        let partition = text("PartitionId")?;
        let hub = text("EventHubName").unwrap_or_else(|| "eventhub".to_owned());
        let sequences: Vec<i64> = match request.metadata("SequenceNumberArray")? {
            Value::Array(items) => {
                items.iter().map(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok())).collect::<Option<_>>()?
            }
            _ => return None,
        };
        if sequences.len() != count {
            return None;
        }
        let enqueued = match request.metadata("EnqueuedTimeUtcArray") {
            Some(Value::Array(items)) => items.iter().map(|v| v.as_str().and_then(crate::records::parse_utc)).collect(),
            _ => Vec::new(),
        };
        Some(Self { hub, partition, sequences, enqueued })
    }
}
