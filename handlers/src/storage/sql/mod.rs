//! The SQL shared by the SQLite and the PostgreSQL backends: one query text
//! for both engines, written once per pool type by macros.
//!
//! - [`cells`]: the usage cells' columns, and every query over them;
//! - [`ledger`]: the ledger's queries and the `impl Ledger` both ledgers share;
//! - [`support`]: leases, versioned reports, a work queue and dead letters;
//! - [`rollup`]: the rollup's aggregates and results;
//! - [`values`]: the stored form of days, times, counts and ids;
//! - [`gateway_logs`]: the halves of API Management resource logs.

pub mod cells;
pub mod gateway_logs;
pub mod ledger;
pub mod rollup;
pub mod support;
pub mod values;
