//! The chargeback domain: what a usage record is once it has been parsed,
//! and what finance talks about: tenants, months, tokens, money, parties,
//! applications, business units, deployments (and the Azure accounts they
//! live in), prices and budgets.
//!
//! Nothing in here knows about JSON wire quirks, HTTP or SQL. Every type can
//! only hold valid values; the `records` module turns wire formats into
//! records, the directory turns admin documents and seed files into the rest.

mod account;
mod aggregate;
mod application;
mod awaiting;
mod budget;
mod charge;
mod deployment;
mod fingerprint;
mod gateway_log;
mod money;
mod name;
mod period;
mod price;
mod rejection;
mod service_tier;
mod tenant;
mod token_usage;
mod usage_record;

pub use account::{ACCOUNT_RESOURCE_TYPE, AccountId, AccountIdError, Region, RegionError};
pub use aggregate::{TokenCounts, TokenTotals, UsageAggregate};
pub use application::{Application, ApplicationMap, BusinessUnit, UNASSIGNED};
pub use awaiting::{Awaiting, AwaitingLine, OpenCallParts};
pub use budget::{Budget, BudgetError};
pub use charge::LineKind;
pub use deployment::{Deployment, DeploymentError, DeploymentFields, DeploymentType, Provisioned, ProvisionedCost};
pub use fingerprint::{Fingerprint, Fingerprinter};
pub use gateway_log::{DEFAULT_ATTRIBUTION_GRACE, GatewayLog, LlmLog, Settlement, settle};
pub use money::{
    AmountError, Currency, CurrencyError, CurrencyMismatch, MAX_AMOUNT, Money, check_amount, serialize_amount,
    serialize_optional_amount,
};
pub use name::{MAX_NAME_CHARS, Name, NameError, Text, TextError};
pub use period::{Period, PeriodError};
pub use price::{Price, PriceLayer, ServiceTier, TokenKind};
pub use rejection::RejectReason;
pub use service_tier::{ResponseTier, ResponseTierError};
pub use tenant::{Tenant, TenantError};
pub use token_usage::{MAX_TOKENS_PER_RECORD, TokenDetails, TokenSource, TokenUsage, UsageError};
pub use usage_record::{Caller, CountedWith, RecordId, RecordIdError, RecordShape, UsageRecord};
