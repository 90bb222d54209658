//! Capacity per deployment and UTC hour: the token rate, the calls by
//! status (200, 408 timeouts, 429 throttling, 400 — for Azure OpenAI mostly
//! the content filter) and latency percentiles where the records carry
//! latency (`GET /api/capacity`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::storage::CapacityCell;

/// Latency percentiles of an hour, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// Calls that carried a latency.
    pub samples: u64,
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
}

/// One deployment in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapacityHour {
    /// The deployment (`(none)` where records do not say).
    pub deployment: String,
    /// Start of the UTC hour.
    pub hour: DateTime<Utc>,
    /// Calls.
    pub requests: u64,
    /// Prompt + completion tokens.
    pub tokens: u64,
    /// Tokens over the hour's 3600 seconds, to three decimals (a decimal string).
    pub tokens_per_second: Decimal,
    /// Calls with status 2xx.
    pub succeeded: u64,
    /// Calls with status 400 (for Azure OpenAI mostly the content filter).
    pub bad_request: u64,
    /// Calls with status 408.
    pub timed_out: u64,
    /// Calls with status 429.
    pub throttled: u64,
    /// Calls with any other status, or none recorded.
    pub other: u64,
    /// Calls per status code (`unknown` where records do not say).
    pub statuses: BTreeMap<String, u64>,
    /// Latency percentiles; absent when no call carried a latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Latency>,
}

/// The nearest-rank percentile of a latency histogram (value → calls).
fn percentile(histogram: &BTreeMap<u64, u64>, samples: u64, percent: u64) -> u64 {
    let rank = (percent * samples).div_ceil(100).max(1);
    let mut seen = 0;
    for (&value, &count) in histogram {
        seen += count;
        if seen >= rank {
            return value;
        }
    }
    histogram.keys().next_back().copied().unwrap_or(0)
}

/// Turns ledger cells into hourly rows, optionally of one deployment.
pub fn summarise(cells: &[CapacityCell], deployment: Option<&str>) -> Vec<CapacityHour> {
    // Per (deployment, hour): the row so far and its latency histogram (ms → calls).
    type Hour = (CapacityHour, BTreeMap<u64, u64>);
    let mut hours: BTreeMap<(String, DateTime<Utc>), Hour> = BTreeMap::new();
    for cell in cells {
        let name = cell.deployment.as_deref().unwrap_or("(none)");
        if deployment.is_some_and(|d| d != name) {
            continue;
        }
        let (row, latencies) = hours.entry((name.to_owned(), cell.hour)).or_insert_with(|| {
            let row = CapacityHour {
                deployment: name.to_owned(),
                hour: cell.hour,
                requests: 0,
                tokens: 0,
                tokens_per_second: Decimal::ZERO,
                succeeded: 0,
                bad_request: 0,
                timed_out: 0,
                throttled: 0,
                other: 0,
                statuses: BTreeMap::new(),
                latency_ms: None,
            };
            (row, BTreeMap::new())
        });
        row.requests += cell.requests;
        row.tokens = row.tokens.saturating_add(cell.tokens);
        match cell.status {
            Some(200..=299) => row.succeeded += cell.requests,
            Some(400) => row.bad_request += cell.requests,
            Some(408) => row.timed_out += cell.requests,
            Some(429) => row.throttled += cell.requests,
            _ => row.other += cell.requests,
        }
        let status = cell.status.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
        *row.statuses.entry(status).or_default() += cell.requests;
        if let Some(latency) = cell.latency_ms {
            *latencies.entry(latency).or_default() += cell.requests;
        }
    }
    hours
        .into_values()
        .map(|(mut row, latencies)| {
            row.tokens_per_second = (Decimal::from(row.tokens) / Decimal::from(3600)).round_dp(3);
            let samples: u64 = latencies.values().sum();
            if samples > 0 {
                row.latency_ms = Some(Latency {
                    samples,
                    p50: percentile(&latencies, samples, 50),
                    p95: percentile(&latencies, samples, 95),
                    p99: percentile(&latencies, samples, 99),
                });
            }
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(status: Option<u16>, latency: Option<u64>, requests: u64) -> CapacityCell {
        CapacityCell {
            deployment: Some("gpt-4o-prod".into()),
            hour: DateTime::from_timestamp(1_790_000_000 / 3600 * 3600, 0).unwrap(),
            status,
            latency_ms: latency,
            requests,
            tokens: requests * 1000,
        }
    }

    #[test]
    fn an_hour_counts_statuses_apart_and_takes_nearest_rank_percentiles() {
        let mut cells: Vec<CapacityCell> = (1..=100).map(|ms| cell(Some(200), Some(ms * 10), 1)).collect();
        cells.push(cell(Some(429), None, 7));
        cells.push(cell(Some(400), Some(5), 1));
        cells.push(cell(None, None, 2));
        let hours = summarise(&cells, None);
        assert_eq!(hours.len(), 1);
        let h = &hours[0];
        assert_eq!((h.requests, h.succeeded, h.throttled, h.bad_request, h.other), (110, 100, 7, 1, 2));
        assert_eq!(h.statuses["unknown"], 2);
        assert_eq!(h.latency_ms, Some(Latency { samples: 101, p50: 500, p95: 950, p99: 990 }));
        assert_eq!(h.tokens_per_second.to_string(), "30.556");
        assert!(summarise(&cells, Some("other")).is_empty());
    }
}
