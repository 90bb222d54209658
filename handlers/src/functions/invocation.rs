//! The custom-handler invocation protocol of the Azure Functions host, in
//! one place: the request and response, every input decoder (timer, queue
//! message and its dequeue count, the wrapped HTTP request), every output
//! encoder (queue outputs, the wrapped HTTP response) and the failure
//! answer ([`InvocationError`]: 4xx for a payload the bindings cannot
//! produce, 5xx so the host retries, each with a `Logs` line).
//!
//! For every invocation of a non-HTTP-forwarded function the host posts
//! `{"Data": {binding: value}, "Metadata": {name: value}}` to `/<function>`
//! and expects `{"Outputs": {binding: value}, "Logs": [..], "ReturnValue": ..}`
//! back (Microsoft Learn, "Azure Functions custom handlers").
//!
//! The host serialises binding values that are not plain objects with
//! `JsonConvert.SerializeObject`, so strings, arrays and numbers often arrive
//! as JSON held in a string — an Event Hub batch with `dataType: string` is a
//! string holding a JSON array of strings. [`decode`] undoes this: a string
//! that parses as JSON is replaced by what it holds, repeatedly.
//!
//! Binding values are kept as the raw JSON the host wrote until a function
//! reads them: parsing raw JSON has no depth limit, so one deeply nested
//! event cannot make the whole invocation unreadable;
//! [`InvocationRequest::take_batch`] hands each event of a batch over as its
//! own text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tracing::{error, warn};

use crate::api::problem::{ApiError, PROBLEM_JSON};
use crate::budgets::BudgetsError;
use crate::ingest::{ContentIdentities, Event, EventOrigin};
use crate::rollup::RollupError;
use crate::storage::StorageError;

/// Why an invocation failed. Bad input is the caller's to fix (400 with a
/// message); anything else is a 5xx without internals, logged once with its
/// causes, and the host retries the invocation.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// The invocation payload is not what the function's bindings produce.
    #[error("{0}")]
    BadRequest(String),
    /// A store failed.
    #[error("a store failed")]
    Storage(#[from] StorageError),
    /// The step failed for another reason (configuration, pricing).
    #[error("the step failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RollupError> for InvocationError {
    fn from(e: RollupError) -> Self {
        match e {
            RollupError::Storage(s) => Self::Storage(s),
            e @ (RollupError::Invalid(_) | RollupError::NotStarted { .. }) => Self::BadRequest(e.to_string()),
            other => Self::Failed(Box::new(other)),
        }
    }
}

impl From<BudgetsError> for InvocationError {
    fn from(e: BudgetsError) -> Self {
        match e {
            BudgetsError::Storage(s) => Self::Storage(s),
            other => Self::Failed(Box::new(other)),
        }
    }
}

impl From<crate::prices::service::SyncError> for InvocationError {
    fn from(e: crate::prices::service::SyncError) -> Self {
        match e {
            crate::prices::service::SyncError::Storage(s) => Self::Storage(s),
            other => Self::Failed(Box::new(other)),
        }
    }
}

impl IntoResponse for InvocationError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, message.clone()),
            Self::Storage(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable; the host retries the invocation".to_owned())
            }
            Self::Failed(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "the invocation failed; the host retries it".to_owned())
            }
        };
        if status.is_server_error() {
            let error = &self as &dyn std::error::Error;
            error!(error, "invocation failed; the host will retry");
        }
        (status, Json(json!({ "error": message, "Logs": [message] }))).into_response()
    }
}

/// What the host posts for one invocation.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvocationRequest {
    /// Input bindings by name, as the raw JSON the host wrote.
    #[serde(rename = "Data", default)]
    pub data: BTreeMap<String, Box<RawValue>>,
    /// Trigger metadata by name.
    #[serde(rename = "Metadata", default)]
    pub metadata: Map<String, Value>,
}

/// Why a batch binding could not be read.
#[derive(Debug, thiserror::Error)]
#[error("Data.{binding} is not a batch of events: {cause}")]
pub struct BatchError {
    binding: String,
    cause: String,
}

