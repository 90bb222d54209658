//! Usage awaiting attribution: API Management calls whose language-model log
//! is stored but which are not in the ledger yet, because their gateway log
//! (the caller) has not arrived and the grace period has not passed
//! (`docs/record-format.md`, section 4).
//!
//! Reports show it apart from their lines and totals: it is not charged to
//! anybody yet, and it is never `unassigned`. Once the gateway log arrives the
//! call moves into its caller's line; once the grace period passes without
//! one it is counted as `unattributed`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{GatewayLog, LlmLog, TokenCounts, TokenSource, TokenTotals};

/// The open calls of one model and deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AwaitingLine {
    /// Model ('' when the log does not say).
    pub model: String,
    /// Deployment ('' when the log does not say).
    pub deployment: String,
    /// Calls (`requests`) and their tokens; a call whose counting chunk has
    /// not arrived either counts as a pending request with no tokens.
    #[serde(flatten)]
    pub tokens: TokenCounts,
    /// When the oldest of them was first received.
    pub oldest_received: Option<DateTime<Utc>>,
}

/// Every open call of a range: their sum, and the same by model and deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Awaiting {
    /// Calls (`requests`) and their tokens, summed exactly like report lines.
    #[serde(flatten)]
    pub tokens: TokenCounts,
    /// When the oldest open call was first received (`None` when there is none).
    pub oldest_received: Option<DateTime<Utc>>,
    /// By model and deployment, sorted.
    pub lines: Vec<AwaitingLine>,
}

/// One open call as stored: its chunks, its gateway half if one came, and
/// when its first chunk was received.
#[derive(Debug, Clone, Copy)]
pub struct OpenCallParts<'a> {
    /// Its LLM chunks (at least one).
    pub chunks: &'a [LlmLog],
    /// Its gateway half, if it arrived.
    pub gateway: Option<&'a GatewayLog>,
    /// When its first chunk was received.
    pub first_received: DateTime<Utc>,
}

impl OpenCallParts<'_> {
    /// The model, deployment and counts the call will have in the ledger:
    /// the same usage record [`super::settle`] would count, so a call moves
    /// from awaiting into a line unchanged.
    pub fn counts(&self) -> Option<(String, String, TokenCounts)> {
        let counting = self.chunks.iter().find(|c| c.usage.is_some());
        let base = counting.or_else(|| self.chunks.iter().min_by_key(|c| c.sequence))?;
        let record = base.usage_record(self.gateway);
        let source = if counting.is_some() { TokenSource::Reported } else { TokenSource::Pending };
        let tokens = TokenCounts::counted(source, TokenTotals::of_record(&record.usage));
        Some((record.model.unwrap_or_default(), record.deployment.unwrap_or_default(), tokens))
    }
}

impl Awaiting {
    /// The sum of these open calls, keeping those whose model and deployment
    /// `keep` accepts.
    pub fn of_calls<'a>(calls: impl IntoIterator<Item = OpenCallParts<'a>>, keep: impl Fn(&str, &str) -> bool) -> Self {
        let mut lines: BTreeMap<(String, String), AwaitingLine> = BTreeMap::new();
        for call in calls {
            let Some((model, deployment, tokens)) = call.counts() else { continue };
            if !keep(&model, &deployment) {
                continue;
            }
            let line = lines.entry((model.clone(), deployment.clone())).or_insert_with(|| AwaitingLine {
                model,
                deployment,
                ..Default::default()
            });
            line.tokens.add(&tokens);
            line.oldest_received = earliest(line.oldest_received, call.first_received);
        }
        let mut awaiting = Self::default();
        for line in lines.values() {
            awaiting.tokens.add(&line.tokens);
            if let Some(at) = line.oldest_received {
                awaiting.oldest_received = earliest(awaiting.oldest_received, at);
            }
        }
        awaiting.lines = lines.into_values().collect();
        awaiting
    }

    /// Open calls in it.
    pub fn calls(&self) -> u64 {
        self.tokens.requests
    }

    /// Whether no call is awaiting attribution.
    pub fn is_empty(&self) -> bool {
        self.tokens.requests == 0
    }
}

fn earliest(current: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(current.map_or(at, |c| c.min(at)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RecordId, Tenant, TokenUsage};

    fn chunk(id: &str, sequence: u32, usage: Option<TokenUsage>) -> LlmLog {
        LlmLog {
            tenant: Tenant::default_tenant(),
            correlation_id: RecordId::parse(id).unwrap(),
            sequence,
            occurred_at: DateTime::parse_from_rfc3339("2026-11-26T11:32:47Z").unwrap().with_timezone(&Utc),
            request_id: None,
            deployment: Some("gpt-4o-ptu".into()),
            model: Some("gpt-4o".into()),
            operation: None,
            streamed: false,
            region: None,
            usage,
        }
    }

    fn at(minute: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-26T12:{minute:02}:00Z")).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn open_calls_are_summed_once_per_call_by_model_and_deployment() {
        let usage = TokenUsage::new(100, 20, Some(120), 10, 5).unwrap();
        let a = [chunk("a", 0, Some(usage)), chunk("a", 1, None)];
        let b = [LlmLog { deployment: Some("gpt-4o-standard".into()), ..chunk("b", 0, Some(usage)) }];
        let c = [chunk("c", 1, None)];
        let gateway = GatewayLog {
            served_deployment: Some("gpt-4o-standard".into()),
            ..GatewayLog::new(Tenant::default_tenant(), RecordId::parse("c").unwrap(), at(0))
        };
        let calls = [
            OpenCallParts { chunks: &a, gateway: None, first_received: at(5) },
            OpenCallParts { chunks: &b, gateway: None, first_received: at(3) },
            OpenCallParts { chunks: &c, gateway: Some(&gateway), first_received: at(9) },
        ];
        let awaiting = Awaiting::of_calls(calls, |_, _| true);
        assert_eq!(awaiting.calls(), 3);
        assert_eq!(
            (awaiting.tokens.prompt_tokens, awaiting.tokens.completion_tokens, awaiting.tokens.cached_tokens),
            (200, 40, 20)
        );
        assert_eq!((awaiting.tokens.total_tokens, awaiting.tokens.pending_requests), (240, 1));
        assert_eq!(awaiting.oldest_received, Some(at(3)));
        let keys: Vec<(&str, &str, u64)> =
            awaiting.lines.iter().map(|l| (l.model.as_str(), l.deployment.as_str(), l.tokens.requests)).collect();
        assert_eq!(keys, [("gpt-4o", "gpt-4o-ptu", 1), ("gpt-4o", "gpt-4o-standard", 2)]);
        assert_eq!(awaiting.lines[1].oldest_received, Some(at(3)));

        let only_ptu = Awaiting::of_calls(calls, |_, deployment| deployment == "gpt-4o-ptu");
        assert_eq!((only_ptu.calls(), only_ptu.tokens.total_tokens, only_ptu.oldest_received), (1, 120, Some(at(5))));
        assert!(Awaiting::of_calls([], |_, _| true).is_empty());
    }
}
