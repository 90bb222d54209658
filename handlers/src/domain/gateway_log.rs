//! API Management's own resource logs, as a diagnostic setting streams them:
//! the two halves of one call, and the usage record they make together.
//!
//! A `GatewayLlmLogs` record carries the tokens but not the caller; a
//! `GatewayLogs` record carries the caller but not the tokens. They share only
//! the correlation id (API Management's request id) and arrive as separate
//! events, possibly in different batches and partitions, in either order.
//! Messages over 32 KB are split into several LLM records with the same
//! correlation id and rising sequence numbers; the tokens are one request's,
//! counted once.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Caller, RecordId, RecordShape, ResponseTier, Tenant, TokenSource, TokenUsage, UsageRecord};

/// One `GatewayLlmLogs` record: one chunk of one call's language-model log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmLog {
    /// The estate.
    pub tenant: Tenant,
    /// The call's correlation id, shared with its `GatewayLogs` record; it is
    /// also the usage record's identity once the call is counted.
    pub correlation_id: RecordId,
    /// Which chunk of the call's messages this is (`sequenceNumber`, 0 first).
    pub sequence: u32,
    /// When the call happened (the record's `time`), UTC.
    pub occurred_at: DateTime<Utc>,
    /// The model service's request id (`requestId`).
    pub request_id: Option<String>,
    /// The deployment named in the call (`deploymentName`).
    pub deployment: Option<String>,
    /// The model (`modelName`).
    pub model: Option<String>,
    /// The operation (`operationName`).
    pub operation: Option<String>,
    /// Whether the call was streamed (`isStreamCompletion`).
    pub streamed: bool,
    /// The model's region (`region`).
    pub region: Option<String>,
    /// The call's token counts; `None` on a chunk that carries messages only.
    pub usage: Option<TokenUsage>,
}

/// One `GatewayLogs` record: who called, and how the gateway answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayLog {
    /// The estate.
    pub tenant: Tenant,
    /// The call's correlation id.
    pub correlation_id: RecordId,
    /// When the call happened, UTC.
    pub occurred_at: DateTime<Utc>,
    /// The API Management subscription (`apimSubscriptionId`): the party the
    /// call's usage is attributed to.
    pub subscription_id: Option<String>,
    /// The API Management user (`userId`).
    pub user: Option<String>,
    /// The API (`apiId`).
    pub api_id: Option<String>,
    /// The operation (`operationId`).
    pub operation_id: Option<String>,
    /// The product (`productId`).
    pub product_id: Option<String>,
    /// The backend that served (`backendId`).
    pub backend_id: Option<String>,
    /// The status the gateway answered (`responseCode`).
    pub status: Option<u16>,
    /// The status the backend answered (`backendResponseCode`).
    pub backend_status: Option<u16>,
    /// The call's duration in milliseconds (`durationMs`).
    pub latency_ms: Option<u64>,
    /// The deployment that served, from the logged response header
    /// `x-ms-deployment-name` (differs from the called one after a spillover).
    pub served_deployment: Option<String>,
    /// The provisioned deployment the call spilled over from, from the logged
    /// response header `x-ms-spillover-from-deployment`.
    pub spilled_from: Option<String>,
    /// The service tier, when the gateway logged a response body that says it.
    pub service_tier: Option<ResponseTier>,
}

impl GatewayLog {
    /// A gateway log that says nothing beyond its identity and time.
    pub fn new(tenant: Tenant, correlation_id: RecordId, occurred_at: DateTime<Utc>) -> Self {
        Self {
            tenant,
            correlation_id,
            occurred_at,
            subscription_id: None,
            user: None,
            api_id: None,
            operation_id: None,
            product_id: None,
            backend_id: None,
            status: None,
            backend_status: None,
            latency_ms: None,
            served_deployment: None,
            spilled_from: None,
            service_tier: None,
        }
    }
}

impl LlmLog {
    /// The usage record of a call from its LLM log (the chunk that carries
    /// the counts, else any chunk: the call then counts zero tokens) and its
    /// gateway log, when one was joined. Without one the caller is unknown and
    /// the usage is `unattributed`.
    pub fn usage_record(&self, gateway: Option<&GatewayLog>) -> UsageRecord {
        let caller = Caller {
            subscription_id: gateway.and_then(|g| g.subscription_id.clone()),
            key_fingerprint: None,
            application: None,
            user: gateway.and_then(|g| g.user.clone()),
        };
        UsageRecord {
            id: self.correlation_id.clone(),
            tenant: self.tenant.clone(),
            occurred_at: self.occurred_at,
            caller,
            deployment: gateway.and_then(|g| g.served_deployment.clone()).or_else(|| self.deployment.clone()),
            model: self.model.clone(),
            operation: self.operation.clone(),
            status: gateway.and_then(|g| g.status.or(g.backend_status)),
            streamed: self.streamed,
            usage: self.usage.unwrap_or_default(),
            token_source: TokenSource::Reported,
            shape: RecordShape::ApimDiagnostic,
            backend: gateway.and_then(|g| g.backend_id.clone()),
            latency_ms: gateway.and_then(|g| g.latency_ms),
            counted_with: None,
            service_tier: gateway.and_then(|g| g.service_tier.clone()),
            spilled_from: gateway.and_then(|g| g.spilled_from.clone()),
        }
    }
}

