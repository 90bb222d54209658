//! Why a body could not be counted.

/// A request or response body that cannot be counted.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The request body has none of `messages`, `prompt` or `input`, and is
    /// not a bare messages array.
    #[error("request body has no messages, prompt or input to count")]
    NothingToCount,
    /// A field has a shape the API does not allow, e.g. a number as content.
    #[error("`{field}` has an unexpected shape: expected {expected}")]
    UnexpectedShape {
        /// JSON path of the field, e.g. `messages[2].content`.
        field: String,
        /// What the API allows there.
        expected: &'static str,
    },
    /// The response body is neither a JSON completion nor server-sent events
    /// holding at least one JSON chunk.
    #[error("response body is neither a JSON completion nor a stream of JSON chunks")]
    UnreadableResponse,
}

impl CountError {
    pub(crate) fn shape(field: impl Into<String>, expected: &'static str) -> Self {
        Self::UnexpectedShape { field: field.into(), expected }
    }
}
