//! Daily usage aggregates: what the rollup makes of the ledger and what
//! pricing and reports work from.

use chrono::NaiveDate;

use super::TokenSource;

/// The token totals of one ledger partition's records that share a UTC day,
/// chargeable party, model, deployment and token source. Absent model or
/// deployment are empty strings. Cached tokens are part of prompt tokens and
/// reasoning tokens part of completion tokens, as in [`super::TokenUsage`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageAggregate {
    /// UTC day of the records.
    pub day: NaiveDate,
    /// Chargeable party ([`super::Caller::chargeable_party`]).
    pub party: String,
    /// Model ('' when the records do not say).
    pub model: String,
    /// Deployment ('' when the records do not say).
    pub deployment: String,
    /// Where the counts come from.
    pub token_source: TokenSource,
    /// Number of records.
    pub requests: u64,
    /// Prompt tokens, cached included.
    pub prompt: u64,
    /// Completion tokens, reasoning included.
    pub completion: u64,
    /// Cached prompt tokens.
    pub cached: u64,
    /// Reasoning tokens.
    pub reasoning: u64,
}
