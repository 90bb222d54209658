//! The embedded backend, chosen when no Azure settings are given: the ledger
//! in SQLite under the data directory ([`sqlite`]), dead letters and report
//! files in folders beside it ([`folder`]). Leases, job state and the
//! rollup's tables share the SQLite file ([`super::sql`]).

pub mod folder;
pub mod identity;
pub mod sqlite;

pub use folder::{FolderDeadLetters, FolderReports};
pub use sqlite::{Durability, SqliteLedger};
