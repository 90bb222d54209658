//! The rollup and the chargeback over HTTP:
//!
//! - `GET /api/rollups/{period}`: a month's rollup status (function `rollup-status`);
//! - `POST /api/rollups/{period}` and `POST /api/rollups/{period}/rerun`: start
//!   or re-run. Under the host these are the functions `rollup-start` and
//!   `rollup-rerun`, which have queue outputs and so get the wrapped request
//!   ([`crate::functions::rollup_start`]); these routes serve them when
//!   `chargeback serve` runs standalone, working the chunks in-process. Both
//!   paths answer through [`accept_start`] and [`accept_rerun`];
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

use super::ApiState;
use super::params::{QueryParams, period};
use super::problem::ApiError;
use crate::billing::REPORT_FILES;
use crate::domain::{Currency, Money, Period, Tenant};
use crate::rollup::status::{status_document, status_url};
use crate::rollup::{Followups, RollupInstance, Rollups, Started, local};
use crate::storage::ResultLine;

/// What a cost cell of the chargeback CSV says of a line without a price.
const UNPRICED: &str = "unpriced";

/// A start or re-run accepted: the run, the 202 answer's body, where its
/// status is, and the messages to hand on (to the host's queues, or to the
/// in-process pool).
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The run.
    pub instance: RollupInstance,
    /// The status document (with the re-run counts for a re-run).
    pub body: Value,
    /// The status URL (the `Location` header).
    pub location: String,
    /// The chunks (and finish step) to run.
    pub followups: Followups,
}

/// Starts a tenant's month: 202 with its status, or a 409 problem while a
/// run is in progress.
pub async fn accept_start(
    rollups: &Rollups,
    tenant: &Tenant,
    period: Period,
    trigger: &str,
) -> Result<Accepted, ApiError> {
    match rollups.start(tenant, period, trigger).await? {
        Started::New { instance, chunks, finish } => Ok(Accepted {
            body: status_document(&instance),
            location: status_url(period),
            followups: Followups { chunks, finish },
            instance,
        }),
        Started::AlreadyRunning(instance) => Err(ApiError::Conflict(format!(
            "run {} of {} is in progress; ask its status or wait for it",
            instance.run, instance.id
        ))),
    }
}

/// Re-runs what failed of a tenant's month: 202 with its status and what is
/// re-run, or a 404 problem when it was never started.
pub async fn accept_rerun(rollups: &Rollups, tenant: &Tenant, period: Period) -> Result<Accepted, ApiError> {
    let (instance, followups) = rollups.rerun_failed(tenant, period).await?;
    let mut body = status_document(&instance);
    body["rerunChunks"] = json!(followups.chunks.len());
    body["rerunFinish"] = json!(followups.finish.is_some());
    Ok(Accepted { body, location: status_url(period), followups, instance })
}

fn accepted_response(accepted: &Accepted) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(accepted.body.clone())).into_response();
    if let Ok(location) = HeaderValue::from_str(&accepted.location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `GET /api/rollups/{period}`.
pub async fn get_status(State(state): State<ApiState>, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let period = period(&raw)?;
    Ok(Json(status_document(&state.rollups.current(&state.tenant, period).await?)))
}

/// `POST /api/rollups/{period}` (standalone).
pub async fn start(State(state): State<ApiState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let accepted = accept_start(&state.rollups, &state.tenant, period(&raw)?, "http").await?;
    local::spawn_complete(state.rollups.clone(), accepted.followups.chunks.clone(), accepted.followups.finish.clone());
    Ok(accepted_response(&accepted))
}

/// `POST /api/rollups/{period}/rerun` (standalone).
pub async fn rerun(State(state): State<ApiState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let accepted = accept_rerun(&state.rollups, &state.tenant, period(&raw)?).await?;
    local::spawn_complete(state.rollups.clone(), accepted.followups.chunks.clone(), accepted.followups.finish.clone());
    Ok(accepted_response(&accepted))
}

/// One chargeback line on the wire.
#[derive(Debug, Serialize)]
struct Line<'a> {
    kind: &'static str,
    business_unit: &'a str,
    application: &'a str,
    model: &'a str,
    deployment: &'a str,
    requests: u64,
    prompt_tokens: u64,
    cached_tokens: u64,
    completion_tokens: u64,
    reasoning_tokens: u64,
    /// A decimal string; `null` (JSON) or `unpriced` (CSV) when unpriced.
    cost: Option<String>,
    currency: &'a Currency,
}

fn cents(money: &Money) -> Decimal {
    money.amount().normalize().round_dp(2)
}

fn wire(line: &ResultLine) -> Line<'_> {
    let t = &line.tokens;
    Line {
        kind: line.kind.as_str(),
        business_unit: &line.business_unit,
        application: &line.application,
        model: &line.model,
        deployment: &line.deployment,
        requests: t.requests,
        prompt_tokens: t.prompt,
        cached_tokens: t.cached,
        completion_tokens: t.completion,
        reasoning_tokens: t.reasoning,
        cost: line.cost.as_ref().map(|c| format!("{:.2}", cents(c))),
        currency: &line.currency,
    }
}

/// `GET /api/chargeback/{period}`.
pub async fn get_chargeback(
    State(state): State<ApiState>,
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
    let (instance, lines) = state.rollups.completed_results(&state.tenant, period).await?;
    if csv {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for line in &lines {
            let mut row = wire(line);
            row.cost.get_or_insert_with(|| UNPRICED.to_owned());
            writer.serialize(row).map_err(|e| ApiError::internal("writing the CSV", e))?;
        }
        let body = writer.into_inner().map_err(|e| ApiError::internal("writing the CSV", e.into_error()))?;
        let mut response = body.into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        return Ok(response);
    }
    let total: Decimal = lines.iter().filter_map(|l| l.cost.as_ref()).map(cents).sum();
    let reports: Vec<Value> =
        REPORT_FILES.iter().map(|f| json!({"name": f, "href": format!("/api/chargeback/{period}/{f}")})).collect();
    Ok(Json(json!({
        "period": period,
        "run": instance.run,
        "completedTime": instance.completed_at,
        "currency": lines.first().map_or(Currency::USD, |l| l.currency.clone()),
        "total": format!("{total:.2}"),
        "unpricedLines": lines.iter().filter(|l| l.cost.is_none()).count(),
        "lines": lines.iter().map(wire).collect::<Vec<_>>(),
        "reports": reports,
    }))
    .into_response())
}

/// `GET /api/chargeback/{period}/{file}`.
pub async fn get_report_file(
    State(state): State<ApiState>,
    Path((raw, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let period = period(&raw)?;
    let known = || REPORT_FILES.iter().chain(&crate::reconcile::RECONCILIATION_FILES);
    let Some(file) = known().find(|f| **f == file) else {
        let names: Vec<&str> = known().copied().collect();
        return Err(ApiError::NotFound(format!("no report file {file:?}; the files are {}", names.join(", "))));
    };
    let body = state
        .rollups
        .report_file(&state.tenant, period, file)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{period} has no {file} yet; roll the month up first")))?;
    let content_type = match file.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/json",
    };
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}
