//! The words of a meter or SKU name: how a name is cut into words, and what
//! each word the parser knows means.
//!
//! Azure spells one idea many ways (`Inp`, `Inpt`, `input`; `glbl`, `Gl`,
//! `global`; `cached`, `cchd`, `cd`), glues words together (`gpt4omini`,
//! `turbo16K`, `mini0718`, `realtimePrvwTxtInp`, `DataZone`) and mixes spaces
//! and hyphens. Every spelling here was seen in a Retail Prices API answer or
//! a cost export; `docs/chargeback.md` lists where.

/// What a known word says about a meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Word {
    /// Prompt tokens.
    Input,
    /// Completion tokens.
    Output,
    /// Cached (prompt) tokens.
    Cached,
    /// With [`Word::Cached`]: writing to the cache.
    Write,
    /// Audio tokens (a bare `aud` also names the audio preview models).
    Audio,
    /// Text tokens of an audio or realtime model.
    Text,
    /// A deployment scope.
    Scope(super::Scope),
    /// A service tier.
    Tier(super::ServiceTier),
    /// The standard (short) context band, or the standard tier said aloud.
    Standard,
    /// The long-context band.
    Long,
    /// Provisioned throughput (`Provisioned Managed … Unit`).
    Provisioned,
    /// A billing unit that is not tokens (images, characters, sessions …).
    NotTokens,
    /// Fine-tuning (training, hosting, fine-tuned model tokens).
    FineTuning,
    /// A model version: `0718` (MMDD) or `08062026` (MMDDYYYY).
    Version,
    /// Filler with no meaning (`tokens`, `1M`, `managed`, `unit`, a leading `Az`).
    Filler,
}

/// The meaning of a lower-case word, or `None` for a model word.
pub(super) fn classify(word: &str) -> Option<Word> {
    use super::{Scope, ServiceTier};
    Some(match word {
        "in" | "inp" | "inpt" | "input" => Word::Input,
        "out" | "outp" | "outpt" | "opt" | "output" => Word::Output,
        "cd" | "cached" | "cchd" | "cched" | "ccchd" | "cache" => Word::Cached,
        "wr" | "write" => Word::Write,
        "audio" => Word::Audio,
        "txt" | "text" => Word::Text,
        "gl" | "glb" | "glbl" | "global" => Word::Scope(Scope::Global),
        "dz" | "dzn" | "dzone" | "datazone" => Word::Scope(Scope::DataZone),
        "regnl" | "regn" | "rgnl" | "regional" => Word::Scope(Scope::Regional),
        "batch" | "bt" => Word::Tier(ServiceTier::Batch),
        "pp" | "priority" => Word::Tier(ServiceTier::Priority),
        "flex" => Word::Tier(ServiceTier::Flex),
        "std" | "standard" | "shortco" | "shco" => Word::Standard,
        "longco" | "loco" => Word::Long,
        "provisioned" | "ptu" => Word::Provisioned,
        "tokens" | "token" | "1k" | "1m" | "managed" | "unit" | "units" => Word::Filler,
        "images" | "image" | "characters" | "chars" | "records" | "sessions" | "session" | "calls" | "gb" | "hours"
        | "hour" | "minutes" | "seconds" | "pages" | "transactions" | "requests" => Word::NotTokens,
        "ft" | "training" | "train" | "hosting" | "grader" | "finetune" | "finetuned" | "tuning" | "mdl" => {
            Word::FineTuning
        }
        w if is_version(w) => Word::Version,
        _ => return None,
    })
}

/// Whether a word is a model version: MMDD, or MMDDYYYY on dated meters.
fn is_version(word: &str) -> bool {
    if !word.bytes().all(|b| b.is_ascii_digit()) || !(word.len() == 4 || word.len() == 8) {
        return false;
    }
    let month: u32 = word[..2].parse().unwrap_or(0);
    let day: u32 = word[2..4].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Model-word abbreviations and what they stand for in Azure's model names
/// (`gpt-4o-rt-txt-1217` is `gpt-4o-realtime-preview` 2024-12-17).
pub(super) fn expand(word: &str) -> &'static [&'static str] {
    match word {
        "rt" | "realtime" => &["realtime", "preview"],
        "prvw" | "preview" => &["preview"],
        _ => &[],
    }
}

