//! The service tier a response says it was served (and billed) at.
//!
//! Azure OpenAI and OpenAI put `service_tier` in the response body of Chat
//! Completions and Responses calls: `default` (standard processing),
//! `priority`, `flex`, `scale`; batch jobs are billed as `batch`. A priority
//! request can be downgraded (for example a long-context request, or traffic
//! ramping too fast): the response then says `default`, and that is the tier
//! that is billed. We keep what the response says, never what was asked for.
//! The price catalogue's [`ServiceTier`](super::ServiceTier) is the closed set
//! of tiers a price can be for; the statement matches a response's tier to it
//! by name, and a tier it does not know stays unpriced.

use std::fmt;
use std::sync::Arc;

/// A service tier name: 1–32 characters of `a-z`, `0-9`, `-` and `_`, folded
/// to lower case. Tiers we do not know are kept as they are (and priced as
/// nothing until a price names them), never mapped to another tier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResponseTier(Arc<str>);

/// Why a text is not a service tier.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a service tier (1-32 characters a-z, 0-9, '-' and '_', e.g. default, priority, flex)")]
pub struct ResponseTierError(pub String);

impl ResponseTier {
    /// The tiers the services document, in display order.
    pub const KNOWN: [&'static str; 5] = ["default", "priority", "flex", "scale", "batch"];

    /// Parses a tier name, folding upper case.
    pub fn parse(raw: &str) -> Result<Self, ResponseTierError> {
        let name = raw.trim().to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 32
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid { Ok(Self(Arc::from(name))) } else { Err(ResponseTierError(raw.to_owned())) }
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of the documented tiers.
    pub fn is_known(&self) -> bool {
        Self::KNOWN.contains(&self.as_str())
    }
}

impl fmt::Display for ResponseTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_folded_and_unknown_ones_kept() {
        assert_eq!(ResponseTier::parse(" Priority ").unwrap().as_str(), "priority");
        assert!(ResponseTier::parse("default").unwrap().is_known());
        let odd = ResponseTier::parse("turbo_2").unwrap();
        assert!(!odd.is_known());
        for bad in ["", "a b", "x".repeat(33).as_str(), "pri/ority"] {
            assert!(ResponseTier::parse(bad).is_err(), "{bad:?}");
        }
    }
}
