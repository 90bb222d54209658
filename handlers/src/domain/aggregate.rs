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
        self.prompt.saturating_add(self.completion)
    }
}

/// Sums of tokens never overflow: every record is bounded by
/// [`super::MAX_TOKENS_PER_RECORD`], so a sum would need billions of records
/// at the maximum to pass 2^64; only rows stored before the bound existed
/// could, and then the sum saturates rather than wrapping or panicking, so no
/// row can make a month unreadable.
impl std::ops::AddAssign for TokenTotals {
    fn add_assign(&mut self, o: Self) {
        self.requests = self.requests.saturating_add(o.requests);
        self.prompt = self.prompt.saturating_add(o.prompt);
        self.completion = self.completion.saturating_add(o.completion);
        self.cached = self.cached.saturating_add(o.cached);
        self.reasoning = self.reasoning.saturating_add(o.reasoning);
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

    /// Adds other counts (saturating, as [`TokenTotals`] adds).
    pub fn add(&mut self, o: &TokenCounts) {
        self.requests = self.requests.saturating_add(o.requests);
        self.prompt_tokens = self.prompt_tokens.saturating_add(o.prompt_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(o.cached_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(o.completion_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(o.reasoning_tokens);
        self.total_tokens = self.total_tokens.saturating_add(o.total_tokens);
        self.estimated_tokens = self.estimated_tokens.saturating_add(o.estimated_tokens);
        self.pending_requests = self.pending_requests.saturating_add(o.pending_requests);
    }

    /// Of the total, tokens the service reported (not estimated by us).
    pub fn reported_tokens(&self) -> u64 {
        self.total_tokens.saturating_sub(self.estimated_tokens)
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
