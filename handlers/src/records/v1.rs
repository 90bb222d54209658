//! Our documented `usage.v1` record (`docs/record-format.md`).

use super::envelope::Envelope;
use super::scalar;
use super::{
    CountInput, ParseContext, ParsedRecord, RejectReason, Rejection, openai_usage, owned_text, record_id, service_tier,
    timestamp,
};
use crate::domain::{Caller, RecordShape, Tenant, TokenSource, TokenUsage, UsageRecord};

/// The only schema name of this shape so far.
pub const SCHEMA: &str = "usage.v1";

pub(super) fn convert(e: &Envelope<'_>, ctx: ParseContext<'_>) -> Result<ParsedRecord, Rejection> {
    let schema = scalar::text("schema", e.schema.as_ref())?;
    if schema.as_deref() != Some(SCHEMA) {
        return Err(Rejection::new(
            RejectReason::UnknownShape,
            format!("schema is not supported (expected {SCHEMA:?})"),
        ));
    }
    let id = scalar::text("id", e.id.as_ref())?.ok_or_else(|| Rejection::missing("id"))?;
    let id = record_id("id", &id)?;
    let raw_time = scalar::text("timestamp", e.timestamp.as_ref())?.ok_or_else(|| Rejection::missing("timestamp"))?;
    let occurred_at = timestamp::parse_utc(&raw_time).ok_or_else(|| {
        Rejection::new(RejectReason::InvalidTimestamp, "timestamp is not RFC 3339 / ISO 8601 with a valid offset")
    })?;
    let tenant = match scalar::text("tenant", e.tenant.as_ref())? {
        Some(t) => Tenant::parse(&t).map_err(|_| {
            Rejection::new(
                RejectReason::InvalidField,
                "tenant: use 1-63 characters a-z, 0-9 and '-', starting with a letter",
            )
        })?,
        None => ctx.default_tenant.clone(),
    };
    let streamed = scalar::flag("streamed", e.streamed.as_ref())?.unwrap_or(false);
    let status = scalar::status("status", e.status.as_ref())?;
    let reported = match e.usage {
        Some(raw) => openai_usage::parse("usage", raw)?,
        None => None,
    };
    let (usage, token_source, count_input) = match reported {
        Some(usage) => (usage, TokenSource::Reported, None),
        None if streamed => (TokenUsage::zero(), TokenSource::Pending, Some(count_input(e))),
        // A failed call (429, 500, …) that carries no usage consumed nothing billable.
        None if status.is_some_and(|s| !(200..300).contains(&s)) => (TokenUsage::zero(), TokenSource::Reported, None),
        None => return Err(Rejection::missing("usage (required unless streamed or failed)")),
    };
    let text = |field: &str, value| scalar::text(field, value).map(|t| t.map(|t| t.into_owned()));
    let record = UsageRecord {
        id,
        tenant,
        occurred_at,
        caller: Caller {
            subscription_id: text("subscription_id", e.subscription_id.as_ref())?,
            key_fingerprint: None,
            application: text("application", e.application.as_ref())?,
            user: text("user", e.user.as_ref())?,
        },
        deployment: text("deployment", e.deployment.as_ref())?,
        model: text("model", e.model.as_ref())?,
        operation: text("operation", e.operation.as_ref())?,
        status,
        streamed,
        usage,
        token_source,
        shape: RecordShape::V1,
        backend: text("backend", e.backend.as_ref())?,
        latency_ms: scalar::count("latency_ms", e.latency_ms.as_ref())?,
        counted_with: None,
        service_tier: service_tier("service_tier", e.service_tier.as_ref())?,
        spilled_from: owned_text("spilled_from", e.spilled_from.as_ref())?,
    };
    Ok(ParsedRecord { record, count_input })
}

fn count_input(e: &Envelope<'_>) -> CountInput {
    CountInput {
        request_body: e.request_body.and_then(super::envelope::unwrap_json_text).map(|t| t.into_owned()),
        response_body: e.response_body.and_then(super::envelope::unwrap_json_text).map(|t| t.into_owned()),
    }
}
