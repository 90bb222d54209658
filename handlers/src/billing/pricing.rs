//! Pricing a tenant's month: its usage aggregates, the tenant's directory as
//! it is now (applications, deployments) and the prices, into a
//! [`Statement`]. The rollup's finish step and the budget alerts both price
//! through here, so an alert and the month's chargeback never disagree.

use super::{BillingError, DeploymentCatalogue, PriceError, PriceSource, Statement, compute};
use crate::directory::{Directory, DirectoryError};
use crate::domain::{Period, Tenant, UsageAggregate};

/// Why a month could not be priced.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The directory could not be read.
    #[error("reading the directory failed")]
    Directory(#[from] DirectoryError),
    /// The price files could not be read.
    #[error("reading the prices failed")]
    Prices(#[from] PriceError),
    /// The statement cannot be made (usage outside the month, mixed currencies).
    #[error("the statement cannot be made")]
    Statement(#[from] BillingError),
}

/// Prices months with the tenant's directory and the configured prices.
#[derive(Debug, Clone)]
pub struct Pricing {
    directory: Directory,
    prices: PriceSource,
}

impl Pricing {
    /// Pricing with this directory and these prices.
    pub fn new(directory: Directory, prices: PriceSource) -> Self {
        Self { directory, prices }
    }

    /// The directory it attributes usage with.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The statement of a tenant's month from its aggregates.
    pub async fn statement(
        &self,
        tenant: &Tenant,
        period: Period,
        aggregates: &[UsageAggregate],
    ) -> Result<Statement, PricingError> {
        Ok(self.statement_and_deployments(tenant, period, aggregates).await?.0)
    }

    /// The statement of a tenant's month from its aggregates, and the
    /// deployments it was priced with (which the invoice reconciliation
    /// matches accounts by).
    pub async fn statement_and_deployments(
        &self,
        tenant: &Tenant,
        period: Period,
        aggregates: &[UsageAggregate],
    ) -> Result<(Statement, DeploymentCatalogue), PricingError> {
        let directory = self.directory.view(tenant).await?;
        let deployments = DeploymentCatalogue::new(&directory.deployments);
        let prices = self.prices.catalogue(tenant).await?;
        let statement = compute(period, aggregates, &directory.applications, &deployments, &prices)?;
        Ok((statement, deployments))
    }
}
