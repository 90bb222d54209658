//! Differential tests: our hand-run patterns against the regexes of
//! `bpe-openai` (which agree with tiktoken), on generated text that mixes
//! every class of character the patterns tell apart.

use super::pieces;
use crate::Encoding;

/// Characters chosen to hit every branch of both patterns: ASCII and
/// non-ASCII upper/lower/title/modifier/other letters, combining marks,
/// numbers of each kind, every sort of white space, apostrophes with the
/// letters of contractions (including `ſ`, which folds to `s`), punctuation,
/// `/`, symbols and emoji.
const ALPHABET: &[char] = &[
    'a', 'b', 'Z', 'Q', 'é', 'É', 'ǅ', 'ʰ', '中', 'ק', '\u{301}', '\u{903}', '7', '0', '٣', '½', 'Ⅻ', ' ', ' ', ' ',
    '\t', '\n', '\r', '\u{a0}', '\u{3000}', '\'', '\'', 's', 'S', 'ſ', 't', 'r', 'e', 'v', 'V', 'l', 'L', 'd', 'm',
    'M', '.', ',', '/', '!', '-', '😀', '$', '<', '|',
];

/// A tiny deterministic xorshift generator, so the tests need no `rand`.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_text(rng: &mut XorShift, len: usize) -> String {
    (0..len).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect()
}

fn reference(enc: Encoding) -> &'static bpe_openai::Tokenizer {
    match enc {
        Encoding::Cl100kBase => bpe_openai::cl100k_base(),
        Encoding::O200kBase => bpe_openai::o200k_base(),
    }
}

fn assert_same_pieces(enc: Encoding, text: &str) {
    let ours: Vec<&str> = pieces(enc, text).map(|p| std::str::from_utf8(p).unwrap_or("<not utf-8>")).collect();
    let theirs: Vec<&str> = reference(enc).split(text).collect();
    assert_eq!(ours, theirs, "{enc} pieces differ for {text:?}");
}

#[test]
fn hand_run_patterns_split_generated_text_like_the_regexes() {
    let mut rng = XorShift(0x5EED_CAFE_F00D_1234);
    for round in 0..4000 {
        // Mostly short texts (every branch at every position), some longer.
        let len = if round % 10 == 0 { 200 } else { 1 + round % 40 };
        let text = random_text(&mut rng, len);
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            assert_same_pieces(enc, &text);
        }
    }
}

#[test]
fn hand_run_patterns_split_ordinary_prose_and_code_like_the_regexes() {
    let samples = [
        "Hello, world! It's 2024-06-01 and we're testing   spaces\n\n\tand tabs.",
        "HTTPServer parses JSONData; CamelCaseWords and snake_case_words/paths/to/file.rs",
        "fn main() {\r\n    println!(\"{}\", 12345678);\r\n}\r\n",
        "Ünïcödé tëxt, 日本語のテキスト, русский текст, עברית, العربية ١٢٣٤",
        "trailing spaces   ",
        "  \n  \n",
        "I'M HERE, YOU'LL SEE, THEY'VE GONE, WE'D GO, IT'S ſ'ſ",
        "<|endoftext|> is ordinary text here",
    ];
    for text in samples {
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            assert_same_pieces(enc, text);
        }
    }
}

#[test]
fn an_empty_text_has_no_pieces() {
    assert_eq!(pieces(Encoding::O200kBase, "").count(), 0);
}

#[test]
fn long_generated_texts_count_like_the_reference_through_the_piece_cache() {
    let mut rng = XorShift(0xC0FF_EE00_1234_5678);
    for len in [100, 3000, 20_000] {
        let text = random_text(&mut rng, len);
        for enc in [Encoding::Cl100kBase, Encoding::O200kBase] {
            assert_eq!(
                crate::count_text(enc, &text),
                crate::count_text_reference(enc, &text),
                "{enc}, {len} characters"
            );
        }
    }
}
