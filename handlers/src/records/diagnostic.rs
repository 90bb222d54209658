//! API Management's resource logs as a diagnostic setting streams them to
//! Event Hubs: the fourth shape (`docs/record-format.md`, section 4).
//!
//! An event body is `{"records": [ … ]}` holding many resource-log records;
//! some senders write a bare array or a single record. Each record has the
//! common fields (`time`, `resourceId`, `operationName`, `category`,
//! `correlationId`, `location`, `properties`, …); keys are matched without
//! regard to case, because their casing varies between sources. Two
//! categories matter:
//!
//! - `GatewayLlmLogs`: tokens, no caller → [`LlmLog`];
//! - `GatewayLogs`: caller, no tokens → [`GatewayLog`].
//!
//! Records of any other category are ignored (and counted as such). Each
//! record succeeds or fails on its own: a bad record is rejected with its
//! reason while the rest of its event goes on.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::scalar::{self, Scalar};
use super::{EventItem, ParseContext, RejectReason, Rejection, openai_usage, timestamp};
use crate::domain::{GatewayLog, LlmLog, RecordId, ResponseTier, TokenUsage};

/// The category of the language-model half.
pub const LLM_CATEGORY: &str = "GatewayLlmLogs";
/// The category of the gateway half.
pub const GATEWAY_CATEGORY: &str = "GatewayLogs";

/// A JSON object with its values left as raw JSON, whose keys are looked up
/// without regard to case. Keys are borrowed from the body where they need no
/// unescaping.
#[derive(Debug, Default)]
struct LooseObject<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> LooseObject<'a> {
    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.fields.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| *value)
    }

    /// The first of `names` that is present, as a lenient scalar.
    fn scalar(&self, names: &[&str]) -> Result<Option<Scalar<'a>>, Rejection> {
        for name in names {
            if let Some(raw) = self.get(name) {
                let value: Scalar<'a> = serde_json::from_str(raw.get())
                    .map_err(|e| Rejection::new(RejectReason::InvalidField, format!("{name}: {e}")))?;
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn object(&self, name: &str) -> Option<LooseObject<'a>> {
        self.get(name).and_then(|raw| serde_json::from_str(raw.get()).ok())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for LooseObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = LooseObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<Scalar<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    if let Scalar::Str(key) = key {
                        fields.push((key, value));
                    }
                }
                Ok(LooseObject { fields })
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

/// Whether a body is a resource-log event, and its records if so: a bare
/// array holding at least one object, an object with a `records` array, or a
/// single record (an object with `category` and `properties`). `None` for
/// anything else, which is then one of the other shapes' business.
pub(crate) fn records(body: &str) -> Option<Result<Vec<&RawValue>, Rejection>> {
    let text = body.trim_start();
    if text.starts_with('[') {
        return match serde_json::from_str::<Vec<&RawValue>>(body) {
            Ok(items) if items.iter().any(|raw| raw.get().starts_with('{')) => Some(Ok(items)),
            Ok(_) => None,
            Err(e) => Some(Err(super::classify(&e, body))),
        };
    }
    let object: LooseObject<'_> = serde_json::from_str(body).ok()?;
    if let Some(raw) = object.get("records") {
        return Some(
            serde_json::from_str::<Vec<&RawValue>>(raw.get())
                .map_err(|e| Rejection::new(RejectReason::InvalidField, format!("records: {e}"))),
        );
    }
    if object.get("category").is_some() && object.get("properties").is_some() {
        let whole: &RawValue = serde_json::from_str(body).ok()?;
        return Some(Ok(vec![whole]));
    }
    None
}

/// Parses one resource-log record.
pub(crate) fn parse(raw: &RawValue, ctx: ParseContext<'_>) -> Result<EventItem, Rejection> {
    let record: LooseObject<'_> = serde_json::from_str(raw.get())
        .map_err(|_| Rejection::new(RejectReason::NotAnObject, "a resource-log record must be a JSON object"))?;
    let category = text(&record, "category", &["category"])?
        .ok_or_else(|| Rejection::new(RejectReason::UnknownShape, "a resource-log record needs a category"))?;
    if category.eq_ignore_ascii_case(LLM_CATEGORY) {
        llm_log(&record, ctx).map(EventItem::LlmLog)
    } else if category.eq_ignore_ascii_case(GATEWAY_CATEGORY) {
        gateway_log(&record, ctx).map(EventItem::GatewayLog)
    } else {
        Ok(EventItem::Ignored { category })
    }
}

/// The fields every half needs: correlation id and time.
struct Common<'a> {
    properties: LooseObject<'a>,
    correlation_id: RecordId,
    occurred_at: chrono::DateTime<chrono::Utc>,
}

