//! Function `rollup-start`: `POST /api/rollups/{period}` starts a month's
//! rollup (for re-runs after late data). The host wraps the request (the
//! function has queue outputs); the answer is the API's own
//! ([`crate::api::rollups::accept_start`], which the forwarded route calls
//! too): 202 with the status and its URL, or a 409 problem if a run is in
//! progress. The chunks go to the `rollup-chunks` queue output.

use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};
use super::{FunctionState, REQUEST_BINDING, RESPONSE_BINDING, push_followups};
use crate::api::params::period;
use crate::api::problem::ApiError;
use crate::api::rollups::{Accepted, accept_start};

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "rollup-start";

/// Handles one request.
pub async fn invoke(state: &FunctionState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let accepted = match start(state, &request).await {
        Ok(a) => a,
        Err(e) => return invocation::http_refusal(RESPONSE_BINDING, e),
    };
    let mut response = InvocationResponse::default();
    push_followups(&mut response, &accepted.followups)?;
    response.logs.push(format!(
        "started rollup {} run {} with {} chunks",
        accepted.instance.id,
        accepted.instance.run,
        accepted.followups.chunks.len()
    ));
    invocation::set_http(
        &mut response,
        RESPONSE_BINDING,
        202,
        &accepted.body,
        "application/json",
        Some(&accepted.location),
    );
    Ok(response)
}

async fn start(state: &FunctionState, request: &InvocationRequest) -> Result<Accepted, ApiError> {
    let raw = invocation::route_param(request, REQUEST_BINDING, "period");
    let period = period(raw.as_deref().unwrap_or(""))?;
    accept_start(&state.rollups, &state.tenant, period, "http").await
}
