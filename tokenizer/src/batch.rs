//! Resolving the usage of a whole ingestion batch, in parallel when that pays.
//!
//! Counting is CPU work that takes tens of milliseconds per megabyte: run it
//! off the async runtime, e.g.
//!
//! ```text
//! let usages = tokio::task::spawn_blocking(move || {
//!     let exchanges: Vec<Exchange<'_>> = records.iter().map(|r| r.exchange()).collect();
//!     resolve_batch(&exchanges, 2)
//! }).await?;
//! ```
//!
//! Small batches (most of them: records with reported usage cost almost
//! nothing) stay on the calling thread; large ones are split across scoped
//! threads in contiguous, byte-balanced chunks, so results keep their order.

use std::num::NonZeroUsize;
use std::thread;

use serde_json::Value;

use crate::{CountError, Encoding, TokenUsage, resolve_usage};

/// Below this many bytes of bodies a batch is resolved on the calling
/// thread: starting threads would cost more than it saves (about 0.3 ms of
/// counting at our speed).
pub const PARALLEL_FROM_BYTES: usize = 64 * 1024;

/// One exchange of a batch.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// The encoding of the exchange's model.
    pub encoding: Encoding,
    /// The request body, if recorded.
    pub request_body: Option<&'a Value>,
    /// The response body (JSON or SSE), if recorded.
    pub response_body: Option<&'a str>,
}

impl Exchange<'_> {
    fn resolve(&self) -> Result<TokenUsage, CountError> {
        resolve_usage(self.encoding, self.request_body, self.response_body)
    }

    fn approx_bytes(&self) -> usize {
        self.response_body.map_or(0, str::len) + self.request_body.map_or(0, text_bytes)
    }
}

/// Resolves every exchange's usage ([`resolve_usage`]), in order, using at
/// most `max_threads` threads (the calling one included). Blocking: call it
/// from `spawn_blocking` or a plain thread.
pub fn resolve_batch(exchanges: &[Exchange<'_>], max_threads: usize) -> Vec<Result<TokenUsage, CountError>> {
    let sizes: Vec<usize> = exchanges.iter().map(Exchange::approx_bytes).collect();
    let total: usize = sizes.iter().sum();
    let threads = if max_threads > 1 && total >= PARALLEL_FROM_BYTES {
        let cores = thread::available_parallelism().map_or(1, NonZeroUsize::get);
        max_threads.min(cores).min(exchanges.len())
    } else {
        1
    };
    if threads <= 1 {
        return exchanges.iter().map(Exchange::resolve).collect();
    }
    let chunks = balanced_chunks(&sizes, threads);
    thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .skip(1)
            .map(|range| {
                let part = &exchanges[range.clone()];
                scope.spawn(move || part.iter().map(Exchange::resolve).collect::<Vec<_>>())
            })
            .collect();
        let mut results: Vec<_> = exchanges[chunks[0].clone()].iter().map(Exchange::resolve).collect();
        for handle in handles {
            match handle.join() {
                Ok(part) => results.extend(part),
                // A panic while counting is a bug; surface it where it belongs.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
}

/// Splits `0..sizes.len()` into `parts` contiguous ranges of about equal size.
fn balanced_chunks(sizes: &[usize], parts: usize) -> Vec<std::ops::Range<usize>> {
    let total: usize = sizes.iter().sum();
    let target = total.div_ceil(parts).max(1);
    let mut chunks = Vec::with_capacity(parts);
    let (mut start, mut acc) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        acc += size;
        if acc >= target && chunks.len() + 1 < parts && i + 1 < sizes.len() {
            chunks.push(start..i + 1);
            start = i + 1;
            acc = 0;
        }
    }
    chunks.push(start..sizes.len());
    chunks
}

/// Bytes of the strings in a JSON value: a cheap measure of counting work.
fn text_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(text_bytes).sum(),
        Value::Object(map) => map.iter().map(|(k, v)| k.len() + text_bytes(v)).sum(),
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn chunks_cover_everything_in_order() {
        let chunks = balanced_chunks(&[10, 10, 10, 10, 40], 2);
        assert_eq!(chunks, [0..4, 4..5]);
        assert_eq!(balanced_chunks(&[1], 4), vec![0..1]);
        assert_eq!(balanced_chunks(&[], 2), vec![0..0]);
    }

    #[test]
    fn a_large_batch_in_parallel_gives_the_same_results_in_order() {
        let requests: Vec<Value> = (0..40)
            .map(|i| json!({"messages": [{"role": "user", "content": "word ".repeat(500 * (i + 1))}]}))
            .collect();
        let exchanges: Vec<Exchange<'_>> = requests
            .iter()
            .map(|r| Exchange { encoding: Encoding::O200kBase, request_body: Some(r), response_body: None })
            .collect();
        let parallel = resolve_batch(&exchanges, 4);
        let sequential: Vec<_> = exchanges.iter().map(Exchange::resolve).collect();
        assert_eq!(parallel.len(), 40);
        for (p, s) in parallel.iter().zip(&sequential) {
            assert_eq!(p.as_ref().ok(), s.as_ref().ok());
        }
    }
}
