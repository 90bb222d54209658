//! Timestamps as the record shapes write them, all read as UTC.
//!
//! - RFC 3339 with `Z` or an offset (our v1 record; converted to UTC);
//! - ISO 8601 without an offset (`2026-11-26T11:32:47.123`), taken as UTC;
//! - C# `DateTime.UtcNow.ToString()`, as the widely copied APIM policy writes
//!   it: `11/26/2026 11:32:47 AM` (en-US) or `11/26/2026 11:32:47` (invariant
//!   culture). These are read month first, as the gateway writes them; a
//!   day-first value whose first field is over 12 is rejected, never guessed.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// Parses a timestamp in any of the accepted forms, to UTC.
pub(crate) fn parse_utc(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if raw.len() >= 10 && raw.as_bytes()[4] == b'-' {
        if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
            return Some(t.with_timezone(&Utc));
        }
        // ISO 8601 with a space or without offset.
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
                return Some(t.and_utc());
            }
        }
        return DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f %z").ok().map(|t| t.with_timezone(&Utc));
    }
    parse_csharp_general(raw)
}

/// `M/d/yyyy h:mm:ss tt` or `MM/dd/yyyy HH:mm:ss`.
fn parse_csharp_general(raw: &str) -> Option<DateTime<Utc>> {
    let mut parts = raw.split_whitespace();
    let date = parts.next()?;
    let time = parts.next()?;
    let meridiem = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let mut d = date.split('/');
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let year: i32 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1000..=9999).contains(&year) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let mut t = time.split(':');
    let mut hour: u32 = t.next()?.parse().ok()?;
    let minute: u32 = t.next()?.parse().ok()?;
    let seconds = t.next()?;
    if t.next().is_some() {
        return None;
    }
    let (second, nanos) = match seconds.split_once('.') {
        Some((s, frac)) => (s.parse().ok()?, fraction_to_nanos(frac)?),
        None => (seconds.parse().ok()?, 0),
    };
    match meridiem.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some("AM") if (1..=12).contains(&hour) => hour %= 12,
        Some("PM") if (1..=12).contains(&hour) => hour = hour % 12 + 12,
        Some(_) => return None,
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(date.and_time(time).and_utc())
}

fn fraction_to_nanos(frac: &str) -> Option<u32> {
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: u32 = frac.parse().ok()?;
    Some(digits * 10u32.pow(9 - u32::try_from(frac.len()).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    #[test]
    fn rfc3339_offsets_are_converted_to_utc() {
        assert_eq!(iso(parse_utc("2026-11-26T12:32:47.123+01:00").unwrap()), "2026-11-26T11:32:47.123Z");
        assert_eq!(iso(parse_utc("2026-11-26T11:32:47Z").unwrap()), "2026-11-26T11:32:47.000Z");
        assert_eq!(iso(parse_utc("2026-11-26T11:32:47.5").unwrap()), "2026-11-26T11:32:47.500Z");
    }

    #[test]
    fn csharp_general_format_is_read_month_first_with_12_hour_clock() {
        assert_eq!(iso(parse_utc("11/26/2026 11:32:47 AM").unwrap()), "2026-11-26T11:32:47.000Z");
        assert_eq!(iso(parse_utc("11/26/2026 12:05:00 AM").unwrap()), "2026-11-26T00:05:00.000Z");
        assert_eq!(iso(parse_utc("11/26/2026 12:05:00 PM").unwrap()), "2026-11-26T12:05:00.000Z");
        assert_eq!(iso(parse_utc("1/2/2026 1:05:09 PM").unwrap()), "2026-01-02T13:05:09.000Z");
        assert_eq!(iso(parse_utc("11/26/2026 23:32:47").unwrap()), "2026-11-26T23:32:47.000Z");
    }

    #[test]
    fn day_first_dates_and_garbage_are_not_guessed() {
        for bad in ["26/11/2026 11:32:47", "11/26/2026 13:00:00 PM", "yesterday", "", "2026-13-01T00:00:00Z"] {
            assert!(parse_utc(bad).is_none(), "{bad:?}");
        }
    }
}
