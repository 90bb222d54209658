//! `POST /api/reconciliations/{period}` (function `reconciliation`): a
//! rolled-up month against Azure's invoice. The body is the month's FOCUS
//! cost export (CSV, or gzip-compressed CSV); the answer is the
//! reconciliation as JSON (`groups`, `total`), or CSV with `format=csv`.
//! `true_up=true` also writes the month's report files again with the
//! correction lines, as `chargeback reconcile --true-up` does.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::params::QueryParams;
use super::problem::ApiError;
use super::rollups::period;
use crate::functions::AppState;
use crate::functions::rollup::rollups;
use crate::reconcile::{self, Invoice, WriteError};

/// The largest export accepted in one request.
pub const MAX_INVOICE_BYTES: usize = 64 * 1024 * 1024;

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::TrueUp(t) => Self::invalid("true_up", t.to_string()),
            WriteError::Storage(s) => Self::Storage(s),
        }
    }
}

/// `POST /api/reconciliations/{period}`.
pub async fn post_reconciliation(
    State(state): State<AppState>,
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
    let (statement, deployments) = rollups(&state).month_statement(&state.settings.tenant, period).await?;
    let invoice = Invoice::parse(&body, "the request body", period, &statement.currency)
        .map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let reconciliation = reconcile::reconcile(&statement, &invoice, &deployments);
    if true_up {
        reconcile::write_true_up(state.stores.outputs.as_ref(), &statement, &reconciliation).await?;
    }
    let (bytes, content_type) = if csv {
        (reconcile::csv(&reconciliation), "text/csv; charset=utf-8")
    } else {
        (reconcile::json(&reconciliation), "application/json")
    };
    let mut response = bytes.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
