//! `POST /api/reconciliations/{period}` (function `reconciliation`): a
//! rolled-up month against Azure's invoice. The body is the month's FOCUS
//! cost export (CSV, or gzip-compressed CSV); the answer is the
//! reconciliation as JSON (`groups`, `total`), or CSV with `format=csv`.
//! `true_up=true` also writes the month's results and report files again
//! with the correction lines, as `chargeback reconcile --true-up` does (both
//! call [`crate::rollup::Rollups::reconcile`]).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::params::{QueryParams, period};
use super::problem::ApiError;
use crate::reconcile;

/// The largest export accepted in one request.
pub const MAX_INVOICE_BYTES: usize = 64 * 1024 * 1024;

/// `POST /api/reconciliations/{period}`.
pub async fn post_reconciliation(
    State(state): State<ApiState>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(query.as_deref(), &["format", "true_up"])?;
    let csv = match params.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::invalid("format", format!("{other:?}: use json or csv"))),
    };
    let true_up = match params.get("true_up") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(ApiError::invalid("true_up", format!("{other:?}: use true or false"))),
    };
    let period = period(&raw)?;
    let reconciled = state.rollups.reconcile(&state.tenant, period, &body, "the request body", true_up).await?;
    let (bytes, content_type) = if csv {
        (reconcile::csv(&reconciled.reconciliation), "text/csv; charset=utf-8")
    } else {
        (reconcile::json(&reconciled.reconciliation), "application/json")
    };
    let mut response = bytes.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
