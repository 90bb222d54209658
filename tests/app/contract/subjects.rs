//! The implementations under test, each on fresh storage.

use std::sync::Arc;

use chargeback::domain::Tenant;
use chargeback::storage::azure::{BlobDeadLetters, BlobLeases, BlobReports, StorageAccount, TableLedger};
use chargeback::storage::embedded::folder::FolderDeadLetters;
use chargeback::storage::embedded::sqlite::SqliteLedger;
use chargeback::storage::postgres::{PgConfig, PgLedger};
use chargeback::storage::sql::support::{SqlDeadLetters, SqlLeases, SqlReports};
use chargeback::storage::{DeadLetterStore, LeaseStore, Ledger, ReportStore};

use crate::helpers::service_env;

/// One implementation of every store, on storage no other test uses.
pub struct Subject {
    pub ledger: Arc<dyn Ledger>,
    pub dead_letters: Option<Arc<dyn DeadLetterStore>>,
    pub reports: Arc<dyn ReportStore>,
    pub leases: Arc<dyn LeaseStore>,
    /// A tenant of its own.
    pub tenant: Tenant,
    /// A name prefix of its own (leases, reports).
    pub unique: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh lower-case name.
pub fn unique_name() -> String {
    format!("t{:016x}", rand::random::<u64>())
}

pub async fn embedded() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteLedger::open(&dir.path().join("ledger.sqlite")).await.unwrap();
    let pool = sqlite.pool().clone();
    let unique = unique_name();
    Subject {
        ledger: Arc::new(sqlite),
        dead_letters: Some(Arc::new(FolderDeadLetters::new(dir.path().join("dead-letter")))),
        reports: Arc::new(SqlReports::new(pool.clone())),
        leases: Arc::new(SqlLeases::new(pool)),
        tenant: Tenant::parse(&unique).unwrap(),
        unique,
        _dir: Some(dir),
    }
}

pub async fn postgres() -> Option<Subject> {
    let url = service_env("CHARGEBACK_TEST_DATABASE_URL", "PostgreSQL")?;
    let mut config = PgConfig::new(url);
    config.max_connections = 4;
    let pool = config.connect().await.unwrap();
    let unique = unique_name();
    Some(Subject {
        ledger: Arc::new(PgLedger::new(pool.clone())),
        dead_letters: Some(Arc::new(SqlDeadLetters::new(pool.clone()))),
        reports: Arc::new(SqlReports::new(pool.clone())),
        leases: Arc::new(SqlLeases::new(pool)),
        tenant: Tenant::parse(&unique).unwrap(),
        unique,
        _dir: None,
    })
}

pub async fn azurite() -> Option<Subject> {
    let connection = service_env("CHARGEBACK_TEST_AZURE_STORAGE", "Azurite")?;
    let account = StorageAccount::from_connection_string(&connection).unwrap();
    Some(on_account(&account).await)
}

/// Azurite in OAuth mode, reached as a managed identity of the stand-in
/// identity endpoint: no key anywhere.
pub async fn azurite_token() -> Option<Subject> {
    let (azurite, standin) = crate::identity::token_storage()?;
    let client_id = crate::identity::identity(&standin, "contract", crate::identity::standin::Profile::default());
    Some(on_account(&azurite.account(&client_id)).await)
}

async fn on_account(account: &StorageAccount) -> Subject {
    let unique = unique_name();
    let containers = format!("{unique}-");
    Subject {
        ledger: Arc::new(TableLedger::open(account, &unique).await.unwrap()),
        dead_letters: Some(Arc::new(BlobDeadLetters::open(account, &containers).await.unwrap())),
        reports: Arc::new(BlobReports::open(account, &containers).await.unwrap()),
        leases: Arc::new(BlobLeases::open(account, &containers).await.unwrap()),
        tenant: Tenant::parse(&unique).unwrap(),
        unique,
        _dir: None,
    }
}
