//! The SQL shared by the SQLite and the PostgreSQL backends: one query text
//! for both engines, written once per pool type by macros.
//!
//! - [`ledger`]: the ledger's queries and the `impl Ledger` both ledgers share;
//! - [`support`]: leases, versioned reports, a work queue and dead letters;
//! - [`rollup`]: the rollup's aggregates and results.

pub mod ledger;
pub mod rollup;
pub mod support;
