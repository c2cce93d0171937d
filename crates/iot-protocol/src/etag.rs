//! Device identity etags: base64 of a counter's decimal digits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ProtocolError;
use crate::encoding::{base64_decode_strict, base64_encode};

/// The etag of a device or module identity in the registry (`Device.etag`).
///
/// IoT Hub's identity etags are the base64 of ASCII decimal digits (`ODgxNTgwOA==` is
/// `"8815808"`, `MQ==` is `"1"`), unlike twin etags, which encode an 8-byte counter. We mint
/// them from a counter; parsing accepts exactly the canonical form (strict base64 of digits
/// without leading zeros), so it round-trips.
///
/// ```
/// use iot_protocol::DeviceEtag;
///
/// let etag = DeviceEtag::from_counter(8_815_808);
/// assert_eq!(etag.to_string(), "ODgxNTgwOA==");
/// assert_eq!("ODgxNTgwOA==".parse::<DeviceEtag>().unwrap().counter(), 8_815_808);
/// assert_eq!(etag.next().to_string(), "ODgxNTgwOQ==");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceEtag(u64);

impl DeviceEtag {
    /// The etag of counter value `counter`.
    pub fn from_counter(counter: u64) -> Self {
        Self(counter)
    }

    /// The counter value.
    pub fn counter(self) -> u64 {
        self.0
    }

    /// The etag after one more write (saturating at `u64::MAX`).
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }

    /// Parses an etag in the canonical form.
    pub fn parse(text: &str) -> Result<Self, ProtocolError> {
        let invalid = || ProtocolError::InvalidField {
            input: "device etag",
            field: "etag".to_owned(),
            rule: "must be the base64 of decimal digits without leading zeros",
        };
        let digits = base64_decode_strict(text).ok_or_else(invalid)?;
        let canonical = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits.len() == 1 || digits.first() != Some(&b'0'));
        if !canonical {
            return Err(invalid());
        }
        std::str::from_utf8(&digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .map(Self)
            .ok_or_else(invalid)
    }
}

impl FromStr for DeviceEtag {
    type Err = ProtocolError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for DeviceEtag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64_encode(self.0.to_string().as_bytes()))
    }
}

impl Serialize for DeviceEtag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceEtag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_hub_etags() {
        assert_eq!(
            DeviceEtag::parse("ODgxNTgwOA==").unwrap().counter(),
            8_815_808
        );
        assert_eq!(DeviceEtag::parse("MQ==").unwrap().counter(), 1);
        assert_eq!(
            DeviceEtag::parse("NjU4ODE3NDIy").unwrap().counter(),
            658_817_422
        );
        assert_eq!(DeviceEtag::from_counter(0).to_string(), "MA==");
    }

    #[test]
    fn rejects_other_etags() {
        for bad in [
            "",
            "AAAAAAAAAAE=",
            "MDE=",
            "YQ==",
            "MQ",
            "OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
        ] {
            assert!(DeviceEtag::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serde_as_string() {
        let etag = DeviceEtag::from_counter(1);
        assert_eq!(serde_json::to_string(&etag).unwrap(), "\"MQ==\"");
        assert_eq!(
            serde_json::from_str::<DeviceEtag>("\"MQ==\"").unwrap(),
            etag
        );
        assert!(serde_json::from_str::<DeviceEtag>("\"x\"").is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(counter in any::<u64>()) {
            let etag = DeviceEtag::from_counter(counter);
            prop_assert_eq!(DeviceEtag::parse(&etag.to_string()).unwrap(), etag);
            prop_assert!(etag.next() >= etag);
        }
    }
}