impl InvocationRequest {
    /// An input binding's value, decoded; `None` when absent (or nested
    /// deeper than a JSON value may be).
    pub fn data(&self, binding: &str) -> Option<Value> {
        let raw = self.data.get(binding)?;
        serde_json::from_str::<Value>(raw.get()).ok().map(decode)
    }

    /// Takes a batch binding (`cardinality: many`) out of the request, each
    /// event as the text it was sent as: with `dataType: string` the batch
    /// is a string holding a JSON array of strings; without it, an array of
    /// JSON values, each kept as the JSON text the host wrote (never parsed
    /// here, so nesting does not matter). A single value (`cardinality:
    /// one`) is a batch of one. `Ok(None)` when the binding is absent or null.
    ///
    /// Each step drops the form it came from, so the batch is never held
    /// more than twice (the form being read and the one being built).
    pub fn take_batch(&mut self, binding: &str) -> Result<Option<Vec<String>>, BatchError> {
        let fail = |cause: serde_json::Error| BatchError {
            binding: binding.to_owned(),
            cause: crate::records::json_error("value", &cause),
        };
        let Some(raw) = self.data.remove(binding) else {
            return Ok(None);
        };
        let text = raw.get().trim_start();
        if text.starts_with("null") {
            return Ok(None);
        }
        if !text.starts_with('"') {
            return batch_from_json(raw.get()).map(Some).map_err(fail);
        }
        // A string: unwrap it as often as it holds a JSON string.
        let mut held: String = serde_json::from_str(raw.get()).map_err(fail)?;
        drop(raw);
        while held.trim_start().starts_with('"') {
            match serde_json::from_str::<String>(&held) {
                Ok(inner) => held = inner,
                Err(_) => break,
            }
        }
        if held.trim_start().starts_with('[')
            && let Ok(items) = batch_from_json(&held)
        {
            return Ok(Some(items));
        }
        // One event that is not a JSON array (plain text, or an object).
        Ok(Some(vec![held]))
    }

    /// A metadata value, decoded.
    pub fn metadata(&self, name: &str) -> Option<Value> {
        self.metadata.get(name).cloned().map(decode)
    }
}

/// What the handler answers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InvocationResponse {
    /// Output bindings by name.
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    /// Lines the host writes to the invocation log (Information level).
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    /// The `$return` binding's value (ignored by the host without one).
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

/// The timer trigger's value; it must be there (the host always sends it).
pub fn timer(request: &InvocationRequest, binding: &str) -> Result<Value, InvocationError> {
    match request.data(binding) {
        Some(timer @ Value::Object(_)) => Ok(timer),
        _ => Err(InvocationError::BadRequest(format!("Data.{binding} is missing or not a timer object"))),
    }
}

/// A queue trigger's message, decoded from the host's JSON-in-a-string form.
pub fn queue_message<T: DeserializeOwned>(request: &InvocationRequest, binding: &str) -> Result<T, InvocationError> {
    let value =
        request.data(binding).ok_or_else(|| InvocationError::BadRequest(format!("Data.{binding} is missing")))?;
    serde_json::from_value(value)
        .map_err(|e| InvocationError::BadRequest(format!("Data.{binding} is not a message of this queue: {e}")))
}

/// The queue trigger's `DequeueCount` (1 on the first delivery). The host
/// may send it as a number or as a number in a string.
pub fn dequeue_count(request: &InvocationRequest) -> u32 {
    match request.metadata("DequeueCount") {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(1),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(1),
        _ => 1,
    }
}

/// A route parameter of the wrapped HTTP request (`Data.<binding>.Params`).
pub fn route_param(request: &InvocationRequest, binding: &str, name: &str) -> Option<String> {
    let req = request.data(binding)?;
    req.get("Params").and_then(|p| p.get(name)).and_then(Value::as_str).map(str::to_owned)
}

