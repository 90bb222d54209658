//! The pattern pass: credentials written as text rather than as JSON fields.
//!
//! - `<name>: <value>`, `<name>=<value>`, `'<name>': '<value>'` for every
//!   credential name, with an optional auth scheme (`Authorization: Bearer
//!   …`, `SharedAccessSignature …`): header lines, connection strings
//!   (`AccountKey=…`), pseudo-JSON;
//! - URL and query parameters: `subscription-key=`, `api-key=`, `code=`,
//!   `sig=`, `access_token=`, `key=`, `token=`, `password=`;
//! - `Bearer <token>` anywhere;
//! - a key-shaped run of 32 or more hex digits within a few non-alphanumeric
//!   characters after a credential name, however many escapes lie between.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{already_safe, names, replacement};
use crate::domain::Fingerprinter;

/// Characters a value runs over: anything but quotes, whitespace, escapes
/// and the separators of headers, queries and connection strings.
const VALUE: &str = r#"[^\s"'&,;<>\\\]\[{}()]+"#;

static NAME_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    let names = names::pattern_alternatives();
    let scheme = r"(?:(?:bearer|basic|sharedkey|sharedaccesssignature|token)\s+)?";
    compile(&format!(r#"(?i)(\b(?:{names})["']?\s*[:=]\s*["']?{scheme})({VALUE})"#))
});

static QUERY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    let params = r"subscription[-_]?key|api[-_]?key|code|sig|access[-_]?token|key|token|password|pwd";
    compile(&format!(r#"(?i)(\b(?:{params})=)({VALUE})"#))
});

static BEARER: LazyLock<Regex> = LazyLock::new(|| compile(r"(?i)(\bbearer\s+)([A-Za-z0-9\-._~+/]+=*)"));

static HEX_NEAR_NAME: LazyLock<Regex> = LazyLock::new(|| {
    let names = names::pattern_alternatives();
    compile(&format!(r"(?i)(\b(?:{names})[^0-9a-z]{{1,24}})([0-9a-f]{{32,}})"))
});

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("static pattern: {e}"))
}

/// The text with every credential the patterns find replaced.
pub(super) fn redact_patterns(text: &str, fingerprinter: &Fingerprinter) -> String {
    let replace = |caps: &Captures<'_>| {
        let value = &caps[2];
        if already_safe(value) {
            format!("{}{value}", &caps[1])
        } else {
            format!("{}{}", &caps[1], replacement(value, fingerprinter))
        }
    };
    let mut out = text.to_owned();
    for pattern in [&*NAME_VALUE, &*QUERY_VALUE, &*BEARER, &*HEX_NEAR_NAME] {
        let changed = match pattern.replace_all(&out, replace) {
            Cow::Owned(changed) => Some(changed),
            Cow::Borrowed(_) => None,
        };
        if let Some(changed) = changed {
            out = changed;
        }
    }
    out
}
