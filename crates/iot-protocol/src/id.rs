//! Device, module and job identifiers, validated by the identity registry's rules.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ProtocolError;

/// The longest identifier IoT Hub accepts, in characters (all of them ASCII).
pub const MAX_ID_LEN: usize = 128;

/// Punctuation allowed in device and module ids besides ASCII letters and digits.
///
/// The identity-registry documentation lists `- . + % _ # * ? ! ( ) , = @ $ '`; the service
/// swagger additionally allows `:` and `;`, so we accept those too.
const ID_PUNCTUATION: &[u8] = b"-.+%_#*?!(),=@$':;";

/// Checks the registry's rules for a device or module id.
fn check_id(kind: &'static str, text: &str) -> Result<(), ProtocolError> {
    let invalid = |rule| ProtocolError::InvalidIdentifier {
        kind,
        value: text.to_owned(),
        rule,
    };
    if text.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if text.len() > MAX_ID_LEN {
        return Err(invalid("must be at most 128 characters"));
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || ID_PUNCTUATION.contains(&b))
    {
        return Err(invalid(
            "may contain only ASCII letters, digits and - . + % _ # * ? ! ( ) , = @ $ ' : ;",
        ));
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates an id.
            pub fn parse(text: &str) -> Result<Self, ProtocolError> {
                check_id($kind, text)?;
                Ok(Self(text.to_owned()))
            }

            /// The id as text, exactly as it appears on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = ProtocolError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ProtocolError;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                check_id($kind, &text)?;
                Ok(Self(text))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::try_from(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

identifier! {
    /// A device id: case-sensitive, 1 to 128 ASCII characters, letters, digits and
    /// `- . + % _ # * ? ! ( ) , = @ $ ' : ;`.
    ///
    /// IoT Hub accepts `+` and `#`, and so do we, but they are MQTT wildcard characters: the
    /// official device SDKs put ids verbatim into topic filters such as
    /// `devices/{id}/messages/devicebound/#`, so a device whose id contains them cannot subscribe
    /// correctly. Prefer ids without `+` and `#`.
    ///
    /// ```
    /// use iot_protocol::DeviceId;
    ///
    /// let id: DeviceId = "thermostat-01".parse().unwrap();
    /// assert_eq!(id.as_str(), "thermostat-01");
    /// assert!("has space".parse::<DeviceId>().is_err());
    /// ```
    DeviceId, "device id"
}

identifier! {
    /// A module id: the same rules as [`DeviceId`] (including the caveat about `+` and `#`).
    ///
    /// ```
    /// use iot_protocol::ModuleId;
    ///
    /// let id: ModuleId = "$edgeAgent".parse().unwrap();
    /// assert_eq!(id.to_string(), "$edgeAgent");
    /// ```
    ModuleId, "module id"
}

identifier! {
    /// A scheduled job's id (`/jobs/v2/{id}`).
    ///
    /// IoT Hub does not document rules for job ids (the official samples use UUIDs); we apply
    /// the device id rules, so that an id always fits in a request path unescaped.
    ///
    /// ```
    /// use iot_protocol::JobId;
    ///
    /// let id: JobId = "5b2f4a8e-1c3d-4e5f-8a9b-0c1d2e3f4a5b".parse().unwrap();
    /// assert_eq!(id.as_str().len(), 36);
    /// assert!("reboot/all".parse::<JobId>().is_err());
    /// ```
    JobId, "job id"
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_every_documented_character() {
        let all = "aZ09-.+%_#*?!(),=@$':;";
        assert_eq!(DeviceId::parse(all).unwrap().as_str(), all);
        assert_eq!(ModuleId::parse(all).unwrap().as_str(), all);
        let longest = "x".repeat(MAX_ID_LEN);
        assert!(DeviceId::parse(&longest).is_ok());
    }

    #[test]
    fn rejects_what_the_registry_rejects() {
        for bad in [
            "", "a b", "a/b", "a\\b", "a&b", "ä", "a\u{0}", "a\"b", "a<b", "[x]",
        ] {
            let err = DeviceId::parse(bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    ProtocolError::InvalidIdentifier {
                        kind: "device id",
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
        assert!(ModuleId::parse(&"x".repeat(MAX_ID_LEN + 1)).is_err());
        let job = JobId::parse("a/b").unwrap_err().to_string();
        assert!(job.contains("job id"), "{job}");
    }

    #[test]
    fn ids_are_case_sensitive() {
        assert_ne!(
            DeviceId::parse("Dev").unwrap(),
            DeviceId::parse("dev").unwrap()
        );
    }

    #[test]
    fn serde_validates() {
        let id: DeviceId = serde_json::from_str("\"d1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"d1\"");
        assert!(serde_json::from_str::<DeviceId>("\"a b\"").is_err());
        assert!(serde_json::from_str::<ModuleId>("\"\"").is_err());
    }

    #[test]
    fn error_names_the_kind_and_value() {
        let text = ModuleId::parse("a b").unwrap_err().to_string();
        assert!(
            text.contains("module id") && text.contains("\"a b\""),
            "{text}"
        );
    }

    proptest! {
        #[test]
        fn parse_display_round_trip(text in "[A-Za-z0-9\\-.+%_#*?!(),=@$':;]{1,128}") {
            let id = DeviceId::parse(&text).unwrap();
            let shown = id.to_string();
            prop_assert_eq!(&shown, &text);
            prop_assert_eq!(DeviceId::parse(&shown).unwrap(), id);
            prop_assert_eq!(&ModuleId::parse(&text).unwrap().to_string(), &text);
            prop_assert_eq!(JobId::parse(&text).unwrap().to_string(), text);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,140}") {
            let _ = DeviceId::parse(&text);
        }
    }
}
