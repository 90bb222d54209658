//! Why an event is not a usage record: the reasons a dead letter is kept
//! with. The `records` module finds them; the dead-letter stores keep them.

use std::fmt;

/// Why a record went to the dead-letter store. The names are stable: they are
/// stored and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The body is not UTF-8.
    InvalidEncoding,
    /// The body is not JSON.
    InvalidJson,
    /// The body is JSON cut short (APIM truncates messages over 200 KB).
    TruncatedBody,
    /// The body is JSON but not an object.
    NotAnObject,
    /// The object matches none of the known record shapes.
    UnknownShape,
    /// A required field is absent.
    MissingField,
    /// A field has a value of the wrong kind.
    InvalidField,
    /// The timestamp is in no accepted form.
    InvalidTimestamp,
    /// A token count is negative.
    NegativeTokens,
    /// Token counts contradict each other (total, cached, reasoning).
    InconsistentTokens,
    /// A token count is over [`super::MAX_TOKENS_PER_RECORD`].
    ImplausibleTokens,
    /// A chunk of a split language-model log states other token counts than
    /// another chunk of the same call.
    ConflictingChunks,
}

impl RejectReason {
    /// Every reason.
    pub const ALL: [RejectReason; 12] = [
        Self::InvalidEncoding,
        Self::InvalidJson,
        Self::TruncatedBody,
        Self::NotAnObject,
        Self::UnknownShape,
        Self::MissingField,
        Self::InvalidField,
        Self::InvalidTimestamp,
        Self::NegativeTokens,
        Self::InconsistentTokens,
        Self::ImplausibleTokens,
        Self::ConflictingChunks,
    ];

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// The stored, machine-readable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEncoding => "invalid_encoding",
            Self::InvalidJson => "invalid_json",
            Self::TruncatedBody => "truncated_body",
            Self::NotAnObject => "not_an_object",
            Self::UnknownShape => "unknown_shape",
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::NegativeTokens => "negative_tokens",
            Self::InconsistentTokens => "inconsistent_tokens",
            Self::ImplausibleTokens => "implausible_tokens",
            Self::ConflictingChunks => "conflicting_chunks",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
