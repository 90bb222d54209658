//! Prices and the monthly chargeback statement (issue #5).
//!
//! Pure code, no storage or async: the rollup hands over a month of
//! [`crate::domain::UsageAggregate`] rows and gets back a [`Statement`] and the
//! files of the month's report.
//!
//! 1. [`PriceCatalogue::load`]: the shipped `prices/azure-openai.csv`, overridden
//!    or extended by the user's file (`CHARGEBACK_PRICES`);
//! 2. [`DeploymentCatalogue::load`]: deployment → model, deployment type and,
//!    for provisioned (PTU) deployments, their cost (`CHARGEBACK_DEPLOYMENTS`);
//! 3. [`compute`]: the statement of a [`Period`];
//! 4. [`render`]: `chargeback.csv`, `daily.csv`, `chargeback.json` and
//!    `chargeback.html`.
//!
//! Money is [`rust_decimal::Decimal`], never a float; the rounding policy is in
//! [`statement`] and `docs/chargeback.md`.

pub(crate) mod allocation;
mod deployments;
mod meters;
mod prices;
mod render;
mod statement;

pub use deployments::{
    ACCOUNT_RESOURCE_TYPE, DeploymentCatalogue, DeploymentType, Provisioned, ProvisionedCost, account_resource_id,
};
pub use meters::{Meter, MeterCharge, MeterPrice};
pub use prices::{Price, PriceCatalogue, PriceError};
pub use render::{FOCUS_FILE, REPORT_FILES, render};
pub use statement::{
    BillingError, BusinessUnitTotal, ChargeLine, DailyTotal, LineKind, Period, ProvisionedUse, Statement, TokenCounts,
    UNUSED_CAPACITY, compute,
};
