//! The two OpenAI encodings we count with, and counting plain text.
//!
//! Counting is pre-tokenizing (our hand-run patterns, see [`crate::pretokenize`])
//! and then byte-pair encoding each piece with the vocabularies that
//! `bpe-openai` embeds in the binary. The vocabularies load lazily on first
//! use, so nothing heavy happens at start-up.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::str::FromStr;

use bpe_openai::Tokenizer;

use crate::piece_hash::PieceHasher;
use crate::pretokenize;

/// A byte-pair encoding (vocabulary plus pre-tokenizer pattern) of OpenAI models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `cl100k_base`: gpt-4, gpt-4-turbo, gpt-35-turbo, text-embedding-*.
    Cl100kBase,
    /// `o200k_base`: gpt-4o, gpt-4.1, the o-series and newer families.
    O200kBase,
}

/// An encoding name that is neither `cl100k_base` nor `o200k_base`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encoding {0:?}: expected cl100k_base or o200k_base")]
pub struct UnknownEncoding(pub String);

impl Encoding {
    /// The name tiktoken uses, e.g. `"o200k_base"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cl100kBase => "cl100k_base",
            Self::O200kBase => "o200k_base",
        }
    }

    /// The embedded tokenizer; built on first use.
    fn tokenizer(self) -> &'static Tokenizer {
        match self {
            Self::Cl100kBase => bpe_openai::cl100k_base(),
            Self::O200kBase => bpe_openai::o200k_base(),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = UnknownEncoding;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cl100k_base" => Ok(Self::Cl100kBase),
            "o200k_base" => Ok(Self::O200kBase),
            other => Err(UnknownEncoding(other.to_owned())),
        }
    }
}

/// Texts shorter than this are counted without the piece cache; a fresh map
/// costs more than it saves on a few hundred pieces.
const CACHE_FROM_BYTES: usize = 2048;

/// Pieces longer than this are not cached: they rarely repeat.
const CACHE_MAX_PIECE: usize = 32;

/// The number of tokens `text` encodes to, counting special-token text such
/// as `<|endoftext|>` as ordinary text (tiktoken's `encode_ordinary`).
pub fn count_text(enc: Encoding, text: &str) -> u64 {
    let bpe = &enc.tokenizer().bpe;
    // Every single byte is a token of both vocabularies.
    let encode = |piece: &[u8]| if piece.len() == 1 { 1 } else { bpe.count(piece) };
    let pieces = pretokenize::pieces(enc, text);
    let tokens: usize = if text.len() < CACHE_FROM_BYTES {
        pieces.map(encode).sum()
    } else {
        // Byte-pair encoding a piece is deterministic, and words repeat a
        // lot in any real text: remember each short piece's count.
        let mut cache: HashMap<&[u8], usize, BuildHasherDefault<PieceHasher>> =
            HashMap::with_capacity_and_hasher(text.len() / 64, Default::default());
        pieces
            .map(|piece| {
                if piece.len() == 1 || piece.len() > CACHE_MAX_PIECE {
                    encode(piece)
                } else {
                    *cache.entry(piece).or_insert_with(|| encode(piece))
                }
            })
            .sum()
    };
    tokens as u64
}

/// Loads `enc`'s vocabulary now rather than on first count (tens of
/// milliseconds), e.g. from a background task after start-up.
pub fn preload(enc: Encoding) {
    let _ = enc.tokenizer();
    let _ = pretokenize::pieces(enc, "warm up").count();
}

/// The number of tokens `text` encodes to, using `bpe-openai`'s own regex
/// pre-tokenizer instead of ours. Slower; kept as the reference the tests and
/// the benchmark compare against.
pub fn count_text_reference(enc: Encoding, text: &str) -> u64 {
    enc.tokenizer().count(text) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_names_round_trip() {
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            assert_eq!(enc.to_string().parse::<Encoding>(), Ok(enc));
        }
        assert!("p50k_base".parse::<Encoding>().is_err());
    }

    #[test]
    fn known_strings_have_known_counts() {
        // tiktoken's README example: "hello world" is 2 tokens in both.
        assert_eq!(count_text(Encoding::Cl100kBase, "hello world"), 2);
        assert_eq!(count_text(Encoding::O200kBase, "hello world"), 2);
        assert_eq!(count_text(Encoding::Cl100kBase, ""), 0);
    }

    #[test]
    fn long_texts_counted_with_the_cache_match_the_reference() {
        let text = "The quick brown fox jumps over the lazy dog's back. ".repeat(200);
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            assert_eq!(count_text(enc, &text), count_text_reference(enc, &text));
        }
    }
}
