//! Removes subscription keys (and other credentials) from raw event bodies
//! before they are kept in the dead-letter store.
//!
//! It works on text, not on parsed JSON, because the bodies that get
//! dead-lettered are often not valid JSON (truncated, malformed). A key-named
//! field's value is replaced by the key's fingerprint, so an operator can still
//! tell which subscription sent a bad record. It also finds the fields inside
//! JSON that is itself held in a string (escaped quotes), values cut off by
//! truncation, header arrays, and `subscription-key=` in URLs.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::domain::Fingerprinter;

/// Field names whose values are credentials (case-insensitive).
const SECRET_FIELDS: &str = "appkey|app_key|appsubscriptionkey|subscriptionkey|subscription_key|subscription-key|\
ocp-apim-subscription-key|api-key|apikey|api_key|x-api-key|authorization";

static FIELD_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    // "name" : "value"   |   "name": ["value"   |   \"name\":\"value\"   |   value cut off at the end
    let pattern = format!(r#"(?i)(\\*"(?:{SECRET_FIELDS})\\*"\s*:\s*(?:\[\s*)?\\*")((?:[^"\\]|\\[^"\\])*)"#);
    Regex::new(&pattern).unwrap_or_else(|e| unreachable!("static pattern: {e}"))
});

static QUERY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)((?:subscription-key|api-key)=)([^&"\s\\#]+)"#)
        .unwrap_or_else(|e| unreachable!("static pattern: {e}"))
});

/// The body with every credential value replaced by its fingerprint.
pub fn redact_secrets(body: &str, fingerprinter: &Fingerprinter) -> String {
    let replace = |caps: &Captures<'_>| {
        let value = &caps[2];
        if value.is_empty() || value.starts_with("fp_") {
            format!("{}{}", &caps[1], value)
        } else {
            format!("{}{}", &caps[1], fingerprinter.fingerprint(value))
        }
    };
    let once = FIELD_VALUE.replace_all(body, replace);
    QUERY_VALUE.replace_all(&once, replace).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn redact(body: &str) -> String {
        let out = redact_secrets(body, &Fingerprinter::new(b"s"));
        assert!(!out.contains(KEY), "key left in {out}");
        out
    }

    #[test]
    fn keys_in_valid_json_become_fingerprints() {
        let out = redact(&format!(r#"{{"AppKey":"{KEY}","PromptTokens":"-1"}}"#));
        assert!(out.contains(r#""AppKey":"fp_"#));
        assert!(out.contains(r#""PromptTokens":"-1""#));
    }

    #[test]
    fn keys_in_truncated_bodies_are_removed_even_when_cut_off() {
        redact(&format!(r#"{{"appSubscriptionKey": "{KEY}"#));
        redact(&format!(r#"{{"appSubscriptionKey": "{}"#, &KEY[..20]));
    }

    #[test]
    fn keys_in_headers_escaped_json_and_urls_are_removed() {
        redact(&format!(r#"{{"headers":{{"Ocp-Apim-Subscription-Key":["{KEY}"]}}}}"#));
        redact(&format!(r#"{{"request":"{{\"api-key\":\"{KEY}\"}}"}}"#));
        redact(&format!(r#"{{"url":"https://x/openai?subscription-key={KEY}&a=1"}}"#));
    }

    #[test]
    fn other_fields_are_left_alone() {
        let body = r#"{"model":"gpt-4o","partitionKey":"abc"}"#;
        assert_eq!(redact(body), body);
    }
}
