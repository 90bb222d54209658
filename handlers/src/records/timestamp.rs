//! Timestamps as the record shapes write them, all read as UTC.
//!
//! - ISO 8601 / RFC 3339: `2026-11-26T11:32:47.123Z`, with `T` or a space
//!   between date and time, a fraction after `.` or `,`, and an offset in
//!   any ISO form: `Z`, `+01:00`, `-0500` (basic) or `-05` (hours only),
//!   optionally after a space. The offset is applied, so 23:30 at −05:00 on
//!   31 October is 04:30 UTC on 1 November. An offset no clock uses (beyond
//!   −12:00 … +14:00, or minutes of 60 and more) is rejected, never dropped.
//!   Without an offset the time is taken as UTC.
//! - C# `DateTime.UtcNow.ToString()`, as the widely copied APIM policy writes
//!   it: `11/26/2026 11:32:47 AM` (en-US) or `11/26/2026 11:32:47` (invariant
//!   culture). These are read month first, as the gateway writes them; a
//!   day-first value whose first field is over 12 is rejected, never guessed.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

/// Parses a timestamp in any of the accepted forms, to UTC.
pub fn parse_utc(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if raw.len() >= 10 && raw.as_bytes().get(4) == Some(&b'-') {
        return parse_iso(raw);
    }
    parse_csharp_general(raw)
}

/// The furthest offsets any time zone uses: UTC−12:00 and UTC+14:00.
const MAX_OFFSET_WEST_MINUTES: i64 = 12 * 60;
const MAX_OFFSET_EAST_MINUTES: i64 = 14 * 60;

/// `YYYY-MM-DD(T| )HH:MM[:SS[(.|,)fraction]][ ][offset]`.
fn parse_iso(raw: &str) -> Option<DateTime<Utc>> {
    let bytes = raw.as_bytes();
    let year: i32 = digits(raw, 0, 4)?.try_into().ok()?;
    let month = digits(raw, 5, 2)?;
    let day = digits(raw, 8, 2)?;
    if bytes.get(7) != Some(&b'-') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(raw, 11, 2)?;
    if bytes.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(raw, 14, 2)?;
    let mut at = 16;
    let (mut second, mut nanos) = (0, 0);
    if bytes.get(at) == Some(&b':') {
        second = digits(raw, at + 1, 2)?;
        at += 3;
        if matches!(bytes.get(at), Some(b'.' | b',')) {
            let start = at + 1;
            let len = bytes[start..].iter().take_while(|b| b.is_ascii_digit()).count();
            nanos = fraction_to_nanos(raw.get(start..start + len)?)?;
            at = start + len;
        }
    }
    let offset_minutes = offset_minutes(raw.get(at..)?)?;
    // A leap second (:60) is kept as chrono keeps it.
    let time = if second == 60 {
        NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000 + nanos)?
    } else {
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?
    };
    let local = date.and_time(time).and_utc();
    local.checked_sub_signed(Duration::minutes(offset_minutes))
}

/// The offset after the time, in minutes east of UTC: nothing (UTC), `Z`,
/// `±hh:mm`, `±hhmm` or `±hh`, optionally after one space.
fn offset_minutes(rest: &str) -> Option<i64> {
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    if rest.is_empty() || rest == "Z" || rest == "z" {
        return Some(0);
    }
    let (sign, body) = match rest.as_bytes().first()? {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = match body.len() {
        2 => (digits(body, 0, 2)?, 0),
        4 => (digits(body, 0, 2)?, digits(body, 2, 2)?),
        5 if body.as_bytes()[2] == b':' => (digits(body, 0, 2)?, digits(body, 3, 2)?),
        _ => return None,
    };
    if minutes >= 60 {
        return None;
    }
    let total = i64::from(hours * 60 + minutes);
    let limit = if sign > 0 { MAX_OFFSET_EAST_MINUTES } else { MAX_OFFSET_WEST_MINUTES };
    (total <= limit).then_some(sign * total)
}

/// `len` ASCII digits at `at`, as a number.
fn digits(text: &str, at: usize, len: usize) -> Option<u32> {
    let part = text.get(at..at + len)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
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
    fn every_iso_offset_form_is_applied_not_dropped() {
        // 23:30 at UTC−05:00 on 31 October is November in UTC.
        for raw in [
            "2026-10-31T23:30:00-05:00",
            "2026-10-31T23:30:00-0500",
            "2026-10-31T23:30:00-05",
            "2026-10-31 23:30:00 -0500",
            "2026-10-31T23:30-05:00",
            "2026-10-31T23:30:00,000-05",
        ] {
            assert_eq!(iso(parse_utc(raw).unwrap()), "2026-11-01T04:30:00.000Z", "{raw}");
        }
        assert_eq!(iso(parse_utc("2026-11-01T05:30:00+0530").unwrap()), "2026-11-01T00:00:00.000Z");
        assert_eq!(iso(parse_utc("2026-11-01T14:00:00+14:00").unwrap()), "2026-11-01T00:00:00.000Z");
        assert_eq!(iso(parse_utc("2026-11-01T00:00:00-12").unwrap()), "2026-11-01T12:00:00.000Z");
    }

    #[test]
    fn impossible_offsets_are_rejected_not_dropped() {
        for raw in [
            "2026-10-31T23:30:00+25:00",
            "2026-10-31T23:30:00+14:01",
            "2026-10-31T23:30:00-13:00",
            "2026-10-31T23:30:00+05:60",
            "2026-10-31T23:30:00+5",
            "2026-10-31T23:30:00+050",
            "2026-10-31T23:30:00 EST",
            "2026-10-31T23:30:00Zjunk",
        ] {
            assert!(parse_utc(raw).is_none(), "{raw}");
        }
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
