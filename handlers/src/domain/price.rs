//! A price: what one kind of token (or one PTU-hour) costs for a model on a
//! deployment type, in a region and service tier, from a date on, and where
//! the figure comes from.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{Currency, DeploymentType};

/// What a price counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// Prompt tokens not read from the cache.
    Input,
    /// Prompt tokens read from the cache.
    CachedInput,
    /// Prompt tokens written to the cache.
    CacheWrite,
    /// Completion tokens (reasoning included).
    Output,
    /// Audio prompt tokens.
    AudioInput,
    /// Audio prompt tokens read from the cache.
    CachedAudioInput,
    /// Audio completion tokens.
    AudioOutput,
    /// One provisioned throughput unit (PTU) for one hour; any model.
    ProvisionedUnit,
}

impl TokenKind {
    /// Every kind, in file order.
    pub const ALL: [Self; 8] = [
        Self::Input,
        Self::CachedInput,
        Self::CacheWrite,
        Self::Output,
        Self::AudioInput,
        Self::CachedAudioInput,
        Self::AudioOutput,
        Self::ProvisionedUnit,
    ];

    /// The name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::CachedInput => "cached-input",
            Self::CacheWrite => "cache-write",
            Self::Output => "output",
            Self::AudioInput => "audio-input",
            Self::CachedAudioInput => "cached-audio-input",
            Self::AudioOutput => "audio-output",
            Self::ProvisionedUnit => "ptu-hour",
        }
    }

    /// The kind in words, for messages (`cached input`).
    pub fn words(self) -> &'static str {
        match self {
            Self::ProvisionedUnit => "PTU-hour",
            other => match other.as_str() {
                "cached-input" => "cached input",
                "cache-write" => "cache write",
                "audio-input" => "audio input",
                "cached-audio-input" => "cached audio input",
                "audio-output" => "audio output",
                plain => plain,
            },
        }
    }

    /// Parses a name from a file.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// Whether it is priced per token (everything but PTU-hours).
    pub fn is_tokens(self) -> bool {
        self != Self::ProvisionedUnit
    }
}

/// How a request was served, which changes its price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceTier {
    /// The standard tier.
    #[default]
    Default,
    /// Priority processing.
    Priority,
    /// Flex processing.
    Flex,
    /// The batch API.
    Batch,
}

impl ServiceTier {
    /// The name used in files; empty for the default tier.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "",
            Self::Priority => "priority",
            Self::Flex => "flex",
            Self::Batch => "batch",
        }
    }

    /// Parses a name from a file; empty and `default` are the default tier.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "default" | "standard" => Some(Self::Default),
            "priority" => Some(Self::Priority),
            "flex" => Some(Self::Flex),
            "batch" => Some(Self::Batch),
            _ => None,
        }
    }
}

impl fmt::Display for ServiceTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if *self == Self::Default { "default" } else { self.as_str() })
    }
}

/// Where a price comes from, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriceLayer {
    /// `prices/azure-openai.csv`, compiled in.
    Shipped,
    /// The Retail Prices API (the synced catalogue).
    Synced,
    /// The user's own file (`CHARGEBACK_PRICES`).
    User,
}

/// One price: what one kind costs from a date on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Price {
    /// Model as the catalogue writes it (`gpt-4o`); empty for PTU-hours.
    pub model: String,
    /// Version the price is for (`0718`); empty: every version.
    pub version: String,
    /// Deployment type: global, data-zone or regional (for PTU-hours: where
    /// the PTUs are deployed; never provisioned).
    pub deployment_type: DeploymentType,
    /// Region (`eastus2`); empty: every region.
    pub region: String,
    /// Service tier.
    pub tier: ServiceTier,
    /// What it prices.
    pub kind: TokenKind,
    /// First UTC day it applies.
    pub effective_from: NaiveDate,
    /// Currency.
    pub currency: Currency,
    /// Per 1M tokens (per PTU and hour for [`TokenKind::ProvisionedUnit`]).
    pub price: Decimal,
    /// Where the figure comes from (URL).
    pub source: String,
    /// When the source was read.
    pub read_on: Option<NaiveDate>,
    /// The file or document it was read from.
    pub origin: String,
    /// Its layer.
    pub layer: PriceLayer,
    /// The price meter it was read from (synced prices), else empty.
    pub meter_id: String,
}

impl Price {
    /// What it prices, without its date: model, version, type, region, tier, kind.
    pub fn key(&self) -> (String, &str, DeploymentType, &str, ServiceTier, TokenKind) {
        (self.model.to_ascii_lowercase(), &self.version, self.deployment_type, &self.region, self.tier, self.kind)
    }
}