/// An Event Hubs trigger's batch (`cardinality: many`), taken out of the
/// request: each event's body, with its origin from the trigger metadata
/// (partition, sequence number, enqueued time), else its content identity
/// under `source` (read as canonical JSON, so the text and the object form of
/// one event are one event).
pub fn eventhub_batch(
    request: &mut InvocationRequest,
    binding: &str,
    source: &str,
) -> Result<Vec<Event>, InvocationError> {
    let bodies: Vec<Vec<u8>> = match request.take_batch(binding) {
        Ok(Some(items)) => items.into_iter().map(String::into_bytes).collect(),
        Ok(None) => return Err(InvocationError::BadRequest(format!("Data.{binding} is missing"))),
        Err(e) => return Err(InvocationError::BadRequest(e.to_string())),
    };
    let positions = Positions::read(request, bodies.len());
    if positions.is_none() {
        warn!(function = source, "trigger metadata has no partition/sequence numbers; using content identity");
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
                None => identities.next_canonical(source, i + 1, &body),
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

/// Puts messages into a queue output (one message per array element).
pub fn push_messages<T: Serialize>(
    response: &mut InvocationResponse,
    binding: &str,
    messages: &[T],
) -> Result<(), InvocationError> {
    if messages.is_empty() {
        return Ok(());
    }
    let items = messages
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InvocationError::Failed(Box::new(e)))?;
    response.outputs.insert(binding.to_owned(), Value::Array(items));
    Ok(())
}

/// Sets the wrapped HTTP response (`Outputs.<binding>`).
pub fn set_http(
    response: &mut InvocationResponse,
    binding: &str,
    status: u16,
    body: &Value,
    content_type: &str,
    location: Option<&str>,
) {
    let mut headers = Map::new();
    headers.insert("Content-Type".into(), json!(content_type));
    if let Some(l) = location {
        headers.insert("Location".into(), json!(l));
    }
    response.outputs.insert(
        binding.to_owned(),
        json!({"statusCode": status.to_string(), "body": body.to_string(), "headers": headers}),
    );
}

/// The answer of a wrapped HTTP function whose request the API refused: a
/// client error is the API's problem in `Outputs.<binding>` (the invocation
/// succeeds, so the host sends nothing to the queues); a server error fails
/// the invocation so the host retries it.
pub fn http_refusal(binding: &str, error: ApiError) -> Result<InvocationResponse, InvocationError> {
    let error = match error {
        ApiError::Storage(s) => return Err(InvocationError::Storage(s)),
        e if e.status().is_server_error() => return Err(InvocationError::Failed(Box::new(e))),
        e => e,
    };
    let (status, problem) = error.into_problem();
    let body = serde_json::to_value(&problem).unwrap_or(Value::Null);
    let mut response = InvocationResponse::default();
    response.logs.push(format!("refused with {}: {}", status.as_u16(), problem.detail));
    set_http(&mut response, binding, status.as_u16(), &body, PROBLEM_JSON, None);
    Ok(response)
}

/// The events of a batch written as JSON: an array's items (a string item is
/// the text it holds, unwrapped once more if it holds a JSON string; any
/// other item is its own JSON text), or one value as a batch of one.
fn batch_from_json(text: &str) -> Result<Vec<String>, serde_json::Error> {
    if !text.trim_start().starts_with('[') {
        return Ok(vec![item_text(text)]);
    }
    let items: Vec<&RawValue> = serde_json::from_str(text)?;
    Ok(items.into_iter().map(|item| item_text(item.get())).collect())
}

fn item_text(raw: &str) -> String {
    let raw = raw.trim();
    if !raw.starts_with('"') {
        return raw.to_owned();
    }
    match serde_json::from_str::<String>(raw) {
        Ok(text) if text.starts_with('"') => serde_json::from_str::<String>(&text).unwrap_or(text),
        Ok(text) => text,
        Err(_) => raw.to_owned(),
    }
}

/// Replaces a string holding JSON by the value it holds, as often as needed,
/// and does the same inside arrays and objects. A string that is not JSON (or
/// holds a bare JSON string that is plain text) is left as text.
pub fn decode(value: Value) -> Value {
    match value {
        Value::String(text) => {
            let trimmed = text.trim_start();
            let looks_structured = trimmed.starts_with('[') || trimmed.starts_with('{') || trimmed.starts_with('"');
            if !looks_structured {
                return Value::String(text);
            }
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::String(inner)) => decode(Value::String(inner)),
                Ok(inner @ (Value::Array(_) | Value::Object(_))) => decode(inner),
                _ => Value::String(text),
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(decode_shallow).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, decode_shallow(v))).collect()),
        other => other,
    }
}

