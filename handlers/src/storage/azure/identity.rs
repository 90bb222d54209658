//! An identity-based storage connection, in the settings the Functions host
//! reads for its own storage, so one block of app settings serves the host
//! and the handler:
//!
//! | Setting | Meaning |
//! |---|---|
//! | `<prefix>__accountName` | the account; endpoints `https://<name>.{blob,queue,table}.core.windows.net` |
//! | `<prefix>__blobServiceUri`, `__queueServiceUri`, `__tableServiceUri` | explicit endpoints instead (sovereign clouds, Azurite) |
//! | `<prefix>__credential` | `managedidentity` (the default on Azure), or for developers `azurecli`, `workloadidentity`, `developertools` (the default elsewhere) |
//! | `<prefix>__clientId` | the user-assigned identity's client id |
//!
//! No key and no SAS: every request carries a bearer token of the app
//! credential (`storage::credential`).

use crate::storage::credential::{CredentialError, CredentialSettings};

/// The settings of one identity-based storage connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConnection {
    /// The setting prefix (`AzureWebJobsStorage`), for messages.
    pub prefix: String,
    /// `__accountName`.
    pub account_name: Option<String>,
    /// `__blobServiceUri`, `__queueServiceUri`, `__tableServiceUri` (a
    /// trailing `/` dropped).
    pub service_uris: [Option<String>; 3],
    /// `__credential` and `__clientId`.
    pub credential: CredentialSettings,
}

impl IdentityConnection {
    /// The connection `prefix` as looked up with `var`; `None` when neither
    /// an account name nor a service URI is set. `on_azure` picks the
    /// default credential (see [`CredentialSettings::from_lookup`]).
    pub fn from_lookup(
        prefix: &str,
        var: &dyn Fn(&str) -> Option<String>,
        on_azure: bool,
    ) -> Result<Option<Self>, CredentialError> {
        let account_name = var(&format!("{prefix}__accountName"));
        let service_uris = ["blob", "queue", "table"]
            .map(|s| var(&format!("{prefix}__{s}ServiceUri")).map(|u| u.trim().trim_end_matches('/').to_owned()));
        if account_name.is_none() && service_uris.iter().all(Option::is_none) {
            return Ok(None);
        }
        Ok(Some(Self {
            prefix: prefix.to_owned(),
            account_name,
            service_uris,
            credential: CredentialSettings::from_lookup(prefix, var, on_azure)?,
        }))
    }

    /// The account name: `__accountName`, else read off a service URI
    /// (`https://<name>.blob.…`, or Azurite's `https://host:port/<name>`).
    pub fn account(&self) -> Option<String> {
        if let Some(name) = &self.account_name {
            return Some(name.clone());
        }
        let uri = self.service_uris.iter().flatten().next()?;
        let rest = uri.split_once("://").map_or(uri.as_str(), |(_, rest)| rest);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.split(':').next().unwrap_or(host);
        let first_label = host.split('.').next().unwrap_or(host);
        let is_address = host.parse::<std::net::IpAddr>().is_ok() || host == "localhost";
        let name = if is_address { path.split('/').next().unwrap_or("") } else { first_label };
        (!name.is_empty()).then(|| name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::credential::CredentialKind;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_host_block_with_an_account_name_is_a_connection() {
        let var = lookup(&[
            ("AzureWebJobsStorage__accountName", "stcb1"),
            ("AzureWebJobsStorage__credential", "managedidentity"),
            ("AzureWebJobsStorage__clientId", "00000000-0000-0000-0000-00000000000c"),
        ]);
        let c = IdentityConnection::from_lookup("AzureWebJobsStorage", &var, true).unwrap().unwrap();
        assert_eq!(c.account().as_deref(), Some("stcb1"));
        assert_eq!(c.credential.kind, CredentialKind::ManagedIdentity);
        assert_eq!(c.credential.client_id.as_deref(), Some("00000000-0000-0000-0000-00000000000c"));
    }

    #[test]
    fn service_uris_name_the_account_in_the_host_or_in_azurites_path() {
        let var = lookup(&[("S__blobServiceUri", "https://contoso.blob.core.usgovcloudapi.net/")]);
        let c = IdentityConnection::from_lookup("S", &var, false).unwrap().unwrap();
        assert_eq!(c.service_uris[0].as_deref(), Some("https://contoso.blob.core.usgovcloudapi.net"));
        assert_eq!(c.account().as_deref(), Some("contoso"));
        let var = lookup(&[("S__tableServiceUri", "https://127.0.0.1:21002/devstoreaccount1")]);
        let c = IdentityConnection::from_lookup("S", &var, false).unwrap().unwrap();
        assert_eq!(c.account().as_deref(), Some("devstoreaccount1"));
    }

    #[test]
    fn without_an_account_or_a_uri_there_is_no_identity_connection() {
        let var = lookup(&[("S__credential", "managedidentity")]);
        assert_eq!(IdentityConnection::from_lookup("S", &var, true).unwrap(), None);
    }
}
