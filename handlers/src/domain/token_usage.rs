//! Token counts of one completion, with their invariants.

use std::fmt;

/// Where a record's token counts come from. Reports keep these apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenSource {
    /// Counted by the model service and reported in the response's `usage`.
    Reported,
    /// Counted by us from the request and streamed response bodies.
    Estimated,
    /// Streamed without usage and not counted yet: the tokens are zero until a
    /// count is made. Such records are kept, never dropped.
    Pending,
}

impl TokenSource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Estimated => "estimated",
            Self::Pending => "pending",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "reported" => Some(Self::Reported),
            "estimated" => Some(Self::Estimated),
            "pending" => Some(Self::Pending),
            _ => None,
        }
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most tokens any one count of one record may hold (prompt, completion,
/// cached or reasoning; the total, being their sum, twice as many): a hundred times the largest context window
/// any model offers. A record over it is not a real call but a broken or
/// hostile one, and is dead-lettered as `implausible_tokens`. The bound also
/// keeps every sum exact: a month would need more than nine billion records
/// at the maximum before a 64-bit total could overflow.
pub const MAX_TOKENS_PER_RECORD: u64 = 1_000_000_000;

/// Token counts. Cached tokens are part of the prompt tokens and reasoning
/// tokens part of the completion tokens: they are never added on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenUsage {
    prompt: u64,
    completion: u64,
    cached: u64,
    reasoning: u64,
}

/// Why a set of counts is inconsistent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsageError {
    /// A count is over [`MAX_TOKENS_PER_RECORD`].
    #[error("{count} tokens is more than one record can hold ({MAX_TOKENS_PER_RECORD})")]
    Implausible { count: u64 },
    /// Cached tokens are a part of the prompt, so cannot exceed it.
    #[error("cached tokens {cached} exceed prompt tokens {prompt}")]
    CachedExceedsPrompt { cached: u64, prompt: u64 },
    /// Reasoning tokens are a part of the completion, so cannot exceed it.
    #[error("reasoning tokens {reasoning} exceed completion tokens {completion}")]
    ReasoningExceedsCompletion { reasoning: u64, completion: u64 },
    /// The stated total is not prompt + completion.
    #[error("total tokens {total} is not prompt {prompt} + completion {completion}")]
    TotalMismatch { total: u64, prompt: u64, completion: u64 },
}

impl TokenUsage {
    /// Checks the invariants. `total`, when the record states one, must equal
    /// prompt + completion.
    pub fn new(
        prompt: u64,
        completion: u64,
        total: Option<u64>,
        cached: u64,
        reasoning: u64,
    ) -> Result<Self, UsageError> {
        for count in [prompt, completion, cached, reasoning] {
            if count > MAX_TOKENS_PER_RECORD {
                return Err(UsageError::Implausible { count });
            }
        }
        if let Some(total) = total.filter(|t| *t > 2 * MAX_TOKENS_PER_RECORD) {
            return Err(UsageError::Implausible { count: total });
        }
        if cached > prompt {
            return Err(UsageError::CachedExceedsPrompt { cached, prompt });
        }
        if reasoning > completion {
            return Err(UsageError::ReasoningExceedsCompletion { reasoning, completion });
        }
        if let Some(total) = total
            && prompt.checked_add(completion) != Some(total)
        {
            return Err(UsageError::TotalMismatch { total, prompt, completion });
        }
        Ok(Self { prompt, completion, cached, reasoning })
    }

    /// No tokens (a record still waiting for a count).
    pub fn zero() -> Self {
        Self::default()
    }

    /// Prompt (input) tokens, cached ones included.
    pub fn prompt(&self) -> u64 {
        self.prompt
    }
    /// Completion (output) tokens, reasoning ones included.
    pub fn completion(&self) -> u64 {
        self.completion
    }
    /// Prompt tokens served from the prompt cache.
    pub fn cached(&self) -> u64 {
        self.cached
    }
    /// Completion tokens spent on reasoning.
    pub fn reasoning(&self) -> u64 {
        self.reasoning
    }
    /// Prompt + completion (both bounded, so the sum cannot overflow).
    pub fn total(&self) -> u64 {
        self.prompt + self.completion
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_and_reasoning_are_parts_not_additions() {
        let u = TokenUsage::new(100, 50, Some(150), 40, 20).unwrap();
        assert_eq!(u.total(), 150);
    }

    #[test]
    fn inconsistent_counts_are_refused() {
        assert!(matches!(TokenUsage::new(10, 5, Some(16), 0, 0), Err(UsageError::TotalMismatch { .. })));
        assert!(matches!(TokenUsage::new(10, 5, None, 11, 0), Err(UsageError::CachedExceedsPrompt { .. })));
        assert!(matches!(TokenUsage::new(10, 5, None, 0, 6), Err(UsageError::ReasoningExceedsCompletion { .. })));
    }

    #[test]
    fn counts_over_the_per_record_maximum_are_implausible() {
        let max = MAX_TOKENS_PER_RECORD;
        assert!(TokenUsage::new(max, max, Some(2 * max), max, max).is_ok());
        for (p, c, t) in [(max + 1, 0, None), (0, max + 1, None), (1, 1, Some(u64::MAX)), (u64::MAX, 0, None)] {
            assert!(matches!(TokenUsage::new(p, c, t, 0, 0), Err(UsageError::Implausible { .. })), "{p} {c} {t:?}");
        }
    }
}
