//! Prices and the monthly chargeback statement.
//!
//! The statement itself is pure code, no storage or async: the rollup hands
//! over a month of [`crate::domain::UsageAggregate`] rows and gets back a
//! [`Statement`] and the files of the month's report.
//!
//! 1. [`PriceCatalogue::load`]: the shipped `prices/azure-openai.csv`, overridden
//!    or extended by the user's file (`CHARGEBACK_PRICES`);
//! 2. [`DeploymentCatalogue`]: deployment → model, deployment type and, for
//!    provisioned (PTU) deployments, their cost, from the tenant's directory;
//! 3. [`compute`]: the statement of a [`crate::domain::Period`];
//! 4. [`render`]: `chargeback.csv`, `daily.csv`, `chargeback.json` and
//!    `chargeback.html`.
//!
//! [`Pricing`] puts the first three together for a tenant's month, the one
//! way the rollup and the budget alerts price usage.
//!
//! Money is [`crate::domain::Money`], never a float; the rounding policy is in
//! [`statement`] and `docs/chargeback.md`.

mod allocation;
mod deployments;
mod prices;
mod pricing;
mod render;
mod statement;

pub use deployments::DeploymentCatalogue;
pub use prices::{PriceCatalogue, PriceError, PriceSource};
pub use pricing::{Pricing, PricingError};
pub use render::{REPORT_FILES, render};
pub use statement::{BillingError, BusinessUnitTotal, ChargeLine, DailyTotal, Statement, UNUSED_CAPACITY, compute};
