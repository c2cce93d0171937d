//! Hub host names as they appear in connection strings, usernames and SAS resources.

use std::fmt;
use std::str::FromStr;

use crate::ProtocolError;

/// The longest host name we accept (the DNS limit).
const MAX_HOST_LEN: usize = 255;

/// A hub's host name, e.g. `myhub.azure-devices.net`, `localhost` or `localhost:8443`.
///
/// It is the `HostName` of connection strings, the first segment of the MQTT username and the
/// start of every SAS resource. We accept DNS names, IPv4 and bracketed IPv6 addresses with an
/// optional `:port`: ASCII letters, digits and `- . _ : [ ]`. IoT Hub host names are always
/// plain DNS names; the rest exists for local hubs.
///
/// ```
/// use iot_protocol::HostName;
///
/// let host: HostName = "localhost:8443".parse().unwrap();
/// assert_eq!(host.as_str(), "localhost:8443");
/// assert!("evil/host".parse::<HostName>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostName(String);

impl HostName {
    /// Parses and validates a host name.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let invalid = |rule| ProtocolError::InvalidIdentifier {
            kind: "host name",
            value: text.to_owned(),
            rule,
        };
        if text.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if text.len() > MAX_HOST_LEN {
            return Err(invalid("must be at most 255 characters"));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
        {
            return Err(invalid(
                "may contain only ASCII letters, digits and - . _ : [ ]",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The host name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HostName {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostName({:?})", self.0)
    }
}

impl AsRef<str> for HostName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_hub_and_local_names() {
        for good in [
            "myhub.azure-devices.net",
            "localhost",
            "localhost:8443",
            "127.0.0.1:8883",
            "[::1]:443",
            "my_gateway",
        ] {
            assert_eq!(HostName::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn rejects_separators_of_the_formats_it_lives_in() {
        for bad in ["", "a/b", "a;b", "a=b", "a b", "a?b", "a&b", "a%2Fb", "ä"] {
            assert!(HostName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(HostName::parse(&"a".repeat(256)).is_err());
    }

    proptest! {
        #[test]
        fn parse_display_round_trip(text in "[A-Za-z0-9\\-._:\\[\\]]{1,255}") {
            let host = HostName::parse(&text).unwrap();
            let shown = host.to_string();
            prop_assert_eq!(HostName::parse(&shown).unwrap(), host);
        }
    }
}
