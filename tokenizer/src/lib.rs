//! Exact OpenAI token counting for chargeback, offline.
//!
//! When a response was streamed without usage, the chargeback has to count
//! the tokens itself. This crate does that, fast enough to run inside
//! ingestion:
//!
//! - [`encoding_for_model`] / [`DeploymentModels`]: model or Azure deployment → encoding;
//! - [`count_text`]: tokens of a text (same counts as tiktoken, several times faster);
//! - [`count_prompt`]: prompt tokens of a request body, with the per-message
//!   and reply-priming overhead the service adds and tool definitions;
//! - [`count_completion`]: completion tokens of a streamed (SSE) or plain
//!   response body, every choice, tool calls and refusals, plus the usage the
//!   stream reported if it did;
//! - [`resolve_usage`] / [`resolve_batch`]: usage first, counting second, with
//!   the [`Provenance`] (`reported` or `estimated`) of the result.
//!
//! The vocabularies are embedded in the binary and load on first use. All
//! counting is synchronous CPU work: call it from `spawn_blocking` or a
//! plain thread.

mod batch;
mod cli;
mod completion;
mod encoding;
mod error;
mod model;
mod piece_hash;
mod pretokenize;
mod prompt;
mod provenance;
mod sse;
mod tools;
mod usage;

pub use batch::{Exchange, PARALLEL_FROM_BYTES, resolve_batch};
pub use cli::{TokensCommandError, run_tokens_command};
pub use completion::{CompletionCount, count_completion};
pub use encoding::{Encoding, UnknownEncoding, count_text, count_text_reference, preload};
pub use error::CountError;
pub use model::{BadDeploymentMapping, DEFAULT_ENCODING, DeploymentModels, ModelEncoding, encoding_for_model};
pub use prompt::{PromptCount, PromptKind, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, TOKENS_PER_NAME, count_prompt};
pub use provenance::{Provenance, TokenUsage, reported_usage, resolve_usage};
pub use usage::ReportedUsage;
