//! Prices from the source: Azure's Retail Prices API read into the price
//! catalogue as effective-dated history (issue #16).
//!
//! - [`meter`]: the meter parser — meter, SKU and product names → model,
//!   deployment scope, token kind, service tier — and the user's mapping
//!   file. It depends on nothing else here, so invoice matching reuses it.
//! - [`client`]: the Retail Prices API client (filter, currency, paging,
//!   retries; all pages or nothing).
//! - [`sync`]: an answer reconciled with the catalogue's history (the synced
//!   catalogue, [`crate::billing::synced`]), and the unit guard.
//! - [`report`]: what a sync did, for people and as JSON.
//! - [`service`]: the sync run by the CLI and the `prices-sync` timer: read,
//!   reconcile, write once (a file, or the tenant's report store document).

pub mod client;
pub mod meter;
pub mod report;
pub mod service;
pub mod sync;
