//! Removes subscription keys and other credentials from event bodies before
//! they are kept in the dead-letter store.
//!
//! The bodies that get dead-lettered are often not valid JSON (truncated,
//! malformed, single-quoted, plain header text), so redaction works on the
//! text first and on the decoded structure after:
//!
//! 1. [`lexer`] reads the text as tolerant JSON-like tokens (double- or
//!    single-quoted strings with their escapes decoded, bare words,
//!    punctuation), so a field name written `App\u004bey`, a value holding
//!    `\\`, a string cut off by truncation or a `{'AppKey': '…'}` are seen as
//!    what they mean. The value of a credential-named field, every value
//!    inside it (header arrays), the `value` of a `{"name": "<credential>",
//!    "value": …}` pair and the element after a credential name in an array
//!    are replaced. A string that holds JSON is redacted recursively.
//! 2. [`text`] patterns run over every decoded string and over the whole
//!    text: header lines (`Ocp-Apim-Subscription-Key: …`, `Authorization:
//!    Bearer …`), URL parameters (`subscription-key=`, `api-key=`, `code=`,
//!    `sig=`), connection-string parts (`AccountKey=`,
//!    `SharedAccessKey=`, …) and key-shaped 32-hex runs next to a credential
//!    name, however it is escaped.
//! 3. [`structure`] parses the result, when it is JSON, and checks the
//!    decoded structure: any credential the text passes missed is replaced
//!    there and the body re-serialised.
//!
//! A credential is replaced by its fingerprint (`fp_…`, the HMAC the ledger
//! uses), so an operator can still tell which subscription sent a bad record.

mod lexer;
mod names;
mod structure;
mod text;

use crate::domain::Fingerprinter;

/// How deep JSON held in strings (held in strings …) is followed.
const MAX_NESTING: usize = 6;

/// The body with every credential replaced by its fingerprint.
pub fn redact_secrets(body: &str, fingerprinter: &Fingerprinter) -> String {
    let redacted = redact_text(body, fingerprinter, 0);
    structure::check(redacted, fingerprinter)
}

/// The text passes: patterns over the whole text (so `Authorization: Bearer
/// …` is seen before the tokens split it), tokens, then the patterns again
/// over what the tokens decoded and re-encoded.
fn redact_text(body: &str, fingerprinter: &Fingerprinter, depth: usize) -> String {
    let patterned = text::redact_patterns(body, fingerprinter);
    let tokens = lexer::redact_tokens(&patterned, fingerprinter, depth);
    text::redact_patterns(&tokens, fingerprinter)
}

/// What a credential value becomes.
fn replacement(value: &str, fingerprinter: &Fingerprinter) -> String {
    fingerprinter.fingerprint(value).to_string()
}

/// Whether a value is already a fingerprint (or empty), so left as it is.
fn already_safe(value: &str) -> bool {
    value.is_empty() || crate::domain::Fingerprint::parse(value).is_some()
}

#[cfg(test)]
mod tests;
