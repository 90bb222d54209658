//! Admin collections as JSON documents in the [`ReportStore`]
//! (`admin/<tenant>/<collection>.json`, `{"items": {key: value}}`), written
//! with the store's optimistic concurrency, so they live on every backend
//! (SQL table, or blob with ETag on Azure). Until a collection is first
//! written its content comes from the CSV files of the configuration
//! (`CHARGEBACK_APPLICATIONS`, `CHARGEBACK_DEPLOYMENTS`); its version is then
//! [`Version::Initial`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::entries::{
    Application, Applications, BusinessUnit, BusinessUnits, Collection, Currency, Deployment, Deployments, Text,
};
use crate::api::params::Name;
use crate::config::Settings;
use crate::domain::Tenant;
use crate::mapping::ApplicationMap;
use crate::storage::{ReportStore, StorageError, WriteCondition};

/// Why the admin data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A CSV file the content starts from is malformed.
    #[error("{0}")]
    Seed(String),
}

/// The version a collection was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// Never written: the content comes from the configuration's CSV files.
    Initial,
    /// The store's version tag.
    Stored(String),
}

/// The HTTP ETag of a collection never written.
const INITIAL_ETAG: &str = "\"initial\"";

impl Version {
    /// As an HTTP entity tag (quoted; opaque to clients).
    pub fn etag(&self) -> String {
        match self {
            Self::Initial => INITIAL_ETAG.to_owned(),
            Self::Stored(tag) => format!("\"v{}\"", hex::encode(tag.as_bytes())),
        }
    }

    /// Parses an `If-Match` value produced by [`Version::etag`]; `None` if
    /// it is not one (it then matches no version).
    pub fn from_etag(etag: &str) -> Option<Self> {
        let etag = etag.trim();
        if etag == INITIAL_ETAG {
            return Some(Self::Initial);
        }
        let inner = etag.strip_prefix("\"v")?.strip_suffix('"')?;
        let bytes = hex::decode(inner).ok()?;
        String::from_utf8(bytes).ok().map(Self::Stored)
    }

    fn condition(&self) -> WriteCondition {
        match self {
            Self::Initial => WriteCondition::IfAbsent,
            Self::Stored(tag) => WriteCondition::IfMatch(tag.clone()),
        }
    }
}

/// A collection's entries and the version they were read at.
#[derive(Debug, Clone)]
pub struct Snapshot<C: Collection> {
    /// Entries by key.
    pub entries: BTreeMap<Name, C::Value>,
    /// The version read.
    pub version: Version,
}

#[derive(Deserialize)]
struct StoredDocument<V> {
    items: BTreeMap<Name, V>,
}

#[derive(Serialize)]
struct StoredDocumentRef<'a, V> {
    items: &'a BTreeMap<Name, V>,
}

/// The document name of a tenant's collection.
pub fn document_name<C: Collection>(tenant: &Tenant) -> String {
    format!("admin/{tenant}/{}.json", C::NAME)
}

/// Content of a collection before it is first written.
pub trait Seeded: Collection {
    /// Entries from the configuration.
    fn seed(settings: &Settings) -> Result<BTreeMap<Name, Self::Value>, DirectoryError>;
}

/// Reads a collection.
pub async fn read<C: Seeded>(
    reports: &dyn ReportStore,
    settings: &Settings,
    tenant: &Tenant,
) -> Result<Snapshot<C>, DirectoryError> {
    let name = document_name::<C>(tenant);
    match reports.get(&name).await? {
        Some(stored) => {
            let document: StoredDocument<C::Value> =
                serde_json::from_slice(&stored.body).map_err(|e| StorageError::Corrupt(format!("{name}: {e}")))?;
            Ok(Snapshot { entries: document.items, version: Version::Stored(stored.etag) })
        }
        None => Ok(Snapshot { entries: C::seed(settings)?, version: Version::Initial }),
    }
}

/// Writes a collection if it is still at `expected`; the new version, or
/// `None` when someone else wrote it meanwhile (nothing changed then).
pub async fn write<C: Collection>(
    reports: &dyn ReportStore,
    tenant: &Tenant,
    entries: &BTreeMap<Name, C::Value>,
    expected: &Version,
) -> Result<Option<Version>, StorageError> {
    let body = serde_json::to_vec_pretty(&StoredDocumentRef { items: entries })
        .map_err(|e| StorageError::Backend(format!("serialising {}: {e}", C::NAME)))?;
    let written = reports.put(&document_name::<C>(tenant), &body, expected.condition()).await?;
    Ok(written.map(Version::Stored))
}

/// The wire form of an entry: its value with the key under `KEY_FIELD`.
pub fn entry_json<C: Collection>(key: &Name, value: &C::Value) -> Value {
    let mut object = match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    object.insert(C::KEY_FIELD.to_owned(), Value::String(key.to_string()));
    Value::Object(object)
}

/// Reads a value from JSON (without its key) and checks it.
pub fn value_from_json<C: Collection>(value: Value) -> Result<C::Value, String> {
    let value: C::Value = serde_json::from_value(value).map_err(|e| e.to_string())?;
    C::check(&value)?;
    Ok(value)
}

