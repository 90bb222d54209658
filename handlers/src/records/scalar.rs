//! A lenient JSON scalar: the field formats found in the wild put numbers in
//! strings (`"PromptTokens": "12"`), booleans in strings (`"Stream": "True"`)
//! and so on. We accept any scalar and convert per field, so that a wrong
//! value is reported with the name of its field.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{RejectReason, Rejection};
use crate::domain::MAX_TOKENS_PER_RECORD;

/// Any JSON value, with strings borrowed from the input where possible and
/// arrays/objects skipped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    Null,
    Composite,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(if v >= 0 { Scalar::Unsigned(v.unsigned_abs()) } else { Scalar::Signed(v) })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Composite)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Composite)
    }
}

fn invalid(field: &str, what: &str) -> Rejection {
    Rejection::new(RejectReason::InvalidField, format!("{field}: {what}"))
}

/// A token count: a non-negative integer, as a number or a string of digits,
/// at most [`MAX_TOKENS_PER_RECORD`]. Null, absent and the empty string are
/// "not stated". A count over the maximum (however it is written: a big
/// integer, a float, a string of digits too long for 64 bits) is
/// `implausible_tokens`, so no later sum of counts can overflow. Messages
/// name the field, never repeat its value.
pub(crate) fn count(field: &str, value: Option<&Scalar<'_>>) -> Result<Option<u64>, Rejection> {
    bounded_count(field, value, MAX_TOKENS_PER_RECORD)
}

/// A stated total (prompt + completion): a [`count`] of up to twice the
/// per-record maximum.
pub(crate) fn total_count(field: &str, value: Option<&Scalar<'_>>) -> Result<Option<u64>, Rejection> {
    bounded_count(field, value, 2 * MAX_TOKENS_PER_RECORD)
}

fn bounded_count(field: &str, value: Option<&Scalar<'_>>, max: u64) -> Result<Option<u64>, Rejection> {
    let bounded = |n: u64| if n > max { Err(implausible(field, max)) } else { Ok(n) };
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Unsigned(n)) => bounded(*n).map(Some),
        Some(Scalar::Signed(_)) => Err(negative(field)),
        Some(Scalar::Float(x)) => {
            if *x < 0.0 {
                Err(negative(field))
            } else if x.fract() != 0.0 || !x.is_finite() {
                Err(invalid(field, "not a whole number of tokens"))
            } else if *x > MAX_COUNT_FLOAT {
                Err(implausible(field, max))
            } else {
                // An integral float at most 2^53 converts exactly.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                bounded(*x as u64).map(Some)
            }
        }
        Some(Scalar::Str(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            let (minus, digits) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(field, "not a whole number of tokens"));
            }
            if minus {
                return Err(negative(field));
            }
            match digits.parse::<u64>() {
                Ok(n) => bounded(n).map(Some),
                // Only digits, yet too long for 64 bits.
                Err(_) => Err(implausible(field, max)),
            }
        }
        Some(Scalar::Bool(_)) | Some(Scalar::Composite) => Err(invalid(field, "expected a whole number of tokens")),
    }
}

/// Floats above this (2^53) may not be whole numbers exactly; every bound is
/// far below it.
const MAX_COUNT_FLOAT: f64 = 9_007_199_254_740_992.0;

fn negative(field: &str) -> Rejection {
    Rejection::new(RejectReason::NegativeTokens, format!("{field} is negative"))
}

fn implausible(field: &str, max: u64) -> Rejection {
    Rejection::new(RejectReason::ImplausibleTokens, format!("{field} is over the maximum of {max} tokens per record"))
}

/// A piece of text. Numbers are accepted and written in decimal (ids are
/// sometimes numeric); empty text is "not stated".
pub(crate) fn text<'a>(field: &str, value: Option<&'a Scalar<'_>>) -> Result<Option<Cow<'a, str>>, Rejection> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(s)) if s.trim().is_empty() => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(Cow::Borrowed(s.trim()))),
        Some(Scalar::Unsigned(n)) => Ok(Some(Cow::Owned(n.to_string()))),
        Some(Scalar::Signed(n)) => Ok(Some(Cow::Owned(n.to_string()))),
        Some(Scalar::Float(_)) | Some(Scalar::Bool(_)) | Some(Scalar::Composite) => {
            Err(invalid(field, "expected text"))
        }
    }
}

