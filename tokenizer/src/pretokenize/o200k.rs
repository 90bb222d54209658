//! The `o200k_base` pattern, run by hand. The regex, alternative by
//! alternative (the first that matches at a position wins):
//!
//! ```text
//! [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//! | \p{N}{1,3}
//! | ?[^\s\p{L}\p{N}]+[\r\n/]*
//! | \s*[\r\n]+
//! | \s+(?!\S)
//! | \s+
//! ```
//!
//! Call the two bracketed classes "upper" and "lower": they overlap (modifier
//! and other letters, marks), which is what makes the first alternative back
//! off, and it is also why a prefix character may be tried and then dropped.

use super::{LETTER, LOWERISH, NUMBER, SPACE, Text, UPPERISH};

/// The end of the piece that starts at `pos` (a character boundary before the
/// end of the text).
#[inline]
pub(super) fn piece_end(text: &Text<'_>, pos: usize) -> usize {
    let Some(c) = text.at(pos) else {
        return text.len();
    };
    let next = pos + c.len;
    let may_prefix = !c.is_newline() && !c.is(LETTER | NUMBER);

    // First alternative: with the optional prefix character, then without.
    if may_prefix && let Some(end) = upper_then_lower(text, next) {
        return with_contraction(text, end);
    }
    if c.is(UPPERISH | LOWERISH)
        && let Some(end) = upper_then_lower(text, pos)
    {
        return with_contraction(text, end);
    }
    // Second alternative, likewise.
    if may_prefix && let Some(end) = upper_run_then_lower(text, next) {
        return with_contraction(text, end);
    }
    if let Some(end) = upper_run_then_lower(text, pos) {
        return with_contraction(text, end);
    }

    // \p{N}{1,3}
    if c.is(NUMBER) {
        return text.digits_end(pos);
    }

    // ' '?[^\s\p{L}\p{N}]+[\r\n/]*
    let punctuation_start = if c.code == u32::from(b' ') { next } else { pos };
    if text.at(punctuation_start).is_some_and(|p| !p.is(SPACE | LETTER | NUMBER)) {
        let end = text.punctuation_end(punctuation_start);
        return text.bytes_end(end, b"\r\n/");
    }

    // \s*[\r\n]+ | \s+(?!\S) | \s+
    text.whitespace_end(pos).max(next)
}

/// `upper*lower+` from `pos`: the greedy `upper*` backs off one character
/// at a time until `lower+` can start.
#[inline]
fn upper_then_lower(text: &Text<'_>, pos: usize) -> Option<usize> {
    let mut end = pos;
    // Start of the last character of the upper run that is also lower.
    let mut last_lower_in_run = None;
    while let Some(c) = text.at(end) {
        if !c.is(UPPERISH) {
            break;
        }
        if c.is(LOWERISH) {
            last_lower_in_run = Some((end, c.len));
        }
        end += c.len;
    }
    if text.at(end).is_some_and(|c| c.is(LOWERISH)) {
        return Some(text.run_end(end, LOWERISH));
    }
    // Backing off to the last run character that is also lower: `lower+`
    // takes it alone, as the characters after it in the run are not lower.
    last_lower_in_run.map(|(start, len)| start + len)
}

/// `upper+lower*` from `pos`.
#[inline]
fn upper_run_then_lower(text: &Text<'_>, pos: usize) -> Option<usize> {
    let end = text.run_end(pos, UPPERISH);
    (end > pos).then(|| text.run_end(end, LOWERISH))
}

/// The optional contraction suffix `(?i:'s|'t|'re|'ve|'m|'ll|'d)?` after a word.
#[inline]
fn with_contraction(text: &Text<'_>, end: usize) -> usize {
    text.contraction_end(end).unwrap_or(end)
}
