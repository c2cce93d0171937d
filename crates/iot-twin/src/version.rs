//! The `$version` of a desired or reported properties section.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `$version` of a desired or reported properties section.
///
/// IoT Hub starts every section at 1 and adds exactly 1 per accepted write, so a version is a
/// positive integer; zero is rejected when parsing. It serializes as a JSON number.
///
/// ```
/// use iot_twin::TwinVersion;
///
/// let v = TwinVersion::INITIAL;
/// assert_eq!(v.get(), 1);
/// assert_eq!(v.next().map(TwinVersion::get), Some(2));
/// assert_eq!(serde_json::to_string(&v).unwrap(), "1");
/// assert!(TwinVersion::new(0).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TwinVersion(u64);

impl TwinVersion {
    /// The version of a section that was never written: 1.
    pub const INITIAL: Self = Self(1);

    /// The version `value`, or `None` for 0 (versions start at 1).
    pub const fn new(value: u64) -> Option<Self> {
        if value == 0 { None } else { Some(Self(value)) }
    }

    /// The version as a number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The version after one more write, or `None` once `u64::MAX` is reached.
    ///
    /// A section at `u64::MAX` refuses further writes rather than wrapping around, so versions
    /// only ever increase.
    pub const fn next(self) -> Option<Self> {
        match self.0.checked_add(1) {
            Some(next) => Some(Self(next)),
            None => None,
        }
    }
}

/// Wire name of the version member.
pub(crate) const VERSION_KEY: &str = "$version";

/// Removes `$version` from the object at `path` and parses it.
pub(crate) fn take_version(
    map: &mut serde_json::Map<String, serde_json::Value>,
    path: &crate::path::Path<'_>,
) -> Result<TwinVersion, crate::TwinError> {
    let member = path.key(VERSION_KEY);
    let value = map
        .remove(VERSION_KEY)
        .ok_or_else(|| crate::TwinError::MissingMember {
            path: member.render(),
        })?;
    value
        .as_u64()
        .and_then(TwinVersion::new)
        .ok_or_else(|| crate::TwinError::InvalidVersion {
            path: member.render(),
        })
}

impl Default for TwinVersion {
    fn default() -> Self {
        Self::INITIAL
    }
}

impl fmt::Display for TwinVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<TwinVersion> for u64 {
    fn from(version: TwinVersion) -> Self {
        version.0
    }
}

impl TryFrom<u64> for TwinVersion {
    type Error = crate::TwinError;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::new(value).ok_or_else(|| crate::TwinError::InvalidVersion {
            path: String::new(),
        })
    }
}

impl Serialize for TwinVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for TwinVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        Self::new(value).ok_or_else(|| serde::de::Error::custom("a twin $version starts at 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn starts_at_one_and_counts_up() {
        assert_eq!(TwinVersion::default(), TwinVersion::INITIAL);
        assert_eq!(TwinVersion::new(1), Some(TwinVersion::INITIAL));
        assert_eq!(TwinVersion::new(0), None);
        assert_eq!(TwinVersion::new(u64::MAX).and_then(TwinVersion::next), None);
        assert!(TwinVersion::try_from(0).is_err());
        assert_eq!(TwinVersion::INITIAL.to_string(), "1");
    }

    #[test]
    fn serde_is_a_plain_number() {
        let v: TwinVersion = serde_json::from_str("42").unwrap();
        assert_eq!(v.get(), 42);
        assert_eq!(serde_json::to_string(&v).unwrap(), "42");
        for bad in ["0", "-1", "1.5", "\"3\"", "null"] {
            assert!(serde_json::from_str::<TwinVersion>(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn next_is_strictly_greater(n in 1..u64::MAX) {
            let v = TwinVersion::new(n).unwrap();
            let next = v.next().unwrap();
            prop_assert!(next > v);
            prop_assert_eq!(next.get(), n + 1);
        }

        #[test]
        fn serde_round_trip(n in 1..=u64::MAX) {
            let v = TwinVersion::new(n).unwrap();
            let text = serde_json::to_string(&v).unwrap();
            prop_assert_eq!(serde_json::from_str::<TwinVersion>(&text).unwrap(), v);
        }
    }
}
