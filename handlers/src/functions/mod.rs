//! The custom handler's functions: one module per function folder, and the
//! router that dispatches the host's `POST /<function>` to them.

pub mod budget_alerts;
pub mod ingest_usage;
pub mod invocation;
pub mod nightly_maintenance;
pub mod rollup;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tracing::{error, instrument};

use crate::ingest::Ingestor;
use crate::storage::StorageError;
use invocation::{InvocationRequest, InvocationResponse};

/// Every function this handler serves (the app's function folders).
pub const FUNCTIONS: &[&str] = &[
    ingest_usage::FUNCTION_NAME,
    nightly_maintenance::FUNCTION_NAME,
    budget_alerts::FUNCTION_NAME,
    rollup::monthly_rollup::FUNCTION_NAME,
    rollup::rollup_start::FUNCTION_NAME,
    rollup::rollup_rerun::FUNCTION_NAME,
    rollup::rollup_chunk::FUNCTION_NAME,
    rollup::rollup_finish::FUNCTION_NAME,
];

/// What the functions share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configuration the app was built from.
    pub settings: std::sync::Arc<crate::config::Settings>,
    /// Every store, as configured.
    pub stores: crate::startup::Stores,
    /// Ingestion into the configured stores.
    pub ingestor: Ingestor,
    /// The database the nightly maintenance works on.
    pub maintenance: crate::maintenance::MaintenanceSource,
}

/// Why an invocation failed. Bad input is the caller's to fix (4xx with a
/// message); anything else is an opaque 5xx, logged once, and the host retries.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// The invocation payload is not what the function's bindings produce.
    #[error("{0}")]
    BadRequest(String),
    /// A store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl IntoResponse for InvocationError {
    fn into_response(self) -> Response {
        match self {
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response(),
            Self::Storage(e) => {
                error!(error = %e, "invocation failed; the host will retry");
                (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": "storage unavailable; retry" })))
                    .into_response()
            }
        }
    }
}

/// The handler's routes: one `POST /<function>` per non-HTTP function
/// folder, the HTTP API the host forwards (`/api/...`, [`crate::api`]), plus
/// a liveness probe.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/{function}", post(invoke))
        .merge(crate::api::routes(&state.settings))
        .fallback(crate::api::not_found)
        .with_state(state)
}

#[instrument(skip_all, fields(function = %function))]
async fn invoke(
    State(state): State<AppState>,
    Path(function): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<InvocationResponse>, Response> {
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
        rollup::monthly_rollup::FUNCTION_NAME => rollup::monthly_rollup::invoke(&state, request).await,
        rollup::rollup_start::FUNCTION_NAME => rollup::rollup_start::invoke(&state, request).await,
        rollup::rollup_rerun::FUNCTION_NAME => rollup::rollup_rerun::invoke(&state, request).await,
        rollup::rollup_chunk::FUNCTION_NAME => rollup::rollup_chunk::invoke(&state, request).await,
        rollup::rollup_finish::FUNCTION_NAME => rollup::rollup_finish::invoke(&state, request).await,
        other => {
            let message = format!("unknown function {other:?}; this handler serves: {}", FUNCTIONS.join(", "));
            return Err((StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response());
        }
    };
    response.map(Json).map_err(IntoResponse::into_response)
}
