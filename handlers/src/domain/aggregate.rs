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
    /// Prompt tokens written to the prompt cache (part of prompt).
    pub cache_write: u64,
    /// Audio prompt tokens (part of prompt).
    pub audio_prompt: u64,
    /// Audio completion tokens (part of completion).
    pub audio_completion: u64,
    /// Predicted-output tokens that appeared in the completion (part of completion).
    pub accepted_prediction: u64,
    /// Predicted-output tokens that did not appear; the service counts them
    /// in the completion tokens, so they are billed as output.
    pub rejected_prediction: u64,
}

impl TokenTotals {
    /// One record's counts.
    pub fn of_record(usage: &TokenUsage) -> Self {
        let d = usage.details();
        Self {
            requests: 1,
            prompt: usage.prompt(),
            completion: usage.completion(),
            cached: usage.cached(),
            reasoning: usage.reasoning(),
            cache_write: d.cache_write,
            audio_prompt: d.audio_prompt,
            audio_completion: d.audio_completion,
            accepted_prediction: d.accepted_prediction,
            rejected_prediction: d.rejected_prediction,
        }
    }

    /// Prompt + completion.
    pub fn total(&self) -> u64 {
        self.prompt.saturating_add(self.completion)
    }

    /// How many sums there are.
    pub const COUNT: usize = 10;

    /// The sums in their one order: requests, prompt, completion, cached,
    /// reasoning, then the billing dimensions of 2026 (cache writes, audio
    /// prompt and completion, accepted and rejected predictions). The
    /// ledger's cell columns, stored rollup documents and every sum over
    /// them use this order; this and [`Self::from_array`] are the only places
    /// that name the fields one by one, so a new token kind is added here.
    pub fn to_array(&self) -> [u64; Self::COUNT] {
        [
            self.requests,
            self.prompt,
            self.completion,
            self.cached,
            self.reasoning,
            self.cache_write,
            self.audio_prompt,
            self.audio_completion,
            self.accepted_prediction,
            self.rejected_prediction,
        ]
    }

    /// The totals of sums in [`Self::to_array`]'s order.
    pub fn from_array(
        [
            requests,
            prompt,
            completion,
            cached,
            reasoning,
            cache_write,
            audio_prompt,
            audio_completion,
            accepted_prediction,
            rejected_prediction,
        ]: [u64; Self::COUNT],
    ) -> Self {
        Self {
            requests,
            prompt,
            completion,
            cached,
            reasoning,
            cache_write,
            audio_prompt,
            audio_completion,
            accepted_prediction,
            rejected_prediction,
        }
    }
}

/// Sums of tokens never overflow: every record is bounded by
/// [`super::MAX_TOKENS_PER_RECORD`], so a sum would need billions of records
/// at the maximum to pass 2^64; only rows stored before the bound existed
/// could, and then the sum saturates rather than wrapping or panicking, so no
/// row can make a month unreadable.
impl std::ops::AddAssign for TokenTotals {
    fn add_assign(&mut self, o: Self) {
        let mut sums = self.to_array();
        for (sum, add) in sums.iter_mut().zip(o.to_array()) {
            *sum = sum.saturating_add(add);
        }
        *self = Self::from_array(sums);
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
    /// The service tier the responses say they were billed at ('' when not stated).
    pub service_tier: String,
    /// The provisioned deployment the calls spilled over from ('' when not spilled).
    pub spilled_from: String,
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
    /// Prompt tokens written to the prompt cache.
    pub cache_write_tokens: u64,
    /// Audio prompt tokens.
    pub audio_prompt_tokens: u64,
    /// Audio completion tokens.
    pub audio_completion_tokens: u64,
    /// Predicted-output tokens that appeared in the completion.
    pub accepted_prediction_tokens: u64,
    /// Predicted-output tokens that did not appear (billed as output, part of completion).
    pub rejected_prediction_tokens: u64,
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
            estimated_tokens: if source == TokenSource::Estimated { total } else { 0 },
            pending_requests: if source == TokenSource::Pending { t.requests } else { 0 },
            ..Self::of_totals(t)
        }
    }

    /// The counts of totals, all of them reported by the service.
    fn of_totals(t: TokenTotals) -> Self {
        Self {
            requests: t.requests,
            prompt_tokens: t.prompt,
            cached_tokens: t.cached,
            completion_tokens: t.completion,
            reasoning_tokens: t.reasoning,
            cache_write_tokens: t.cache_write,
            audio_prompt_tokens: t.audio_prompt,
            audio_completion_tokens: t.audio_completion,
            accepted_prediction_tokens: t.accepted_prediction,
            rejected_prediction_tokens: t.rejected_prediction,
            total_tokens: t.total(),
            estimated_tokens: 0,
            pending_requests: 0,
        }
    }

    /// Adds an aggregate's counts.
    pub fn add_aggregate(&mut self, a: &UsageAggregate) {
        self.add(&Self::counted(a.token_source, a.tokens));
    }

    /// Adds other counts (saturating, as [`TokenTotals`] adds).
    pub fn add(&mut self, o: &TokenCounts) {
        *self = Self {
            total_tokens: self.total_tokens.saturating_add(o.total_tokens),
            estimated_tokens: self.estimated_tokens.saturating_add(o.estimated_tokens),
            pending_requests: self.pending_requests.saturating_add(o.pending_requests),
            ..Self::of_totals(self.totals() + o.totals())
        };
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
            cache_write: self.cache_write_tokens,
            audio_prompt: self.audio_prompt_tokens,
            audio_completion: self.audio_completion_tokens,
            accepted_prediction: self.accepted_prediction_tokens,
            rejected_prediction: self.rejected_prediction_tokens,
        }
    }
}
