//! Prices from the source: Azure's Retail Prices API read into the price
//! catalogue as effective-dated history (issue #16).
//!
//! - [`meter`]: the meter parser — meter, SKU and product names → model,
//!   deployment scope, token kind, service tier — and the user's mapping
//!   file. It depends on nothing else here, so invoice matching reuses it.

pub mod meter;
