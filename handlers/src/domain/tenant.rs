//! A tenant is one API Management / Azure OpenAI estate served by this app.
//!
//! All data is scoped by tenant, so one deployment can serve several estates
//! and the heavy jobs can run one tenant at a time.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A tenant name: 1–63 characters of `a-z`, `0-9` and `-`, starting with a
/// letter, so that it is valid as a table-name part, a schema name and a
/// blob prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(Arc<str>);

/// Why a string is not a tenant name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid tenant name {0:?}: use 1-63 characters a-z, 0-9 and '-', starting with a letter")]
pub struct TenantError(pub String);

impl Tenant {
    /// The tenant used when neither the record nor the configuration names one.
    pub fn default_tenant() -> Self {
        Self(Arc::from("default"))
    }

    /// Parses a tenant name, accepting upper case by folding it.
    pub fn parse(raw: &str) -> Result<Self, TenantError> {
        let name = raw.trim().to_ascii_lowercase();
        let mut chars = name.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if starts_with_letter && rest_ok && name.len() <= 63 {
            Ok(Self(Arc::from(name)))
        } else {
            Err(TenantError(raw.to_owned()))
        }
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Tenant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Tenant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_folded_to_lower_case() {
        assert_eq!(Tenant::parse("Contoso-EU").unwrap().as_str(), "contoso-eu");
    }

    #[test]
    fn tenant_names_reject_what_would_break_a_table_name() {
        for bad in ["", "1abc", "a b", "a/b", "a_b", &"x".repeat(64)] {
            assert!(Tenant::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn tenants_are_strings_on_the_wire_and_checked_when_read() {
        let t: Tenant = serde_json::from_str("\"contoso\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"contoso\"");
        assert!(serde_json::from_str::<Tenant>("\"a/../b\"").is_err());
    }
}
