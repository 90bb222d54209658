//! The usage service: token totals of a time range per business unit,
//! application, party, model, deployment or day, filtered by any of those,
//! with reported, estimated and pending (uncounted) usage kept apart; the
//! usage *awaiting attribution* of the range beside them (API Management calls
//! whose caller is not known yet, [`Awaiting`]: in no line and not in the
//! total); and the capacity view per deployment and hour ([`capacity`]).
//!
//! The CLI (`chargeback usage`), the HTTP API (`/api/usage`), the demo and
//! the budgets all call it. The ledger returns totals per day, party, model,
//! deployment and token source ([`Ledger::usage_cells`]); applications and
//! business units come from the tenant's [`Directory`] as it is now, and
//! filters and grouping are applied here, in Rust, so no filter value ever
//! reaches a query.

pub mod capacity;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use capacity::{CapacityHour, Latency};

use crate::directory::{Directory, DirectoryError};
use crate::domain::{ApplicationMap, Awaiting, Name, Tenant, TokenCounts, UsageAggregate};
use crate::storage::{GatewayLogStore, Ledger, LedgerRange, OpenCall, StorageError};

/// What usage is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Business unit (from the directory; `unassigned` when unmapped).
    BusinessUnit,
    /// Application (from the directory; the party itself when unmapped).
    Application,
    /// The chargeable party as recorded.
    Party,
    /// Model.
    Model,
    /// Deployment.
    Deployment,
    /// UTC day.
    Day,
    /// The service tier the responses say they were billed at
    /// (`(none)` when they do not).
    ServiceTier,
}

impl GroupBy {
    /// Every grouping.
    pub const ALL: [GroupBy; 7] = [
        Self::BusinessUnit,
        Self::Application,
        Self::Party,
        Self::Model,
        Self::Deployment,
        Self::Day,
        Self::ServiceTier,
    ];

    /// The name the API and the reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BusinessUnit => "business_unit",
            Self::Application => "application",
            Self::Party => "party",
            Self::Model => "model",
            Self::Deployment => "deployment",
            Self::Day => "day",
            Self::ServiceTier => "service_tier",
        }
    }

    /// Parses [`GroupBy::as_str`].
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == raw)
    }
}

/// Exact-match filters; absent ones match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFilters {
    /// Business unit.
    pub business_unit: Option<Name>,
    /// Application.
    pub application: Option<Name>,
    /// Party.
    pub party: Option<Name>,
    /// Model.
    pub model: Option<Name>,
    /// Deployment.
    pub deployment: Option<Name>,
}

impl UsageFilters {
    /// The filters set that need the caller (business unit, application,
    /// party), by their API names: usage awaiting attribution has no caller
    /// yet, so they cannot apply to it.
    pub fn caller_filters(&self) -> Vec<&'static str> {
        [
            ("business_unit", self.business_unit.is_some()),
            ("application", self.application.is_some()),
            ("party", self.party.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// A usage question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// Whose data.
    pub tenant: Tenant,
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
    /// The grouping.
    pub group_by: GroupBy,
    /// The filters.
    pub filters: UsageFilters,
}

/// Totals of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageLine {
    /// The group.
    pub key: String,
    /// Requests and tokens; estimated tokens (streamed responses without
    /// usage) and pending requests (not counted yet, their tokens are not in
    /// the totals) apart.
    pub tokens: TokenCounts,
}

/// A usage report: lines sorted by key, their sum, and apart from both the
/// usage awaiting attribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// The question answered.
    pub query: UsageQuery,
    /// One line per group.
    pub lines: Vec<UsageLine>,
    /// The sum of the lines (key `TOTAL`).
    pub total: UsageLine,
    /// API Management calls of the range that happened but are not counted
    /// yet because their caller is not known yet: in no line and not in
    /// `total`. The model and deployment filters apply to it; the caller
    /// filters cannot ([`UsageReport::awaiting_not_filtered_by`]).
    pub awaiting: Awaiting,
    /// The filters of the query that were not applied to `awaiting` (those
    /// that need the caller); empty when none of them was set.
    pub awaiting_not_filtered_by: Vec<&'static str>,
}