/// How long a call waits for its gateway half when nothing else is
/// configured (`CHARGEBACK_ATTRIBUTION_GRACE`).
pub const DEFAULT_ATTRIBUTION_GRACE: TimeDelta = TimeDelta::minutes(60);

/// How one call that is not counted yet is to be counted now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Both halves are here: the call's usage, attributed to its caller.
    Attributed(UsageRecord),
    /// The grace period passed without the gateway half: the call's usage,
    /// attributed to nobody (`unattributed`).
    Unattributed(UsageRecord),
    /// Not yet: usage awaiting attribution.
    Wait,
}

/// The rule for counting a call from what is stored of it: its LLM chunks
/// (at least one), its gateway half if it arrived, and when its first chunk
/// was received.
///
/// - A chunk that states counts and the gateway half: attributed at once,
///   whichever arrived first.
/// - Once `grace` has passed since the first chunk was received: counted
///   anyway, unattributed without a gateway half; a call whose chunks never
///   stated counts is then counted as one request with zero tokens.
/// - Otherwise the call waits.
pub fn settle(
    chunks: &[LlmLog],
    gateway: Option<&GatewayLog>,
    first_received: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: TimeDelta,
) -> Settlement {
    let counting = chunks.iter().find(|c| c.usage.is_some());
    let overdue = first_received.checked_add_signed(grace).is_none_or(|end| end <= now);
    match (counting, gateway) {
        (Some(chunk), Some(g)) => Settlement::Attributed(chunk.usage_record(Some(g))),
        _ if !overdue => Settlement::Wait,
        (counting, gateway) => {
            let Some(base) = counting.or_else(|| chunks.iter().min_by_key(|c| c.sequence)) else {
                return Settlement::Wait;
            };
            let record = base.usage_record(gateway);
            if gateway.is_some() { Settlement::Attributed(record) } else { Settlement::Unattributed(record) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llm() -> LlmLog {
        LlmLog {
            tenant: Tenant::default_tenant(),
            correlation_id: RecordId::parse("c-1").unwrap(),
            sequence: 0,
            occurred_at: DateTime::parse_from_rfc3339("2026-11-26T11:32:47Z").unwrap().with_timezone(&Utc),
            request_id: Some("chatcmpl-1".into()),
            deployment: Some("gpt-4o-ptu".into()),
            model: Some("gpt-4o".into()),
            operation: Some("chat.completions".into()),
            streamed: false,
            region: Some("swedencentral".into()),
            usage: Some(TokenUsage::new(100, 20, Some(120), 10, 0).unwrap()),
        }
    }

    #[test]
    fn a_joined_call_is_attributed_to_its_subscription_and_billed_where_it_was_served() {
        let call = llm();
        let gateway = GatewayLog {
            subscription_id: Some("sub-finance".into()),
            served_deployment: Some("gpt-4o-standard".into()),
            spilled_from: Some("gpt-4o-ptu".into()),
            status: Some(200),
            ..GatewayLog::new(call.tenant.clone(), call.correlation_id.clone(), call.occurred_at)
        };
        let record = call.usage_record(Some(&gateway));
        assert_eq!(record.id.as_str(), "c-1");
        assert_eq!(record.caller.chargeable_party(), "sub-finance");
        assert_eq!(record.deployment.as_deref(), Some("gpt-4o-standard"));
        assert_eq!(record.spilled_from.as_deref(), Some("gpt-4o-ptu"));
        assert_eq!(record.usage.total(), 120);
        assert_eq!(record.shape, RecordShape::ApimDiagnostic);
    }

    #[test]
    fn a_call_without_its_gateway_log_is_unattributed() {
        let record = llm().usage_record(None);
        assert_eq!(record.caller.chargeable_party(), "unattributed");
        assert_eq!(record.deployment.as_deref(), Some("gpt-4o-ptu"));
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        llm().occurred_at + TimeDelta::minutes(minutes)
    }

    #[test]
    fn a_call_is_attributed_as_soon_as_both_halves_are_here_and_unattributed_only_after_the_grace() {
        let call = llm();
        let gateway = GatewayLog {
            subscription_id: Some("sub-1".into()),
            ..GatewayLog::new(call.tenant.clone(), call.correlation_id.clone(), call.occurred_at)
        };
        let grace = TimeDelta::minutes(60);
        let chunks = [call.clone()];
        assert!(matches!(settle(&chunks, Some(&gateway), at(0), at(1), grace), Settlement::Attributed(_)));
        assert_eq!(settle(&chunks, None, at(0), at(59), grace), Settlement::Wait);
        match settle(&chunks, None, at(0), at(60), grace) {
            Settlement::Unattributed(r) => {
                assert_eq!((r.caller.chargeable_party(), r.usage.total()), ("unattributed", 120))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chunks_without_counts_wait_for_the_counting_chunk_until_the_grace_ends() {
        let call = llm();
        let message_only = LlmLog { sequence: 1, usage: None, deployment: None, ..call.clone() };
        let gateway = GatewayLog::new(call.tenant.clone(), call.correlation_id.clone(), call.occurred_at);
        let grace = TimeDelta::minutes(60);
        let chunks = [message_only];
        assert_eq!(settle(&chunks, Some(&gateway), at(0), at(5), grace), Settlement::Wait);
        match settle(&chunks, Some(&gateway), at(0), at(61), grace) {
            Settlement::Attributed(r) => assert_eq!((r.usage.total(), r.id.as_str()), (0, "c-1")),
            other => panic!("{other:?}"),
        }
    }
}
