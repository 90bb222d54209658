//! The rollup and the chargeback over HTTP:
//!
//! - `GET /api/rollups/{period}`: a month's rollup status (function `rollup-status`);
//! - `POST /api/rollups/{period}` and `POST /api/rollups/{period}/rerun`: start
//!   or re-run. Under the host these are the functions `rollup-start` and
//!   `rollup-rerun`, which have queue outputs and so get the wrapped request
//!   ([`crate::functions::rollup`]); these routes serve them when `chargeback
//!   serve` runs standalone, working the chunks in-process;
//! - `GET /api/chargeback/{period}`: the month's chargeback lines as JSON, or
//!   CSV with `format=csv`, with links to its report files (function `chargeback-query`);
//! - `GET /api/chargeback/{period}/{file}`: one report file (same function).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};

use super::params::QueryParams;
use super::problem::ApiError;
use crate::billing::REPORT_FILES;
use crate::domain::Period;
use crate::functions::AppState;
use crate::functions::rollup::{rollups, status_body, status_url};
use crate::rollup::{RollupError, RollupInstance, RuntimeStatus, Started, local};
use crate::storage::ResultLine;

/// A month from a route segment.
pub fn period(raw: &str) -> Result<Period, ApiError> {
    raw.parse::<Period>().map_err(|e| ApiError::invalid("period", e.to_string()))
}

impl From<RollupError> for ApiError {
    fn from(e: RollupError) -> Self {
        match e {
            RollupError::Storage(s) => Self::Storage(s),
            RollupError::Invalid(m) => Self::NotFound(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

fn accepted(instance: &RollupInstance, body: Value) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&status_url(instance.period)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn current(state: &AppState, period: Period) -> Result<RollupInstance, ApiError> {
    rollups(state).status(&state.settings.tenant, period).await?.ok_or_else(|| {
        ApiError::NotFound(format!("no rollup of {period} has been started; POST /api/rollups/{period}"))
    })
}

/// `GET /api/rollups/{period}`.
pub async fn get_status(State(state): State<AppState>, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let period = period(&raw)?;
    Ok(Json(status_body(&current(&state, period).await?)))
}

/// `POST /api/rollups/{period}` (standalone).
pub async fn start(State(state): State<AppState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let period = period(&raw)?;
    let rollups = rollups(&state);
    match rollups.start(&state.settings.tenant, period, "http").await? {
        Started::New { instance, chunks, finish } => {
            local::spawn_complete(rollups, chunks, finish);
            Ok(accepted(&instance, status_body(&instance)))
        }
        Started::AlreadyRunning(instance) => Err(already_running(&instance)),
    }
}

/// The answer to a start while a run of the month is in progress.
pub fn already_running(instance: &RollupInstance) -> ApiError {
    ApiError::Conflict(format!("run {} of {} is in progress; ask its status or wait for it", instance.run, instance.id))
}

/// `POST /api/rollups/{period}/rerun` (standalone).
pub async fn rerun(State(state): State<AppState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let period = period(&raw)?;
    let rollups = rollups(&state);
    let (instance, next) = rollups.rerun_failed(&state.settings.tenant, period).await?;
    let mut body = status_body(&instance);
    body["rerunChunks"] = json!(next.chunks.len());
    body["rerunFinish"] = json!(next.finish.is_some());
    local::spawn_complete(rollups, next.chunks, next.finish);
    Ok(accepted(&instance, body))
}

/// One chargeback line on the wire.
#[derive(Debug, Serialize)]
struct Line<'a> {
    kind: &'a str,
    business_unit: &'a str,
    application: &'a str,
    model: &'a str,
    deployment: &'a str,
    requests: u64,
    prompt_tokens: u64,
    cached_tokens: u64,
    completion_tokens: u64,
    reasoning_tokens: u64,
    /// A decimal string; `null` when unpriced.
    cost: Option<String>,
    currency: &'a str,
}

fn cost(line: &ResultLine) -> Option<Decimal> {
    line.amount_micros.map(|m| Decimal::new(m, 6).normalize().round_dp(2))
}

fn wire(line: &ResultLine) -> Line<'_> {
    Line {
        kind: &line.kind,
        business_unit: &line.business_unit,
        application: &line.application,
        model: &line.model,
        deployment: &line.deployment,
        requests: line.requests,
        prompt_tokens: line.prompt,
        cached_tokens: line.cached,
        completion_tokens: line.completion,
        reasoning_tokens: line.reasoning,
        cost: cost(line).map(|c| format!("{c:.2}")),
        currency: &line.currency,
    }
}

/// `GET /api/chargeback/{period}`.
pub async fn get_chargeback(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = QueryParams::parse(query.as_deref(), &["format"])?;
    let csv = match params.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::invalid("format", format!("{other:?}: use json or csv"))),
    };
    let period = period(&raw)?;
    let instance = current(&state, period).await?;
    if instance.status != RuntimeStatus::Completed {
        return Err(ApiError::NotFound(format!(
            "{period} has no completed rollup (run {} is {:?}); see /api/rollups/{period}",
            instance.run, instance.status
        )));
    }
    let lines = state.stores.rollup.results(&state.settings.tenant, &period.to_string()).await?;
    if csv {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for line in &lines {
            writer.serialize(wire(line)).map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        let body = writer.into_inner().map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut response = body.into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        return Ok(response);
    }
    let total: Decimal = lines.iter().filter_map(cost).sum();
    let reports: Vec<Value> =
        REPORT_FILES.iter().map(|f| json!({"name": f, "href": format!("/api/chargeback/{period}/{f}")})).collect();
    Ok(Json(json!({
        "period": period,
        "run": instance.run,
        "completedTime": instance.completed_at,
        "currency": lines.first().map_or("USD", |l| l.currency.as_str()),
        "total": format!("{total:.2}"),
        "unpricedLines": lines.iter().filter(|l| l.amount_micros.is_none()).count(),
        "lines": lines.iter().map(wire).collect::<Vec<_>>(),
        "reports": reports,
    }))
    .into_response())
}

/// `GET /api/chargeback/{period}/{file}`.
pub async fn get_report_file(
    State(state): State<AppState>,
    Path((raw, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let period = period(&raw)?;
    let known = || REPORT_FILES.iter().chain(&crate::reconcile::RECONCILIATION_FILES);
    let Some(file) = known().find(|f| **f == file) else {
        let names: Vec<&str> = known().copied().collect();
        return Err(ApiError::NotFound(format!("no report file {file:?}; the files are {}", names.join(", "))));
    };
    let doc = state
        .stores
        .outputs
        .get(&format!("reports/{period}/{file}"))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{period} has no {file} yet; roll the month up first")))?;
    let content_type = match file.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/json",
    };
    let mut response = doc.body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
