//! The timestamp parser: never a panic, every ISO offset form applied, no
//! impossible offset accepted.

use chargeback::records::parse_utc;
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::config;

fn offset_text(minutes: i64, form: u8) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    match form {
        0 => format!("{sign}{h:02}:{m:02}"),
        1 => format!("{sign}{h:02}{m:02}"),
        _ if m == 0 => format!("{sign}{h:02}"),
        _ => format!("{sign}{h:02}:{m:02}"),
    }
}

proptest! {
    #![proptest_config(config(1))]

    #[test]
    fn arbitrary_text_never_panics(raw in ".{0,60}") {
        let _ = parse_utc(&raw);
    }

    #[test]
    fn iso_like_text_never_panics(raw in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.,]{0,18}( ?[-+Zz][0-9:]{0,6})?.{0,3}") {
        let _ = parse_utc(&raw);
    }

    #[test]
    fn every_offset_form_gives_the_same_instant(
        seconds in 946_684_800i64..4_102_444_800, millis in 0u32..1000,
        offset in -720i64..=840, form in 0u8..3, spaced in any::<bool>(), separator in prop::sample::select(vec!['T', ' ']),
    ) {
        let instant: DateTime<Utc> = Utc.timestamp_opt(seconds, millis * 1_000_000).unwrap();
        let local = instant.naive_utc() + Duration::minutes(offset);
        let text = format!(
            "{}{separator}{}.{millis:03}{}{}",
            local.format("%Y-%m-%d"),
            local.format("%H:%M:%S"),
            if spaced { " " } else { "" },
            offset_text(offset, form),
        );
        prop_assert_eq!(parse_utc(&text), Some(instant), "{}", text);
    }

    #[test]
    fn an_offset_no_clock_uses_is_refused(
        hours in 0i64..100, minutes in 0i64..100, east in any::<bool>(), form in 0u8..2,
    ) {
        let total = hours * 60 + minutes;
        prop_assume!(minutes >= 60 || (east && total > 840) || (!east && total > 720));
        let sign = if east { '+' } else { '-' };
        let offset = if form == 0 { format!("{sign}{hours:02}:{minutes:02}") } else { format!("{sign}{hours:02}{minutes:02}") };
        let text = format!("2026-10-31T23:30:00{offset}");
        prop_assert_eq!(parse_utc(&text), None, "{}", text);
    }
}
