//! The Azure backends, on the 0.21 family of the Azure storage crates (one
//! `azure_core`/reqwest stack with rustls for all three services):
//!
//! - [`table_ledger`]: the ledger on Table Storage (keys in [`table_keys`]);
//! - [`blobs`]: dead letters, reports and singleton leases on Blob Storage;
//! - [`capture_blobs`]: Event Hubs Capture files, read for a backfill;
//! - [`connection`]: the account, from an `AzureWebJobsStorage` connection
//!   string (Azurite, local development) or an identity-based connection
//!   ([`identity`]: the host's `AzureWebJobsStorage__accountName` …, bearer
//!   tokens of the app credential, no key).
//!
//! Each crate is used only inside its module, behind the storage traits.

pub mod blobs;
pub mod capture_blobs;
pub mod connection;
pub mod identity;
pub mod table_keys;
pub mod table_ledger;

pub use blobs::{BlobDeadLetters, BlobLeases, BlobReports};
pub use capture_blobs::CaptureBlobs;
pub use connection::StorageAccount;
pub use identity::IdentityConnection;
pub use table_ledger::TableLedger;
