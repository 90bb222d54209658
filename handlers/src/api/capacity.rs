//! `GET /api/capacity`: per deployment and UTC hour, the token rate, the
//! calls by status and latency percentiles (the usage service's capacity
//! view, [`crate::usage::capacity`]).

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ApiState;
use super::params::{QueryParams, TimeRange};
use super::problem::ApiError;
use crate::storage::LedgerRange;
use crate::usage::CapacityHour;

/// The longest range one request may ask for (hourly rows).
pub const MAX_RANGE_DAYS: i64 = 31;

const PARAMETERS: [&str; 3] = ["from", "to", "deployment"];

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapacityResponse {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// Ordered by deployment, then hour.
    pub hours: Vec<CapacityHour>,
}

/// `GET /api/capacity`.
pub async fn get_capacity(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<CapacityResponse>, ApiError> {
    let params = QueryParams::parse(query.as_deref(), &PARAMETERS)?;
    let range = TimeRange::from_params(&params, MAX_RANGE_DAYS)?;
    let deployment = params.name("deployment")?;
    let ledger_range = LedgerRange { tenant: state.tenant.clone(), from: range.from, to: range.to };
    let hours = state.usage.capacity(&ledger_range, deployment.as_ref()).await?;
    Ok(Json(CapacityResponse { from: range.from, to: range.to, hours }))
}