fn common<'a>(record: &LooseObject<'a>) -> Result<Common<'a>, Rejection> {
    let properties = match record.get("properties") {
        Some(raw) => serde_json::from_str(raw.get())
            .map_err(|_| Rejection::new(RejectReason::InvalidField, "properties: expected an object"))?,
        None => LooseObject::default(),
    };
    let own = text(&properties, "properties.correlationId", &["correlationId"])?;
    let top = text(record, "correlationId", &["correlationId"])?;
    let correlation_id = match own.or(top) {
        Some(id) => RecordId::parse(&id)
            .map_err(|e| Rejection::new(RejectReason::InvalidField, format!("correlationId: {e}")))?,
        None => {
            return Err(Rejection::new(
                RejectReason::MissingField,
                "correlationId is required: it is the only link between a call's tokens and its caller",
            ));
        }
    };
    let raw_time = match text(record, "time", &["time"])? {
        Some(time) => time,
        None => text(&properties, "properties.timeGenerated", &["timeGenerated"])?
            .ok_or_else(|| Rejection::missing("time"))?,
    };
    let occurred_at = timestamp::parse_utc(&raw_time).ok_or_else(|| {
        Rejection::new(RejectReason::InvalidTimestamp, format!("time {raw_time:?} is in no accepted form"))
    })?;
    Ok(Common { properties, correlation_id, occurred_at })
}

fn text(object: &LooseObject<'_>, field: &str, names: &[&str]) -> Result<Option<String>, Rejection> {
    Ok(scalar::text(field, object.scalar(names)?.as_ref())?.map(Cow::into_owned))
}

fn llm_log(record: &LooseObject<'_>, ctx: ParseContext<'_>) -> Result<LlmLog, Rejection> {
    let Common { properties: p, correlation_id, occurred_at } = common(record)?;
    let count = |field: &str, names: &[&str]| scalar::count(field, p.scalar(names)?.as_ref());
    let prompt = count("properties.promptTokens", &["promptTokens"])?;
    let completion = count("properties.completionTokens", &["completionTokens"])?;
    let total = count("properties.totalTokens", &["totalTokens"])?;
    let cached = count("properties.promptCachedTokens", &["promptCachedTokens"])?;
    let stated = [prompt, completion, total, cached];
    // A chunk that carries only messages states no counts (or zeros):
    // tokens are the call's, stated by its counting chunk.
    let usage: Option<TokenUsage> = if stated.iter().all(|n| n.unwrap_or(0) == 0) {
        None
    } else {
        let prompt = prompt.ok_or_else(|| Rejection::missing("properties.promptTokens"))?;
        Some(openai_usage::build(prompt, completion.unwrap_or(0), total, cached.unwrap_or(0), 0)?)
    };
    let sequence = match count("properties.sequenceNumber", &["sequenceNumber"])? {
        Some(n) => u32::try_from(n).map_err(|_| {
            Rejection::new(RejectReason::InvalidField, format!("properties.sequenceNumber: {n} is too large"))
        })?,
        None => 0,
    };
    Ok(LlmLog {
        tenant: ctx.default_tenant.clone(),
        correlation_id,
        sequence,
        occurred_at,
        request_id: text(&p, "properties.requestId", &["requestId"])?,
        deployment: text(&p, "properties.deploymentName", &["deploymentName"])?,
        model: text(&p, "properties.modelName", &["modelName"])?,
        operation: text(&p, "properties.operationName", &["operationName"])?,
        streamed: scalar::flag("properties.isStreamCompletion", p.scalar(&["isStreamCompletion"])?.as_ref())?
            .unwrap_or(false),
        region: text(&p, "properties.region", &["region"])?,
        usage,
    })
}

/// Header objects the gateway may have logged, response side first (the
/// backend's answer names the deployment that served).
const HEADER_OBJECTS: [&str; 4] =
    ["backendResponseHeaders", "responseHeaders", "backendRequestHeaders", "requestHeaders"];
/// Body texts that may hold the response's `service_tier`.
const BODY_FIELDS: [&str; 2] = ["backendResponseBody", "responseBody"];

