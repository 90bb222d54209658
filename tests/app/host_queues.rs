//! The host's side of the queue bindings, for the tests: the Functions host
//! carries the handler's queue outputs (`Outputs.chunks`, `Outputs.finish`)
//! to queue-triggered invocations; the handler itself never touches a queue.
//! The tests stand in for the host with a real queue: Storage Queues on
//! Azurite, or a table of the SQL database (`work_items`) on the embedded
//! backend and PostgreSQL, with the trigger's semantics: a visibility
//! timeout, delete by receipt, and a message received more than
//! `max_dequeue` times moved to the poison queue instead of being handed
//! out again.
//!
//! Message text is stored as given (the handler's own JSON); the Functions
//! queue trigger would expect base64, see `docs/storage.md`.

use std::time::Duration;

use async_trait::async_trait;
use azure_storage_queues::{PopReceipt, QueueClient};
use chargeback::storage::StorageError;
use chargeback::storage::azure::StorageAccount;
use chargeback::storage::azure::connection::is_status;
use chargeback::storage::sql::support::{micros, now_us, ordered_id, random_token};

/// A received work item. It stays invisible to other receivers until its
/// visibility timeout passes; deleting it completes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// The message's identity.
    pub id: String,
    /// Proof of this receipt, needed to delete it.
    pub receipt: String,
    /// The content.
    pub body: String,
    /// How many times it has been received, this time included.
    pub dequeue_count: u32,
}

/// A queue as the host's queue trigger sees it: at-least-once delivery, so
/// the work it carries must be idempotent.
#[async_trait]
pub trait WorkQueue: Send + Sync {
    /// Adds an item.
    async fn send(&self, body: &str) -> Result<(), StorageError>;

    /// Up to `max` visible items, each hidden for `visibility` from now.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<WorkItem>, StorageError>;

    /// Completes an item; `false` if the receipt is stale (the item became
    /// visible again and someone else received it).
    async fn delete(&self, item: &WorkItem) -> Result<bool, StorageError>;

    /// Bodies moved to the poison queue.
    async fn poisoned(&self) -> Result<Vec<String>, StorageError>;
}

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
                Err(source) => {
                    return Err(StorageError::AzureCreate { resource: format!("queue {}", q.queue_name()), source });
                }
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

/// A named queue in the `work_items` table.
#[derive(Debug, Clone)]
pub struct SqlQueue<P> {
    pool: P,
    name: String,
    max_dequeue: u32,
}

impl<P> SqlQueue<P> {
    /// The queue `name`; an item is handed out at most `max_dequeue` times,
    /// then moved to the poison queue.
    pub fn new(pool: P, name: impl Into<String>, max_dequeue: u32) -> Self {
        Self { pool, name: name.into(), max_dequeue }
    }
}

const QUEUE_SEND: &str = "INSERT INTO work_items (queue, id, body, visible_at_us, dequeue_count, receipt, poisoned) \
     VALUES ($1, $2, $3, $4, 0, NULL, FALSE)";
const QUEUE_POISON: &str = "UPDATE work_items SET poisoned = TRUE \
     WHERE queue = $1 AND poisoned = FALSE AND visible_at_us <= $2 AND dequeue_count >= $3";
// The outer visibility test is repeated so that, on PostgreSQL, a concurrent
// receiver that waited for the row lock re-checks it and skips the row.
const QUEUE_RECEIVE: &str = "UPDATE work_items SET visible_at_us = $3, dequeue_count = dequeue_count + 1, receipt = $4 \
     WHERE queue = $1 AND poisoned = FALSE AND visible_at_us <= $2 AND id IN \
     (SELECT id FROM work_items WHERE queue = $1 AND poisoned = FALSE AND visible_at_us <= $2 ORDER BY id LIMIT $5) \
     RETURNING id, body, dequeue_count";
const QUEUE_DELETE: &str = "DELETE FROM work_items WHERE queue = $1 AND id = $2 AND receipt = $3";
const QUEUE_POISONED: &str = "SELECT body FROM work_items WHERE queue = $1 AND poisoned = TRUE ORDER BY id";

