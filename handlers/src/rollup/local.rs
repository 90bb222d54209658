//! The rollup worked in-process with a bounded pool: the embedded backend's
//! `chargeback rollup`, and the same steps the queue-triggered functions run.

use std::time::Duration;

use futures::StreamExt;
use tracing::warn;

use super::{ChunkMessage, ChunkState, FinishMessage, MAX_ATTEMPTS, RollupError, RollupInstance, Rollups, Started};
use crate::domain::{Period, Tenant};

/// Runs a chunk with up to [`MAX_ATTEMPTS`] attempts from `attempt`, backing off between them.
async fn chunk_with_retries(
    rollups: &Rollups,
    message: &ChunkMessage,
    mut attempt: u32,
) -> Result<Option<FinishMessage>, RollupError> {
    loop {
        match rollups.run_chunk(message, attempt).await {
            Ok(next) => return Ok(next.finish),
            Err(e @ RollupError::Invalid(_)) => return Err(e),
            Err(e) if attempt >= MAX_ATTEMPTS => return Err(e),
            Err(e) => {
                warn!(chunk = message.chunk, attempt, error = &e as &dyn std::error::Error, "chunk failed; retrying");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// Runs the finish step with up to [`MAX_ATTEMPTS`] attempts (waiting while another worker holds the lease).
pub async fn finish_with_retries(
    rollups: &Rollups,
    message: &FinishMessage,
) -> Result<Option<RollupInstance>, RollupError> {
    let mut attempt = 1;
    loop {
        match rollups.finish(message, attempt).await {
            Ok(done) => return Ok(done),
            Err(e @ RollupError::Invalid(_)) => return Err(e),
            Err(RollupError::Busy) => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(e) if attempt >= MAX_ATTEMPTS => return Err(e),
            Err(e) => {
                warn!(attempt, error = &e as &dyn std::error::Error, "finish failed; retrying");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * u64::from(attempt))
}

/// Chunks per batch at most: a batch is aggregated chunk by chunk, then
/// written and marked done at once ([`Rollups::run_chunks`]).
const MAX_BATCH: usize = 64;

/// Works a batch of chunks of one run: all at once, then whatever failed
/// alone with retries (the batch was its first attempt).
async fn batch_with_retries(
    rollups: &Rollups,
    batch: &[ChunkMessage],
) -> Vec<Result<Option<FinishMessage>, RollupError>> {
    let retry_from = 2.min(MAX_ATTEMPTS);
    let failed: Vec<(ChunkMessage, u32)> = match rollups.run_chunks(batch).await {
        Ok(outcome) => {
            let mut results = vec![Ok(outcome.finish)];
            for (message, error) in outcome.failed {
                warn!(
                    chunk = message.chunk,
                    attempt = 1,
                    error = &error as &dyn std::error::Error,
                    "chunk failed; retrying"
                );
                tokio::time::sleep(backoff(1)).await;
                results.push(chunk_with_retries(rollups, &message, retry_from).await);
            }
            return results;
        }
        Err(RollupError::Invalid(_)) => batch.iter().map(|m| (m.clone(), 1)).collect(),
        Err(e) => {
            warn!(
                chunks = batch.len(),
                error = &e as &dyn std::error::Error,
                "writing a batch of chunks failed; retrying them one by one"
            );
            batch.iter().map(|m| (m.clone(), retry_from)).collect()
        }
    };
    let mut results = Vec::with_capacity(failed.len());
    for (message, attempt) in failed {
        results.push(chunk_with_retries(rollups, &message, attempt).await);
    }
    results
}

/// Works chunk messages with at most `workers` batches at a time; returns
/// the finish message if one of them completed the plan, and the first failure.
pub async fn work_chunks(
    rollups: &Rollups,
    chunks: Vec<ChunkMessage>,
    workers: usize,
) -> (Option<FinishMessage>, Option<RollupError>) {
    let workers = workers.max(1);
    // Small months: batches of one, so every worker has work; large ones: MAX_BATCH.
    let size = (chunks.len() / (workers * 4)).clamp(1, MAX_BATCH);
    let batches: Vec<Vec<ChunkMessage>> = chunks.chunks(size).map(<[ChunkMessage]>::to_vec).collect();
    let mut results = futures::stream::iter(batches)
        .map(|batch| {
            let rollups = rollups.clone();
            async move { batch_with_retries(&rollups, &batch).await }
        })
        .buffer_unordered(workers);
    let (mut finish, mut failure) = (None, None);
    while let Some(batch) = results.next().await {
        for result in batch {
            match result {
                Ok(Some(f)) => finish = Some(f),
                Ok(None) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
    }
    (finish, failure)
}

/// Works a started run's messages to the end in this process.
pub async fn complete(
    rollups: &Rollups,
    chunks: Vec<ChunkMessage>,
    finish: Option<FinishMessage>,
    workers: usize,
) -> Option<RollupError> {
    let (from_chunks, failure) = work_chunks(rollups, chunks, workers).await;
    if let Some(message) = finish.or(from_chunks)
        && let Err(e) = finish_with_retries(rollups, &message).await
    {
        return Some(e);
    }
    failure
}

/// Starts a tenant's month and works it to the end in this process with at
/// most `workers` chunks at a time. Returns the final state.
pub async fn run(
    rollups: &Rollups,
    tenant: &Tenant,
    period: Period,
    workers: usize,
    trigger: &str,
) -> Result<RollupInstance, RollupError> {
    let (chunks, finish) = match rollups.start(tenant, period, trigger).await? {
        Started::New { chunks, finish, .. } => (chunks, finish),
        Started::AlreadyRunning(i) => {
            return Err(RollupError::AlreadyRunning {
                id: i.id.clone(),
                run: i.run,
                done: i.count(ChunkState::Done),
                total: i.total(),
            });
        }
    };
    let failure = complete(rollups, chunks, finish, workers).await;
    let state = rollups.current(tenant, period).await?;
    match failure {
        Some(e) if state.status != super::RuntimeStatus::Completed => Err(e),
        _ => Ok(state),
    }
}

/// Chunks worked at a time in this process (the embedded backend's pool and
/// the standalone server).
pub const DEFAULT_WORKERS: usize = 4;

/// Works a started run in the background of this process (the standalone
/// server's `POST /api/rollups/{period}`).
pub fn spawn_complete(rollups: Rollups, chunks: Vec<ChunkMessage>, finish: Option<FinishMessage>) {
    tokio::spawn(async move {
        if let Some(e) = complete(&rollups, chunks, finish, DEFAULT_WORKERS).await {
            let error = &e as &dyn std::error::Error;
            warn!(error, "rollup in the background failed; see its status");
        }
    });
}
