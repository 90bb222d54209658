//! The `cl100k_base` pattern, run by hand. The regex, alternative by
//! alternative (the first that matches at a position wins):
//!
//! ```text
//! (?i:'s|'t|'re|'ve|'m|'ll|'d)
//! | [^\r\n\p{L}\p{N}]?\p{L}+
//! | \p{N}{1,3}
//! | ?[^\s\p{L}\p{N}]+[\r\n]*
//! | \s*[\r\n]+
//! | \s+(?!\S)
//! | \s+
//! ```

use super::{LETTER, NUMBER, SPACE, Text};

/// The end of the piece that starts at `pos` (a character boundary before the
/// end of the text).
#[inline]
pub(super) fn piece_end(text: &Text<'_>, pos: usize) -> usize {
    let Some(c) = text.at(pos) else {
        return text.len();
    };
    let next = pos + c.len;

    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if let Some(end) = text.contraction_end(pos) {
        return end;
    }

    // [^\r\n\p{L}\p{N}]?\p{L}+
    if c.is(LETTER) {
        return text.run_end(next, LETTER);
    }
    if !c.is_newline() && !c.is(NUMBER) && text.at(next).is_some_and(|n| n.is(LETTER)) {
        return text.run_end(next, LETTER);
    }

    // \p{N}{1,3}
    if c.is(NUMBER) {
        return text.digits_end(pos);
    }

    // ' '?[^\s\p{L}\p{N}]+[\r\n]*
    let punctuation_start = if c.code == u32::from(b' ') { next } else { pos };
    if text.at(punctuation_start).is_some_and(|p| !p.is(SPACE | LETTER | NUMBER)) {
        let end = text.punctuation_end(punctuation_start);
        return text.bytes_end(end, b"\r\n");
    }

    // \s*[\r\n]+ | \s+(?!\S) | \s+
    text.whitespace_end(pos).max(next)
}
