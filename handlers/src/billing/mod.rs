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
//! 4. [`render`]: `chargeback.csv`, `daily.csv`, `chargeback.json`,
//!    `chargeback.html` and `focus.csv` (the FOCUS 1.2 cost and usage dataset).
//!
//! [`Pricing`] puts the first three together for a tenant's month, the one
//! way the rollup and the budget alerts price usage.
//!
//! Money is [`crate::domain::Money`], never a float; the rounding policy is in
//! [`statement`] and `docs/chargeback.md`.

pub(crate) mod allocation;
mod deployments;
mod meters;
mod prices;
mod pricing;
mod render;
mod statement;

pub use deployments::DeploymentCatalogue;
pub use meters::{Meter, MeterCharge, MeterPrice};
pub use prices::{Lookup, PriceCatalogue, PriceError, PriceSource, SyncedPrices, Unpriced, read_prices, synced};
pub use pricing::{Pricing, PricingError};
pub use render::{FOCUS_FILE, REPORT_FILES, render};
pub use statement::{
    BillingError, BusinessUnitTotal, ChargeLine, DailyTotal, ProvisionedUse, Statement, UNUSED_CAPACITY, compute,
};
