//! Wire formats of token-usage records, and their conversion into the domain.
//!
//! Four shapes exist in the field (see `docs/record-format.md`): our `usage.v1`
//! record, the widely copied APIM sample policy's PascalCase record, APIM
//! forwarding whole request/response bodies, and API Management's own resource
//! logs streamed by a diagnostic setting (many records per event, in two
//! halves: [`diagnostic`]). The first three are read through one lenient
//! [`envelope::Envelope`] in a single pass, then converted by the module of
//! their shape. Anything that cannot become a [`UsageRecord`] (or a half)
//! becomes a [`Rejection`] with a machine-readable [`RejectReason`].

mod apim_full;
mod apim_sample;
pub mod diagnostic;
mod envelope;
mod openai_usage;
mod redact;
mod scalar;
mod timestamp;
mod v1;

use serde_json::error::Category;

pub use crate::domain::RejectReason;
use crate::domain::{Fingerprinter, GatewayLog, LlmLog, RecordId, ResponseTier, Tenant, UsageRecord};
pub use redact::redact_secrets;
pub use timestamp::parse_utc;

/// APIM's `log-to-eventhub` truncates messages above 200 KB.
pub const APIM_MESSAGE_LIMIT: usize = 200 * 1024;

/// A record that cannot be ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The machine-readable reason.
    pub reason: RejectReason,
    /// A human-readable explanation naming the field concerned. It never
    /// repeats a value of the input (so never a secret): the body, redacted,
    /// is kept beside it.
    pub detail: String,
    /// The record's own id, if it could be read before the problem was found.
    pub own_id: Option<RecordId>,
}

impl Rejection {
    pub(crate) fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Self { reason, detail: detail.into(), own_id: None }
    }

    pub(crate) fn missing(field: &str) -> Self {
        Self::new(RejectReason::MissingField, format!("{field} is required"))
    }
}

/// What a record needs for its tokens to be counted by us: it was streamed and
/// carries no usage. Kept as raw text (JSON request body, SSE response body).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CountInput {
    /// The request body (JSON text), if the record carried it.
    pub request_body: Option<String>,
    /// The response body (SSE or JSON text), if the record carried it.
    pub response_body: Option<String>,
}

/// A successfully parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRecord {
    /// The normalised record.
    pub record: UsageRecord,
    /// Present when the record's tokens still have to be counted.
    pub count_input: Option<CountInput>,
}

/// What parsing needs besides the body.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // holds a closure
pub struct ParseContext<'a> {
    /// Turns subscription keys into fingerprints.
    pub fingerprinter: &'a Fingerprinter,
    /// The tenant of records that do not name one.
    pub default_tenant: &'a Tenant,
    /// The identity of the event when the record has no id of its own
    /// (computed only for records that need it).
    pub fallback_id: &'a dyn Fn() -> RecordId,
}

/// Parses one event body into a record, or says why it cannot be one.
pub fn parse_record(body: &str, ctx: ParseContext<'_>) -> Result<ParsedRecord, Rejection> {
    let envelope: envelope::Envelope<'_> = serde_json::from_str(body).map_err(|e| classify(&e, body))?;
    let parsed = match envelope.shape() {
        Some(envelope::Shape::V1) => v1::convert(&envelope, ctx),
        Some(envelope::Shape::ApimSample) => apim_sample::convert(&envelope, ctx),
        Some(envelope::Shape::ApimFullBody) => apim_full::convert(&envelope, ctx),
        None => Err(Rejection::new(
            RejectReason::UnknownShape,
            "no usage.v1 schema, APIM sample fields or request/response bodies found",
        )),
    };
    parsed.map_err(|mut rejection| {
        rejection.own_id = envelope.own_id();
        rejection
    })
}

/// What one record of an event body became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventItem {
    /// A usage record of one of the first three shapes.
    Record(ParsedRecord),
    /// The language-model half of a call (`GatewayLlmLogs`): tokens, no caller.
    LlmLog(LlmLog),
    /// The gateway half of a call (`GatewayLogs`): caller, no tokens.
    GatewayLog(GatewayLog),
    /// A resource-log record of a category we do not use.
    Ignored {
        /// Its category.
        category: String,
    },
}

