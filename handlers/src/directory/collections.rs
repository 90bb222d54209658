//! The directory's collections: who pays (applications, business units),
//! what the deployments are, and the budgets. Each is a keyed set of
//! entries of a domain type; the wire and stored form of an entry is its
//! value, its key kept beside it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::SeedFiles;
use super::seed::{self, SeedError};
use crate::domain::{Application, Budget, BusinessUnit, Deployment, Name, Text};

/// A kind of directory collection.
pub trait Collection: Send + Sync + 'static {
    /// The value kept under a key (valid by construction).
    type Value: Serialize + DeserializeOwned + Clone + Send + Sync + std::fmt::Debug + PartialEq;
    /// The path segment and document name (`admin/<tenant>/<NAME>.json`).
    const NAME: &'static str;
    /// The field that holds the key in the wire form of an entry.
    const KEY_FIELD: &'static str;

    /// The entries before the collection is first written, from the seed
    /// files (the CSV files of the configuration).
    fn seed(files: &SeedFiles) -> Result<BTreeMap<Name, Self::Value>, SeedError>;
}

/// The applications collection (key: `party`, an application id, APIM
/// subscription id or key fingerprint).
#[derive(Debug)]
pub struct Applications;

impl Collection for Applications {
    type Value = Application;
    const NAME: &'static str = "applications";
    const KEY_FIELD: &'static str = "party";

    fn seed(files: &SeedFiles) -> Result<BTreeMap<Name, Application>, SeedError> {
        seed::read_applications(&files.applications)
    }
}

/// The business units collection (key: `id`, the name applications use).
#[derive(Debug)]
pub struct BusinessUnits;

impl Collection for BusinessUnits {
    type Value = BusinessUnit;
    const NAME: &'static str = "business-units";
    const KEY_FIELD: &'static str = "id";

    /// The business units the seeded applications name, each shown by its id.
    fn seed(files: &SeedFiles) -> Result<BTreeMap<Name, BusinessUnit>, SeedError> {
        let mut out = BTreeMap::new();
        for application in Applications::seed(files)?.into_values() {
            let unit = application.business_unit;
            let display_name = Text::from(&unit);
            out.entry(unit).or_insert(BusinessUnit { display_name, cost_center: None });
        }
        Ok(out)
    }
}

/// The deployments collection (key: `deployment`).
#[derive(Debug)]
pub struct Deployments;

impl Collection for Deployments {
    type Value = Deployment;
    const NAME: &'static str = "deployments";
    const KEY_FIELD: &'static str = "deployment";

    fn seed(files: &SeedFiles) -> Result<BTreeMap<Name, Deployment>, SeedError> {
        seed::read_deployments(&files.deployments)
    }
}

/// The budgets collection (key: `business_unit`); no seed file.
#[derive(Debug)]
pub struct Budgets;

impl Collection for Budgets {
    type Value = Budget;
    const NAME: &'static str = "budgets";
    const KEY_FIELD: &'static str = "business_unit";

    fn seed(_: &SeedFiles) -> Result<BTreeMap<Name, Budget>, SeedError> {
        Ok(BTreeMap::new())
    }
}
