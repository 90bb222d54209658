//! The meter parser: what an Azure price meter is, read from its names.
//!
//! The Retail Prices API (and the cost exports, whose `SkuMeter` /
//! `x_SkuMeterName` carry the same names) identifies Azure OpenAI prices only
//! by abbreviated names such as `gpt-4o-mini-0718-Inp-glbl`,
//! `o3 Inpt DZone 1M Tokens` or `5.4 mini cd Inp Gl`. [`parse`] reads them
//! into a [`Meter`]: the model (and its version), the deployment scope, the
//! token kind, the service tier and the context band. A name it cannot read
//! completely is [`Unparsed`], with the reason: it is never guessed. A user
//! mapping file ([`MeterMapping`]) names what such meters are and wins over
//! the parser ([`identify`]).
//!
//! The rules, and where each spelling was seen, are in `docs/chargeback.md`.

mod mapping;
mod unit;
mod words;

/// The service tier a meter prices.
pub use crate::domain::ServiceTier;
/// What a meter counts (the catalogue's token kinds, PTU-hours included).
pub use crate::domain::TokenKind as MeterKind;
pub use mapping::{MappingError, MeterMapping};
pub use unit::{Unit, UnitError};

use std::fmt;

use serde::Serialize;
use words::Word;

use crate::domain::DeploymentType;

/// Where a meter's deployments run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Global (`glbl`, `Gl`, `global`).
    Global,
    /// Data zone (`DZone`, `Dz`, `Data Zone`).
    DataZone,
    /// Regional (`regnl`, `regional`).
    Regional,
}

impl From<Scope> for DeploymentType {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Global => Self::Global,
            Scope::DataZone => Self::DataZone,
            Scope::Regional => Self::Regional,
        }
    }
}

impl Scope {
    /// The name used in files (`global`, `data-zone`, `regional`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::DataZone => "data-zone",
            Self::Regional => "regional",
        }
    }

    /// Parses a name from a file (`data_zone` and `datazone` too).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "global" => Some(Self::Global),
            "data-zone" | "datazone" | "data_zone" => Some(Self::DataZone),
            "regional" => Some(Self::Regional),
            _ => None,
        }
    }
}

/// The context band a price applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Context {
    /// The standard band (no word, or `ShortCo`).
    #[default]
    Standard,
    /// Prompts past the model's long-context threshold (`LongCo`).
    Long,
}

/// What a meter prices.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Meter {
    /// Model as Azure names it, without version (`gpt-4o-mini`); `None` for
    /// provisioned units, which serve any model.
    pub model: Option<String>,
    /// Model version as the meter writes it (`0718`), if it names one.
    pub version: Option<String>,
    /// Where the deployments it prices run.
    pub scope: Scope,
    /// What it counts.
    pub kind: MeterKind,
    /// The service tier.
    pub tier: ServiceTier,
    /// The context band.
    pub context: Context,
}

impl fmt::Display for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.model.as_deref().unwrap_or("any model"))?;
        if let Some(v) = &self.version {
            write!(f, " ({v})")?;
        }
        write!(f, " {} {}", self.scope.as_str(), self.kind.as_str())?;
        if self.tier != ServiceTier::Default {
            write!(f, " {}", self.tier.as_str())?;
        }
        if self.context == Context::Long {
            f.write_str(" long-context")?;
        }
        Ok(())
    }
}

/// A meter name the parser could not read completely, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("meter {name:?}: {reason}")]
pub struct Unparsed {
    /// The name as given.
    pub name: String,
    /// What could not be read.
    pub reason: String,
}