/// A flag: `true`/`false` as booleans or strings (any case), or 0/1.
pub(crate) fn flag(field: &str, value: Option<&Scalar<'_>>) -> Result<Option<bool>, Rejection> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Bool(b)) => Ok(Some(*b)),
        Some(Scalar::Unsigned(0)) => Ok(Some(false)),
        Some(Scalar::Unsigned(1)) => Ok(Some(true)),
        Some(Scalar::Str(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(invalid(field, "not true or false")),
        },
        Some(_) => Err(invalid(field, "expected true or false")),
    }
}

/// An HTTP status code (100–599), as a number or a string.
pub(crate) fn status(field: &str, value: Option<&Scalar<'_>>) -> Result<Option<u16>, Rejection> {
    let Some(n) = count(field, value).map_err(|_| invalid(field, "expected an HTTP status code"))? else {
        return Ok(None);
    };
    match u16::try_from(n) {
        Ok(code) if (100..=599).contains(&code) => Ok(Some(code)),
        _ => Err(invalid(field, "not an HTTP status code (100-599)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(json: &str) -> Scalar<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn counts_accept_numbers_and_digit_strings() {
        assert_eq!(count("f", Some(&scalar("12"))).unwrap(), Some(12));
        assert_eq!(count("f", Some(&scalar("\" 12 \""))).unwrap(), Some(12));
        assert_eq!(count("f", Some(&scalar("12.0"))).unwrap(), Some(12));
        assert_eq!(count("f", Some(&scalar("null"))).unwrap(), None);
        assert_eq!(count("f", Some(&scalar("\"\""))).unwrap(), None);
    }

    #[test]
    fn negative_counts_name_their_reason_and_field() {
        for json in ["-3", "\"-3\"", "-3.0"] {
            let err = count("PromptTokens", Some(&scalar(json))).unwrap_err();
            assert_eq!(err.reason, RejectReason::NegativeTokens);
            assert!(err.detail.contains("PromptTokens"));
        }
    }

    #[test]
    fn counts_over_the_per_record_maximum_are_implausible_however_written() {
        assert_eq!(count("f", Some(&scalar("1000000000"))).unwrap(), Some(MAX_TOKENS_PER_RECORD));
        for json in [
            "1000000001",
            "5000000000000000000",
            "18446744073709551615",
            "\"9223372036854775808\"",
            "\"99999999999999999999999999\"",
            "1e20",
            "1.8446744073709552e19",
        ] {
            let err = count("PromptTokens", Some(&scalar(json))).unwrap_err();
            assert_eq!(err.reason, RejectReason::ImplausibleTokens, "{json}");
            assert!(err.detail.contains("PromptTokens"), "{json}: {}", err.detail);
        }
    }

    #[test]
    fn messages_name_the_field_but_never_repeat_its_value() {
        for json in ["\"twelve-zebras\"", "-31337", "\"-31337\"", "31337.5", "\"31337000000000000\""] {
            let err = count("PromptTokens", Some(&scalar(json))).unwrap_err();
            assert!(!err.detail.contains("zebras") && !err.detail.contains("31337"), "{json}: {}", err.detail);
        }
        let err = flag("Stream", Some(&scalar("\"zebras\""))).unwrap_err();
        assert!(!err.detail.contains("zebras"), "{}", err.detail);
        let err = status("statusCode", Some(&scalar("31337"))).unwrap_err();
        assert!(!err.detail.contains("31337"), "{}", err.detail);
    }

    #[test]
    fn non_numeric_counts_are_invalid_fields() {
        for json in ["\"twelve\"", "1.5", "true", "[1]", "{\"a\":1}"] {
            let err = count("f", Some(&scalar(json))).unwrap_err();
            assert_eq!(err.reason, RejectReason::InvalidField, "{json}");
        }
    }

    #[test]
    fn flags_accept_csharp_booleans() {
        assert_eq!(flag("f", Some(&scalar("\"True\""))).unwrap(), Some(true));
        assert_eq!(flag("f", Some(&scalar("false"))).unwrap(), Some(false));
        assert!(flag("f", Some(&scalar("\"maybe\""))).is_err());
    }
}
