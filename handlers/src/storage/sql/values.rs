//! The stored form of values, the same on both SQL engines: days as
//! `YYYY-MM-DD` text, times as microseconds since the epoch, counts as
//! BIGINT, token sources and ids as text.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{RecordId, TokenSource};
use crate::storage::StorageError;

/// A stored hour (hours since the epoch) back.
pub fn from_hours(hours: i64) -> Result<DateTime<Utc>, StorageError> {
    hours
        .checked_mul(3600)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| StorageError::Corrupt(format!("hour {hours} out of range")))
}

/// A stored HTTP status back (`None` when not a status).
pub fn to_status(n: Option<i64>) -> Option<u16> {
    n.and_then(|n| u16::try_from(n).ok())
}

/// The stored form of a day.
pub fn day_text(day: NaiveDate) -> String {
    use chrono::Datelike;
    // What `format("%Y-%m-%d")` writes, without the formatter (once per record at ingest).
    match u32::try_from(day.year()) {
        Ok(year) if year <= 9999 => {
            let mut text = String::with_capacity(10);
            for (n, width) in [(year, 4), (day.month(), 2), (day.day(), 2)] {
                if !text.is_empty() {
                    text.push('-');
                }
                for shift in (0..width).rev() {
                    let digit = n / 10u32.pow(shift) % 10;
                    text.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
                }
            }
            text
        }
        _ => day.format("%Y-%m-%d").to_string(),
    }
}

/// Parses a stored day.
pub fn parse_day(text: &str) -> Result<NaiveDate, StorageError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| StorageError::Corrupt(format!("day {text:?}: {e}")))
}

/// A count as stored (counts are far below 2^63; saturate rather than wrap).
pub fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count back (never negative: the schema checks it).
pub fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The two parts of a split sum: `SUM(col / 2^30)` and `SUM(col % 2^30)`.
const SPLIT: u128 = 1 << 30;

/// A sum from its two parts, exact; a total past 2^64 (only rows stored
/// before the per-record maximum could reach it) saturates rather than
/// failing the query.
pub fn split_sum(high: i64, low: i64) -> u64 {
    let high = u128::try_from(high).unwrap_or(0);
    let low = u128::try_from(low).unwrap_or(0);
    u64::try_from(high * SPLIT + low).unwrap_or(u64::MAX)
}

/// A stored token source back.
pub fn token_source(raw: &str) -> Result<TokenSource, StorageError> {
    TokenSource::parse(raw).ok_or_else(|| StorageError::Corrupt(format!("unknown token source {raw:?} in ledger")))
}

/// A stored time back.
pub fn from_micros(us: i64) -> Result<DateTime<Utc>, StorageError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StorageError::Corrupt(format!("time {us} out of range")))
}

/// A stored id back.
pub fn record_id(raw: &str) -> Result<RecordId, StorageError> {
    RecordId::parse(raw).map_err(|e| StorageError::Corrupt(format!("record id {raw:?}: {e}")))
}
