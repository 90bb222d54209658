//! Token sums: [`TokenTotals`] (the one sum of requests and tokens),
//! [`UsageAggregate`] (a ledger partition's sums per model, deployment and
//! token source: what the rollup makes of the ledger and what pricing and
//! reports work from) and [`TokenCounts`] (sums as reports show them).

use chrono::NaiveDate;
use serde::Serialize;

use super::{TokenSource, TokenUsage};

/// Requests and token sums of a set of records: the one type every sum of
/// the ledger, the rollup and the reports adds up. Cached tokens are part of
/// prompt tokens and reasoning tokens part of completion tokens, as in
/// [`super::TokenUsage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenTotals {
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

impl TokenTotals {
    /// One record's counts.
    pub fn of_record(usage: &TokenUsage) -> Self {
        Self {
            requests: 1,
            prompt: usage.prompt(),
            completion: usage.completion(),
            cached: usage.cached(),
            reasoning: usage.reasoning(),
        }
    }

    /// Prompt + completion.
    pub fn total(&self) -> u64 {
        self.prompt + self.completion
    }
}

impl std::ops::AddAssign for TokenTotals {
    fn add_assign(&mut self, o: Self) {
        self.requests += o.requests;
        self.prompt += o.prompt;
        self.completion += o.completion;
        self.cached += o.cached;
        self.reasoning += o.reasoning;
    }
}

impl std::ops::Add for TokenTotals {
    type Output = Self;

    fn add(mut self, o: Self) -> Self {
        self += o;
        self
    }
}

impl std::iter::Sum for TokenTotals {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
    }
}

/// The token totals of one ledger partition's records that share a UTC day,
/// chargeable party, model, deployment and token source. Absent model or
/// deployment are empty strings.
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
    /// Requests and token sums.
    pub tokens: TokenTotals,
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
    /// The counts of records of one token source: estimated tokens and
    /// pending requests are told apart by the source.
    pub fn counted(source: TokenSource, t: TokenTotals) -> Self {
        let total = t.total();
        Self {
            requests: t.requests,
            prompt_tokens: t.prompt,
            cached_tokens: t.cached,
            completion_tokens: t.completion,
            reasoning_tokens: t.reasoning,
            total_tokens: total,
            estimated_tokens: if source == TokenSource::Estimated { total } else { 0 },
            pending_requests: if source == TokenSource::Pending { t.requests } else { 0 },
        }
    }

    /// Adds an aggregate's counts.
    pub fn add_aggregate(&mut self, a: &UsageAggregate) {
        self.add(&Self::counted(a.token_source, a.tokens));
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

    /// Of the total, tokens the service reported (not estimated by us).
    pub fn reported_tokens(&self) -> u64 {
        self.total_tokens - self.estimated_tokens
    }

    /// The requests and token sums, without the split by source.
    pub fn totals(&self) -> TokenTotals {
        TokenTotals {
            requests: self.requests,
            prompt: self.prompt_tokens,
            completion: self.completion_tokens,
            cached: self.cached_tokens,
            reasoning: self.reasoning_tokens,
        }
    }
}
