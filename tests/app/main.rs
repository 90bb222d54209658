//! Integration tests of the custom handler and the CLI, compiled into one
//! binary. The handler is driven over real HTTP with the JSON the Functions
//! host posts, built from our own `function.json` files.

#![allow(clippy::unwrap_used)]

mod api;
mod architecture;
mod awaiting;
mod budgets;
mod capture;
mod cells;
mod cli;
mod contract;
mod fuzz;
mod gateway_logs;
mod helpers;
mod host_queues;
mod hostile;
mod identity;
mod ingest_usage;
mod maintenance;
mod prices;
mod protocol;
mod reconcile;
mod report;
mod rollup;
mod routes;
