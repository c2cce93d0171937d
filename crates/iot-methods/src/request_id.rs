//! Request ids: the `$rid` that pairs a method request with its response.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// The request id of one method call, echoed verbatim by the device in its response.
///
/// The hub chooses request ids; devices never make them up. We accept any non-empty string of
/// printable ASCII (space through `~`) of at most [`RequestId::MAX_LEN`] bytes. IoT Hub
/// documents no rule beyond "a property value"; printable ASCII covers what hubs and SDKs
/// generate (decimal counters, UUIDs) and the 128-byte bound keeps a hostile peer from making us
/// store large strings. On the topic the id is percent-encoded (see [`crate::topic`]), so any
/// such id survives the trip.
///
/// ```
/// use iot_methods::RequestId;
///
/// let rid: RequestId = "1f".parse().unwrap();
/// assert_eq!(rid.as_str(), "1f");
/// assert!("".parse::<RequestId>().is_err());
/// assert!("tab\there".parse::<RequestId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Longest accepted request id, in bytes.
    pub const MAX_LEN: usize = 128;

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The id for a counter value: its decimal form, which needs no percent-encoding.
    pub(crate) fn from_counter(counter: u64) -> Self {
        Self(counter.to_string())
    }

    /// The counter value this id stands for, when it is the canonical decimal form of one.
    pub(crate) fn to_counter(&self) -> Option<u64> {
        let text = self.0.as_str();
        let canonical = text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
        if canonical { text.parse().ok() } else { None }
    }

    fn validate(rid: &str) -> Result<(), Error> {
        if rid.is_empty() {
            return Err(Error::EmptyRequestId);
        }
        if rid.len() > Self::MAX_LEN {
            return Err(Error::RequestIdTooLong {
                len: rid.len(),
                max: Self::MAX_LEN,
            });
        }
        match rid.chars().find(|c| !matches!(c, ' '..='~')) {
            Some(character) => Err(Error::RequestIdNotPrintable {
                rid: rid.to_owned(),
                character,
            }),
            None => Ok(()),
        }
    }
}

impl FromStr for RequestId {
    type Err = Error;

    fn from_str(rid: &str) -> Result<Self, Error> {
        Self::validate(rid)?;
        Ok(Self(rid.to_owned()))
    }
}

impl TryFrom<String> for RequestId {
    type Error = Error;

    fn try_from(rid: String) -> Result<Self, Error> {
        Self::validate(&rid)?;
        Ok(Self(rid))
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategies::request_id;
    use proptest::prelude::*;

    #[test]
    fn accepts_what_hubs_and_sdks_generate() {
        for rid in [
            "1",
            "65535",
            "9f1c2d3e-0a1b-4c5d-8e9f-0123456789ab",
            "a b&c=d%2F+/?#",
        ] {
            assert_eq!(rid.parse::<RequestId>().unwrap().as_str(), rid);
        }
    }

    #[test]
    fn rejects_empty_long_and_unprintable() {
        assert_eq!("".parse::<RequestId>(), Err(Error::EmptyRequestId));
        assert!("r".repeat(RequestId::MAX_LEN).parse::<RequestId>().is_ok());
        assert_eq!(
            "r".repeat(129).parse::<RequestId>(),
            Err(Error::RequestIdTooLong { len: 129, max: 128 })
        );
        for (rid, character) in [("a\tb", '\t'), ("\u{7f}", '\u{7f}'), ("é", 'é')] {
            assert_eq!(
                RequestId::try_from(rid.to_owned()),
                Err(Error::RequestIdNotPrintable {
                    rid: rid.to_owned(),
                    character
                })
            );
        }
    }

    #[test]
    fn counter_form_is_canonical_decimal() {
        assert_eq!(RequestId::from_counter(42).as_str(), "42");
        assert_eq!(RequestId::from_counter(42).to_counter(), Some(42));
        for other in [
            "042",
            "0",
            "+42",
            "-1",
            "4 2",
            "abc",
            "18446744073709551616",
        ] {
            assert_eq!(
                other.parse::<RequestId>().unwrap().to_counter(),
                None,
                "{other}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_display_round_trip(text in request_id()) {
            let rid: RequestId = text.parse().unwrap();
            prop_assert_eq!(rid.to_string().parse::<RequestId>().unwrap(), rid);
        }

        #[test]
        fn counter_round_trip(counter in 1u64..) {
            prop_assert_eq!(RequestId::from_counter(counter).to_counter(), Some(counter));
        }
    }
}
