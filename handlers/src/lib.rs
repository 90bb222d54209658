//! `chargeback`: exact token-usage chargeback for a shared Azure OpenAI
//! deployment, as an Azure Functions custom handler.
//!
//! Modules import only downward (`docs/architecture.md`; the architecture
//! test in `tests/app/architecture.rs` keeps it so):
//!
//! - composition root: [`startup`] (the stores, the services, [`startup::AppState`])
//!   and [`config`] (the settings it reads);
//! - adapters: [`functions`] (the Functions host protocol, one module per
//!   function), [`api`] (the HTTP API the host forwards), [`cli`] (the
//!   `chargeback` command and its demo);
//! - services: [`ingest`], [`usage`], [`directory`], [`rollup`], [`billing`],
//!   [`budgets`], [`maintenance`], [`reconcile`] (the statement against the
//!   Azure invoice, and the true-up), [`prices`] (the Retail Prices API, the
//!   meter parser and the price sync), [`replay`] (from Event Hubs Capture);
//! - [`storage`]: the store traits and one folder per backend;
//! - [`records`]: the wire shapes of usage records and their parsing;
//! - [`domain`]: records, tokens, tenants, months, money, names,
//!   applications, business units, deployments, prices, budgets.

pub mod api;
pub mod billing;
pub mod budgets;
pub mod cli;
pub mod config;
pub mod directory;
pub mod domain;
pub mod functions;
pub mod ingest;
pub mod maintenance;
pub mod prices;
pub mod reconcile;
pub mod records;
pub mod replay;
pub mod rollup;
pub mod startup;
pub mod storage;
pub mod usage;
