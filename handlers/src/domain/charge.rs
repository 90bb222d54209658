//! What a line of a month's chargeback is.

use std::fmt;

use serde::Serialize;

/// What a chargeback line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineKind {
    /// Pay-as-you-go usage (priced, or unpriced when its cost is `None`).
    Usage,
    /// Usage of a provisioned deployment: a share of its cost.
    Provisioned,
    /// A provisioned deployment's capacity nobody used.
    UnusedCapacity,
    /// A correction from reconciling the month with the invoice (a true-up):
    /// a line of its own; the lines it corrects are never changed.
    Correction,
}

impl LineKind {
    /// Every kind.
    pub const ALL: [LineKind; 4] = [Self::Usage, Self::Provisioned, Self::UnusedCapacity, Self::Correction];

    /// The name in reports and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Provisioned => "provisioned",
            Self::UnusedCapacity => "unused-capacity",
            Self::Correction => "correction",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

impl fmt::Display for LineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