/// Cuts a name into lower-case words: at spaces, hyphens and underscores, at
/// a lower-case letter followed by a capital (`realtimePrvw`), and between
/// glued parts (`gpt4omini` → `gpt 4o mini`, `mini0718` → `mini 0718`,
/// `turbo16K` → `turbo 16k`).
pub(super) fn split(name: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    for raw in name.split(|c: char| c.is_whitespace() || matches!(c, '-' | '_' | '/' | ',' | '(' | ')')) {
        let mut current = String::new();
        let mut previous_lower = false;
        for c in raw.chars() {
            if c.is_ascii_uppercase() && previous_lower && !current.is_empty() {
                pieces.push(std::mem::take(&mut current));
            }
            previous_lower = c.is_ascii_lowercase();
            current.push(c.to_ascii_lowercase());
        }
        if !current.is_empty() {
            pieces.push(current);
        }
    }
    let mut words = Vec::new();
    for piece in rejoin(pieces) {
        unglue(&piece, &mut words);
    }
    words
}

/// Puts back together what the capital-letter cut split but Azure means as
/// one word: `ShortCo`, `LongCo`, `DataZone`.
fn rejoin(pieces: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let joined = matches!(
            (out.last().map(String::as_str), piece.as_str()),
            (Some("short" | "long"), "co") | (Some("data"), "zone")
        );
        match out.last_mut() {
            Some(last) if joined => last.push_str(&piece),
            _ => out.push(piece),
        }
    }
    out
}

/// Splits glued parts of one word, appending them to `out`.
fn unglue(word: &str, out: &mut Vec<String>) {
    // `gpt4o`, `gpt4omini`: the family glued to its number.
    if let Some(rest) = word.strip_prefix("gpt")
        && rest.starts_with(|c: char| c.is_ascii_digit())
    {
        out.push("gpt".to_owned());
        return unglue(rest, out);
    }
    // `4omini`, `5nano`: a model number glued to its size.
    for size in ["mini", "nano", "pro"] {
        if let Some(number) = word.strip_suffix(size)
            && !number.is_empty()
            && number.starts_with(|c: char| c.is_ascii_digit())
            && number.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'o')
        {
            out.push(number.to_owned());
            out.push(size.to_owned());
            return;
        }
    }
    // `mini0718`, `aud1217`, `txt1217`: a word glued to a version;
    // `turbo16k`, `turbo128k`: a word glued to a context size.
    let letters = word.bytes().take_while(u8::is_ascii_lowercase).count();
    let rest = &word[letters..];
    let is_version = rest.len() == 4 && rest.bytes().all(|b| b.is_ascii_digit());
    let is_context =
        rest.len() >= 2 && rest.ends_with('k') && rest[..rest.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if letters >= 3 && (is_version || is_context) {
        out.push(word[..letters].to_owned());
        out.push(rest.to_owned());
        return;
    }
    out.push(word.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_at_separators_capitals_and_glued_parts() {
        assert_eq!(split("gpt-4o-mini-0718-Inp-glbl"), ["gpt", "4o", "mini", "0718", "inp", "glbl"]);
        assert_eq!(
            split("gpt4omini-rt-txt1217 cchd Inp DZn"),
            ["gpt", "4o", "mini", "rt", "txt", "1217", "cchd", "inp", "dzn"]
        );
        assert_eq!(
            split("gpt4o realtimePrvwTxtInp DataZone"),
            ["gpt", "4o", "realtime", "prvw", "txt", "inp", "datazone"]
        );
        assert_eq!(
            split("gpt 4o mini0718 BatchOutp DataZone"),
            ["gpt", "4o", "mini", "0718", "batch", "outp", "datazone"]
        );
        assert_eq!(split("gpt-35-turbo16K-Inp-glbl"), ["gpt", "35", "turbo", "16k", "inp", "glbl"]);
        assert_eq!(split("6-sol ShortCo Cd Wr Std Gl"), ["6", "sol", "shortco", "cd", "wr", "std", "gl"]);
        assert_eq!(split("o3 Inpt DZone 1M Tokens"), ["o3", "inpt", "dzone", "1m", "tokens"]);
        assert_eq!(split("GPT 4.1 nano Global Input"), ["gpt", "4.1", "nano", "global", "input"]);
    }

    #[test]
    fn versions_are_month_and_day_or_a_dated_stamp() {
        assert_eq!(classify("0718"), Some(Word::Version));
        assert_eq!(classify("08062026"), Some(Word::Version));
        assert_eq!(classify("1317"), None, "month 13");
        assert_eq!(classify("35"), None);
        assert_eq!(classify("128k"), None, "a context size is part of the model name");
    }
}
