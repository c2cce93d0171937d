//! [`ConfigurationId`]: the id of an automatic device management configuration.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{MAX_ID_LEN, ProtocolError};

/// Punctuation allowed in configuration ids besides lower-case ASCII letters and digits.
const PUNCTUATION: &[u8] = b"-+%_*!'";

/// The id of a configuration (`/configurations/{id}`): 1 to 128 characters, lower-case ASCII
/// letters, digits and `- + % _ * ! '` (PROTOCOL 10.2). Unlike device ids, configuration ids
/// have no upper-case letters, and no `.`, `#`, `?`, `$` or brackets: they appear inside
/// `configurations.[[id]]` in metric queries.
///
/// ```
/// use iot_protocol::ConfigurationId;
///
/// let id: ConfigurationId = "firmware285".parse().unwrap();
/// assert_eq!(id.as_str(), "firmware285");
/// assert!("Firmware285".parse::<ConfigurationId>().is_err());
/// assert!("a b".parse::<ConfigurationId>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigurationId(String);

impl ConfigurationId {
    /// Parses and validates an id.
    ///
    /// # Errors
    /// [`ProtocolError::InvalidIdentifier`] naming the rule the text breaks.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        check(text)?;
        Ok(Self(text.to_owned()))
    }

    /// The id as text, exactly as it appears on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check(text: &str) -> Result<(), ProtocolError> {
    let invalid = |rule| ProtocolError::InvalidIdentifier {
        kind: "configuration id",
        value: text.to_owned(),
        rule,
    };
    if text.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if text.len() > MAX_ID_LEN {
        return Err(invalid("must be at most 128 characters"));
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || PUNCTUATION.contains(&b);
    if !text.bytes().all(allowed) {
        return Err(invalid(
            "may contain only lower-case ASCII letters, digits and - + % _ * ! '",
        ));
    }
    Ok(())
}

impl FromStr for ConfigurationId {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<String> for ConfigurationId {
    type Error = ProtocolError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        check(&text)?;
        Ok(Self(text))
    }
}

impl fmt::Display for ConfigurationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ConfigurationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfigurationId({:?})", self.0)
    }
}

impl AsRef<str> for ConfigurationId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for ConfigurationId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Serialize for ConfigurationId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ConfigurationId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::try_from(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_documented_characters() {
        let all = "az09-+%_*!'";
        assert_eq!(ConfigurationId::parse(all).unwrap().as_str(), all);
        assert!(ConfigurationId::parse(&"x".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn rejects_what_the_hub_rejects() {
        for bad in [
            "", "A", "a b", "a&b", "a^b", "a[b", "a]b", "a{b", "a}b", "a\\b", "a|b", "a\"b", "a<b",
            "a>b", "a/b", "a.b", "é",
        ] {
            let error = ConfigurationId::parse(bad).unwrap_err();
            assert!(
                error.to_string().contains("configuration id"),
                "{bad:?}: {error}"
            );
        }
        assert!(ConfigurationId::parse(&"x".repeat(MAX_ID_LEN + 1)).is_err());
    }

    #[test]
    fn serde_validates() {
        let id: ConfigurationId = serde_json::from_str("\"chiller4000x\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"chiller4000x\"");
        assert!(serde_json::from_str::<ConfigurationId>("\"Chiller\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_display_round_trip(text in "[a-z0-9\\-+%_*!']{1,128}") {
            let id = ConfigurationId::parse(&text).unwrap();
            let shown = id.to_string();
            prop_assert_eq!(&shown, &text);
            prop_assert_eq!(ConfigurationId::parse(&shown).unwrap(), id);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,140}") {
            let _ = ConfigurationId::parse(&text);
        }
    }
}
