//! A pay-as-you-go price: what a model's tokens cost on a deployment type
//! from a date on, and where the figure comes from.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{Currency, DeploymentType};

/// One price: what a model costs on a deployment type from a date on. Rates
/// are per 1M tokens, in `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Price {
    /// Model name as the catalogue writes it (`gpt-4o`).
    pub model: String,
    /// Deployment type (never provisioned).
    pub deployment_type: DeploymentType,
    /// First UTC day the price applies.
    pub effective_from: NaiveDate,
    /// Currency of the rates.
    pub currency: Currency,
    /// Input (prompt) tokens, per 1M.
    pub input_per_1m: Decimal,
    /// Cached input tokens, per 1M (none: no confirmed figure).
    pub cached_input_per_1m: Option<Decimal>,
    /// Output (completion, reasoning included) tokens, per 1M (none: no confirmed figure).
    pub output_per_1m: Option<Decimal>,
    /// Where the figure comes from (URL).
    pub source: String,
    /// When the source was read.
    pub read_on: Option<NaiveDate>,
    /// Which file the row comes from.
    pub origin: String,
}
