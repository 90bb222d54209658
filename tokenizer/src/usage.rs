//! Token usage as the service reports it.

use serde_json::Value;

/// Token counts reported by the service in a response's `usage` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportedUsage {
    /// Prompt (input) tokens.
    pub prompt: u64,
    /// Completion (output) tokens, reasoning tokens included.
    pub completion: u64,
    /// Total tokens.
    pub total: u64,
    /// Prompt tokens served from the prompt cache (part of `prompt`).
    pub cached: u64,
    /// Reasoning tokens (part of `completion`).
    pub reasoning: u64,
}

impl ReportedUsage {
    /// Reads a `usage` object in the Chat Completions / Completions /
    /// Embeddings form (`prompt_tokens`, `completion_tokens`, `total_tokens`,
    /// `prompt_tokens_details.cached_tokens`,
    /// `completion_tokens_details.reasoning_tokens`) or the Responses form
    /// (`input_tokens`, `output_tokens`, `*_details`). `None` when it is not
    /// an object with at least a prompt or completion count.
    pub fn from_json(usage: &Value) -> Option<Self> {
        let usage = usage.as_object()?;
        let number = |key: &str| usage.get(key).and_then(Value::as_u64);
        let detail = |object: &str, key: &str| usage.get(object).and_then(|d| d.get(key)).and_then(Value::as_u64);
        let prompt = number("prompt_tokens").or_else(|| number("input_tokens"));
        let completion = number("completion_tokens").or_else(|| number("output_tokens"));
        if prompt.is_none() && completion.is_none() {
            return None;
        }
        let (prompt, completion) = (prompt.unwrap_or(0), completion.unwrap_or(0));
        Some(Self {
            prompt,
            completion,
            total: number("total_tokens").unwrap_or(prompt + completion),
            cached: detail("prompt_tokens_details", "cached_tokens")
                .or_else(|| detail("input_tokens_details", "cached_tokens"))
                .unwrap_or(0),
            reasoning: detail("completion_tokens_details", "reasoning_tokens")
                .or_else(|| detail("output_tokens_details", "reasoning_tokens"))
                .unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn chat_usage_with_details_is_read() {
        let usage = json!({
            "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920},
            "completion_tokens_details": {"reasoning_tokens": 192}
        });
        assert_eq!(
            ReportedUsage::from_json(&usage),
            Some(ReportedUsage { prompt: 2006, completion: 300, total: 2306, cached: 1920, reasoning: 192 })
        );
    }

    #[test]
    fn responses_and_embeddings_usage_is_read() {
        let responses = json!({"input_tokens": 36, "output_tokens": 87,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 123});
        assert_eq!(
            ReportedUsage::from_json(&responses).map(|u| (u.prompt, u.completion, u.total)),
            Some((36, 87, 123))
        );
        let embeddings = json!({"prompt_tokens": 8, "total_tokens": 8});
        assert_eq!(ReportedUsage::from_json(&embeddings).map(|u| (u.prompt, u.completion)), Some((8, 0)));
    }

    #[test]
    fn null_or_empty_usage_is_not_usage() {
        assert_eq!(ReportedUsage::from_json(&Value::Null), None);
        assert_eq!(ReportedUsage::from_json(&json!({})), None);
    }
}
