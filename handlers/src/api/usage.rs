//! `GET /api/usage`: token totals of a time range, grouped by business unit,
//! application, party, model, deployment or day, filtered by any of those,
//! with reported, estimated and pending usage apart.
//!
//! The ledger returns totals per day, party, model, deployment and token
//! source ([`crate::storage::Ledger::usage_cells`]); filters and grouping are
//! applied here, in Rust, so no filter value ever reaches a query.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::admin::application_map;
use super::admin::documents::read;
use super::admin::entries::Applications;
use super::params::{Name, QueryParams, TimeRange};
use super::problem::ApiError;
use crate::domain::UsageAggregate;
use crate::functions::AppState;
use crate::mapping::ApplicationMap;
use crate::storage::LedgerRange;
use crate::usage::UsageLine;

/// The longest range one request may ask for.
pub const MAX_RANGE_DAYS: i64 = 366;

const PARAMETERS: [&str; 8] =
    ["from", "to", "group_by", "business_unit", "application", "party", "model", "deployment"];

/// What usage is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageGrouping {
    /// Business unit (from the application mapping).
    BusinessUnit,
    /// Application (from the application mapping).
    Application,
    /// The chargeable party as recorded.
    Party,
    /// Model.
    Model,
    /// Deployment.
    Deployment,
    /// UTC day.
    Day,
}

impl UsageGrouping {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        Ok(match raw.unwrap_or("business_unit") {
            "business_unit" => Self::BusinessUnit,
            "application" => Self::Application,
            "party" => Self::Party,
            "model" => Self::Model,
            "deployment" => Self::Deployment,
            "day" => Self::Day,
            _ => {
                return Err(ApiError::invalid(
                    "group_by",
                    "use business_unit, application, party, model, deployment or day",
                ));
            }
        })
    }
}

/// Exact-match filters; absent ones match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageFilters {
    /// Business unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_unit: Option<Name>,
    /// Application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<Name>,
    /// Party.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party: Option<Name>,
    /// Model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<Name>,
    /// Deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Name>,
}

/// One group's totals: the usage line and the reported part of its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageGroup {
    /// Counts (`total_tokens` = reported + estimated).
    #[serde(flatten)]
    pub line: UsageLine,
    /// Of the total, tokens the service reported.
    pub reported_tokens: u64,
}

impl From<UsageLine> for UsageGroup {
    fn from(line: UsageLine) -> Self {
        Self { reported_tokens: line.tokens.total_tokens - line.tokens.estimated_tokens, line }
    }
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageResponse {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// The grouping.
    pub group_by: UsageGrouping,
    /// The filters applied.
    pub filters: UsageFilters,
    /// One entry per group, sorted by key.
    pub groups: Vec<UsageGroup>,
    /// The sum of the groups.
    pub total: UsageGroup,
}

/// Groups and filters ledger cells.
pub fn summarise(
    cells: &[UsageAggregate],
    map: &ApplicationMap,
    group_by: UsageGrouping,
    filters: &UsageFilters,
) -> (Vec<UsageGroup>, UsageGroup) {
    let matches = |filter: &Option<Name>, value: &str| filter.as_ref().is_none_or(|f| f.as_str() == value);
    let mut lines: BTreeMap<String, UsageLine> = BTreeMap::new();
    for cell in cells {
        let model = if cell.model.is_empty() { "(none)" } else { cell.model.as_str() };
        let deployment = if cell.deployment.is_empty() { "(none)" } else { cell.deployment.as_str() };
        let application = map.application(&cell.party);
        let business_unit = map.business_unit(&cell.party);
        if !(matches(&filters.business_unit, business_unit)
            && matches(&filters.application, application)
            && matches(&filters.party, &cell.party)
            && matches(&filters.model, model)
            && matches(&filters.deployment, deployment))
        {
            continue;
        }
        let key = match group_by {
            UsageGrouping::BusinessUnit => business_unit.to_owned(),
            UsageGrouping::Application => application.to_owned(),
            UsageGrouping::Party => cell.party.clone(),
            UsageGrouping::Model => model.to_owned(),
            UsageGrouping::Deployment => deployment.to_owned(),
            UsageGrouping::Day => cell.day.format("%Y-%m-%d").to_string(),
        };
        let counts = [cell.requests, cell.prompt, cell.completion, cell.cached, cell.reasoning];
        let line = UsageLine::counted(key.clone(), cell.token_source, counts);
        lines.entry(key.clone()).or_insert_with(|| UsageLine { key, ..Default::default() }).add(&line);
    }
    let mut total = UsageLine { key: "TOTAL".to_owned(), ..Default::default() };
    for line in lines.values() {
        total.add(line);
    }
    (lines.into_values().map(UsageGroup::from).collect(), UsageGroup::from(total))
}

/// `GET /api/usage`.
pub async fn get_usage(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<UsageResponse>, ApiError> {
    let params = QueryParams::parse(query.as_deref(), &PARAMETERS)?;
    let range = TimeRange::from_params(&params, MAX_RANGE_DAYS)?;
    let group_by = UsageGrouping::parse(params.get("group_by"))?;
    let filters = UsageFilters {
        business_unit: params.name("business_unit")?,
        application: params.name("application")?,
        party: params.name("party")?,
        model: params.name("model")?,
        deployment: params.name("deployment")?,
    };
    let tenant = &state.settings.tenant;
    let applications = read::<Applications>(state.stores.reports.as_ref(), &state.settings, tenant).await?;
    let map = application_map(&applications.entries);
    let cells = state
        .stores
        .ledger
        .usage_cells(&LedgerRange { tenant: tenant.clone(), from: range.from, to: range.to })
        .await?;
    let (groups, total) = summarise(&cells, &map, group_by, &filters);
    Ok(Json(UsageResponse { from: range.from, to: range.to, group_by, filters, groups, total }))
}