/// Reads a meter from its names. `meter_name` is the API's `meterName` (or
/// a cost export's meter name); `sku_name` its `skuName` (may be empty);
/// `product_name` its `productName` (may be empty), which says the family of
/// names that start with a bare number (`5.4 mini` under `Azure OpenAI GPT5`).
///
/// The meter name is read first; when it cannot be read, the SKU name is
/// (it may carry the deployment type the meter name leaves out). When both
/// can be read they must agree.
pub fn parse(meter_name: &str, sku_name: &str, product_name: &str) -> Result<Meter, Unparsed> {
    let (primary, other) = if meter_name.trim().is_empty() { (sku_name, "") } else { (meter_name, sku_name) };
    let unparsed = |reason| Unparsed { name: primary.trim().to_owned(), reason };
    let from_sku = (!other.trim().is_empty()).then(|| parse_one(other, product_name)).and_then(Result::ok);
    match (parse_one(primary, product_name), from_sku) {
        (Ok(meter), Some(sku)) if sku != meter => {
            Err(unparsed(format!("the meter name reads as {meter} but the SKU name {other:?} as {sku}")))
        }
        (Ok(meter), _) => Ok(meter),
        (Err(_), Some(sku)) => Ok(sku),
        (Err(reason), None) => Err(unparsed(reason)),
    }
}

/// What [`identify`] made of a meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identified {
    /// A meter, read by the parser or named by the mapping file.
    Meter(Meter),
    /// The mapping file says to ignore it.
    Ignored,
    /// Neither the mapping file nor the parser could say what it is.
    Unparsed(Unparsed),
}

/// What a meter is: the mapping file's row for its id or name if it has one,
/// else what [`parse`] reads.
pub fn identify(
    mapping: &MeterMapping,
    meter_id: &str,
    meter_name: &str,
    sku_name: &str,
    product_name: &str,
) -> Identified {
    match mapping.lookup(meter_id, meter_name) {
        Some(Some(meter)) => Identified::Meter(meter.clone()),
        Some(None) => Identified::Ignored,
        None => match parse(meter_name, sku_name, product_name) {
            Ok(meter) => Identified::Meter(meter),
            Err(unparsed) => Identified::Unparsed(unparsed),
        },
    }
}

/// What the words of one name said, before it is checked.
#[derive(Debug, Default)]
struct Reading {
    input: bool,
    output: bool,
    cached: bool,
    write: bool,
    audio: bool,
    text: bool,
    provisioned: bool,
    scopes: Vec<Scope>,
    tiers: Vec<ServiceTier>,
    long: bool,
    versions: Vec<String>,
    model: Vec<String>,
}

fn parse_one(name: &str, product_name: &str) -> Result<Meter, String> {
    let words = words::split(name);
    if words.is_empty() {
        return Err("empty name".to_owned());
    }
    let r = read_words(&words)?;
    let scope = match r.scopes.as_slice() {
        [one] => *one,
        [] => return Err("it names no deployment type (global, data zone or regional)".to_owned()),
        _ => return Err("it names more than one deployment type".to_owned()),
    };
    let tier = match r.tiers.as_slice() {
        [] => ServiceTier::Default,
        [one] => *one,
        _ => return Err("it names more than one service tier".to_owned()),
    };
    let version = match r.versions.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        _ => return Err("it names more than one version".to_owned()),
    };
    let context = if r.long { Context::Long } else { Context::Standard };
    if r.provisioned {
        if r.input || r.output || r.cached || r.audio || !r.model.is_empty() || version.is_some() {
            return Err("a provisioned meter that also names a model or token kind".to_owned());
        }
        return Ok(Meter { model: None, version: None, scope, kind: MeterKind::ProvisionedUnit, tier, context });
    }
    let kind = token_kind(&r)?;
    let model = model_name(&r.model, product_name)?;
    Ok(Meter { model: Some(model), version, scope, kind, tier, context })
}

