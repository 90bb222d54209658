//! Who pays for what: a chargeable party's application and business unit,
//! and the business units themselves.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{Name, NameError, Text};

/// The business unit of parties that the directory does not name.
pub const UNASSIGNED: &str = "unassigned";

/// A party's application and business unit. The party (an application id,
/// APIM subscription id or key fingerprint) is the key it is kept under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Application name.
    pub application: Name,
    /// Business unit id.
    pub business_unit: Name,
}

/// A business unit (kept under its id, the name applications refer to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessUnit {
    /// Name for people.
    pub display_name: Text,
    /// Cost center in the finance system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<Text>,
}

/// Party → application and business unit, as reports apply it: a party
/// without an entry is its own application, of business unit
/// [`UNASSIGNED`].
#[derive(Debug, Clone, Default)]
pub struct ApplicationMap {
    by_party: HashMap<String, Application>,
}

impl ApplicationMap {
    /// The map of a directory's entries (party → application).
    pub fn from_entries(entries: &BTreeMap<Name, Application>) -> Self {
        Self { by_party: entries.iter().map(|(party, a)| (party.as_str().to_owned(), a.clone())).collect() }
    }

    /// A map from (party, application, business unit) rows.
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) -> Result<Self, NameError> {
        let mut by_party = HashMap::new();
        for (party, application, business_unit) in rows {
            let entry =
                Application { application: Name::parse(application)?, business_unit: Name::parse(business_unit)? };
            by_party.insert(Name::parse(party)?.as_str().to_owned(), entry);
        }
        Ok(Self { by_party })
    }

    /// The application of a party (the party itself when unmapped).
    pub fn application<'a>(&'a self, party: &'a str) -> &'a str {
        self.by_party.get(party).map_or(party, |a| a.application.as_str())
    }

    /// The business unit of a party (`unassigned` when unmapped).
    pub fn business_unit(&self, party: &str) -> &str {
        self.by_party.get(party).map_or(UNASSIGNED, |a| a.business_unit.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmapped_parties_are_their_own_application_and_unassigned() {
        let map = ApplicationMap::from_rows([("sub-a", "chatbot", "finance")]).unwrap();
        assert_eq!((map.application("sub-a"), map.business_unit("sub-a")), ("chatbot", "finance"));
        assert_eq!((map.application("fp_1"), map.business_unit("fp_1")), ("fp_1", UNASSIGNED));
        assert!(ApplicationMap::from_rows([("sub-a", "x;y", "finance")]).is_err());
    }
}
