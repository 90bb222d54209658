//! Wire formats of token-usage records, and their conversion into the domain.
//!
//! Three shapes exist in the field (see `docs/record-format.md`): our `usage.v1`
//! record, the widely copied APIM sample policy's PascalCase record, and APIM
//! forwarding whole request/response bodies. All are read through one lenient
//! [`envelope::Envelope`] in a single pass, then converted by the module of
//! their shape. Anything that cannot become a [`UsageRecord`] becomes a
//! [`Rejection`] with a machine-readable [`RejectReason`].

mod apim_full;
mod apim_sample;
mod envelope;
mod openai_usage;
mod redact;
mod scalar;
mod timestamp;
mod v1;

use serde_json::error::Category;

pub use crate::domain::RejectReason;
use crate::domain::{Fingerprinter, RecordId, Tenant, UsageRecord};
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

#[cfg(test)]
mod tests;
