//! `GET /api/usage`: token totals of a time range, grouped by business unit,
//! application, party, model, deployment or day, filtered by any of those,
//! with reported, estimated and pending usage apart, and the usage awaiting
//! attribution beside the groups and the total (the usage service,
//! [`crate::usage`]).

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ApiState;
use super::params::{QueryParams, TimeRange};
use super::problem::ApiError;
use crate::domain::{Awaiting, Name, TokenCounts};
use crate::usage::{GroupBy, UsageFilters, UsageLine, UsageQuery};

/// The longest range one request may ask for.
pub const MAX_RANGE_DAYS: i64 = 366;

const PARAMETERS: [&str; 8] =
    ["from", "to", "group_by", "business_unit", "application", "party", "model", "deployment"];

/// One group's totals on the wire: the counts and the reported part of its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageGroup {
    /// The group.
    pub key: String,
    /// Counts (`total_tokens` = reported + estimated).
    #[serde(flatten)]
    pub tokens: TokenCounts,
    /// Of the total, tokens the service reported.
    pub reported_tokens: u64,
}

impl From<UsageLine> for UsageGroup {
    fn from(line: UsageLine) -> Self {
        Self { reported_tokens: line.tokens.reported_tokens(), key: line.key, tokens: line.tokens }
    }
}

/// The filters applied, on the wire (absent ones left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filters {
    #[serde(skip_serializing_if = "Option::is_none")]
    business_unit: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    application: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    party: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment: Option<Name>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageResponse {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// The grouping.
    pub group_by: &'static str,
    /// The filters applied.
    pub filters: Filters,
    /// One entry per group, sorted by key.
    pub groups: Vec<UsageGroup>,
    /// The sum of the groups.
    pub total: UsageGroup,
    /// API Management calls of the range not counted yet because their
    /// caller is not known yet: in no group and not in `total` (an explicit
    /// zero when there are none).
    pub awaiting_attribution: AwaitingAttribution,
}

/// Usage awaiting attribution on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwaitingAttribution {
    /// Calls (`requests`), their tokens, the oldest's first receipt, and the
    /// same by model and deployment.
    #[serde(flatten)]
    pub usage: Awaiting,
    /// The filters of the request that could not apply to it (business
    /// unit, application, party: the caller is not known yet); empty when
    /// it is filtered as the groups are.
    pub not_filtered_by: Vec<&'static str>,
}

fn group_by(raw: Option<&str>) -> Result<GroupBy, ApiError> {
    GroupBy::parse(raw.unwrap_or("business_unit")).ok_or_else(|| {
        ApiError::invalid("group_by", "use business_unit, application, party, model, deployment, day or service_tier")
    })
}

/// `GET /api/usage`.
pub async fn get_usage(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<UsageResponse>, ApiError> {
    let params = QueryParams::parse(query.as_deref(), &PARAMETERS)?;
    let range = TimeRange::from_params(&params, MAX_RANGE_DAYS)?;
    let group_by = group_by(params.get("group_by"))?;
    let filters = UsageFilters {
        business_unit: params.name("business_unit")?,
        application: params.name("application")?,
        party: params.name("party")?,
        model: params.name("model")?,
        deployment: params.name("deployment")?,
    };
    let query = UsageQuery { tenant: state.tenant.clone(), from: range.from, to: range.to, group_by, filters };
    let report = state.usage.report(query).await?;
    let f = report.query.filters;
    Ok(Json(UsageResponse {
        from: report.query.from,
        to: report.query.to,
        group_by: group_by.as_str(),
        filters: Filters {
            business_unit: f.business_unit,
            application: f.application,
            party: f.party,
            model: f.model,
            deployment: f.deployment,
        },
        groups: report.lines.into_iter().map(UsageGroup::from).collect(),
        total: report.total.into(),
        awaiting_attribution: AwaitingAttribution {
            usage: report.awaiting,
            not_filtered_by: report.awaiting_not_filtered_by,
        },
    }))
}
