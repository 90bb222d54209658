//! `chargeback`: exact token-usage chargeback for a shared Azure OpenAI
//! deployment, as an Azure Functions custom handler.
//!
//! - [`domain`]: what a usage record is (no wire or storage concerns);
//! - [`records`]: the wire shapes of usage records and their parsing;
//! - [`ingest`]: a batch of events into the ledger and dead-letter store;
//! - [`reconcile`]: replay from Event Hubs Capture (backfill, reconciliation);
//! - [`storage`]: the store traits and their implementations;
//! - [`functions`]: the Functions host protocol and one module per function;
//! - [`api`]: the HTTP query and administration API (forwarded by the host);
//! - [`maintenance`]: nightly SQL maintenance (statistics, vacuum, indexes);
//! - [`budgets`]: budget alerts at 50, 80 and 100 % of a business unit's month;
//! - [`rollup`]: the monthly rollup, a durable-style fan-out over ledger partitions;
//! - [`usage`]: token totals for people (CLI, later the HTTP API);
//! - [`billing`]: prices, the monthly chargeback statement and its report files;
//! - [`demo`]: a month of synthetic traffic;
//! - [`cli`]: the `chargeback` command.

pub mod api;
pub mod billing;
pub mod budgets;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod functions;
pub mod ingest;
pub mod maintenance;
pub mod mapping;
pub mod reconcile;
pub mod records;
pub mod rollup;
pub mod startup;
pub mod storage;
pub mod usage;
