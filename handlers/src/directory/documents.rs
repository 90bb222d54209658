//! Directory collections as JSON documents in the [`ReportStore`]
//! (`admin/<tenant>/<collection>.json`, `{"items": {key: value}}`), written
//! with the store's optimistic concurrency, so they live on every backend
//! (SQL table, or blob with ETag on Azure). Until a collection is first
//! written its content comes from the seed files; its version is then
//! [`Version::Initial`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::collections::Collection;
use crate::domain::{Name, Tenant};
use crate::storage::{ReportStore, StorageError, WriteCondition};

/// The version a collection was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// Never written: the content comes from the seed files.
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

    /// Parses an entity tag produced by [`Version::etag`]; `None` if it is
    /// not one (it then matches no version).
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

/// A stored collection, if it was ever written.
pub async fn read_stored<C: Collection>(
    reports: &dyn ReportStore,
    tenant: &Tenant,
) -> Result<Option<Snapshot<C>>, StorageError> {
    let name = document_name::<C>(tenant);
    let Some(stored) = reports.get(&name).await? else { return Ok(None) };
    let document: StoredDocument<C::Value> =
        serde_json::from_slice(&stored.body).map_err(|source| StorageError::Document { name, source })?;
    Ok(Some(Snapshot { entries: document.items, version: Version::Stored(stored.etag) }))
}

/// Writes a collection if it is still at `expected`; the new version, or
/// `None` when someone else wrote it meanwhile (nothing changed then).
pub async fn write<C: Collection>(
    reports: &dyn ReportStore,
    tenant: &Tenant,
    entries: &BTreeMap<Name, C::Value>,
    expected: &Version,
) -> Result<Option<Version>, StorageError> {
    let name = document_name::<C>(tenant);
    let body = serde_json::to_vec_pretty(&StoredDocumentRef { items: entries })
        .map_err(|source| StorageError::Document { name: name.clone(), source })?;
    let written = reports.put(&name, &body, expected.condition()).await?;
    Ok(written.map(Version::Stored))
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
