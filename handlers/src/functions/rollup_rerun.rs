//! Function `rollup-rerun`: `POST /api/rollups/{period}/rerun` re-runs only
//! the failed chunks of a month's current run (and its finish step when every
//! chunk is done). The host wraps the request; the answer is the API's own
//! ([`crate::api::rollups::accept_rerun`]): 202 with the status, 404 if the
//! month was never started.

use super::invocation::{self, InvocationError, InvocationRequest, InvocationResponse};
use super::{FunctionState, REQUEST_BINDING, RESPONSE_BINDING, push_followups};
use crate::api::params::period;
use crate::api::problem::ApiError;
use crate::api::rollups::{Accepted, accept_rerun};

/// The function's name (its folder name).
pub const FUNCTION_NAME: &str = "rollup-rerun";

/// Handles one request.
pub async fn invoke(state: &FunctionState, request: InvocationRequest) -> Result<InvocationResponse, InvocationError> {
    let accepted = match rerun(state, &request).await {
        Ok(a) => a,
        Err(e) => return invocation::http_refusal(RESPONSE_BINDING, e),
    };
    let mut response = InvocationResponse::default();
    push_followups(&mut response, &accepted.followups)?;
    response.logs.push(format!(
        "re-running {} chunks of {} run {}{}",
        accepted.followups.chunks.len(),
        accepted.instance.id,
        accepted.instance.run,
        if accepted.followups.finish.is_some() { " and its finish step" } else { "" }
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

async fn rerun(state: &FunctionState, request: &InvocationRequest) -> Result<Accepted, ApiError> {
    let raw = invocation::route_param(request, REQUEST_BINDING, "period");
    let period = period(raw.as_deref().unwrap_or(""))?;
    accept_rerun(&state.rollups, &state.tenant, period).await
}