/// The records of one event body, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEvent<'a> {
    /// Whether the body held a list of resource-log records (its records'
    /// identities are then the event's plus their position), rather than one
    /// record.
    pub many: bool,
    /// Each record: its text as received and its outcome.
    pub items: Vec<EventRecord<'a>>,
}

/// One record of an event body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord<'a> {
    /// The record's text as received (the whole body for single records).
    pub raw: &'a str,
    /// What it became.
    pub outcome: Result<EventItem, Rejection>,
}

/// Parses one event body: one usage record, or the records of a resource-log
/// event (`{"records": […]}`, a bare array, or a single resource-log record).
/// Every record of the event has its own outcome; an event that holds no
/// record at all counts as one ignored item, so no event goes uncounted.
pub fn parse_event<'a>(body: &'a str, ctx: ParseContext<'_>) -> ParsedEvent<'a> {
    let single = |outcome: Result<EventItem, Rejection>| ParsedEvent {
        many: false,
        items: vec![EventRecord { raw: body, outcome }],
    };
    if !body.trim_start().starts_with('[') {
        match parse_record(body, ctx) {
            Err(rejection) if rejection.reason == RejectReason::UnknownShape => {}
            other => return single(other.map(EventItem::Record)),
        }
    }
    match diagnostic::records(body) {
        None => single(parse_record(body, ctx).map(EventItem::Record)),
        Some(Err(rejection)) => single(Err(rejection)),
        Some(Ok(records)) if records.is_empty() => {
            single(Ok(EventItem::Ignored { category: "(no records)".to_owned() }))
        }
        Some(Ok(records)) => ParsedEvent {
            many: true,
            items: records
                .into_iter()
                .map(|raw| EventRecord { raw: raw.get(), outcome: diagnostic::parse(raw, ctx) })
                .collect(),
        },
    }
}

fn classify(error: &serde_json::Error, body: &str) -> Rejection {
    match error.classify() {
        Category::Eof => Rejection::new(
            RejectReason::TruncatedBody,
            format!("body ends before the JSON does ({} bytes; APIM truncates above {APIM_MESSAGE_LIMIT})", body.len()),
        ),
        Category::Syntax | Category::Io => Rejection::new(RejectReason::InvalidJson, json_error("body", error)),
        Category::Data => {
            if body.trim_start().starts_with('{') {
                Rejection::new(RejectReason::InvalidJson, json_error("body", error))
            } else {
                Rejection::new(RejectReason::NotAnObject, "a record must be a JSON object")
            }
        }
    }
}

/// A JSON error as a message that never repeats the input: serde_json's
/// syntax messages are a fixed set plus a position, but its data messages
/// ("invalid type: string \"...\"") quote the value, so those become a
/// position only.
pub(crate) fn json_error(field: &str, error: &serde_json::Error) -> String {
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!("{field}: {error}"),
        Category::Data => {
            format!("{field}: a value of the wrong type or shape at line {} column {}", error.line(), error.column())
        }
    }
}

/// Reads a record id, with the field's name in the error.
fn record_id(field: &str, raw: &str) -> Result<RecordId, Rejection> {
    RecordId::parse(raw).map_err(|e| Rejection::new(RejectReason::InvalidField, format!("{field}: {e}")))
}

/// Reads a service tier (`default`, `priority`, `flex`, …), with the field's
/// name in the error.
fn service_tier(field: &str, value: Option<&scalar::Scalar<'_>>) -> Result<Option<ResponseTier>, Rejection> {
    match scalar::text(field, value)? {
        Some(raw) => ResponseTier::parse(&raw)
            .map(Some)
            .map_err(|e| Rejection::new(RejectReason::InvalidField, format!("{field}: {e}"))),
        None => Ok(None),
    }
}

/// Reads an optional piece of text as an owned string.
fn owned_text(field: &str, value: Option<&scalar::Scalar<'_>>) -> Result<Option<String>, Rejection> {
    scalar::text(field, value).map(|t| t.map(std::borrow::Cow::into_owned))
}

#[cfg(test)]
mod tests;
