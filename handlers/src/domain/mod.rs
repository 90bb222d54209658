//! The chargeback domain: what a usage record is once it has been parsed.
//!
//! Nothing in here knows about JSON wire quirks, HTTP or SQL. Every type can
//! only hold valid values; the `records` module turns wire formats into these.

mod aggregate;
mod fingerprint;
mod period;
mod tenant;
mod token_usage;
mod usage_record;

pub use aggregate::{TokenCounts, UsageAggregate};
pub use fingerprint::{Fingerprint, Fingerprinter};
pub use period::{Period, PeriodError};
pub use tenant::{Tenant, TenantError};
pub use token_usage::{MAX_TOKENS_PER_RECORD, TokenSource, TokenUsage, UsageError};
pub use usage_record::{Caller, CountedWith, RecordId, RecordIdError, RecordShape, UsageRecord};
