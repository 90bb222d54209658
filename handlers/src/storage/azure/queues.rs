//! Storage Queues as a [`WorkQueue`]: send, receive with a visibility
//! timeout, delete by pop receipt, and poison handling the way the Functions
//! queue trigger does it: a message received more than `max_dequeue` times is
//! moved to `<queue>-poison` instead of being handed out again.
//!
//! Message text is stored as given (the handler's own JSON); the Functions
//! queue trigger would expect base64, see `docs/storage.md`.

use std::time::Duration;

use async_trait::async_trait;
use azure_storage_queues::{PopReceipt, QueueClient};

use super::connection::{StorageAccount, is_status};
use crate::storage::{StorageError, WorkItem, WorkQueue};

/// The most messages one receive may ask for (service limit).
const MAX_BATCH: usize = 32;

/// A Storage Queue and its poison queue.
#[derive(Debug, Clone)]
pub struct StorageQueue {
    queue: QueueClient,
    poison: QueueClient,
    max_dequeue: u32,
}

impl StorageQueue {
    /// The queue `name` and `<name>-poison` (created when missing).
    pub async fn open(account: &StorageAccount, name: &str, max_dequeue: u32) -> Result<Self, StorageError> {
        let service = account.queue_service()?;
        let this = Self {
            queue: service.queue_client(name),
            poison: service.queue_client(format!("{name}-poison")),
            max_dequeue,
        };
        for q in [&this.queue, &this.poison] {
            match q.create().await {
                Ok(_) => {}
                Err(e) if is_status(&e, 409) => {}
                Err(e) => return Err(account.refused(&format!("creating queue {}", q.queue_name()), e)),
            }
        }
        Ok(this)
    }
}

#[async_trait]
impl WorkQueue for StorageQueue {
    async fn send(&self, body: &str) -> Result<(), StorageError> {
        self.queue.put_message(body).await?;
        Ok(())
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<WorkItem>, StorageError> {
        let count = u8::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(1);
        let response = self.queue.get_messages().number_of_messages(count).visibility_timeout(visibility).await?;
        let mut items = Vec::new();
        for m in response.messages {
            let dequeue_count = u32::try_from(m.dequeue_count).unwrap_or(u32::MAX);
            if dequeue_count > self.max_dequeue {
                // Poison: keep it for people, hand it out no more.
                self.poison.put_message(m.message_text.clone()).await?;
                self.queue.pop_receipt_client(PopReceipt::new(m.message_id, m.pop_receipt)).delete().await?;
                continue;
            }
            items.push(WorkItem { id: m.message_id, receipt: m.pop_receipt, body: m.message_text, dequeue_count });
        }
        Ok(items)
    }

    async fn delete(&self, item: &WorkItem) -> Result<bool, StorageError> {
        let receipt = PopReceipt::new(item.id.clone(), item.receipt.clone());
        match self.queue.pop_receipt_client(receipt).delete().await {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 404) || is_status(&e, 400) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn poisoned(&self) -> Result<Vec<String>, StorageError> {
        let response = self.poison.peek_messages().number_of_messages(32u8).await?;
        Ok(response.messages.into_iter().map(|m| m.message_text).collect())
    }
}
