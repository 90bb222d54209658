//! Event Hubs Capture files in a blob container (the app's `capture`
//! container, infra/modules/event-hubs.bicep): listed by prefix and read one
//! at a time, for `chargeback backfill --capture blob://…`.

use azure_storage_blobs::prelude::ContainerClient;
use futures::StreamExt;

use super::connection::{StorageAccount, is_status};
use crate::storage::StorageError;

/// A container holding Capture files.
#[derive(Debug, Clone)]
pub struct CaptureBlobs {
    container: ContainerClient,
}

impl CaptureBlobs {
    /// The container `name` of the account (not created: Capture writes it).
    pub fn open(account: &StorageAccount, name: &str) -> Result<Self, StorageError> {
        Ok(Self { container: account.blob_service()?.container_client(name) })
    }

    /// The names of the `.avro` blobs under `prefix`, in name order (for
    /// Capture's layout: partition by partition, oldest window first).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut names = Vec::new();
        let mut pages = self.container.list_blobs().prefix(prefix.to_owned()).into_stream();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) if is_status(&e, 404) => {
                    return Err(StorageError::Config(format!(
                        "container {} does not exist",
                        self.container.container_name()
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            names.extend(page.blobs.blobs().map(|b| b.name.clone()).filter(|n| n.ends_with(".avro")));
        }
        names.sort();
        Ok(names)
    }

    /// One blob's bytes.
    pub async fn get(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        Ok(self.container.blob_client(name).get_content().await?)
    }
}
