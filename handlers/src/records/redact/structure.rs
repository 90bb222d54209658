//! The structure pass: when the text is JSON, its decoded structure is
//! checked after the text passes, and any credential they missed is
//! replaced there (the body is then re-serialised).

use serde_json::Value;

use super::{MAX_NESTING, already_safe, names, replacement, text};
use crate::domain::Fingerprinter;

/// The text, or its structure redacted and re-serialised if the text passes
/// missed a credential.
pub(super) fn check(redacted: String, fingerprinter: &Fingerprinter) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(&redacted) else {
        return redacted;
    };
    if redact_value(&mut value, fingerprinter, 0) { value.to_string() } else { redacted }
}

/// Redacts a decoded value; whether anything changed.
fn redact_value(value: &mut Value, fingerprinter: &Fingerprinter, depth: usize) -> bool {
    match value {
        Value::Object(map) => {
            let pair_secret =
                map.iter().any(|(k, v)| names::is_pair_name(k) && v.as_str().is_some_and(names::is_secret));
            let mut changed = false;
            for (key, child) in map.iter_mut() {
                changed |= if names::is_secret(key) || (pair_secret && names::is_pair_value(key)) {
                    replace_all(child, fingerprinter)
                } else {
                    redact_value(child, fingerprinter, depth)
                };
            }
            changed
        }
        Value::Array(items) => {
            let mut changed = false;
            let mut next_secret = false;
            for item in items {
                changed |= if next_secret {
                    replace_all(item, fingerprinter)
                } else {
                    redact_value(item, fingerprinter, depth)
                };
                next_secret = item.as_str().is_some_and(names::is_secret);
            }
            changed
        }
        Value::String(s) => {
            let mut changed = false;
            let trimmed = s.trim_start();
            if depth < MAX_NESTING
                && (trimmed.starts_with('{') || trimmed.starts_with('['))
                && let Ok(mut inner) = serde_json::from_str::<Value>(s)
                && redact_value(&mut inner, fingerprinter, depth + 1)
            {
                *s = inner.to_string();
                changed = true;
            }
            let patterned = text::redact_patterns(s, fingerprinter);
            if patterned != *s {
                *s = patterned;
                changed = true;
            }
            changed
        }
        _ => false,
    }
}

/// Replaces every scalar inside a credential's value by its fingerprint.
fn replace_all(value: &mut Value, fingerprinter: &Fingerprinter) -> bool {
    match value {
        Value::String(s) if !already_safe(s) => {
            *s = replacement(s, fingerprinter);
            true
        }
        Value::Number(n) => {
            *value = Value::String(replacement(&n.to_string(), fingerprinter));
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| replace_all(item, fingerprinter) | changed),
        Value::Object(map) => map.values_mut().fold(false, |changed, item| replace_all(item, fingerprinter) | changed),
        _ => false,
    }
}
