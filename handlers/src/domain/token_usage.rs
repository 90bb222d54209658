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

/// Token counts. Every detail is a **part of** the prompt or the completion
/// tokens, never added on top: cached reads and cache writes (together at most
/// the prompt), audio input (at most the prompt), reasoning (at most the
/// completion), audio output (at most the completion), and the accepted and
/// rejected tokens of a predicted output (together at most the completion:
/// rejected prediction tokens are billed as output because the service counts
/// them in `completion_tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenUsage {
    prompt: u64,
    completion: u64,
    cached: u64,
    reasoning: u64,
    details: TokenDetails,
}

/// The billing details a response may report beyond cached and reasoning
/// tokens (`prompt_tokens_details` / `input_tokens_details` and
/// `completion_tokens_details` / `output_tokens_details`). Zero when not
/// reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenDetails {
    /// Prompt tokens written to the prompt cache (`cache_write_tokens`).
    pub cache_write: u64,
    /// Prompt tokens that were audio (`prompt_tokens_details.audio_tokens`).
    pub audio_prompt: u64,
    /// Completion tokens that were audio (`completion_tokens_details.audio_tokens`).
    pub audio_completion: u64,
    /// Tokens of a predicted output that appeared in the completion.
    pub accepted_prediction: u64,
    /// Tokens of a predicted output that did not appear in the completion; the
    /// service still counts them in the completion tokens, so they are billed
    /// as output.
    pub rejected_prediction: u64,
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
    /// A detail of the prompt (cache reads and writes, audio) exceeds it.
    #[error("{what} {parts} exceed prompt tokens {prompt}")]
    PromptDetailExceedsPrompt { what: &'static str, parts: u64, prompt: u64 },
    /// A detail of the completion (audio, predictions) exceeds it.
    #[error("{what} {parts} exceed completion tokens {completion}")]
    CompletionDetailExceedsCompletion { what: &'static str, parts: u64, completion: u64 },
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
        Ok(Self { prompt, completion, cached, reasoning, details: TokenDetails::default() })
    }

    /// The same counts with these details, checked against them: cached +
    /// cache writes and audio input are parts of the prompt; audio output and
    /// accepted + rejected prediction tokens are parts of the completion.
    pub fn with_details(self, details: TokenDetails) -> Result<Self, UsageError> {
        let prompt_parts = [
            ("cached + cache-write tokens", self.cached.checked_add(details.cache_write)),
            ("audio prompt tokens", Some(details.audio_prompt)),
        ];
        for (what, parts) in prompt_parts {
            match parts {
                Some(parts) if parts <= self.prompt => {}
                _ => {
                    let parts = parts.unwrap_or(u64::MAX);
                    return Err(UsageError::PromptDetailExceedsPrompt { what, parts, prompt: self.prompt });
                }
            }
        }
        let completion_parts = [
            ("audio completion tokens", Some(details.audio_completion)),
            (
                "accepted + rejected prediction tokens",
                details.accepted_prediction.checked_add(details.rejected_prediction),
            ),
        ];
        for (what, parts) in completion_parts {
            match parts {
                Some(parts) if parts <= self.completion => {}
                _ => {
                    let parts = parts.unwrap_or(u64::MAX);
                    return Err(UsageError::CompletionDetailExceedsCompletion {
                        what,
                        parts,
                        completion: self.completion,
                    });
                }
            }
        }
        Ok(Self { details, ..self })
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
    /// The details beyond cached and reasoning tokens.
    pub fn details(&self) -> TokenDetails {
        self.details
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

    #[test]
    fn details_are_parts_of_prompt_and_completion() {
        let base = TokenUsage::new(100, 50, Some(150), 40, 20).unwrap();
        let details = TokenDetails {
            cache_write: 60,
            audio_prompt: 100,
            audio_completion: 50,
            accepted_prediction: 30,
            rejected_prediction: 20,
        };
        let u = base.with_details(details).unwrap();
        assert_eq!((u.total(), u.details()), (150, details));
        let over = |d: TokenDetails| base.with_details(d).unwrap_err();
        assert!(matches!(
            over(TokenDetails { cache_write: 61, ..Default::default() }),
            UsageError::PromptDetailExceedsPrompt { parts: 101, .. }
        ));
        assert!(matches!(
            over(TokenDetails { audio_prompt: 101, ..Default::default() }),
            UsageError::PromptDetailExceedsPrompt { .. }
        ));
        assert!(matches!(
            over(TokenDetails { rejected_prediction: 21, accepted_prediction: 30, ..Default::default() }),
            UsageError::CompletionDetailExceedsCompletion { parts: 51, .. }
        ));
        assert!(matches!(
            over(TokenDetails { cache_write: u64::MAX, ..Default::default() }),
            UsageError::PromptDetailExceedsPrompt { .. }
        ));
    }
}
