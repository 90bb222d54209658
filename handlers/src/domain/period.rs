//! A calendar month (UTC), the unit a rollup and a chargeback cover.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    first: NaiveDate,
}

/// Why a text is not a period.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a month written YYYY-MM between 2000-01 and 2099-12 (for example 2026-10)")]
pub struct PeriodError(pub String);

/// The months a period read from input may name: those of the days the usage
/// API accepts (2000-01-01 to 2100-01-01), so no input starts a rollup of
/// year 0 or 9999.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;

impl Period {
    /// The month `year`-`month` (1–12).
    pub fn new(year: i32, month: u32) -> Result<Self, PeriodError> {
        NaiveDate::from_ymd_opt(year, month, 1)
            .filter(|d| d.checked_add_months(Months::new(1)).is_some())
            .map(|first| Self { first })
            .ok_or_else(|| PeriodError(format!("{year:04}-{month:02}")))
    }

    /// The month of a day.
    pub fn of(day: NaiveDate) -> Self {
        Self { first: day.with_day(1).unwrap_or(day) }
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// The first day of the next month.
    pub fn next_first_day(self) -> NaiveDate {
        self.first.checked_add_months(Months::new(1)).unwrap_or(NaiveDate::MAX)
    }

    /// The month before.
    pub fn previous(self) -> Self {
        Self { first: self.first.checked_sub_months(Months::new(1)).unwrap_or(self.first) }
    }

    /// Year.
    pub fn year(self) -> i32 {
        self.first.year()
    }

    /// Month, 1–12.
    pub fn month(self) -> u32 {
        self.first.month()
    }

    /// Its days, in order.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        let next = self.next_first_day();
        self.first.iter_days().take_while(move |d| *d < next)
    }

    /// Number of days.
    pub fn day_count(self) -> u32 {
        u32::try_from((self.next_first_day() - self.first).num_days()).unwrap_or(0)
    }

    /// Number of hours (days × 24; UTC has no daylight saving).
    pub fn hours(self) -> u32 {
        self.day_count() * 24
    }

    /// Whether a day falls in the month.
    pub fn contains(self, day: NaiveDate) -> bool {
        day >= self.first && day < self.next_first_day()
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let bad = || PeriodError(raw.to_owned());
        let (year, month) = raw.split_once('-').ok_or_else(bad)?;
        let well_formed = year.len() == 4
            && month.len() == 2
            && year.bytes().all(|b| b.is_ascii_digit())
            && month.bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let month: u32 = month.parse().map_err(|_| bad())?;
        if !YEARS.contains(&year) {
            return Err(bad());
        }
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        Ok(Self { first })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_months() {
        let p: Period = "2026-10".parse().unwrap();
        assert_eq!(p.to_string(), "2026-10");
        assert_eq!(p.first_day(), NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
        assert_eq!(p.next_first_day(), NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!("2026-01".parse::<Period>().unwrap().previous().to_string(), "2025-12");
        assert_eq!(p.day_count(), 31);
        assert_eq!(p.hours(), 744);
        assert_eq!(p.days().last(), NaiveDate::from_ymd_opt(2026, 10, 31));
        assert_eq!(Period::new(2028, 2).unwrap().day_count(), 29);
        assert!(Period::new(2026, 13).is_err());
    }

    #[test]
    fn accepts_the_months_of_the_days_the_usage_api_accepts() {
        assert!("2000-01".parse::<Period>().is_ok());
        assert!("2099-12".parse::<Period>().is_ok());
    }

    #[test]
    fn rejects_what_is_not_a_month() {
        for bad in [
            "2026-13",
            "2026-1",
            "26-10",
            "2026-10-01",
            "",
            "2026/10",
            "x' OR 1=1 --",
            "2026-00",
            "0000-01",
            "1999-12",
            "2100-01",
            "9999-12",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }
}