/// Why usage could not be reported.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The ledger failed.
    #[error("reading the ledger failed")]
    Ledger(#[from] StorageError),
    /// The directory could not be read.
    #[error("reading the directory failed")]
    Directory(#[from] DirectoryError),
}

/// The usage service.
#[derive(Debug, Clone)]
pub struct Usage {
    ledger: Arc<dyn Ledger>,
    directory: Directory,
    gateway_logs: Option<Arc<dyn GatewayLogStore>>,
}

impl Usage {
    /// Usage from this ledger, attributed with this directory.
    pub fn new(ledger: Arc<dyn Ledger>, directory: Directory) -> Self {
        Self { ledger, directory, gateway_logs: None }
    }

    /// Reports the calls waiting in this store for their caller as usage
    /// awaiting attribution (without a store, there is never any).
    pub fn with_gateway_logs(mut self, store: Arc<dyn GatewayLogStore>) -> Self {
        self.gateway_logs = Some(store);
        self
    }

    /// Answers a usage question.
    pub async fn report(&self, query: UsageQuery) -> Result<UsageReport, UsageError> {
        let applications = self.directory.applications(&query.tenant).await?;
        let range = LedgerRange { tenant: query.tenant.clone(), from: query.from, to: query.to };
        let cells = self.ledger.usage_cells(&range).await?;
        let (lines, total) = summarise(&cells, &applications, query.group_by, &query.filters);
        let calls = match &self.gateway_logs {
            Some(store) => store.open_calls_between(&query.tenant, query.from, query.to).await?,
            None => Vec::new(),
        };
        let awaiting = awaiting(&calls, &query.filters);
        let awaiting_not_filtered_by = query.filters.caller_filters();
        Ok(UsageReport { query, lines, total, awaiting, awaiting_not_filtered_by })
    }

    /// Capacity per deployment and UTC hour of a time range, optionally of
    /// one deployment.
    pub async fn capacity(
        &self,
        range: &LedgerRange,
        deployment: Option<&Name>,
    ) -> Result<Vec<CapacityHour>, StorageError> {
        let cells = self.ledger.capacity_cells(range).await?;
        Ok(capacity::summarise(&cells, deployment.map(Name::as_str)))
    }
}

/// The usage awaiting attribution of these open calls that the model and
/// deployment filters keep (`(none)` matching a call that does not say).
pub fn awaiting(calls: &[OpenCall], filters: &UsageFilters) -> Awaiting {
    let matches = |filter: &Option<Name>, value: &str| {
        let value = if value.is_empty() { "(none)" } else { value };
        filter.as_ref().is_none_or(|f| f.as_str() == value)
    };
    Awaiting::of_calls(calls.iter().map(OpenCall::parts), |model, deployment| {
        matches(&filters.model, model) && matches(&filters.deployment, deployment)
    })
}

/// Groups and filters ledger cells.
pub fn summarise(
    cells: &[UsageAggregate],
    map: &ApplicationMap,
    group_by: GroupBy,
    filters: &UsageFilters,
) -> (Vec<UsageLine>, UsageLine) {
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
            GroupBy::BusinessUnit => business_unit.to_owned(),
            GroupBy::Application => application.to_owned(),
            GroupBy::Party => cell.party.clone(),
            GroupBy::Model => model.to_owned(),
            GroupBy::Deployment => deployment.to_owned(),
            GroupBy::Day => cell.day.format("%Y-%m-%d").to_string(),
            GroupBy::ServiceTier if cell.service_tier.is_empty() => "(none)".to_owned(),
            GroupBy::ServiceTier => cell.service_tier.clone(),
        };
        lines.entry(key.clone()).or_insert_with(|| UsageLine { key, ..Default::default() }).tokens.add_aggregate(cell);
    }
    let mut total = UsageLine { key: "TOTAL".to_owned(), ..Default::default() };
    for line in lines.values() {
        total.tokens.add(&line.tokens);
    }
    (lines.into_values().collect(), total)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::domain::{TokenSource, TokenTotals};

    fn cell(party: &str, model: &str, source: TokenSource, prompt: u64) -> UsageAggregate {
        UsageAggregate {
            day: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            party: party.into(),
            model: model.into(),
            deployment: String::new(),
            token_source: source,
            service_tier: String::new(),
            spilled_from: String::new(),
            tokens: TokenTotals { requests: 1, prompt, completion: 1, ..Default::default() },
        }
    }

    #[test]
    fn groups_come_from_the_directory_and_sources_stay_apart() {
        let map = ApplicationMap::from_rows([("sub-a", "chatbot", "finance")]).unwrap();
        let cells = [
            cell("sub-a", "gpt-4o", TokenSource::Reported, 10),
            cell("sub-a", "gpt-4o", TokenSource::Estimated, 20),
            cell("sub-b", "", TokenSource::Pending, 0),
        ];
        let (lines, total) = summarise(&cells, &map, GroupBy::BusinessUnit, &UsageFilters::default());
        let keys: Vec<&str> = lines.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(keys, ["finance", "unassigned"]);
        assert_eq!((lines[0].tokens.total_tokens, lines[0].tokens.estimated_tokens), (32, 21));
        assert_eq!((total.tokens.requests, total.tokens.pending_requests), (3, 1));
        let only = UsageFilters { model: Some(Name::parse("(none)").unwrap()), ..Default::default() };
        let (lines, _) = summarise(&cells, &map, GroupBy::Party, &only);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].key, "sub-b");
    }
}
