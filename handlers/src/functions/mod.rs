//! The custom handler's functions: the host protocol ([`invocation`]), one
//! thin module per function folder, and the routes that dispatch the host's
//! `POST /<function>` to them. Each function decodes its bindings, calls a
//! service, and encodes the outputs; the HTTP API the host forwards
//! (`/api/...`) is [`crate::api`].

pub mod budget_alerts;
pub mod ingest_usage;
pub mod invocation;
pub mod monthly_rollup;
pub mod nightly_maintenance;
pub mod prices_sync;
pub mod rollup_chunk;
pub mod rollup_finish;
pub mod rollup_rerun;
pub mod rollup_start;

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tracing::instrument;

use crate::budgets::Budgets;
use crate::domain::Tenant;
use crate::ingest::Ingestor;
use crate::maintenance::MaintenanceSource;
use crate::maintenance::audit::Audit;
use crate::prices::service::PriceSync;
use crate::rollup::{Followups, Rollups};
use invocation::{InvocationError, InvocationRequest, InvocationResponse};

/// Every function this handler serves (the app's function folders).
pub const FUNCTIONS: &[&str] = &[
    ingest_usage::FUNCTION_NAME,
    nightly_maintenance::FUNCTION_NAME,
    budget_alerts::FUNCTION_NAME,
    prices_sync::FUNCTION_NAME,
    monthly_rollup::FUNCTION_NAME,
    rollup_start::FUNCTION_NAME,
    rollup_rerun::FUNCTION_NAME,
    rollup_chunk::FUNCTION_NAME,
    rollup_finish::FUNCTION_NAME,
];

/// The output binding of chunk messages (queue `rollup-chunks`).
pub const CHUNKS_BINDING: &str = "chunks";
/// The output binding of the finish message (queue `rollup-finish`).
pub const FINISH_BINDING: &str = "finish";
/// The HTTP trigger binding of the wrapped HTTP functions.
pub const REQUEST_BINDING: &str = "req";
/// The HTTP output binding of the wrapped HTTP functions.
pub const RESPONSE_BINDING: &str = "res";
/// The queue trigger binding.
pub const MESSAGE_BINDING: &str = "msg";
/// The timer trigger binding.
pub const TIMER_BINDING: &str = "timer";

/// The services the functions call.
#[derive(Debug, Clone)]
pub struct FunctionState {
    /// The largest invocation body accepted (`CHARGEBACK_MAX_INVOCATION_BYTES`),
    /// for the message of a refused one.
    pub max_invocation_bytes: usize,
    /// The tenant the timers and HTTP functions work for.
    pub tenant: Tenant,
    /// Ingestion into the configured stores.
    pub ingestor: Ingestor,
    /// The monthly rollup.
    pub rollups: Rollups,
    /// The budget check.
    pub budgets: Budgets,
    /// The database the nightly maintenance works on.
    pub maintenance: MaintenanceSource,
    /// The nightly audit of the usage cells.
    pub audit: Audit,
    /// The weekly price sync.
    pub prices: PriceSync,
}

/// Puts a rollup step's follow-up messages into the queue outputs.
pub fn push_followups(response: &mut InvocationResponse, next: &Followups) -> Result<(), InvocationError> {
    invocation::push_messages(response, CHUNKS_BINDING, &next.chunks)?;
    invocation::push_messages(response, FINISH_BINDING, next.finish.as_slice())
}

/// The functions' routes: one `POST /<function>` per non-HTTP function
/// folder (and the HTTP ones with queue outputs, which the host wraps), and
/// the liveness probe `/healthz`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    FunctionState: FromRef<S>,
{
    Router::new().route("/healthz", get(health)).route("/{function}", post(invoke))
}

/// `GET /healthz`: 200 when the ledger answers, 503 when it does not.
async fn health(State(state): State<FunctionState>) -> Response {
    match state.ingestor.health().await {
        Ok(()) => "ok".into_response(),
        Err(e) => {
            let error = &e as &dyn std::error::Error;
            tracing::warn!(error, "health check: the ledger does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "the ledger does not answer").into_response()
        }
    }
}

#[instrument(skip_all, fields(function = %function))]
async fn invoke(
    State(state): State<FunctionState>,
    Path(function): Path<String>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<InvocationResponse>, Response> {
    let body = body.map_err(|rejection| refused_body(&function, &headers, state.max_invocation_bytes, rejection))?;
    let request: InvocationRequest = serde_json::from_slice(&body).map_err(|e| {
        let cause = crate::records::json_error("body", &e);
        InvocationError::BadRequest(format!("the invocation body is not a host payload: {cause}")).into_response()
    })?;
    // The request holds its own copy of the bindings from here on.
    drop(body);
    let response = match function.as_str() {
        ingest_usage::FUNCTION_NAME => ingest_usage::invoke(&state, request).await,
        nightly_maintenance::FUNCTION_NAME => nightly_maintenance::invoke(&state, request).await,
        budget_alerts::FUNCTION_NAME => budget_alerts::invoke(&state, request).await,
        prices_sync::FUNCTION_NAME => prices_sync::invoke(&state, request).await,
        monthly_rollup::FUNCTION_NAME => monthly_rollup::invoke(&state, request).await,
        rollup_start::FUNCTION_NAME => rollup_start::invoke(&state, request).await,
        rollup_rerun::FUNCTION_NAME => rollup_rerun::invoke(&state, request).await,
        rollup_chunk::FUNCTION_NAME => rollup_chunk::invoke(&state, request).await,
        rollup_finish::FUNCTION_NAME => rollup_finish::invoke(&state, request).await,
        other => {
            let message = format!("unknown function {other:?}; this handler serves: {}", FUNCTIONS.join(", "));
            return Err((StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response());
        }
    };
    response.map(Json).map_err(IntoResponse::into_response)
}

/// An invocation whose body could not be read, most often one over the
/// limit: the host would retry it and then move its checkpoint past the
/// batch, losing every record in it, so it is logged as an error naming the
/// setting to raise.
fn refused_body(
    function: &str,
    headers: &axum::http::HeaderMap,
    limit: usize,
    rejection: axum::extract::rejection::BytesRejection,
) -> Response {
    let status = rejection.status();
    let length = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "the invocation body ({length} bytes) is over CHARGEBACK_MAX_INVOCATION_BYTES ({limit}); raise it, or lower maxEventBatchSize in host.json"
        )
    } else {
        format!("the invocation body could not be read: {rejection}")
    };
    tracing::error!(function, invocation.bytes = length, invocation.limit = limit, "{message}");
    (status, Json(json!({ "error": message, "Logs": [message] }))).into_response()
}
