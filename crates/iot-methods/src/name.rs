//! Method names: the `{methodName}` of a direct method call.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// The name of a direct method, such as `reboot`.
///
/// A method name travels verbatim (not percent-encoded) as one segment of the MQTT topic
/// `$iothub/methods/POST/{name}/?$rid={rid}`, so it must be usable as such a segment:
///
/// - non-empty;
/// - at most [`MethodName::MAX_LEN`] bytes of UTF-8;
/// - none of `/` (it would split the segment), `?` (it would start the query), `#` and `+` (MQTT
///   wildcards), and no control characters.
///
/// IoT Hub documents no rule for method names beyond the topic shape. The characters above are
/// those that would change the topic's meaning; the 128-byte limit is our choice, matching the
/// hub's documented limit for device ids, so that a name we accept fits everywhere a device id
/// fits. Names are compared case-sensitively, as the official device SDKs do.
///
/// ```
/// use iot_methods::MethodName;
///
/// let name: MethodName = "reboot".parse().unwrap();
/// assert_eq!(name.as_str(), "reboot");
/// assert!("a/b".parse::<MethodName>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MethodName(String);

impl MethodName {
    /// Longest accepted name, in bytes.
    pub const MAX_LEN: usize = 128;

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    fn validate(name: &str) -> Result<(), Error> {
        if name.is_empty() {
            return Err(Error::EmptyMethodName);
        }
        if name.len() > Self::MAX_LEN {
            return Err(Error::MethodNameTooLong {
                len: name.len(),
                max: Self::MAX_LEN,
            });
        }
        match name.chars().find(|&c| is_forbidden(c)) {
            Some(character) => Err(Error::MethodNameForbiddenChar {
                name: name.to_owned(),
                character,
            }),
            None => Ok(()),
        }
    }
}

/// Characters that cannot appear in a method name.
fn is_forbidden(c: char) -> bool {
    matches!(c, '/' | '?' | '#' | '+') || c.is_control()
}

impl FromStr for MethodName {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Self::validate(name)?;
        Ok(Self(name.to_owned()))
    }
}

impl TryFrom<String> for MethodName {
    type Error = Error;

    fn try_from(name: String) -> Result<Self, Error> {
        Self::validate(&name)?;
        Ok(Self(name))
    }
}

impl TryFrom<&str> for MethodName {
    type Error = Error;

    fn try_from(name: &str) -> Result<Self, Error> {
        name.parse()
    }
}

impl AsRef<str> for MethodName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for MethodName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MethodName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::try_from(name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::method_name;
    use proptest::prelude::*;

    #[test]
    fn accepts_names_the_samples_use() {
        for name in [
            "reboot",
            "rebootDevice",
            "firmwareUpdate",
            "get_info",
            "$weird name%20",
        ] {
            assert_eq!(name.parse::<MethodName>().unwrap().as_str(), name);
        }
    }

    #[test]
    fn rejects_empty() {
        assert_eq!("".parse::<MethodName>(), Err(Error::EmptyMethodName));
    }

    #[test]
    fn rejects_too_long() {
        let at_limit = "a".repeat(MethodName::MAX_LEN);
        assert!(at_limit.parse::<MethodName>().is_ok());
        let over = "a".repeat(MethodName::MAX_LEN + 1);
        assert_eq!(
            over.parse::<MethodName>(),
            Err(Error::MethodNameTooLong { len: 129, max: 128 })
        );
    }

    #[test]
    fn rejects_topic_breaking_characters() {
        for (name, character) in [
            ("a/b", '/'),
            ("a?b", '?'),
            ("a#", '#'),
            ("+", '+'),
            ("a\nb", '\n'),
            ("nul\0", '\0'),
            ("del\u{7f}", '\u{7f}'),
        ] {
            assert_eq!(
                name.parse::<MethodName>(),
                Err(Error::MethodNameForbiddenChar {
                    name: name.to_owned(),
                    character
                })
            );
        }
    }

    #[test]
    fn error_names_the_character() {
        let err = "a/b".parse::<MethodName>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid method name \"a/b\": character '/' is not allowed"
        );
    }

    #[test]
    fn serde_validates() {
        let name: MethodName = serde_json::from_str("\"reboot\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"reboot\"");
        assert!(serde_json::from_str::<MethodName>("\"\"").is_err());
        assert!(serde_json::from_str::<MethodName>("\"x/y\"").is_err());
    }

    proptest! {
        #[test]
        fn parse_display_round_trip(text in method_name()) {
            let name: MethodName = text.parse().unwrap();
            prop_assert_eq!(name.to_string().parse::<MethodName>().unwrap(), name);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,200}") {
            let _ = text.parse::<MethodName>();
        }
    }
}