/// Inside a decoded array or object, strings are only unwrapped when they
/// hold a JSON-encoded string (`"\"text\""`); other strings are data (an
/// event body that happens to be JSON must stay the text it was sent as).
fn decode_shallow(value: Value) -> Value {
    match value {
        Value::String(text) if text.starts_with('"') => match serde_json::from_str::<String>(&text) {
            Ok(inner) => Value::String(inner),
            Err(_) => Value::String(text),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(decode_shallow).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, decode_shallow(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_batch_held_in_a_string_becomes_an_array_of_bodies() {
        let bodies = vec![r#"{"a":1}"#.to_owned(), "not json".to_owned()];
        let held = Value::String(serde_json::to_string(&bodies).unwrap());
        assert_eq!(decode(held), json!([r#"{"a":1}"#, "not json"]));
    }

    #[test]
    fn a_json_encoded_string_is_unwrapped_but_plain_text_is_kept() {
        assert_eq!(decode(json!("\"stringTest\"")), json!("stringTest"));
        assert_eq!(decode(json!("plain")), json!("plain"));
        assert_eq!(decode(json!("[not json")), json!("[not json"));
    }

    fn request(json: &str) -> InvocationRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_batch_arrives_as_the_texts_its_events_were_sent_as_in_either_form() {
        let bodies = vec![r#"{"b":1, "a":"x"}"#.to_owned(), "not json".to_owned(), r#""quoted""#.to_owned()];
        let as_string = json!({"Data": {"events": serde_json::to_string(&bodies).unwrap()}}).to_string();
        assert_eq!(
            request(&as_string).take_batch("events").unwrap().unwrap(),
            vec![bodies[0].clone(), bodies[1].clone(), "quoted".to_owned()]
        );
        let as_objects = r#"{"Data": {"events": [{"b":1, "a":"x"}, "not json"]}}"#;
        assert_eq!(
            request(as_objects).take_batch("events").unwrap().unwrap(),
            vec![bodies[0].clone(), bodies[1].clone()]
        );
        assert!(request(r#"{"Data": {"events": null}}"#).take_batch("events").unwrap().is_none());
        assert!(request(r#"{"Data": {}}"#).take_batch("events").unwrap().is_none());
        assert_eq!(
            request(r#"{"Data": {"events": {"a":1}}}"#).take_batch("events").unwrap().unwrap(),
            vec![r#"{"a":1}"#]
        );
    }

    #[test]
    fn one_deeply_nested_event_does_not_make_the_invocation_unreadable() {
        let deep = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
        let body = format!(r#"{{"Data": {{"events": [{deep}, {{"ok": true}}]}}, "Metadata": {{}}}}"#);
        let mut request = request(&body);
        let events = request.take_batch("events").unwrap().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0], deep);
        assert_eq!(events[1], r#"{"ok": true}"#);
    }

    #[test]
    fn objects_arrive_as_objects_or_as_strings_and_decode_the_same() {
        let ctx = json!({"PartitionId": "3", "EventHubName": "usage"});
        assert_eq!(decode(ctx.clone()), ctx);
        assert_eq!(decode(Value::String(ctx.to_string())), ctx);
        assert_eq!(decode(json!("[1,2,3]")), json!([1, 2, 3]));
    }
}
