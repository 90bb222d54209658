//! The rollup's functions (see [`crate::rollup`]): `monthly-rollup` (timer)
//! and `rollup-start` (HTTP) start a month, `rollup-rerun` (HTTP) re-runs
//! what failed, `rollup-chunk` (queue) aggregates one chunk, `rollup-finish`
//! (queue) prices the month.
//!
//! The functions hand their messages to the host through queue output
//! bindings (`chunks` → `rollup-chunks`, `finish` → `rollup-finish`), so the
//! handler needs no credentials of its own for the queues and a message is
//! only sent when the invocation succeeded. The HTTP functions have output
//! bindings besides `res`, so the host sends them the wrapped request
//! (`Data.req`) and takes the response from `Outputs.res`.

pub mod monthly_rollup;
pub mod rollup_chunk;
pub mod rollup_finish;
pub mod rollup_rerun;
pub mod rollup_start;

use serde_json::{Map, Value, json};

use super::invocation::{InvocationRequest, InvocationResponse};
use super::{AppState, InvocationError};
use crate::api::problem::ApiError;
use crate::rollup::{ChunkMessage, FinishMessage, Followups, Period, RollupError, RollupInstance, Rollups};
use crate::storage::StorageError;

/// The output binding of chunk messages.
pub const CHUNKS_BINDING: &str = "chunks";
/// The output binding of the finish message.
pub const FINISH_BINDING: &str = "finish";
/// The HTTP trigger binding.
pub const REQUEST_BINDING: &str = "req";
/// The HTTP output binding.
pub const RESPONSE_BINDING: &str = "res";
/// The queue trigger binding.
pub const MESSAGE_BINDING: &str = "msg";

/// The rollup steps over the app's stores.
pub fn rollups(state: &AppState) -> Rollups {
    Rollups::new(state.stores.clone(), state.settings.clone())
}

impl From<RollupError> for InvocationError {
    fn from(e: RollupError) -> Self {
        match e {
            RollupError::Invalid(m) => Self::BadRequest(m),
            RollupError::Storage(s) => Self::Storage(s),
            other => Self::Storage(StorageError::Backend(other.to_string())),
        }
    }
}

/// Puts messages into the response's queue outputs (one message per array element).
pub fn add_messages(
    response: &mut InvocationResponse,
    chunks: &[ChunkMessage],
    finish: Option<&FinishMessage>,
) -> Result<(), InvocationError> {
    let to_value = |v: serde_json::Result<Value>| v.map_err(|e| InvocationError::BadRequest(e.to_string()));
    if !chunks.is_empty() {
        let items = chunks.iter().map(|c| to_value(serde_json::to_value(c))).collect::<Result<Vec<_>, _>>()?;
        response.outputs.insert(CHUNKS_BINDING.to_owned(), Value::Array(items));
    }
    if let Some(f) = finish {
        response.outputs.insert(FINISH_BINDING.to_owned(), Value::Array(vec![to_value(serde_json::to_value(f))?]));
    }
    Ok(())
}

/// Adds follow-up messages.
pub fn add_followups(response: &mut InvocationResponse, next: &Followups) -> Result<(), InvocationError> {
    add_messages(response, &next.chunks, next.finish.as_ref())
}

/// A queue trigger's message, decoded from the host's JSON-in-a-string form.
pub fn read_message<T: serde::de::DeserializeOwned>(request: &InvocationRequest) -> Result<T, InvocationError> {
    let value = request
        .data(MESSAGE_BINDING)
        .ok_or_else(|| InvocationError::BadRequest(format!("Data.{MESSAGE_BINDING} is missing")))?;
    serde_json::from_value(value)
        .map_err(|e| InvocationError::BadRequest(format!("Data.{MESSAGE_BINDING} is not a rollup message: {e}")))
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

/// The wrapped HTTP request's route parameter `period`.
pub fn route_period(request: &InvocationRequest) -> Result<Period, ApiError> {
    let req = request.data(REQUEST_BINDING).unwrap_or(Value::Null);
    let raw = req
        .get("Params")
        .and_then(|p| p.get("period"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("period", "the route needs a month: rollups/YYYY-MM"))?;
    crate::api::rollups::period(raw)
}

/// Sets `Outputs.res` for the host.
pub fn set_http(
    response: &mut InvocationResponse,
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
        RESPONSE_BINDING.to_owned(),
        json!({"statusCode": status.to_string(), "body": body.to_string(), "headers": headers}),
    );
}

/// The answer for a refused request: the API's problem, in `Outputs.res`
/// (the invocation itself succeeds, so the host sends nothing to the queues).
pub fn failure_response(error: ApiError) -> InvocationResponse {
    let (status, problem) = error.into_problem();
    let body = serde_json::to_value(&problem).unwrap_or(Value::Null);
    let mut response = InvocationResponse::default();
    set_http(&mut response, status.as_u16(), &body, crate::api::problem::PROBLEM_JSON, None);
    response
}

/// The status URL of a month's rollup (relative to the app's base URL).
pub fn status_url(period: Period) -> String {
    format!("/api/rollups/{period}")
}

/// The status document with links.
pub fn status_body(instance: &RollupInstance) -> Value {
    let mut view = instance.status_view();
    view["statusQueryGetUri"] = json!(status_url(instance.period));
    view["rerunPostUri"] = json!(format!("{}/rerun", status_url(instance.period)));
    view
}
