//! Query parameters of the API, parsed into types that cannot hold bad
//! values: strict parameter lists (an unknown or repeated parameter is a 400),
//! time ranges with a maximum length, and names (filter values, admin keys:
//! the domain's [`Name`]).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::problem::ApiError;
use crate::domain::{Name, Period};

/// The query parameter the Functions host takes the function key from; the
/// standalone server accepts it too, and no operation reads it otherwise.
pub const KEY_PARAMETER: &str = "code";

/// A request's query parameters.
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    values: BTreeMap<String, String>,
}

impl QueryParams {
    /// Parses a raw query string, allowing only `allowed` (and `code`).
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|_| ApiError::invalid("query", "the query string is not form-urlencoded"))?;
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            if name == KEY_PARAMETER {
                continue;
            }
            if !allowed.contains(&name.as_str()) {
                let shown: String = name.chars().take(40).collect();
                return Err(ApiError::invalid(
                    shown.clone(),
                    format!("unknown parameter {shown:?}; this operation takes: {}", allowed.join(", ")),
                ));
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(ApiError::invalid(name, "given more than once"));
            }
        }
        Ok(Self { values })
    }

    /// A parameter's value, if given (an empty value counts as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// A parameter that must be given.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::invalid(name, "required"))
    }

    /// A name-valued parameter, if given.
    pub fn name(&self, name: &str) -> Result<Option<Name>, ApiError> {
        self.get(name).map(|v| name_param(name, v)).transpose()
    }
}

/// A name given as `parameter` (a query parameter or a path segment).
pub fn name_param(parameter: &str, raw: &str) -> Result<Name, ApiError> {
    Name::parse(raw).map_err(|e| ApiError::invalid(parameter, e.to_string()))
}

/// A month from a route segment.
pub fn period(raw: &str) -> Result<Period, ApiError> {
    raw.parse::<Period>().map_err(|e| ApiError::invalid("period", e.to_string()))
}

/// A half-open UTC time range no longer than a maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start.
    pub from: DateTime<Utc>,
    /// Exclusive end.
    pub to: DateTime<Utc>,
}

impl TimeRange {
    /// Reads `from` and `to` (RFC 3339 times or `YYYY-MM-DD` days, a day
    /// meaning its start, 00:00 UTC); `to` is exclusive and at most
    /// `max_days` after `from`.
    pub fn from_params(params: &QueryParams, max_days: i64) -> Result<Self, ApiError> {
        let from = instant("from", params.required("from")?)?;
        let to = instant("to", params.required("to")?)?;
        if to <= from {
            return Err(ApiError::invalid("to", "must be after from (the range is half-open: from <= t < to)"));
        }
        if to - from > TimeDelta::days(max_days) {
            return Err(ApiError::invalid("to", format!("the range is longer than the maximum of {max_days} days")));
        }
        Ok(Self { from, to })
    }
}

/// An RFC 3339 time or a `YYYY-MM-DD` day (its start), between the years 2000 and 2100.
pub fn instant(parameter: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    let bad = || ApiError::invalid(parameter, "use an RFC 3339 time (2026-10-01T00:00:00Z) or a day (2026-10-01)");
    // A '+' of an offset sent unencoded arrives as a space.
    let text = text.trim().replace(' ', "+");
    let at = if text.len() == 10 {
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| bad())?.and_time(chrono::NaiveTime::MIN).and_utc()
    } else {
        DateTime::parse_from_rfc3339(&text).map_err(|_| bad())?.with_timezone(&Utc)
    };
    let earliest = NaiveDate::from_ymd_opt(2000, 1, 1).map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
    let latest = NaiveDate::from_ymd_opt(2100, 1, 1).map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
    match (earliest, latest) {
        (Some(earliest), Some(latest)) if at >= earliest && at <= latest => Ok(at),
        _ => Err(ApiError::invalid(parameter, "must be between 2000-01-01 and 2100-01-01")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_refused_and_code_is_ignored() {
        assert!(QueryParams::parse(Some("from=1&code=secret"), &["from"]).is_ok());
        assert!(QueryParams::parse(Some("form=1"), &["from"]).is_err());
        assert!(QueryParams::parse(Some("from=1&from=2"), &["from"]).is_err());
    }

    #[test]
    fn days_and_rfc3339_times_are_instants_and_ranges_are_bounded() {
        assert_eq!(instant("from", "2026-10-01").unwrap().to_rfc3339(), "2026-10-01T00:00:00+00:00");
        assert_eq!(instant("from", "2026-10-01T02:00:00 02:00").unwrap().to_rfc3339(), "2026-10-01T00:00:00+00:00");
        for bad in ["yesterday", "2026-13-01", "2026-10-01T25:00:00Z", "1999-12-31", "99999-01-01"] {
            assert!(instant("from", bad).is_err(), "{bad}");
        }
        let params = QueryParams::parse(Some("from=2026-01-01&to=2027-06-01"), &["from", "to"]).unwrap();
        assert!(TimeRange::from_params(&params, 366).is_err());
        let params = QueryParams::parse(Some("from=2026-10-02&to=2026-10-01"), &["from", "to"]).unwrap();
        assert!(TimeRange::from_params(&params, 366).is_err());
    }
}