fn gateway_log(record: &LooseObject<'_>, ctx: ParseContext<'_>) -> Result<GatewayLog, Rejection> {
    let Common { properties: p, correlation_id, occurred_at } = common(record)?;
    let header = |name: &str| -> Result<Option<String>, Rejection> {
        for object in HEADER_OBJECTS {
            if let Some(headers) = p.object(object)
                && let Some(value) = header_value(&headers, name)
            {
                return Ok(Some(value));
            }
        }
        Ok(None)
    };
    let mut service_tier = None;
    for field in BODY_FIELDS {
        if let Some(body) = scalar::text(field, p.scalar(&[field]).ok().flatten().as_ref()).ok().flatten()
            && let Some(tier) = tier_in_body(&body)
        {
            service_tier = Some(tier);
            break;
        }
    }
    let duration = match record.scalar(&["durationMs"])? {
        Some(d) => scalar::count("durationMs", Some(&d))?,
        None => scalar::count("properties.totalTime", p.scalar(&["totalTime"])?.as_ref())?,
    };
    Ok(GatewayLog {
        subscription_id: text(&p, "properties.apimSubscriptionId", &["apimSubscriptionId"])?,
        user: text(&p, "properties.userId", &["userId"])?,
        api_id: text(&p, "properties.apiId", &["apiId"])?,
        operation_id: text(&p, "properties.operationId", &["operationId"])?,
        product_id: text(&p, "properties.productId", &["productId"])?,
        backend_id: text(&p, "properties.backendId", &["backendId"])?,
        status: scalar::status("properties.responseCode", p.scalar(&["responseCode"])?.as_ref())?,
        backend_status: scalar::status("properties.backendResponseCode", p.scalar(&["backendResponseCode"])?.as_ref())?,
        latency_ms: duration,
        served_deployment: header("x-ms-deployment-name")?,
        spilled_from: header("x-ms-spillover-from-deployment")?,
        service_tier,
        ..GatewayLog::new(ctx.default_tenant.clone(), correlation_id, occurred_at)
    })
}

/// A logged header's value: headers are objects of name → value (text, or an
/// array of texts, first one taken); names match without regard to case.
fn header_value(headers: &LooseObject<'_>, name: &str) -> Option<String> {
    let raw = headers.get(name)?;
    let value = match serde_json::from_str::<Scalar<'_>>(raw.get()).ok()? {
        Scalar::Str(text) => text.trim().to_owned(),
        Scalar::Composite => serde_json::from_str::<Vec<String>>(raw.get()).ok()?.into_iter().next()?.trim().to_owned(),
        _ => return None,
    };
    (!value.is_empty()).then_some(value)
}

/// `"service_tier": "…"` in the first bytes of a logged response body (JSON
/// or SSE), if the gateway logged that much of it.
fn tier_in_body(body: &str) -> Option<ResponseTier> {
    let at = body.find("\"service_tier\"")?;
    let rest = body[at + "\"service_tier\"".len()..].trim_start().strip_prefix(':')?.trim_start();
    let value = rest.strip_prefix('"')?;
    let end = value.find('"')?;
    ResponseTier::parse(&value[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_without_regard_to_case() {
        let object: LooseObject<'_> =
            serde_json::from_str(r#"{"Category":"x","PROPERTIES":{},"c\u0061se":1}"#).unwrap();
        assert!(object.get("category").is_some());
        assert!(object.get("properties").is_some());
        assert!(object.get("CASE").is_some());
    }

    #[test]
    fn the_three_envelope_forms_are_recognised_and_other_bodies_are_not() {
        let one = r#"{"time":"2026-11-26T11:32:47Z","category":"GatewayLogs","properties":{}}"#;
        assert_eq!(records(&format!(r#"{{"records":[{one},{one}]}}"#)).unwrap().unwrap().len(), 2);
        assert_eq!(records(&format!("[{one}]")).unwrap().unwrap().len(), 1);
        assert_eq!(records(one).unwrap().unwrap().len(), 1);
        assert!(records(r#"{"schema":"usage.v1"}"#).is_none());
        assert!(records("not json").is_none());
        assert!(records("[1,2,3]").is_none(), "an array of no objects is not an event of records");
    }

    #[test]
    fn the_service_tier_is_read_from_a_logged_body() {
        assert_eq!(tier_in_body(r#"{"id":"x","service_tier" : "priority","usage":{}}"#).unwrap().as_str(), "priority");
        assert!(tier_in_body(r#"{"id":"x"}"#).is_none());
        assert!(tier_in_body(r#"{"service_tier":42}"#).is_none());
    }
}