fn read_words(words: &[String]) -> Result<Reading, String> {
    let mut r = Reading::default();
    let realtime = words.iter().any(|w| matches!(w.as_str(), "rt" | "realtime"));
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str);
        // `text` starts `text-embedding-3-large`; elsewhere it marks text tokens.
        if word == "text" && next == Some("embedding") {
            r.model.push(word.clone());
            continue;
        }
        // `Data Zone` in two words.
        if word == "data" && next == Some("zone") {
            continue;
        }
        if word == "zone" && i > 0 && words[i - 1] == "data" {
            r.scopes.push(Scope::DataZone);
            continue;
        }
        // `aud` names the audio preview models (`gpt-4o-aud-1217`) and marks
        // their audio tokens; inside a realtime name it is only the marker.
        if word == "aud" {
            r.audio = true;
            if !realtime {
                r.model.extend(["audio".to_owned(), "preview".to_owned()]);
            }
            continue;
        }
        // A leading `Az` (`Az-Text-Embedding-3-Large`) is not part of the model.
        if word == "az" && i == 0 {
            continue;
        }
        match words::classify(word) {
            Some(Word::Input) => r.input = true,
            Some(Word::Output) => r.output = true,
            Some(Word::Cached) => r.cached = true,
            Some(Word::Write) => r.write = true,
            Some(Word::Audio) => r.audio = true,
            Some(Word::Text) => r.text = true,
            Some(Word::Scope(s)) => r.scopes.push(s),
            Some(Word::Tier(t)) => r.tiers.push(t),
            Some(Word::Standard | Word::Filler) => {}
            Some(Word::Long) => r.long = true,
            Some(Word::Provisioned) => r.provisioned = true,
            Some(Word::Version) => r.versions.push(word.clone()),
            Some(Word::NotTokens) => return Err(format!("{word:?}: not a token or PTU price")),
            Some(Word::FineTuning) => return Err("a fine-tuning meter (not a usage price)".to_owned()),
            None => {
                let expanded = words::expand(word);
                if expanded.is_empty() {
                    r.model.push(word.clone());
                } else {
                    for part in expanded {
                        if r.model.last().map(String::as_str) != Some(part) {
                            r.model.push((*part).to_owned());
                        }
                    }
                }
            }
        }
    }
    r.scopes.dedup();
    r.tiers.dedup();
    Ok(r)
}

fn token_kind(r: &Reading) -> Result<MeterKind, String> {
    let audio = r.audio && !r.text;
    match (r.input, r.output, r.cached, r.write) {
        (_, false, true, true) if !audio => Ok(MeterKind::CacheWrite),
        (_, _, _, true) => Err("a write that is not a plain cache write".to_owned()),
        (true, true, _, _) => Err("it names both input and output".to_owned()),
        (true, false, true, _) if audio => Ok(MeterKind::CachedAudioInput),
        (true, false, true, _) => Ok(MeterKind::CachedInput),
        (true, false, false, _) if audio => Ok(MeterKind::AudioInput),
        (true, false, false, _) => Ok(MeterKind::Input),
        (false, true, true, _) => Err("cached output is not a token kind".to_owned()),
        (false, true, false, _) if audio => Ok(MeterKind::AudioOutput),
        (false, true, false, _) => Ok(MeterKind::Output),
        // Embeddings have only input tokens and their meters say so by omission.
        (false, false, false, _) if r.model.iter().any(|w| w == "embedding") => Ok(MeterKind::Input),
        (false, false, _, _) => Err("it names no token kind (input, cached input, cache write or output)".to_owned()),
    }
}

/// The model name from its words: joined with `-`; a name that starts with
/// a bare number is a GPT model when the product says so (`Azure OpenAI GPT5`).
fn model_name(words: &[String], product_name: &str) -> Result<String, String> {
    let Some(first) = words.first() else {
        return Err("it names no model".to_owned());
    };
    let mut parts: Vec<&str> = words.iter().map(String::as_str).collect();
    if first.starts_with(|c: char| c.is_ascii_digit()) {
        if !product_name.to_ascii_lowercase().contains("gpt") {
            return Err(format!(
                "the model starts with a bare number ({first:?}) and the product name ({product_name:?}) does not say which family"
            ));
        }
        // `5`, `5.4`, `6`; `54 mini` (5.4 without its dot) is not read as 5.4.
        let mut halves = first.splitn(2, '.');
        let major_ok = halves.next().is_some_and(|m| m.len() == 1);
        let minor_ok = halves.next().is_none_or(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
        if !major_ok || !minor_ok || !first.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!("{first:?} is not a GPT version number (one digit, optionally .minor)"));
        }
        parts.insert(0, "gpt");
    }
    Ok(parts.join("-"))
}

#[cfg(test)]
mod tests;
