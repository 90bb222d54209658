//! `chargeback`: exact token-usage chargeback for a shared Azure OpenAI
//! deployment, as an Azure Functions custom handler.
//!
//! - [`domain`]: what a usage record is (no wire or storage concerns);
//! - [`records`]: the wire shapes of usage records and their parsing;
//! - [`ingest`]: a batch of events into the ledger and dead-letter store;
//! - [`storage`]: the store traits and their implementations;
//! - [`functions`]: the Functions host protocol and one module per function;
//! - [`api`]: the HTTP query and administration API (forwarded by the host);
//! - [`maintenance`]: nightly SQL maintenance (statistics, vacuum, indexes);
//! - [`usage`]: token totals for people (CLI, later the HTTP API);
//! - [`demo`]: a month of synthetic traffic;
//! - [`cli`]: the `chargeback` command.

pub mod api;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod functions;
pub mod ingest;
pub mod maintenance;
pub mod mapping;
pub mod records;
pub mod startup;
pub mod storage;
pub mod usage;
