//! Function `rollup-start`: `POST /api/rollups/{period}` starts a month's
//! rollup (for re-runs after late data). 202 with the status and its URL;
//! a 409 problem if a run is in progress (the status says which).

use super::super::invocation::{InvocationRequest, InvocationResponse};
use super::super::{AppState, InvocationError};
use super::{add_messages, failure_response, rollups, route_period, set_http, status_body, status_url};
use crate::api::rollups::already_running;
use crate::rollup::Started;

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "rollup-start";

/// Handles one request.
pub async fn invoke(state: &AppState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let period = match route_period(&request) {
        Ok(p) => p,
        Err(f) => return Ok(failure_response(f)),
    };
    let mut response = InvocationResponse::default();
    match rollups(state).start(&state.settings.tenant, period, "http").await? {
        Started::New { instance, chunks, finish } => {
            add_messages(&mut response, &chunks, finish.as_ref())?;
            response.logs.push(format!(
                "started rollup {} run {} with {} chunks",
                instance.id,
                instance.run,
                chunks.len()
            ));
            set_http(&mut response, 202, &status_body(&instance), "application/json", Some(&status_url(period)));
        }
        Started::AlreadyRunning(instance) => return Ok(failure_response(already_running(&instance))),
    }
    Ok(response)
}
