//! The record written by the widely copied APIM chargeback sample policy:
//!
//! ```json
//! {"Timestamp":"11/26/2026 11:32:47 AM","ApiOperation":"chat.completion",
//!  "AppKey":"<raw subscription key>","PromptTokens":"12","CompletionTokens":"30","TotalTokens":"42"}
//! ```
//!
//! Numbers are strings, the time is C# `DateTime.UtcNow.ToString()`, and the
//! caller is the raw subscription key, which we replace by its fingerprint.
//! It has no id: its identity is where it was read from. Some copies add
//! `Stream`, `Model`, `Deployment`, `RequestId` or `SubscriptionId`; we read
//! them when present.

use super::envelope::Envelope;
use super::scalar;
use super::{
    ParseContext, ParsedRecord, RejectReason, Rejection, openai_usage, owned_text, record_id, service_tier, timestamp,
};
use crate::domain::{Caller, RecordShape, TokenSource, TokenUsage, UsageRecord};

pub(super) fn convert(e: &Envelope<'_>, ctx: ParseContext<'_>) -> Result<ParsedRecord, Rejection> {
    let raw_time =
        scalar::text("Timestamp", e.pascal_timestamp.as_ref())?.ok_or_else(|| Rejection::missing("Timestamp"))?;
    let occurred_at = timestamp::parse_utc(&raw_time).ok_or_else(|| {
        Rejection::new(
            RejectReason::InvalidTimestamp,
            "Timestamp is in no accepted form (month-first M/d/yyyy h:mm:ss [AM|PM], or ISO 8601)",
        )
    })?;
    let id = match scalar::text("RequestId", e.pascal_request_id.as_ref())? {
        Some(own) => record_id("RequestId", &own)?,
        None => (ctx.fallback_id)(),
    };
    let streamed = scalar::flag("Stream", e.pascal_stream.as_ref())?.unwrap_or(false);
    let prompt = scalar::count("PromptTokens", e.pascal_prompt_tokens.as_ref())?;
    let completion = scalar::count("CompletionTokens", e.pascal_completion_tokens.as_ref())?;
    let total = scalar::total_count("TotalTokens", e.pascal_total_tokens.as_ref())?;
    let (usage, token_source) = match (prompt, completion, total) {
        (None, None, None) if streamed => (TokenUsage::zero(), TokenSource::Pending),
        (None, _, _) => return Err(Rejection::missing("PromptTokens")),
        (Some(prompt), completion, total) => {
            (openai_usage::build(prompt, completion.unwrap_or(0), total, 0, 0)?, TokenSource::Reported)
        }
    };
    let key_fingerprint = scalar::text("AppKey", e.pascal_app_key.as_ref())?.map(|k| ctx.fingerprinter.fingerprint(&k));
    let text = |field: &str, value| scalar::text(field, value).map(|t| t.map(|t| t.into_owned()));
    let record = UsageRecord {
        id,
        tenant: ctx.default_tenant.clone(),
        occurred_at,
        caller: Caller {
            subscription_id: text("SubscriptionId", e.pascal_subscription_id.as_ref())?,
            key_fingerprint,
            application: None,
            user: None,
        },
        deployment: text("Deployment", e.pascal_deployment.as_ref())?,
        model: text("Model", e.pascal_model.as_ref())?,
        operation: text("ApiOperation", e.pascal_api_operation.as_ref())?,
        status: None,
        streamed,
        usage,
        token_source,
        shape: RecordShape::ApimSample,
        backend: None,
        latency_ms: None,
        counted_with: None,
        service_tier: service_tier("ServiceTier", e.pascal_service_tier.as_ref())?,
        spilled_from: owned_text("SpilledFrom", e.pascal_spilled_from.as_ref())?,
    };
    // The sample carries no bodies, so a streamed record cannot be counted
    // later: it stays pending and is reported as such.
    let count_input = (token_source == TokenSource::Pending).then(Default::default);
    Ok(ParsedRecord { record, count_input })
}
