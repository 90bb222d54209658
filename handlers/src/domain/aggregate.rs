//! Daily usage aggregates: what the rollup makes of the ledger and what
//! pricing and reports work from.

use chrono::NaiveDate;
use serde::Serialize;

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

impl UsageAggregate {
    /// A cell from its key and its sums in the order of [`UsageAggregate::sums`].
    pub fn with_sums(
        day: NaiveDate,
        party: String,
        model: String,
        deployment: String,
        token_source: TokenSource,
        [requests, prompt, completion, cached, reasoning]: [u64; 5],
    ) -> Self {
        Self { day, party, model, deployment, token_source, requests, prompt, completion, cached, reasoning }
    }

    /// Requests, prompt, completion, cached and reasoning tokens.
    pub fn sums(&self) -> [u64; 5] {
        [self.requests, self.prompt, self.completion, self.cached, self.reasoning]
    }

    /// Adds another cell's sums to this one's (the key stays).
    pub fn add(&mut self, other: &UsageAggregate) {
        self.requests += other.requests;
        self.prompt += other.prompt;
        self.completion += other.completion;
        self.cached += other.cached;
        self.reasoning += other.reasoning;
    }
}

/// Requests and tokens. Cached tokens are part of prompt tokens, reasoning
/// tokens part of completion tokens; `total` is prompt + completion, of which
/// `estimated` were counted by us; `pending_requests` were not counted yet
/// (their tokens are zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenCounts {
    /// Records.
    pub requests: u64,
    /// Prompt tokens, cached included.
    pub prompt_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Completion tokens, reasoning included.
    pub completion_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Prompt + completion.
    pub total_tokens: u64,
    /// Of the total, tokens we estimated.
    pub estimated_tokens: u64,
    /// Records not counted yet.
    pub pending_requests: u64,
}

impl TokenCounts {
    /// The counts of records of one token source, from `[requests, prompt,
    /// completion, cached, reasoning]`: estimated tokens and pending requests
    /// are told apart by the source.
    pub fn counted(source: TokenSource, [requests, prompt, completion, cached, reasoning]: [u64; 5]) -> Self {
        let total = prompt + completion;
        Self {
            requests,
            prompt_tokens: prompt,
            cached_tokens: cached,
            completion_tokens: completion,
            reasoning_tokens: reasoning,
            total_tokens: total,
            estimated_tokens: if source == TokenSource::Estimated { total } else { 0 },
            pending_requests: if source == TokenSource::Pending { requests } else { 0 },
        }
    }

    /// Adds an aggregate's counts.
    pub fn add_aggregate(&mut self, a: &UsageAggregate) {
        self.add(&Self::counted(a.token_source, [a.requests, a.prompt, a.completion, a.cached, a.reasoning]));
    }

    /// Adds other counts.
    pub fn add(&mut self, o: &TokenCounts) {
        self.requests += o.requests;
        self.prompt_tokens += o.prompt_tokens;
        self.cached_tokens += o.cached_tokens;
        self.completion_tokens += o.completion_tokens;
        self.reasoning_tokens += o.reasoning_tokens;
        self.total_tokens += o.total_tokens;
        self.estimated_tokens += o.estimated_tokens;
        self.pending_requests += o.pending_requests;
    }
}
