//! APIM forwarding the full request and response bodies:
//!
//! ```json
//! {"eventTime":"2026-11-26T11:32:47Z","apiOperation":"ChatCompletions_Create",
//!  "appSubscriptionKey":"<raw key>","request":{…request body…},"response":{…response body…}}
//! ```
//!
//! Usage comes from `response.usage`, the model from `response.model` (else
//! `request.model`). A body may be an object or a string holding JSON; a
//! streamed response is SSE text and carries usage only in its final chunk
//! when `stream_options.include_usage` was set, so such records are kept with
//! their bodies for counting.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::envelope::{Envelope, unwrap_json_text};
use super::scalar::{self, Scalar};
use super::{
    CountInput, ParseContext, ParsedRecord, RejectReason, Rejection, openai_usage, owned_text, record_id, service_tier,
    timestamp,
};
use crate::domain::{Caller, RecordShape, TokenSource, TokenUsage, UsageRecord};

#[derive(Debug, Default, Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    model: Option<Scalar<'a>>,
    #[serde(borrow)]
    stream: Option<Scalar<'a>>,
    #[serde(borrow)]
    usage: Option<&'a RawValue>,
    #[serde(borrow)]
    service_tier: Option<Scalar<'a>>,
}

fn read_body<'t>(field: &str, text: &'t str) -> Result<Body<'t>, Rejection> {
    serde_json::from_str(text).map_err(|e| Rejection::new(RejectReason::InvalidField, super::json_error(field, &e)))
}

pub(super) fn convert(e: &Envelope<'_>, ctx: ParseContext<'_>) -> Result<ParsedRecord, Rejection> {
    let raw_time = scalar::text("eventTime", e.event_time.as_ref())?.ok_or_else(|| Rejection::missing("eventTime"))?;
    let occurred_at = timestamp::parse_utc(&raw_time).ok_or_else(|| {
        Rejection::new(RejectReason::InvalidTimestamp, "eventTime is in no accepted form (ISO 8601 / RFC 3339)")
    })?;
    let id = match scalar::text("requestId", e.request_id.as_ref())? {
        Some(own) => record_id("requestId", &own)?,
        None => (ctx.fallback_id)(),
    };
    let request_text: Option<Cow<'_, str>> = e.request.and_then(unwrap_json_text);
    let response_text: Option<Cow<'_, str>> = e.response.and_then(unwrap_json_text);
    let request = match request_text.as_deref() {
        Some(t) if t.trim_start().starts_with('{') => read_body("request", t)?,
        _ => Body::default(),
    };
    let response_is_json = response_text.as_deref().is_some_and(|t| t.trim_start().starts_with('{'));
    let response = match response_text.as_deref() {
        Some(t) if response_is_json => read_body("response", t)?,
        _ => Body::default(),
    };
    let looks_like_sse = response_text.as_deref().is_some_and(|t| t.trim_start().starts_with("data:"));
    let streamed = scalar::flag("request.stream", request.stream.as_ref())?.unwrap_or(false) || looks_like_sse;
    let reported = match response.usage {
        Some(raw) => openai_usage::parse("response.usage", raw)?,
        None => None,
    };
    let status = scalar::status("statusCode", e.status_code.as_ref())?;
    let (usage, token_source, count_input) = match reported {
        Some(usage) => (usage, TokenSource::Reported, None),
        None if streamed => {
            let input = CountInput {
                request_body: request_text.as_deref().map(str::to_owned),
                response_body: response_text.as_deref().map(str::to_owned),
            };
            (TokenUsage::zero(), TokenSource::Pending, Some(input))
        }
        None if status.is_some_and(|s| !(200..300).contains(&s)) => (TokenUsage::zero(), TokenSource::Reported, None),
        None if response_text.is_none() => return Err(Rejection::missing("response")),
        None => return Err(Rejection::missing("response.usage")),
    };
    let model = match scalar::text("response.model", response.model.as_ref())? {
        Some(m) => Some(m.into_owned()),
        None => scalar::text("request.model", request.model.as_ref())?.map(Cow::into_owned),
    };
    let key_fingerprint =
        scalar::text("appSubscriptionKey", e.app_subscription_key.as_ref())?.map(|k| ctx.fingerprinter.fingerprint(&k));
    let text = |field: &str, value| scalar::text(field, value).map(|t| t.map(Cow::into_owned));
    let record = UsageRecord {
        id,
        tenant: ctx.default_tenant.clone(),
        occurred_at,
        caller: Caller {
            subscription_id: text("subscriptionId", e.camel_subscription_id.as_ref())?,
            key_fingerprint,
            application: None,
            user: None,
        },
        deployment: text("deploymentId", e.deployment_id.as_ref())?,
        model,
        operation: text("apiOperation", e.api_operation.as_ref())?,
        status,
        streamed,
        usage,
        token_source,
        shape: RecordShape::ApimFullBody,
        backend: None,
        latency_ms: None,
        counted_with: None,
        service_tier: service_tier("response.service_tier", response.service_tier.as_ref())?,
        spilled_from: owned_text("spilledFrom", e.camel_spilled_from.as_ref())?,
    };
    Ok(ParsedRecord { record, count_input })
}
