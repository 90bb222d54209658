//! The pre-tokenizer: splits text into the pieces that byte-pair encoding then
//! encodes one by one, exactly as tiktoken's regex patterns do.
//!
//! tiktoken (and `bpe-openai`) run a Unicode regex to find the pieces; most of
//! their time goes there. The two patterns are simple enough to run by hand as
//! a small state machine over a character-class table, which is several times
//! faster and gives the same pieces. The unit tests check that against the
//! regex of `bpe-openai` on generated text that mixes every class of character
//! the patterns distinguish.

mod cl100k;
mod classes;
mod o200k;

use crate::Encoding;

pub(crate) use classes::{LETTER, LOWERISH, NUMBER, SPACE, UPPERISH};

/// An iterator over the pieces of a text, as byte ranges `start..end`.
#[derive(Debug)]
pub(crate) struct Pieces<'a> {
    text: Text<'a>,
    encoding: Encoding,
    pos: usize,
}

/// Splits `text` into the pieces of `encoding`'s pre-tokenizer pattern.
pub(crate) fn pieces(encoding: Encoding, text: &str) -> Pieces<'_> {
    Pieces { text: Text::new(text), encoding, pos: 0 }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        if start >= self.text.len() {
            return None;
        }
        let end = match self.encoding {
            Encoding::Cl100kBase => cl100k::piece_end(&self.text, start),
            Encoding::O200kBase => o200k::piece_end(&self.text, start),
        };
        self.pos = end;
        Some(&self.text.bytes[start..end])
    }
}

/// A text with fast access to the character and its classes at a byte offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Text<'a> {
    bytes: &'a [u8],
    table: &'static [u8],
}

/// One decoded character: its code point, length in bytes and class bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Char {
    pub(crate) code: u32,
    pub(crate) len: usize,
    pub(crate) class: u8,
}

impl Char {
    /// Whether this is `\r` or `\n`.
    #[inline]
    pub(crate) fn is_newline(self) -> bool {
        self.code == u32::from(b'\n') || self.code == u32::from(b'\r')
    }

    /// Whether any of the class bits in `mask` are set.
    #[inline]
    pub(crate) fn is(self, mask: u8) -> bool {
        self.class & mask != 0
    }
}

impl<'a> Text<'a> {
    fn new(text: &'a str) -> Self {
        Self { bytes: text.as_bytes(), table: classes::table() }
    }

    /// Length in bytes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The character starting at byte `pos`, or `None` at the end of the text.
    /// `pos` must be a character boundary.
    #[inline]
    pub(crate) fn at(&self, pos: usize) -> Option<Char> {
        let first = *self.bytes.get(pos)?;
        let (code, len) = if first < 0x80 { (u32::from(first), 1) } else { self.decode_multibyte(pos, first) };
        let class = self.table.get(code as usize).copied().unwrap_or(0);
        Some(Char { code, len, class })
    }

    /// Decodes a 2 to 4 byte UTF-8 sequence; the text came from a `&str`, so
    /// it is well formed.
    #[inline]
    fn decode_multibyte(&self, pos: usize, first: u8) -> (u32, usize) {
        let cont = |i: usize| u32::from(self.bytes.get(pos + i).copied().unwrap_or(0x80) & 0x3F);
        if first < 0xE0 {
            ((u32::from(first & 0x1F) << 6) | cont(1), 2)
        } else if first < 0xF0 {
            ((u32::from(first & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
        } else {
            ((u32::from(first & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3), 4)
        }
    }

    /// The end of the run of characters, from `pos`, whose class has a bit of `mask`.
    #[inline]
    pub(crate) fn run_end(&self, mut pos: usize, mask: u8) -> usize {
        while let Some(c) = self.at(pos) {
            if !c.is(mask) {
                break;
            }
            pos += c.len;
        }
        pos
    }

    /// The end of the run of characters that are neither white space, letters
    /// nor numbers (`[^\s\p{L}\p{N}]+`), from `pos`.
    #[inline]
    pub(crate) fn punctuation_end(&self, mut pos: usize) -> usize {
        while let Some(c) = self.at(pos) {
            if c.is(SPACE | LETTER | NUMBER) {
                break;
            }
            pos += c.len;
        }
        pos
    }

    /// The end of up to three numbers (`\p{N}{1,3}`) from `pos`.
    #[inline]
    pub(crate) fn digits_end(&self, mut pos: usize) -> usize {
        for _ in 0..3 {
            match self.at(pos) {
                Some(c) if c.is(NUMBER) => pos += c.len,
                _ => break,
            }
        }
        pos
    }

    /// The end of the bytes in `set` from `pos` (`[\r\n]*` and the like).
    #[inline]
    pub(crate) fn bytes_end(&self, mut pos: usize, set: &[u8]) -> usize {
        while self.bytes.get(pos).is_some_and(|b| set.contains(b)) {
            pos += 1;
        }
        pos
    }

    /// The end of an English contraction (`(?i:'s|'t|'re|'ve|'m|'ll|'d)`)
    /// that starts with the apostrophe at `pos`, if there is one.
    #[inline]
    pub(crate) fn contraction_end(&self, pos: usize) -> Option<usize> {
        if self.bytes.get(pos) != Some(&b'\'') {
            return None;
        }
        let first = self.at(pos + 1)?;
        let first_char = char::from_u32(first.code)?;
        let after_first = pos + 1 + first.len;
        for single in ['s', 't', 'm', 'd'] {
            if classes::folds_to(first_char, single) {
                return Some(after_first);
            }
        }
        let second = self.at(after_first)?;
        let second_char = char::from_u32(second.code)?;
        for (a, b) in [('r', 'e'), ('v', 'e'), ('l', 'l')] {
            if classes::folds_to(first_char, a) && classes::folds_to(second_char, b) {
                return Some(after_first + second.len);
            }
        }
        None
    }

    /// The white space tail shared by both patterns, for a piece starting
    /// with white space at `pos`:
    /// `\s*[\r\n]+|\s+(?!\S)|\s+`.
    #[inline]
    pub(crate) fn whitespace_end(&self, pos: usize) -> usize {
        let mut end = pos;
        let mut last_newline_end = None;
        let mut last_char_start = pos;
        let mut chars = 0usize;
        while let Some(c) = self.at(end) {
            if !c.is(SPACE) {
                break;
            }
            last_char_start = end;
            end += c.len;
            chars += 1;
            if c.is_newline() {
                last_newline_end = Some(end);
            }
        }
        if let Some(newline_end) = last_newline_end {
            // `\s*[\r\n]+`: the greedy `\s*` backs off to the last newline.
            return newline_end;
        }
        if end == self.len() || chars < 2 {
            // `\s+(?!\S)` at the end of the text, or the plain `\s+`.
            end
        } else {
            // `\s+(?!\S)`: leave the last white space to the next piece.
            last_char_start
        }
    }
}

#[cfg(test)]
mod tests;
