//! OpenAI's `usage` object, as chat completions, completions, embeddings and
//! the Responses API write it, converted to [`TokenUsage`].

use serde::Deserialize;
use serde_json::value::RawValue;

use super::scalar::{self, Scalar};
use super::{RejectReason, Rejection};
use crate::domain::{MAX_TOKENS_PER_RECORD, TokenUsage, UsageError};

#[derive(Debug, Default, Deserialize)]
struct Usage<'a> {
    #[serde(alias = "input_tokens", borrow)]
    prompt_tokens: Option<Scalar<'a>>,
    #[serde(alias = "output_tokens", borrow)]
    completion_tokens: Option<Scalar<'a>>,
    #[serde(borrow)]
    total_tokens: Option<Scalar<'a>>,
    #[serde(alias = "input_tokens_details", borrow)]
    prompt_tokens_details: Option<Details<'a>>,
    #[serde(alias = "output_tokens_details", borrow)]
    completion_tokens_details: Option<Details<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Details<'a> {
    #[serde(borrow)]
    cached_tokens: Option<Scalar<'a>>,
    #[serde(borrow)]
    reasoning_tokens: Option<Scalar<'a>>,
}

/// Field names for messages, without formatting them on the hot path.
struct FieldNames {
    prompt: &'static str,
    completion: &'static str,
    total: &'static str,
    cached: &'static str,
    reasoning: &'static str,
}

impl FieldNames {
    fn of(field: &'static str) -> Self {
        if field == "response.usage" {
            Self {
                prompt: "response.usage.prompt_tokens",
                completion: "response.usage.completion_tokens",
                total: "response.usage.total_tokens",
                cached: "response.usage.prompt_tokens_details.cached_tokens",
                reasoning: "response.usage.completion_tokens_details.reasoning_tokens",
            }
        } else {
            Self {
                prompt: "usage.prompt_tokens",
                completion: "usage.completion_tokens",
                total: "usage.total_tokens",
                cached: "usage.prompt_tokens_details.cached_tokens",
                reasoning: "usage.completion_tokens_details.reasoning_tokens",
            }
        }
    }
}

/// Reads a usage object. `Ok(None)` when it is `null`. Embeddings report no
/// completion tokens: they count as zero.
pub(crate) fn parse(field: &'static str, raw: &RawValue) -> Result<Option<TokenUsage>, Rejection> {
    let names = FieldNames::of(field);
    if raw.get().trim() == "null" {
        return Ok(None);
    }
    let usage: Usage<'_> = serde_json::from_str(raw.get())
        .map_err(|e| Rejection::new(RejectReason::InvalidField, super::json_error(field, &e)))?;
    let prompt = scalar::count(names.prompt, usage.prompt_tokens.as_ref())?;
    let completion = scalar::count(names.completion, usage.completion_tokens.as_ref())?;
    let total = scalar::total_count(names.total, usage.total_tokens.as_ref())?;
    let cached = match &usage.prompt_tokens_details {
        Some(d) => scalar::count(names.cached, d.cached_tokens.as_ref())?,
        None => None,
    };
    let reasoning = match &usage.completion_tokens_details {
        Some(d) => scalar::count(names.reasoning, d.reasoning_tokens.as_ref())?,
        None => None,
    };
    let Some(prompt) = prompt else {
        return Err(Rejection::missing(names.prompt));
    };
    build(prompt, completion.unwrap_or(0), total, cached.unwrap_or(0), reasoning.unwrap_or(0)).map(Some)
}

/// Checks the counts' invariants, as an `inconsistent_tokens` (or, over the
/// per-record maximum, `implausible_tokens`) rejection whose message names
/// the rule broken, not the counts.
pub(crate) fn build(
    prompt: u64,
    completion: u64,
    total: Option<u64>,
    cached: u64,
    reasoning: u64,
) -> Result<TokenUsage, Rejection> {
    TokenUsage::new(prompt, completion, total, cached, reasoning).map_err(|e| match e {
        UsageError::Implausible { .. } => Rejection::new(
            RejectReason::ImplausibleTokens,
            format!("a token count is over the maximum of {MAX_TOKENS_PER_RECORD} tokens per record"),
        ),
        UsageError::CachedExceedsPrompt { .. } => {
            Rejection::new(RejectReason::InconsistentTokens, "cached tokens exceed prompt tokens")
        }
        UsageError::ReasoningExceedsCompletion { .. } => {
            Rejection::new(RejectReason::InconsistentTokens, "reasoning tokens exceed completion tokens")
        }
        UsageError::TotalMismatch { .. } => {
            Rejection::new(RejectReason::InconsistentTokens, "total tokens is not prompt + completion tokens")
        }
    })
}
