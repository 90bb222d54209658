//! Function `rollup-rerun`: `POST /api/rollups/{period}/rerun` re-runs only
//! the failed chunks of a month's current run (and its finish step when every
//! chunk is done). 202 with the status; 404 if the month was never started.

use super::super::invocation::{InvocationRequest, InvocationResponse};
use super::super::{AppState, InvocationError};
use super::{add_followups, failure_response, rollups, route_period, set_http, status_body, status_url};
use crate::rollup::RollupError;

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "rollup-rerun";

/// Handles one request.
pub async fn invoke(state: &AppState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let period = match route_period(&request) {
        Ok(p) => p,
        Err(f) => return Ok(failure_response(f)),
    };
    let (instance, next) = match rollups(state).rerun_failed(&state.settings.tenant, period).await {
        Ok(r) => r,
        Err(e @ RollupError::Invalid(_)) => return Ok(failure_response(e.into())),
        Err(e) => return Err(e.into()),
    };
    let mut response = InvocationResponse::default();
    add_followups(&mut response, &next)?;
    response.logs.push(format!(
        "re-running {} chunks of {} run {}{}",
        next.chunks.len(),
        instance.id,
        instance.run,
        if next.finish.is_some() { " and its finish step" } else { "" }
    ));
    let mut body = status_body(&instance);
    body["rerunChunks"] = serde_json::json!(next.chunks.len());
    body["rerunFinish"] = serde_json::json!(next.finish.is_some());
    set_http(&mut response, 202, &body, "application/json", Some(&status_url(period)));
    Ok(response)
}
