//! Administration: applications (party → application → business unit),
//! business units, deployments (model, type, provisioned cost) and budgets,
//! stored per tenant so they work on every backend ([`documents`]), edited
//! over HTTP with ETags ([`routes`]), and read by the rest of the app through
//! one call, [`Directory::load`].

pub mod budgets;
pub mod documents;
pub mod entries;
pub mod routes;

use std::collections::BTreeMap;

use crate::config::Settings;
use crate::domain::Tenant;
use crate::mapping::ApplicationMap;
use crate::startup::Stores;
pub use documents::DirectoryError;
use documents::read;
use entries::{Application, Applications, Budget, Budgets, BusinessUnit, BusinessUnits, Deployment, Deployments};

pub use crate::api::params::Name;

/// The effective administration data of a tenant: what the rollup, the
/// chargeback and the usage API attribute and price usage with.
#[derive(Debug, Clone)]
pub struct Directory {
    /// Party → application and business unit, as the reports apply it
    /// (unmapped parties: the party itself, business unit `unassigned`).
    pub applications: ApplicationMap,
    /// The same entries by party.
    pub application_entries: BTreeMap<Name, Application>,
    /// Business units by id.
    pub business_units: BTreeMap<Name, BusinessUnit>,
    /// Deployments by name.
    pub deployments: BTreeMap<Name, Deployment>,
    /// Budgets by business unit id.
    pub budgets: BTreeMap<Name, Budget>,
}

impl Directory {
    /// Reads a tenant's administration data: the stored documents, or the
    /// configuration's CSV files for collections never edited.
    pub async fn load(stores: &Stores, settings: &Settings, tenant: &Tenant) -> Result<Self, DirectoryError> {
        let reports = stores.reports.as_ref();
        let applications = read::<Applications>(reports, settings, tenant).await?.entries;
        let business_units = read::<BusinessUnits>(reports, settings, tenant).await?.entries;
        let deployments = read::<Deployments>(reports, settings, tenant).await?.entries;
        let budgets = read::<Budgets>(reports, settings, tenant).await?.entries;
        Ok(Self {
            applications: application_map(&applications),
            application_entries: applications,
            business_units,
            deployments,
            budgets,
        })
    }

    /// A deployment's entry.
    pub fn deployment(&self, name: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|(k, _)| k.as_str() == name).map(|(_, d)| d)
    }

    /// The deployments as the chargeback prices them.
    pub fn deployment_catalogue(&self) -> anyhow::Result<crate::billing::DeploymentCatalogue> {
        let mut catalogue = crate::billing::DeploymentCatalogue::default();
        for (name, d) in &self.deployments {
            let columns = d.columns();
            catalogue.insert(name.as_str(), d.model.as_str(), &|c| columns.get(c).map_or("", String::as_str))?;
        }
        Ok(catalogue)
    }

    /// A business unit's budget.
    pub fn budget(&self, business_unit: &str) -> Option<&Budget> {
        self.budgets.iter().find(|(k, _)| k.as_str() == business_unit).map(|(_, b)| b)
    }
}

/// The report-time mapping of application entries.
pub fn application_map(entries: &BTreeMap<Name, Application>) -> ApplicationMap {
    ApplicationMap::from_rows(
        entries.iter().map(|(party, a)| (party.as_str(), a.application.as_str(), a.business_unit.as_str())),
    )
}
