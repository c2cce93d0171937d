//! Request ids: the `$rid` that pairs a method request with its response.

use std::fmt;
use std::str::FromStr;

use iot_twin::TopicError;

use crate::Error;

/// The request id of one method call, echoed verbatim by the device in its response.
///
/// The hub chooses request ids; devices never make them up. This is [`iot_twin::RequestId`],
/// the `$rid` of every IoT Hub topic (non-empty, at most [`RequestId::MAX_LEN`] bytes, no
/// control characters), narrowed to printable ASCII (space through `~`). IoT Hub documents no
/// rule beyond "a property value"; printable ASCII covers what hubs and SDKs generate (decimal
/// counters, UUIDs) and the 128-byte bound keeps a hostile peer from making us store large
/// strings. On the topic the id is percent-encoded (see [`crate::topic`]), so any such id
/// survives the trip.
///
/// ```
/// use iot_methods::RequestId;
///
/// let rid: RequestId = "1f".parse().unwrap();
/// assert_eq!(rid.as_str(), "1f");
/// assert!("".parse::<RequestId>().is_err());
/// assert!("tab\there".parse::<RequestId>().is_err());
/// assert!("défaut".parse::<RequestId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(iot_twin::RequestId);

impl RequestId {
    /// Longest accepted request id, in bytes.
    pub const MAX_LEN: usize = iot_twin::RequestId::MAX_LEN;

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.0.into_string()
    }

    /// The id for a counter value: its decimal form, which needs no percent-encoding.
    pub(crate) fn from_counter(counter: u64) -> Self {
        Self(iot_twin::RequestId::from_counter(counter))
    }

    /// The counter value this id stands for, when it is the canonical decimal form of one.
    pub(crate) fn to_counter(&self) -> Option<u64> {
        self.0.to_counter()
    }
}

impl FromStr for RequestId {
    type Err = Error;

    /// The shared rules of [`iot_twin::RequestId`] first (empty, then too long), then the
    /// narrower one of this type, naming the first character outside printable ASCII.
    fn from_str(rid: &str) -> Result<Self, Error> {
        let id = rid
            .parse::<iot_twin::RequestId>()
            .map_err(|error| match error {
                TopicError::EmptyRequestId => Error::EmptyRequestId,
                TopicError::RequestIdTooLong { len, max } => Error::RequestIdTooLong { len, max },
                // The shared rules refuse nothing else but control characters, which are outside
                // printable ASCII too.
                _ => not_printable(rid),
            })?;
        if unprintable(rid).is_some() {
            return Err(not_printable(rid));
        }
        Ok(Self(id))
    }
}

impl TryFrom<String> for RequestId {
    type Error = Error;

    fn try_from(rid: String) -> Result<Self, Error> {
        rid.parse()
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The first character of `rid` outside printable ASCII.
fn unprintable(rid: &str) -> Option<char> {
    rid.chars().find(|c| !matches!(c, ' '..='~'))
}

/// The error for `rid`, which holds a character outside printable ASCII.
fn not_printable(rid: &str) -> Error {
    Error::RequestIdNotPrintable {
        rid: rid.to_owned(),
        character: unprintable(rid).unwrap_or(char::REPLACEMENT_CHARACTER),
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
    fn counter_form_is_the_shared_one() {
        assert_eq!(RequestId::from_counter(42).as_str(), "42");
        assert_eq!(RequestId::from_counter(42).to_counter(), Some(42));
        assert_eq!(rid_counter("042"), None);
        assert_eq!(rid_counter("7"), Some(7));
    }

    fn rid_counter(text: &str) -> Option<u64> {
        text.parse::<RequestId>().unwrap().to_counter()
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
