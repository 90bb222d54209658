//! OpenAI's `usage` object, as chat completions, completions, embeddings and
//! the Responses API write it, converted to [`TokenUsage`].
//!
//! Chat Completions names: `prompt_tokens`, `completion_tokens`,
//! `total_tokens`, `prompt_tokens_details.{cached_tokens, cache_write_tokens,
//! audio_tokens}`, `completion_tokens_details.{reasoning_tokens, audio_tokens,
//! accepted_prediction_tokens, rejected_prediction_tokens}`. The Responses API
//! writes `input_tokens`, `output_tokens`, `input_tokens_details` and
//! `output_tokens_details` with the same detail names; both are read.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::scalar::{self, Scalar};
use super::{RejectReason, Rejection};
use crate::domain::{MAX_TOKENS_PER_RECORD, TokenDetails, TokenUsage, UsageError};

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
    cache_write_tokens: Option<Scalar<'a>>,
    #[serde(borrow)]
    reasoning_tokens: Option<Scalar<'a>>,
    #[serde(borrow)]
    audio_tokens: Option<Scalar<'a>>,
    #[serde(borrow)]
    accepted_prediction_tokens: Option<Scalar<'a>>,
    #[serde(borrow)]
    rejected_prediction_tokens: Option<Scalar<'a>>,
}

/// Field names for messages, without formatting them on the hot path.
struct FieldNames {
    prompt: &'static str,
    completion: &'static str,
    total: &'static str,
    cached: &'static str,
    cache_write: &'static str,
    audio_prompt: &'static str,
    reasoning: &'static str,
    audio_completion: &'static str,
    accepted_prediction: &'static str,
    rejected_prediction: &'static str,
}

impl FieldNames {
    fn of(field: &'static str) -> Self {
        if field == "response.usage" {
            Self {
                prompt: "response.usage.prompt_tokens",
                completion: "response.usage.completion_tokens",
                total: "response.usage.total_tokens",
                cached: "response.usage.prompt_tokens_details.cached_tokens",
                cache_write: "response.usage.prompt_tokens_details.cache_write_tokens",
                audio_prompt: "response.usage.prompt_tokens_details.audio_tokens",
                reasoning: "response.usage.completion_tokens_details.reasoning_tokens",
                audio_completion: "response.usage.completion_tokens_details.audio_tokens",
                accepted_prediction: "response.usage.completion_tokens_details.accepted_prediction_tokens",
                rejected_prediction: "response.usage.completion_tokens_details.rejected_prediction_tokens",
            }
        } else {
            Self {
                prompt: "usage.prompt_tokens",
                completion: "usage.completion_tokens",
                total: "usage.total_tokens",
                cached: "usage.prompt_tokens_details.cached_tokens",
                cache_write: "usage.prompt_tokens_details.cache_write_tokens",
                audio_prompt: "usage.prompt_tokens_details.audio_tokens",
                reasoning: "usage.completion_tokens_details.reasoning_tokens",
                audio_completion: "usage.completion_tokens_details.audio_tokens",
                accepted_prediction: "usage.completion_tokens_details.accepted_prediction_tokens",
                rejected_prediction: "usage.completion_tokens_details.rejected_prediction_tokens",
            }
        }
    }
}

/// A count inside an optional details object.
fn detail<'d, 'a>(
    details: Option<&'d Details<'a>>,
    pick: impl Fn(&'d Details<'a>) -> Option<&'d Scalar<'a>>,
    name: &str,
) -> Result<u64, Rejection> {
    match details {
        Some(d) => Ok(scalar::count(name, pick(d))?.unwrap_or(0)),
        None => Ok(0),
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
    let input = usage.prompt_tokens_details.as_ref();
    let output = usage.completion_tokens_details.as_ref();
    let cached = detail(input, |d| d.cached_tokens.as_ref(), names.cached)?;
    let reasoning = detail(output, |d| d.reasoning_tokens.as_ref(), names.reasoning)?;
    let details = TokenDetails {
        cache_write: detail(input, |d| d.cache_write_tokens.as_ref(), names.cache_write)?,
        audio_prompt: detail(input, |d| d.audio_tokens.as_ref(), names.audio_prompt)?,
        audio_completion: detail(output, |d| d.audio_tokens.as_ref(), names.audio_completion)?,
        accepted_prediction: detail(output, |d| d.accepted_prediction_tokens.as_ref(), names.accepted_prediction)?,
        rejected_prediction: detail(output, |d| d.rejected_prediction_tokens.as_ref(), names.rejected_prediction)?,
    };
    let Some(prompt) = prompt else {
        return Err(Rejection::missing(names.prompt));
    };
    let usage = build(prompt, completion.unwrap_or(0), total, cached, reasoning)?;
    usage.with_details(details).map(Some).map_err(rejection)
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
    TokenUsage::new(prompt, completion, total, cached, reasoning).map_err(rejection)
}

/// A broken count rule as its rejection, naming the rule, never the counts.
fn rejection(e: UsageError) -> Rejection {
    match e {
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
        UsageError::PromptDetailExceedsPrompt { what, .. } => {
            Rejection::new(RejectReason::InconsistentTokens, format!("{what} exceed prompt tokens"))
        }
        UsageError::CompletionDetailExceedsCompletion { what, .. } => {
            Rejection::new(RejectReason::InconsistentTokens, format!("{what} exceed completion tokens"))
        }
    }
}
