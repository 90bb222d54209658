//! Blob Storage: the dead-letter container (one JSON blob per rejected event,
//! `<tenant>/<id>.json`, holding the raw redacted body, the reason and where
//! it came from), the reports container (documents with ETags for optimistic
//! concurrency) and blob leases for singleton work (`<name>` in the leases
//! container).
//!
//! Only this module knows the 0.21 blob crate, so moving to the newer
//! `azure_storage_blob` later changes nothing else.

use std::time::Duration;

use async_trait::async_trait;
use azure_core::prelude::{IfMatchCondition, LeaseDuration, LeaseId};
use azure_storage_blobs::prelude::ContainerClient;
use futures::{StreamExt, TryStreamExt, stream};

use super::connection::{StorageAccount, is_status};
use crate::domain::Tenant;
use crate::storage::dead_letter::{StoredLetter, letter_name, sort_letters};
use crate::storage::{
    DeadLetter, DeadLetterStore, Lease, LeaseStore, ReportStore, StorageError, Versioned, WriteCondition,
};

const CONCURRENCY: usize = 16;

async fn container(account: &StorageAccount, name: String) -> Result<ContainerClient, StorageError> {
    let client = account.blob_service()?.container_client(name);
    match client.create().await {
        Ok(()) => Ok(client),
        Err(e) if is_status(&e, 409) => Ok(client),
        Err(source) => Err(account.create_failed(format!("container {}", client.container_name()), source)),
    }
}

/// Dead letters as blobs.
#[derive(Debug, Clone)]
pub struct BlobDeadLetters {
    container: ContainerClient,
}

impl BlobDeadLetters {
    /// The container `<prefix>dead-letter` (created when missing); `prefix`
    /// is lower-case letters, digits and `-`.
    pub async fn open(account: &StorageAccount, prefix: &str) -> Result<Self, StorageError> {
        Ok(Self { container: container(account, format!("{prefix}dead-letter")).await? })
    }

    async fn put_one(&self, letter: &DeadLetter) -> Result<(), StorageError> {
        let name = format!("{}/{}.json", letter.tenant, letter_name(letter));
        let json = serde_json::to_vec_pretty(&StoredLetter::from_letter(letter))
            .map_err(|source| StorageError::Document { name: name.clone(), source })?;
        self.container.blob_client(name).put_block_blob(json).content_type("application/json").await?;
        Ok(())
    }
}

#[async_trait]
impl DeadLetterStore for BlobDeadLetters {
    async fn put(&self, letters: &[DeadLetter]) -> Result<(), StorageError> {
        let writes: Vec<_> = letters.iter().map(|letter| Box::pin(self.put_one(letter))).collect();
        stream::iter(writes).buffer_unordered(CONCURRENCY).try_collect::<Vec<()>>().await?;
        Ok(())
    }

    async fn list(&self, tenant: &Tenant) -> Result<Vec<DeadLetter>, StorageError> {
        let mut names = Vec::new();
        let mut pages = self.container.list_blobs().prefix(format!("{tenant}/")).into_stream();
        while let Some(page) = pages.next().await {
            names.extend(page?.blobs.blobs().map(|b| b.name.clone()));
        }
        let mut letters: Vec<DeadLetter> = stream::iter(names)
            .map(|name| async move {
                let bytes = self.container.blob_client(&name).get_content().await?;
                let stored: StoredLetter = serde_json::from_slice(&bytes)
                    .map_err(|source| StorageError::Document { name: name.clone(), source })?;
                stored.into_letter().ok_or_else(|| StorageError::Corrupt(format!("{name}: not a dead letter")))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        sort_letters(&mut letters);
        Ok(letters)
    }
}

/// Reports (and job state) as blobs with ETags.
#[derive(Debug, Clone)]
pub struct BlobReports {
    container: ContainerClient,
}

impl BlobReports {
    /// The container `<prefix>reports` (created when missing).
    pub async fn open(account: &StorageAccount, prefix: &str) -> Result<Self, StorageError> {
        Ok(Self { container: container(account, format!("{prefix}reports")).await? })
    }
}

#[async_trait]
impl ReportStore for BlobReports {
    async fn get(&self, name: &str) -> Result<Option<Versioned>, StorageError> {
        let mut pages = self.container.blob_client(name).get().into_stream();
        let mut body = Vec::new();
        let mut etag = None;
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) if is_status(&e, 404) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            etag.get_or_insert_with(|| page.blob.properties.etag.to_string());
            body.extend(page.data.collect().await?);
        }
        Ok(etag.map(|etag| Versioned { body, etag }))
    }

    async fn put(&self, name: &str, body: &[u8], condition: WriteCondition) -> Result<Option<String>, StorageError> {
        let mut put = self.container.blob_client(name).put_block_blob(body.to_vec());
        put = match condition {
            WriteCondition::Always => put,
            WriteCondition::IfAbsent => put.if_match(IfMatchCondition::NotMatch("*".into())),
            WriteCondition::IfMatch(etag) => put.if_match(IfMatchCondition::Match(etag)),
        };
        match put.await {
            Ok(response) => Ok(Some(response.etag)),
            Err(e) if is_status(&e, 412) || is_status(&e, 409) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Singleton leases as blob leases (15–60 s, renewable).
#[derive(Debug, Clone)]
pub struct BlobLeases {
    container: ContainerClient,
}

impl BlobLeases {
    /// The container `<prefix>leases` (created when missing).
    pub async fn open(account: &StorageAccount, prefix: &str) -> Result<Self, StorageError> {
        Ok(Self { container: container(account, format!("{prefix}leases")).await? })
    }
}

fn lease_seconds(ttl: Duration) -> u8 {
    u8::try_from(ttl.as_secs().clamp(15, 60)).unwrap_or(60)
}

#[async_trait]
impl LeaseStore for BlobLeases {
    async fn acquire(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, StorageError> {
        let blob = self.container.blob_client(name);
        // The blob must exist to be leased; creating it when it does would
        // fail on its lease (412), hence If-None-Match.
        match blob.put_block_blob(Vec::new()).if_match(IfMatchCondition::NotMatch("*".into())).await {
            Ok(_) => {}
            Err(e) if is_status(&e, 409) || is_status(&e, 412) => {}
            Err(e) => return Err(e.into()),
        }
        match blob.acquire_lease(LeaseDuration::Seconds(lease_seconds(ttl))).await {
            Ok(response) => Ok(Some(Lease { name: name.to_owned(), token: response.lease_id.to_string(), ttl })),
            Err(e) if is_status(&e, 409) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn renew(&self, lease: &Lease) -> Result<bool, StorageError> {
        let Ok(id) = lease.token.parse::<LeaseId>() else { return Ok(false) };
        match self.container.blob_client(&lease.name).blob_lease_client(id).renew().await {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 409) || is_status(&e, 412) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), StorageError> {
        let Ok(id) = lease.token.parse::<LeaseId>() else { return Ok(()) };
        match self.container.blob_client(&lease.name).blob_lease_client(id).release().await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 409) || is_status(&e, 412) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
