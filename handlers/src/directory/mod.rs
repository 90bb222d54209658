//! The directory: a tenant's administration data — applications (party →
//! application → business unit), business units, deployments (model, type,
//! provisioned cost) and budgets. It is the one source every part of the app
//! attributes, prices and budgets usage with: the usage service, ingestion
//! (which deployment serves which model, for the tokenizer), the rollup's
//! statement and the budget alerts.
//!
//! Each collection is kept per tenant as a JSON document in the report store
//! ([`documents`]), so it works on every backend, and starts from the CSV
//! seed files of the configuration ([`seed`]) until it is first written
//! (over the HTTP API, with ETags).

pub mod collections;
pub mod documents;
pub mod seed;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chargeback_tokenizer::DeploymentModels;

pub use collections::{Applications, Budgets, BusinessUnits, Collection, Deployments};
pub use documents::{Snapshot, Version};
pub use seed::SeedError;

use crate::domain::{Application, ApplicationMap, Budget, BusinessUnit, Deployment, Name, Tenant};
use crate::storage::{ReportStore, StorageError};

/// Where the seed files are (`CHARGEBACK_APPLICATIONS`,
/// `CHARGEBACK_DEPLOYMENTS`, by default in the data directory).
#[derive(Debug, Clone)]
pub struct SeedFiles {
    /// The applications file.
    pub applications: PathBuf,
    /// The deployments file.
    pub deployments: PathBuf,
}

/// Why the directory could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A store failed.
    #[error("the directory's store failed")]
    Storage(#[from] StorageError),
    /// A seed file is malformed.
    #[error("the seed file {path} is malformed")]
    Seed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: SeedError,
    },
    /// The collection is no longer at the version the change was made on.
    #[error("the {collection} collection changed since the version the change is based on")]
    Stale {
        /// The collection.
        collection: &'static str,
    },
}

/// The version a change must apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Whatever is current (a lost race is retried).
    Latest,
    /// This version only.
    Version(Version),
    /// A version this directory never produced: nothing matches it.
    Never,
}

/// Writes without an expected version that lose races, before giving up.
const WRITE_ATTEMPTS: usize = 5;

/// The directory service over a report store.
#[derive(Debug, Clone)]
pub struct Directory {
    store: Arc<dyn ReportStore>,
    seeds: SeedFiles,
}

/// A tenant's whole directory, as read at one moment.
#[derive(Debug, Clone)]
pub struct DirectoryView {
    /// Party → application and business unit, as reports apply it
    /// (unmapped parties: the party itself, business unit `unassigned`).
    pub applications: ApplicationMap,
    /// The application entries by party.
    pub application_entries: BTreeMap<Name, Application>,
    /// Business units by id.
    pub business_units: BTreeMap<Name, BusinessUnit>,
    /// Deployments by name.
    pub deployments: BTreeMap<Name, Deployment>,
    /// Budgets by business unit id.
    pub budgets: BTreeMap<Name, Budget>,
}

impl DirectoryView {
    /// A deployment's entry.
    pub fn deployment(&self, name: &str) -> Option<&Deployment> {
        self.deployments.iter().find(|(k, _)| k.as_str() == name).map(|(_, d)| d)
    }

    /// A business unit's budget.
    pub fn budget(&self, business_unit: &str) -> Option<&Budget> {
        self.budgets.iter().find(|(k, _)| k.as_str() == business_unit).map(|(_, b)| b)
    }
}

impl Directory {
    /// The directory kept in `store`, seeded from `seeds`.
    pub fn new(store: Arc<dyn ReportStore>, seeds: SeedFiles) -> Self {
        Self { store, seeds }
    }

    /// A collection: as stored, or from its seed file if never written.
    pub async fn read<C: Collection>(&self, tenant: &Tenant) -> Result<Snapshot<C>, DirectoryError> {
        if let Some(stored) = documents::read_stored::<C>(self.store.as_ref(), tenant).await? {
            return Ok(stored);
        }
        let entries =
            C::seed(&self.seeds).map_err(|source| DirectoryError::Seed { path: self.seed_path::<C>(), source })?;
        Ok(Snapshot { entries, version: Version::Initial })
    }

    fn seed_path<C: Collection>(&self) -> PathBuf {
        match C::NAME {
            Deployments::NAME => self.seeds.deployments.clone(),
            _ => self.seeds.applications.clone(),
        }
    }

    /// Writes a collection if it is still at `expected`; the new version,
    /// or `None` when someone else wrote it meanwhile (nothing changed then).
    pub async fn write<C: Collection>(
        &self,
        tenant: &Tenant,
        entries: &BTreeMap<Name, C::Value>,
        expected: &Version,
    ) -> Result<Option<Version>, DirectoryError> {
        Ok(documents::write::<C>(self.store.as_ref(), tenant, entries, expected).await?)
    }

    /// Applies `change` to the collection at the `expected` version and
    /// writes it: the change's outcome, the entries written and their
    /// version. Without an expected version a lost race is retried on the
    /// newer entries.
    pub async fn modify<C, T, E>(
        &self,
        tenant: &Tenant,
        expected: &Expected,
        change: impl Fn(&mut BTreeMap<Name, C::Value>) -> Result<T, E>,
    ) -> Result<(T, BTreeMap<Name, C::Value>, Version), E>
    where
        C: Collection,
        E: From<DirectoryError>,
    {
        let stale = || E::from(DirectoryError::Stale { collection: C::NAME });
        for _ in 0..WRITE_ATTEMPTS {
            let snapshot = self.read::<C>(tenant).await?;
            match expected {
                Expected::Never => return Err(stale()),
                Expected::Version(v) if *v != snapshot.version => return Err(stale()),
                _ => {}
            }
            let mut entries = snapshot.entries;
            let outcome = change(&mut entries)?;
            match self.write::<C>(tenant, &entries, &snapshot.version).await? {
                Some(version) => return Ok((outcome, entries, version)),
                None if matches!(expected, Expected::Version(_)) => return Err(stale()),
                None => continue,
            }
        }
        Err(E::from(DirectoryError::Storage(StorageError::Contended(format!("the {} collection", C::NAME)))))
    }

    /// A tenant's whole directory.
    pub async fn view(&self, tenant: &Tenant) -> Result<DirectoryView, DirectoryError> {
        let applications = self.read::<Applications>(tenant).await?.entries;
        Ok(DirectoryView {
            applications: ApplicationMap::from_entries(&applications),
            application_entries: applications,
            business_units: self.read::<BusinessUnits>(tenant).await?.entries,
            deployments: self.read::<Deployments>(tenant).await?.entries,
            budgets: self.read::<Budgets>(tenant).await?.entries,
        })
    }

    /// The applications of a tenant as reports apply them.
    pub async fn applications(&self, tenant: &Tenant) -> Result<ApplicationMap, DirectoryError> {
        Ok(ApplicationMap::from_entries(&self.read::<Applications>(tenant).await?.entries))
    }

    /// Deployment → model of a tenant, for the tokenizer of streamed records
    /// whose deployment name hides the model.
    pub async fn deployment_models(&self, tenant: &Tenant) -> Result<DeploymentModels, DirectoryError> {
        let deployments = self.read::<Deployments>(tenant).await?.entries;
        Ok(DeploymentModels::from_pairs(deployments.iter().map(|(name, d)| (name.to_string(), d.model().to_string()))))
    }
}
