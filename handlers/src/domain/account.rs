//! Where a deployment lives in Azure: the ARM id of its Azure OpenAI
//! (Cognitive Services) account, which the invoice bills, and the account's
//! region.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The ARM resource type of an Azure OpenAI account, lower case.
pub const ACCOUNT_RESOURCE_TYPE: &str = "microsoft.cognitiveservices/accounts";

/// The longest account id accepted.
pub const MAX_ACCOUNT_ID_CHARS: usize = 400;

/// The ARM id of an Azure OpenAI account:
/// `/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{name}`,
/// kept as written without a trailing slash. Its segments are ASCII letters,
/// digits and `- _ . ( )`; at most [`MAX_ACCOUNT_ID_CHARS`] characters.
/// Azure compares ids regardless of case, and so does [`AccountId::same_as`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

/// Why a text is not the ARM id of an Azure OpenAI account.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{0:?} is not the ARM id of an Azure OpenAI account \
     (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.CognitiveServices/accounts/<name>)"
)]
pub struct AccountIdError(pub String);

impl AccountId {
    /// Parses an id (surrounding white space and a trailing slash are not part of it).
    pub fn parse(raw: &str) -> Result<Self, AccountIdError> {
        let id = raw.trim().trim_end_matches('/');
        let parts: Vec<&str> = id.split('/').collect();
        let ok = parts.len() == 9
            && id.len() <= MAX_ACCOUNT_ID_CHARS
            && parts[0].is_empty()
            && parts[1].eq_ignore_ascii_case("subscriptions")
            && parts[3].eq_ignore_ascii_case("resourceGroups")
            && parts[5].eq_ignore_ascii_case("providers")
            && format!("{}/{}", parts[6], parts[7]).eq_ignore_ascii_case(ACCOUNT_RESOURCE_TYPE)
            && [2, 4, 8].iter().all(|i| {
                !parts[*i].is_empty() && parts[*i].chars().all(|c| c.is_ascii_alphanumeric() || "-_.()".contains(c))
            });
        if ok { Ok(Self(id.to_owned())) } else { Err(AccountIdError(raw.to_owned())) }
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` names the same account (ARM ids ignore case).
    pub fn same_as(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.trim_end_matches('/'))
    }

    /// The subscription the account is in.
    pub fn subscription(&self) -> &str {
        self.0.split('/').nth(2).unwrap_or_default()
    }

    /// The account's name (the id's last segment).
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }
}

impl TryFrom<String> for AccountId {
    type Error = AccountIdError;

    fn try_from(raw: String) -> Result<Self, AccountIdError> {
        Self::parse(&raw)
    }
}

impl From<AccountId> for String {
    fn from(id: AccountId) -> Self {
        id.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Azure region's name as ARM writes it (`swedencentral`): 1–50 ASCII
/// letters and digits, kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

/// Why a text is not a region name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?}: use the Azure region's name, letters and digits (swedencentral)")]
pub struct RegionError(pub String);

impl Region {
    /// Parses a region name, in any case.
    pub fn parse(raw: &str) -> Result<Self, RegionError> {
        let name = raw.trim();
        if name.is_empty() || name.len() > 50 || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(RegionError(raw.to_owned()));
        }
        Ok(Self(name.to_ascii_lowercase()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = RegionError;

    fn try_from(raw: String) -> Result<Self, RegionError> {
        Self::parse(&raw)
    }
}

impl From<Region> for String {
    fn from(region: Region) -> Self {
        region.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "/subscriptions/0000/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-prod";

    #[test]
    fn account_ids_are_azure_openai_accounts_compared_regardless_of_case() {
        let id = AccountId::parse(&format!(" {ID}/ ")).unwrap();
        assert_eq!(id.as_str(), ID);
        assert!(id.same_as(&ID.to_uppercase()));
        assert_eq!((id.subscription(), id.name()), ("0000", "oai-prod"));
        for bad in [
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x",
            &format!("{ID}/deployments/chat"),
            "oai-prod",
            "/subscriptions//resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a",
            "/subscriptions/0 0/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a",
        ] {
            assert!(AccountId::parse(bad).unwrap_err().to_string().contains("not the ARM id"), "{bad}");
        }
    }

    #[test]
    fn regions_are_letters_and_digits_in_lower_case() {
        assert_eq!(Region::parse("SwedenCentral").unwrap().as_str(), "swedencentral");
        for bad in ["", "sweden central", "eu-west", "x;y"] {
            assert!(Region::parse(bad).is_err(), "{bad}");
        }
    }
}
