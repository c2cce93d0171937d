//! The `If-Match` request header of the REST API.

use std::fmt;
use std::str::FromStr;

use crate::ProtocolError;

const INPUT: &str = "If-Match header";

/// A parsed `If-Match` header: the wildcard, or one entity tag.
///
/// Clients differ: Node and Python quote the etag (`"AAAAAAAAAAE="`) and the wildcard (`"*"`);
/// C# and Python's configuration manager send `*` bare. We treat `*` and `"*"` as the wildcard,
/// and otherwise drop an optional weak prefix `W/` and then one pair of surrounding quotes.
/// Display writes the canonical form: `*`, or the etag in quotes. Lists of etags (allowed by
/// HTTP) are not supported: no IoT Hub client sends them.
///
/// ```
/// use iot_protocol::IfMatch;
///
/// let header: IfMatch = "\"AAAAAAAAAAE=\"".parse().unwrap();
/// assert!(header.matches("AAAAAAAAAAE="));
/// assert!(!header.matches("AAAAAAAAAAI="));
/// assert!("\"*\"".parse::<IfMatch>().unwrap().matches("anything"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IfMatch(Condition);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Condition {
    Any,
    Etag(String),
}

impl IfMatch {
    /// The wildcard: matches any current etag.
    pub const ANY: Self = Self(Condition::Any);

    /// Parses the header value (see the type's documentation).
    pub fn parse(header: &str) -> Result<Self, ProtocolError> {
        let header = header.trim();
        if header == "*" || header == "\"*\"" {
            return Ok(Self::ANY);
        }
        let unweak = header.strip_prefix("W/").unwrap_or(header);
        let etag = unweak
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or(unweak);
        Self::etag(etag)
    }

    /// A condition on one etag (given without quotes). It must be non-empty, not `*`, and free
    /// of quotes, commas and control characters.
    pub fn etag(etag: &str) -> Result<Self, ProtocolError> {
        let invalid = |rule| ProtocolError::InvalidField {
            input: INPUT,
            field: "etag".to_owned(),
            rule,
        };
        if etag.is_empty() || etag == "*" {
            return Err(invalid("must be * or a non-empty etag"));
        }
        if etag.chars().any(|c| c == '"' || c == ',' || c.is_control()) {
            return Err(invalid(
                "must not contain quotes, commas or control characters",
            ));
        }
        Ok(Self(Condition::Etag(etag.to_owned())))
    }

    /// Whether a resource whose etag is `current` (unquoted) satisfies the condition. Etags
    /// compare exactly.
    pub fn matches(&self, current: &str) -> bool {
        match &self.0 {
            Condition::Any => true,
            Condition::Etag(etag) => etag == current,
        }
    }

    /// The etag the condition names, or `None` for the wildcard.
    pub fn as_etag(&self) -> Option<&str> {
        match &self.0 {
            Condition::Any => None,
            Condition::Etag(etag) => Some(etag),
        }
    }
}

impl FromStr for IfMatch {
    type Err = ProtocolError;

    fn from_str(header: &str) -> Result<Self, Self::Err> {
        Self::parse(header)
    }
}

impl fmt::Display for IfMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Condition::Any => f.write_str("*"),
            Condition::Etag(etag) => write!(f, "\"{etag}\""),
        }
    }
}

impl From<iot_twin::Etag> for IfMatch {
    /// A condition on a twin's etag, as its text reads. An etag in our form is base64, without
    /// quotes or commas; an opaque one is sent as it was received (IoT Hub's twin etags have
    /// been seen in our form only; text that cannot be a header value fails the request before
    /// it is sent).
    fn from(etag: iot_twin::Etag) -> Self {
        Self(Condition::Etag(etag.as_str().to_owned()))
    }
}

impl From<crate::DeviceEtag> for IfMatch {
    /// A condition on a device identity's etag (always a valid etag: base64 of digits).
    fn from(etag: crate::DeviceEtag) -> Self {
        Self(Condition::Etag(etag.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_client_form() {
        for any in ["*", "\"*\"", " * "] {
            assert_eq!(IfMatch::parse(any).unwrap(), IfMatch::ANY, "{any}");
        }
        for etag in ["\"MQ==\"", "MQ==", "W/\"MQ==\"", "W/MQ=="] {
            let parsed = IfMatch::parse(etag).unwrap();
            assert_eq!(parsed.as_etag(), Some("MQ=="), "{etag}");
            assert!(parsed.matches("MQ=="));
            assert!(!parsed.matches("Mg=="));
            assert!(!parsed.matches("\"MQ==\""));
        }
    }

    #[test]
    fn from_typed_etags() {
        let twin = IfMatch::from(iot_twin::Etag::from_counter(4));
        assert_eq!(twin.to_string(), "\"AAAAAAAAAAQ=\"");
        assert_eq!(IfMatch::parse(&twin.to_string()).unwrap(), twin);
        let device = IfMatch::from(crate::DeviceEtag::from_counter(8_815_808));
        assert!(device.matches("ODgxNTgwOA=="));
        assert_eq!(IfMatch::parse(&device.to_string()).unwrap(), device);
    }

    #[test]
    fn node_e2e_mismatch() {
        assert!(!IfMatch::parse("\"abc\"").unwrap().matches("AAAAAAAAAAE="));
    }

    #[test]
    fn rejects_empty_and_odd_headers() {
        for bad in [
            "",
            "\"\"",
            "W/",
            "W/\"\"",
            "\"a\"b\"",
            "\"a\", \"b\"",
            "a\nb",
        ] {
            assert!(IfMatch::parse(bad).is_err(), "{bad:?}");
        }
        assert!(IfMatch::etag("*").is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(etag in "[A-Za-z0-9+/=W]{1,24}") {
            let condition = IfMatch::etag(&etag).unwrap();
            prop_assert_eq!(&IfMatch::parse(&condition.to_string()).unwrap(), &condition);
            prop_assert!(condition.matches(&etag));
            prop_assert_eq!(IfMatch::parse(&IfMatch::ANY.to_string()).unwrap(), IfMatch::ANY);
        }

        #[test]
        fn typed_etags_are_valid_conditions(counter in any::<u64>()) {
            let twin = iot_twin::Etag::from_counter(counter);
            prop_assert_eq!(IfMatch::from(twin.clone()), IfMatch::etag(twin.as_str()).unwrap());
            let device = crate::DeviceEtag::from_counter(counter);
            prop_assert_eq!(IfMatch::from(device), IfMatch::etag(&device.to_string()).unwrap());
        }
    }
}
