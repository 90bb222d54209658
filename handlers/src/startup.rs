//! Building the app from configuration: the stores, the ingestor and the
//! HTTP server the Functions host talks to.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing::info;

use crate::config::Settings;
use crate::functions::{AppState, router};
use crate::ingest::Ingestor;
use crate::storage::folder::FolderDeadLetters;
use crate::storage::sqlite::SqliteLedger;

/// The stores and ingestor for a configuration (embedded backend).
pub async fn ingestor(settings: &Settings) -> anyhow::Result<Ingestor> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
    let ledger =
        SqliteLedger::open(&settings.data_dir.join("ledger.sqlite")).await.context("opening the embedded ledger")?;
    let dead_letters = FolderDeadLetters::new(settings.data_dir.join("dead-letter"));
    Ok(Ingestor::new(Arc::new(ledger), Arc::new(dead_letters), settings.fingerprinter()?, settings.tenant.clone()))
}

/// The running custom handler.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Binds 127.0.0.1 on `port` (0 picks a free one) and builds the state.
    pub async fn build(settings: &Settings, port: u16) -> anyhow::Result<Self> {
        let state = AppState { ingestor: ingestor(settings).await? };
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        Ok(Self { listener, state })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the invocations in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        info!(port = self.port(), "custom handler listening");
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    info!("shutting down");
}
