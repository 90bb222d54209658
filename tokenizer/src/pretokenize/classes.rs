//! Character classes of the tiktoken pre-tokenizer patterns, as a lookup table.
//!
//! The patterns of `cl100k_base` and `o200k_base` only ever ask a handful of
//! questions about a character: is it a letter, a number, white space, "upper
//! case like" or "lower case like" (o200k). The table answers all of them with
//! one load. It is built lazily, on first use, from the Unicode tables of
//! `regex-syntax`, the same tables the regex engines behind tiktoken and
//! `bpe-openai` use, so a character is classified exactly as the regex would.

use std::sync::LazyLock;

use regex_syntax::hir::{Class, HirKind};

/// `\p{L}`: any letter.
pub(crate) const LETTER: u8 = 1;
/// `\p{N}`: any number.
pub(crate) const NUMBER: u8 = 1 << 1;
/// `\s`: Unicode white space.
pub(crate) const SPACE: u8 = 1 << 2;
/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`: the "upper" half of an o200k word.
pub(crate) const UPPERISH: u8 = 1 << 3;
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`: the "lower" half of an o200k word.
pub(crate) const LOWERISH: u8 = 1 << 4;

/// One past the largest Unicode scalar value.
const CODE_POINTS: usize = 0x11_0000;

/// The classes of every code point, indexed by code point.
static TABLE: LazyLock<Box<[u8]>> = LazyLock::new(build_table);

/// The letters (other than the ASCII ones) that fold to the letters of the
/// English contractions `'s 't 're 've 'm 'll 'd` under `(?i)`, e.g. `ſ` for `s`.
static CONTRACTION_FOLDS: LazyLock<Vec<(char, char)>> = LazyLock::new(build_folds);

/// The class bits of `c`.
#[cfg(test)]
fn class_of(c: u32) -> u8 {
    // A `&str` only holds scalar values, all below `CODE_POINTS`.
    TABLE.get(c as usize).copied().unwrap_or(0)
}

/// The classes table itself, for hot loops that look up many characters.
#[inline]
pub(crate) fn table() -> &'static [u8] {
    &TABLE
}

/// Whether `c` matches the ASCII letter `lower` case-insensitively, as the
/// regex `(?i:x)` would (simple Unicode case folding).
#[inline]
pub(crate) fn folds_to(c: char, lower: char) -> bool {
    if c.to_ascii_lowercase() == lower {
        return true;
    }
    !c.is_ascii() && CONTRACTION_FOLDS.iter().any(|&(f, l)| f == c && l == lower)
}

fn build_table() -> Box<[u8]> {
    let mut table = vec![0u8; CODE_POINTS].into_boxed_slice();
    let classes = [
        (r"\p{L}", LETTER),
        (r"\p{N}", NUMBER),
        (r"\s", SPACE),
        (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", UPPERISH),
        (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", LOWERISH),
    ];
    for (pattern, bit) in classes {
        for (start, end) in class_ranges(pattern) {
            for slot in &mut table[start as usize..=end as usize] {
                *slot |= bit;
            }
        }
    }
    table
}

fn build_folds() -> Vec<(char, char)> {
    let mut folds = Vec::new();
    for lower in ['s', 't', 'r', 'e', 'v', 'm', 'l', 'd'] {
        for (start, end) in class_ranges(&format!("(?i:{lower})")) {
            for c in (start..=end).filter_map(char::from_u32) {
                if !c.is_ascii() {
                    folds.push((c, lower));
                }
            }
        }
    }
    folds
}

/// The inclusive code point ranges of a character class pattern.
fn class_ranges(pattern: &str) -> Vec<(u32, u32)> {
    // The patterns are constants of this module; a failure is a programming
    // error caught by the unit tests below.
    let hir = regex_syntax::parse(pattern).unwrap_or_else(|e| panic!("class {pattern}: {e}"));
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => {
            class.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end()))).collect()
        }
        HirKind::Literal(literal) => std::str::from_utf8(&literal.0)
            .ok()
            .and_then(|s| s.chars().next())
            .map(|c| vec![(u32::from(c), u32::from(c))])
            .unwrap_or_default(),
        other => panic!("class {pattern} parsed to {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_characters_are_classified_like_the_regex() {
        assert_eq!(class_of('a' as u32), LETTER | LOWERISH);
        assert_eq!(class_of('A' as u32), LETTER | UPPERISH);
        assert_eq!(class_of('7' as u32), NUMBER);
        assert_eq!(class_of(' ' as u32), SPACE);
        assert_eq!(class_of('\n' as u32), SPACE);
        assert_eq!(class_of('.' as u32), 0);
    }

    #[test]
    fn non_ascii_letters_marks_and_spaces_are_classified() {
        // CJK ideographs are Lo: a letter, both halves of an o200k word.
        assert_eq!(class_of('中' as u32), LETTER | UPPERISH | LOWERISH);
        // A combining mark is not a letter but belongs to o200k words.
        assert_eq!(class_of(0x0301), UPPERISH | LOWERISH);
        assert_eq!(class_of(0x00A0), SPACE);
        assert_eq!(class_of('٣' as u32), NUMBER);
    }

    #[test]
    fn long_s_folds_to_s_like_the_case_insensitive_regex() {
        assert!(folds_to('ſ', 's'));
        assert!(folds_to('S', 's'));
        assert!(!folds_to('ſ', 't'));
        assert!(!folds_to('x', 's'));
    }
}
