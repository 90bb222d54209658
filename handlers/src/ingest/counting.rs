//! Token counts for records that were streamed without usage.
//!
//! Usage first: if the streamed body's final chunk carries `usage`, that is
//! taken as reported. Otherwise the prompt is counted from the request body
//! and the completion from the SSE body (`chargeback-tokenizer`), and the
//! record's token source becomes `estimated`. The encoding follows the model:
//! the record's model, else the deployment → model mapping, else the request's
//! `model`; an unknown model is counted with the documented default encoding
//! and the record says so (`counted_with`).
//!
//! Counting is CPU work; [`count_pending`] is blocking and spreads a large
//! batch over the cores. The ingestor runs it on the blocking pool.

use chargeback_tokenizer::{DeploymentModels, Exchange, Provenance, encoding_for_model, resolve_batch};
use serde_json::Value;
use tracing::warn;

use crate::domain::{CountedWith, TokenSource, TokenUsage, UsageRecord};
use crate::records::CountInput;

/// A record waiting for a count, with what is needed to count it.
#[derive(Debug, Clone)]
pub struct PendingCount {
    /// Index of the record in its batch.
    pub index: usize,
    /// The record's model, if known.
    pub model: Option<String>,
    /// The record's deployment, if known.
    pub deployment: Option<String>,
    /// The bodies.
    pub input: CountInput,
}

/// The outcome of counting one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Index of the record in its batch.
    pub index: usize,
    /// The counts.
    pub usage: TokenUsage,
    /// Reported (final SSE chunk) or estimated.
    pub source: TokenSource,
    /// The encoding used and whether the model was known.
    pub counted_with: CountedWith,
}

/// Counts every pending record that carries a body. Records whose bodies
/// cannot be counted stay pending (and are reported as such), with a warning.
pub fn count_pending(pending: &[PendingCount], deployments: &DeploymentModels, max_threads: usize) -> Vec<Counted> {
    let requests: Vec<Option<Value>> = pending
        .iter()
        .map(|p| p.input.request_body.as_deref().and_then(|text| serde_json::from_str(text).ok()))
        .collect();
    let encodings: Vec<_> = pending
        .iter()
        .zip(&requests)
        .map(|(p, request)| {
            let model = p
                .model
                .clone()
                .or_else(|| p.deployment.as_deref().and_then(|d| deployments.model_for(d)).map(str::to_owned))
                .or_else(|| request.as_ref().and_then(|r| r.get("model")?.as_str().map(str::to_owned)));
            match model {
                Some(m) => encoding_for_model(&m),
                None => encoding_for_model(""),
            }
        })
        .collect();
    let exchanges: Vec<Exchange<'_>> = pending
        .iter()
        .zip(&requests)
        .zip(&encodings)
        .map(|((p, request), enc)| Exchange {
            encoding: enc.encoding,
            request_body: request.as_ref(),
            response_body: p.input.response_body.as_deref(),
        })
        .collect();
    let results = resolve_batch(&exchanges, max_threads);
    let mut counted = Vec::with_capacity(pending.len());
    for ((p, enc), result) in pending.iter().zip(&encodings).zip(results) {
        let usage = match result {
            Ok(u) => u,
            Err(e) => {
                warn!(record.index = p.index, error = %e, "could not count a streamed record; it stays pending");
                continue;
            }
        };
        let Ok(tokens) = TokenUsage::new(usage.prompt, usage.completion, None, usage.cached, usage.reasoning) else {
            warn!(record.index = p.index, "counted usage is inconsistent; the record stays pending");
            continue;
        };
        let source = match usage.provenance {
            Provenance::Reported => TokenSource::Reported,
            Provenance::Estimated => TokenSource::Estimated,
        };
        counted.push(Counted {
            index: p.index,
            usage: tokens,
            source,
            counted_with: CountedWith { encoding: enc.encoding.to_string(), known_model: enc.known_model },
        });
    }
    counted
}

/// Applies counts to their records.
pub fn apply(records: &mut [UsageRecord], counted: Vec<Counted>) {
    for c in counted {
        if let Some(record) = records.get_mut(c.index) {
            record.usage = c.usage;
            record.token_source = c.source;
            record.counted_with = (c.source == TokenSource::Estimated).then_some(c.counted_with);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(model: Option<&str>, deployment: Option<&str>, request: &str, response: &str) -> PendingCount {
        PendingCount {
            index: 0,
            model: model.map(str::to_owned),
            deployment: deployment.map(str::to_owned),
            input: CountInput { request_body: Some(request.to_owned()), response_body: Some(response.to_owned()) },
        }
    }

    const REQUEST: &str = r#"{"messages":[{"role":"user","content":"Hello there"}]}"#;
    const STREAM: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";

    #[test]
    fn a_stream_without_usage_is_estimated_with_the_models_encoding() {
        let counted = count_pending(&[pending(Some("gpt-4o"), None, REQUEST, STREAM)], &DeploymentModels::default(), 1);
        assert_eq!(counted.len(), 1);
        assert_eq!(counted[0].source, TokenSource::Estimated);
        assert_eq!((counted[0].usage.prompt(), counted[0].usage.completion()), (9, 1));
        assert_eq!(counted[0].counted_with, CountedWith { encoding: "o200k_base".into(), known_model: true });
    }

    #[test]
    fn a_deployment_that_hides_the_model_is_resolved_through_the_mapping() {
        let map = DeploymentModels::from_pairs([("chat-prod", "gpt-35-turbo")]);
        let counted = count_pending(&[pending(None, Some("chat-prod"), REQUEST, STREAM)], &map, 1);
        assert_eq!(counted[0].counted_with.encoding, "cl100k_base");
        assert!(counted[0].counted_with.known_model);
    }

    #[test]
    fn an_unknown_model_is_counted_with_the_default_and_marked() {
        let counted =
            count_pending(&[pending(None, Some("mystery"), REQUEST, STREAM)], &DeploymentModels::default(), 1);
        assert!(!counted[0].counted_with.known_model);
    }

    #[test]
    fn usage_in_the_final_chunk_is_reported_not_estimated() {
        let stream = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\n",
            "data: [DONE]\n\n"
        );
        let counted = count_pending(&[pending(Some("gpt-4o"), None, REQUEST, stream)], &DeploymentModels::default(), 1);
        assert_eq!(counted[0].source, TokenSource::Reported);
    }
}
