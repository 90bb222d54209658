//! Query parameters of the API, parsed into types that cannot hold bad
//! values: strict parameter lists (an unknown or repeated parameter is a 400),
//! time ranges with a maximum length, and names (filter values, admin keys)
//! of a small character set.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::problem::ApiError;

/// The query parameter the Functions host takes the function key from; the
/// standalone server accepts it too, and no operation reads it otherwise.
pub const KEY_PARAMETER: &str = "code";

/// The longest name accepted.
pub const MAX_NAME_CHARS: usize = 200;

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
        self.get(name).map(|v| Name::parse(name, v)).transpose()
    }
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

/// A name: a filter value or the key of an admin item (party, application,
/// business unit, deployment, model). 1–200 characters: letters, digits,
/// spaces and `. _ - : @ / + ( ) &`. Anything else (quotes, `;`, `=`, `%`,
/// `*`, control characters) is refused, so a name can be shown, stored and
/// compared anywhere without escaping worries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Why a string is not a [`Name`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("use 1-200 characters: letters, digits, spaces and . _ - : @ / + ( ) &")]
pub struct NameError;

impl Name {
    /// Parses a name given as `parameter`.
    pub fn parse(parameter: &str, raw: &str) -> Result<Self, ApiError> {
        Self::try_from(raw.to_owned()).map_err(|e| ApiError::invalid(parameter, e.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;

    fn try_from(raw: String) -> Result<Self, NameError> {
        let text = raw.trim();
        let allowed = |c: char| c.is_alphanumeric() || " ._-:@/+()&".contains(c);
        if text.is_empty() || text.chars().count() > MAX_NAME_CHARS || !text.chars().all(allowed) {
            return Err(NameError);
        }
        Ok(Self(text.to_owned()))
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_injection_characters_and_keep_ordinary_ids() {
        for good in ["gpt-4o", "fp_0a1b", "Finance & Risk", "app/one", "3f2a-9c", "sub:contoso@eu"] {
            assert!(Name::try_from(good.to_owned()).is_ok(), "{good}");
        }
        for bad in ["", " ", "' OR 1=1 --", "a;b", "x\"y", "50%", "a*", "line\nbreak", &"x".repeat(201)] {
            assert!(Name::try_from(bad.to_owned()).is_err(), "{bad:?}");
        }
    }

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