/// Reads a wire entry (with its key).
pub fn entry_from_json<C: Collection>(entry: Value) -> Result<(Name, C::Value), String> {
    let Value::Object(mut object) = entry else { return Err("an entry must be a JSON object".into()) };
    let key = object.remove(C::KEY_FIELD).ok_or_else(|| format!("an entry needs its {}", C::KEY_FIELD))?;
    let key = key.as_str().and_then(|k| Name::try_from(k.to_owned()).ok()).ok_or_else(|| {
        format!("{}: use 1-200 characters: letters, digits, spaces and . _ - : @ / + ( ) &", C::KEY_FIELD)
    })?;
    let value = value_from_json::<C>(Value::Object(object)).map_err(|e| format!("{} {key}: {e}", C::KEY_FIELD))?;
    Ok((key, value))
}

fn seed_error(path: &Path, e: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Seed(format!("{}: {e}", path.display()))
}

fn name_in(path: &Path, line: usize, raw: &str) -> Result<Name, DirectoryError> {
    Name::try_from(raw.to_owned()).map_err(|e| seed_error(path, format!("line {line}: {raw:?}: {e}")))
}

fn application_map(settings: &Settings) -> Result<ApplicationMap, DirectoryError> {
    let path = settings.applications_path();
    ApplicationMap::load(&path).map_err(|e| seed_error(&path, format!("{e:#}")))
}

impl Seeded for Applications {
    fn seed(settings: &Settings) -> Result<BTreeMap<Name, Application>, DirectoryError> {
        let path = settings.applications_path();
        let map = application_map(settings)?;
        let mut out = BTreeMap::new();
        for (i, (party, a)) in map.assignments().into_iter().enumerate() {
            let value = Application {
                application: name_in(&path, i + 2, &a.application)?,
                business_unit: name_in(&path, i + 2, &a.business_unit)?,
            };
            out.insert(name_in(&path, i + 2, party)?, value);
        }
        Ok(out)
    }
}

impl Seeded for BusinessUnits {
    /// The business units the application mapping names, each shown by its id.
    fn seed(settings: &Settings) -> Result<BTreeMap<Name, BusinessUnit>, DirectoryError> {
        let mut out = BTreeMap::new();
        for application in Applications::seed(settings)?.into_values() {
            let unit = application.business_unit;
            let display_name = Text::try_from(unit.to_string()).map_err(|e| DirectoryError::Seed(e.to_owned()))?;
            out.entry(unit).or_insert(BusinessUnit { display_name, cost_center: None });
        }
        Ok(out)
    }
}

impl Seeded for Deployments {
    /// `deployment,model` and the optional columns `deployment_type`,
    /// `ptu_monthly_cost`, `ptu_hourly_cost`, `capacity_tokens_per_minute`,
    /// `currency`, `resource_id` and `region`, in any order; empty cells are
    /// absent values.
    fn seed(settings: &Settings) -> Result<BTreeMap<Name, Deployment>, DirectoryError> {
        let path = settings.deployments_path();
        let mut reader = match csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(&path) {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) => {
                return Ok(BTreeMap::new());
            }
            Err(e) => return Err(seed_error(&path, e)),
        };
        let headers = reader.headers().map_err(|e| seed_error(&path, e))?.clone();
        let column = |name: &str| headers.iter().position(|h| h == name);
        let (Some(deployment), Some(model)) = (column("deployment"), column("model")) else {
            return Err(seed_error(&path, "the header must name the columns deployment and model"));
        };
        let mut out = BTreeMap::new();
        for (i, row) in reader.records().enumerate() {
            let line = i + 2;
            let row = row.map_err(|e| seed_error(&path, format!("line {line}: {e}")))?;
            let cell = |name: &str| column(name).and_then(|c| row.get(c)).filter(|v| !v.is_empty());
            let bad = |name: &str, e: &dyn std::fmt::Display| seed_error(&path, format!("line {line}: {name}: {e}"));
            let decimal = |name: &str| {
                cell(name).map(|v| v.parse::<rust_decimal::Decimal>().map_err(|e| bad(name, &e))).transpose()
            };
            let value = Deployment {
                model: name_in(&path, line, row.get(model).unwrap_or_default())?,
                deployment_type: cell("deployment_type").map(|v| name_in(&path, line, v)).transpose()?,
                ptu_monthly_cost: decimal("ptu_monthly_cost")?,
                ptu_hourly_cost: decimal("ptu_hourly_cost")?,
                capacity_tokens_per_minute: cell("capacity_tokens_per_minute")
                    .map(|v| v.parse::<u64>().map_err(|e| bad("capacity_tokens_per_minute", &e)))
                    .transpose()?,
                currency: cell("currency")
                    .map(|v| Currency::try_from(v.to_owned()).map_err(|e| bad("currency", &e)))
                    .transpose()?,
                resource_id: cell("resource_id").map(str::to_owned),
                region: cell("region").map(|v| name_in(&path, line, v)).transpose()?,
            };
            Deployments::check(&value).map_err(|e| seed_error(&path, format!("line {line}: {e}")))?;
            out.insert(name_in(&path, line, row.get(deployment).unwrap_or_default())?, value);
        }
        Ok(out)
    }
}

impl Seeded for super::entries::Budgets {
    fn seed(_: &Settings) -> Result<BTreeMap<Name, super::entries::Budget>, DirectoryError> {
        Ok(BTreeMap::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip_and_foreign_ones_match_nothing() {
        for version in [Version::Initial, Version::Stored("0x8DC1\"x".into()), Version::Stored("7".into())] {
            assert_eq!(Version::from_etag(&version.etag()), Some(version));
        }
        assert_eq!(Version::from_etag("\"something\""), None);
        assert_eq!(Version::from_etag("*"), None);
    }
}
