//! Usage first, counting second: the token usage of one request/response
//! exchange, and whether the service reported it or we estimated it.

use std::fmt;

use serde_json::Value;

use crate::{CountError, Encoding, ReportedUsage, count_completion, count_prompt, sse};

/// Where a record's token counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provenance {
    /// Reported by the service in the response's `usage`.
    Reported,
    /// Counted by us from the request and response bodies.
    Estimated,
}

impl Provenance {
    /// `"reported"` or `"estimated"`, as stored on records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Estimated => "estimated",
        }
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The token usage of one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub prompt: u64,
    /// Completion tokens (all choices).
    pub completion: u64,
    /// Total tokens.
    pub total: u64,
    /// Cached prompt tokens (only ever reported, 0 when estimated).
    pub cached: u64,
    /// Reasoning tokens (only ever reported, 0 when estimated).
    pub reasoning: u64,
    /// Reported by the service or estimated by us.
    pub provenance: Provenance,
    /// Image parts of the prompt that an estimate does not count.
    pub images_not_counted: u32,
}

impl From<ReportedUsage> for TokenUsage {
    fn from(u: ReportedUsage) -> Self {
        Self {
            prompt: u.prompt,
            completion: u.completion,
            total: u.total,
            cached: u.cached,
            reasoning: u.reasoning,
            provenance: Provenance::Reported,
            images_not_counted: 0,
        }
    }
}

/// The usage the response reports, if it does: a plain JSON completion's
/// `usage`, or a stream's last chunk that has one. Cheap: a stream is read
/// from the end and only chunks mentioning `usage` are parsed.
pub fn reported_usage(response_body: &str) -> Option<ReportedUsage> {
    let read = |v: &Value| {
        v.get("usage").or_else(|| v.get("response").and_then(|r| r.get("usage"))).and_then(ReportedUsage::from_json)
    };
    if !sse::looks_like_sse(response_body) {
        return serde_json::from_str::<Value>(response_body).ok().as_ref().and_then(read);
    }
    let events: Vec<String> = sse::event_data(response_body).collect();
    events
        .iter()
        .rev()
        .filter(|data| data.contains("\"usage\""))
        .find_map(|data| serde_json::from_str::<Value>(data).ok().as_ref().and_then(read))
}

/// The usage of an exchange: the reported usage when the response carries
/// it, otherwise prompt tokens counted from the request body and completion
/// tokens counted from the response body (either may be absent, e.g. a
/// request that failed has no response, and counts as 0).
pub fn resolve_usage(
    enc: Encoding,
    request_body: Option<&Value>,
    response_body: Option<&str>,
) -> Result<TokenUsage, CountError> {
    if let Some(reported) = response_body.and_then(reported_usage) {
        return Ok(reported.into());
    }
    let prompt = request_body.map(|body| count_prompt(enc, body)).transpose()?;
    let completion =
        response_body.filter(|body| !body.trim().is_empty()).map(|body| count_completion(enc, body)).transpose()?;
    let prompt_tokens = prompt.map_or(0, |p| p.tokens);
    let completion_tokens = completion.map_or(0, |c| c.tokens);
    Ok(TokenUsage {
        prompt: prompt_tokens,
        completion: completion_tokens,
        total: prompt_tokens + completion_tokens,
        cached: 0,
        reasoning: 0,
        provenance: Provenance::Estimated,
        images_not_counted: prompt.map_or(0, |p| p.images_not_counted),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const STREAM_WITH_USAGE: &str = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\n",
        "data: [DONE]\n\n"
    );

    #[test]
    fn reported_usage_wins_over_counting() {
        let request = json!({"messages": [{"role": "user", "content": "Hello there"}]});
        let usage = resolve_usage(Encoding::O200kBase, Some(&request), Some(STREAM_WITH_USAGE)).expect("countable");
        assert_eq!((usage.prompt, usage.completion, usage.total), (9, 1, 10));
        assert_eq!(usage.provenance, Provenance::Reported);
        assert_eq!(usage.provenance.to_string(), "reported");
    }

    #[test]
    fn a_stream_without_usage_is_estimated() {
        let request = json!({"messages": [{"role": "user", "content": "Hello there"}]});
        let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";
        let usage = resolve_usage(Encoding::O200kBase, Some(&request), Some(stream)).expect("countable");
        // 3 + "user" 1 + "Hello there" 2 + 3 priming = 9; "Hi" = 1.
        assert_eq!((usage.prompt, usage.completion, usage.total), (9, 1, 10));
        assert_eq!(usage.provenance, Provenance::Estimated);
    }

    #[test]
    fn a_missing_response_counts_the_prompt_only() {
        let request = json!({"input": "some text to embed"});
        let usage = resolve_usage(Encoding::Cl100kBase, Some(&request), None).expect("countable");
        assert_eq!(usage.completion, 0);
        assert!(usage.prompt > 0);
    }
}