macro_rules! impl_sql_queue {
    ($pool:ty) => {
        #[async_trait::async_trait]
        impl WorkQueue for SqlQueue<$pool> {
            async fn send(&self, body: &str) -> Result<(), StorageError> {
                sqlx::query(QUEUE_SEND)
                    .bind(&self.name)
                    .bind(ordered_id())
                    .bind(body)
                    .bind(now_us())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<WorkItem>, StorageError> {
                use sqlx::Row;
                let now = now_us();
                sqlx::query(QUEUE_POISON)
                    .bind(&self.name)
                    .bind(now)
                    .bind(i64::from(self.max_dequeue))
                    .execute(&self.pool)
                    .await?;
                let receipt = random_token();
                let rows = sqlx::query(QUEUE_RECEIVE)
                    .bind(&self.name)
                    .bind(now)
                    .bind(now.saturating_add(micros(visibility)))
                    .bind(&receipt)
                    .bind(i64::try_from(max).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                let mut items = rows
                    .into_iter()
                    .map(|row| {
                        Ok(WorkItem {
                            id: row.try_get("id")?,
                            receipt: receipt.clone(),
                            body: row.try_get("body")?,
                            dequeue_count: u32::try_from(row.try_get::<i64, _>("dequeue_count")?).unwrap_or(u32::MAX),
                        })
                    })
                    .collect::<Result<Vec<_>, StorageError>>()?;
                items.sort_by(|a, b| a.id.cmp(&b.id));
                Ok(items)
            }

            async fn delete(&self, item: &WorkItem) -> Result<bool, StorageError> {
                let done = sqlx::query(QUEUE_DELETE)
                    .bind(&self.name)
                    .bind(&item.id)
                    .bind(&item.receipt)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn poisoned(&self) -> Result<Vec<String>, StorageError> {
                use sqlx::Row;
                let rows = sqlx::query(QUEUE_POISONED).bind(&self.name).fetch_all(&self.pool).await?;
                rows.into_iter().map(|r| r.try_get("body").map_err(Into::into)).collect()
            }
        }
    };
}

impl_sql_queue!(sqlx::SqlitePool);
impl_sql_queue!(sqlx::PgPool);

/// The stand-in behaves like the queue trigger: received items are hidden,
/// a stale receipt deletes nothing, repeats go to the poison queue.
async fn hides_received_items_and_poisons_repeats(queue: &dyn WorkQueue) {
    let visibility = Duration::from_secs(1);
    queue.send("{\"chunk\":\"a\"}").await.unwrap();
    queue.send("{\"chunk\":\"b\"}").await.unwrap();
    let mut first = queue.receive(10, visibility).await.unwrap();
    first.sort_by(|x, y| x.body.cmp(&y.body));
    assert_eq!(first.iter().map(|i| i.body.as_str()).collect::<Vec<_>>(), ["{\"chunk\":\"a\"}", "{\"chunk\":\"b\"}"]);
    assert!(first.iter().all(|i| i.dequeue_count == 1));
    assert!(queue.receive(10, visibility).await.unwrap().is_empty(), "received items are hidden");
    assert!(queue.delete(&first[0]).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = queue.receive(10, visibility).await.unwrap();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!((second[0].body.as_str(), second[0].dequeue_count), ("{\"chunk\":\"b\"}", 2));
    assert!(!queue.delete(&first[1]).await.unwrap(), "a stale receipt deletes nothing");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(queue.receive(10, visibility).await.unwrap().is_empty(), "received twice: poisoned");
    assert_eq!(queue.poisoned().await.unwrap(), ["{\"chunk\":\"b\"}"]);
}

#[tokio::test]
async fn the_sql_stand_in_hides_received_items_and_poisons_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = chargeback::storage::embedded::SqliteLedger::open(&dir.path().join("ledger.sqlite")).await.unwrap();
    hides_received_items_and_poisons_repeats(&SqlQueue::new(ledger.pool().clone(), "q", 2)).await;
}

#[tokio::test]
async fn the_postgresql_stand_in_hides_received_items_and_poisons_repeats() {
    let Some(url) = crate::helpers::service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL") else { return };
    let pool = chargeback::storage::postgres::PgConfig::new(url).connect().await.unwrap();
    let name = crate::contract::subjects::unique_name();
    hides_received_items_and_poisons_repeats(&SqlQueue::new(pool, name, 2)).await;
}

#[tokio::test]
async fn storage_queues_hide_received_items_and_poison_repeats() {
    let Some(connection) = crate::helpers::service_env("CHARGEBACK_TEST_AZURE_STORAGE", "Azurite") else { return };
    let account = StorageAccount::from_connection_string(&connection).unwrap();
    let name = format!("{}-work", crate::contract::subjects::unique_name());
    hides_received_items_and_poisons_repeats(&StorageQueue::open(&account, &name, 2).await.unwrap()).await;
}
