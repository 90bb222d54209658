//! One struct holding every field any known record shape uses, read in one
//! pass with strings borrowed from the event body. Unknown fields are ignored.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::scalar::{self, Scalar};
use crate::domain::RecordId;

/// The shapes we recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    V1,
    ApimSample,
    ApimFullBody,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Envelope<'a> {
    // usage.v1 (snake_case).
    #[serde(borrow)]
    pub schema: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub id: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub timestamp: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub tenant: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub subscription_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub application: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub user: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub deployment: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub model: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub operation: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub status: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub streamed: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub backend: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub latency_ms: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub service_tier: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub spilled_from: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub usage: Option<&'a RawValue>,
    #[serde(borrow)]
    pub request_body: Option<&'a RawValue>,
    #[serde(borrow)]
    pub response_body: Option<&'a RawValue>,

    // The APIM sample policy (PascalCase).
    #[serde(rename = "Timestamp", borrow)]
    pub pascal_timestamp: Option<Scalar<'a>>,
    #[serde(rename = "ApiOperation", borrow)]
    pub pascal_api_operation: Option<Scalar<'a>>,
    #[serde(rename = "AppKey", borrow)]
    pub pascal_app_key: Option<Scalar<'a>>,
    #[serde(rename = "PromptTokens", borrow)]
    pub pascal_prompt_tokens: Option<Scalar<'a>>,
    #[serde(rename = "CompletionTokens", borrow)]
    pub pascal_completion_tokens: Option<Scalar<'a>>,
    #[serde(rename = "TotalTokens", borrow)]
    pub pascal_total_tokens: Option<Scalar<'a>>,
    #[serde(rename = "Stream", borrow)]
    pub pascal_stream: Option<Scalar<'a>>,
    #[serde(rename = "Model", borrow)]
    pub pascal_model: Option<Scalar<'a>>,
    #[serde(rename = "Deployment", alias = "DeploymentId", borrow)]
    pub pascal_deployment: Option<Scalar<'a>>,
    #[serde(rename = "RequestId", borrow)]
    pub pascal_request_id: Option<Scalar<'a>>,
    #[serde(rename = "SubscriptionId", borrow)]
    pub pascal_subscription_id: Option<Scalar<'a>>,
    #[serde(rename = "ServiceTier", borrow)]
    pub pascal_service_tier: Option<Scalar<'a>>,
    #[serde(rename = "SpilledFrom", alias = "SpilloverFromDeployment", borrow)]
    pub pascal_spilled_from: Option<Scalar<'a>>,

    // APIM forwarding full bodies (camelCase).
    #[serde(rename = "eventTime", borrow)]
    pub event_time: Option<Scalar<'a>>,
    #[serde(rename = "apiOperation", borrow)]
    pub api_operation: Option<Scalar<'a>>,
    #[serde(rename = "appSubscriptionKey", borrow)]
    pub app_subscription_key: Option<Scalar<'a>>,
    #[serde(rename = "requestId", borrow)]
    pub request_id: Option<Scalar<'a>>,
    #[serde(rename = "subscriptionId", borrow)]
    pub camel_subscription_id: Option<Scalar<'a>>,
    #[serde(rename = "deploymentId", alias = "deploymentName", borrow)]
    pub deployment_id: Option<Scalar<'a>>,
    #[serde(rename = "statusCode", borrow)]
    pub status_code: Option<Scalar<'a>>,
    #[serde(rename = "spilledFrom", alias = "spilloverFromDeployment", borrow)]
    pub camel_spilled_from: Option<Scalar<'a>>,
    #[serde(borrow)]
    pub request: Option<&'a RawValue>,
    #[serde(borrow)]
    pub response: Option<&'a RawValue>,
}

impl<'a> Envelope<'a> {
    /// Which shape the fields say this is. A `schema` field decides alone.
    pub fn shape(&self) -> Option<Shape> {
        if self.schema.is_some() {
            return Some(Shape::V1);
        }
        let sample = [
            &self.pascal_timestamp,
            &self.pascal_api_operation,
            &self.pascal_app_key,
            &self.pascal_prompt_tokens,
            &self.pascal_completion_tokens,
            &self.pascal_total_tokens,
        ];
        if sample.iter().any(|f| f.is_some()) {
            return Some(Shape::ApimSample);
        }
        if self.response.is_some()
            || self.request.is_some()
            || self.event_time.is_some()
            || self.app_subscription_key.is_some()
        {
            return Some(Shape::ApimFullBody);
        }
        None
    }

    /// The record's own id, whichever shape it is in.
    pub fn own_id(&self) -> Option<RecordId> {
        [&self.id, &self.pascal_request_id, &self.request_id]
            .into_iter()
            .find_map(|f| scalar::text("id", f.as_ref()).ok().flatten())
            .and_then(|t| RecordId::parse(&t).ok())
    }
}

/// The text inside a raw JSON value that may be an object or a string that
/// holds JSON (APIM writes `Body.As<string>()` as a string).
pub(crate) fn unwrap_json_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get().trim();
    if text == "null" {
        return None;
    }
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(text))
    }
}
