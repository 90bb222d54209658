//! Validated names and display texts: what finance and operators type in
//! (application, business unit, deployment and model names, cost centers).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest name accepted.
pub const MAX_NAME_CHARS: usize = 200;

/// A name: a party, application, business unit, deployment or model, as a
/// key of the directory or a filter value. 1–200 characters: letters,
/// digits, spaces and `. _ - : @ / + ( ) &`. Anything else (quotes, `;`,
/// `=`, `%`, `*`, control characters) is refused, so a name can be shown,
/// stored and compared anywhere without escaping worries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Why a string is not a [`Name`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("use 1-200 characters: letters, digits, spaces and . _ - : @ / + ( ) &")]
pub struct NameError;

impl Name {
    /// Parses a name (surrounding white space is not part of it).
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let text = raw.trim();
        let allowed = |c: char| c.is_alphanumeric() || " ._-:@/+()&".contains(c);
        if text.is_empty() || text.chars().count() > MAX_NAME_CHARS || !text.chars().all(allowed) {
            return Err(NameError);
        }
        Ok(Self(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;

    fn try_from(raw: String) -> Result<Self, NameError> {
        Self::parse(&raw)
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

/// A display text (a business unit's name for people, a cost center):
/// 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text(String);

/// Why a string is not a [`Text`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("use 1-200 characters without control characters")]
pub struct TextError;

impl Text {
    /// Parses a text (surrounding white space is not part of it).
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let text = raw.trim();
        if text.is_empty() || text.chars().count() > MAX_NAME_CHARS || text.chars().any(char::is_control) {
            return Err(TextError);
        }
        Ok(Self(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&Name> for Text {
    /// A name is always a valid text.
    fn from(name: &Name) -> Self {
        Self(name.as_str().to_owned())
    }
}

impl TryFrom<String> for Text {
    type Error = TextError;

    fn try_from(raw: String) -> Result<Self, TextError> {
        Self::parse(&raw)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.0
    }
}

impl fmt::Display for Text {
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
            assert!(Name::parse(good).is_ok(), "{good}");
        }
        for bad in ["", " ", "' OR 1=1 --", "a;b", "x\"y", "50%", "a*", "line\nbreak", &"x".repeat(201)] {
            assert!(Name::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn texts_take_anything_printable() {
        assert_eq!(Text::parse(" Finance; Risk \"EU\" ").unwrap().as_str(), "Finance; Risk \"EU\"");
        assert!(Text::parse("a\u{7}b").is_err());
        assert!(Text::parse("").is_err());
    }
}
