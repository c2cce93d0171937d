//! [`RequestId`]: the `$rid` pairing a twin request with the hub's response, and
//! [`RequestIds`], which hands out fresh ones.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::TopicError;

/// The request id of a twin `GET` or reported-properties `PATCH`, echoed by the hub in its
/// response (`$iothub/twin/res/{status}/?$rid={rid}`).
///
/// The device chooses request ids: the Python and Node SDKs send UUIDs, the C SDK a decimal
/// counter, the embedded C SDK whatever its caller passes. IoT Hub documents no rule beyond "a
/// property value", so the hub side must take what devices send. We accept any non-empty UTF-8
/// string of at most [`RequestId::MAX_LEN`] bytes without control characters; the bound keeps a
/// peer from making us store large strings, and control characters have no business in a topic.
/// (Direct-method request ids, which the hub chooses, are narrower: printable ASCII.) On the
/// topic the id is percent-encoded, so any accepted id survives the trip.
///
/// ```
/// use iot_twin::RequestId;
///
/// let rid: RequestId = "9f1c2d3e-0a1b-4c5d-8e9f-0123456789ab".parse().unwrap();
/// assert_eq!(rid.as_str().len(), 36);
/// assert!("".parse::<RequestId>().is_err());
/// assert!("a\nb".parse::<RequestId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// Longest accepted request id, in bytes of UTF-8.
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
    ///
    /// ```
    /// use iot_twin::RequestId;
    ///
    /// assert_eq!(RequestId::from_counter(42).as_str(), "42");
    /// assert_eq!(RequestId::from_counter(42).to_counter(), Some(42));
    /// ```
    pub fn from_counter(counter: u64) -> Self {
        Self(counter.to_string())
    }

    /// The counter value this id stands for, when it is the canonical decimal form of one (no
    /// sign, no leading zero, no zero).
    pub fn to_counter(&self) -> Option<u64> {
        let text = self.0.as_str();
        let canonical = text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
        if canonical { text.parse().ok() } else { None }
    }

    fn validate(rid: &str) -> Result<(), TopicError> {
        if rid.is_empty() {
            return Err(TopicError::EmptyRequestId);
        }
        if rid.len() > Self::MAX_LEN {
            return Err(TopicError::RequestIdTooLong {
                len: rid.len(),
                max: Self::MAX_LEN,
            });
        }
        match rid.chars().find(|c| c.is_control()) {
            Some(character) => Err(TopicError::RequestIdControlCharacter { character }),
            None => Ok(()),
        }
    }
}

impl FromStr for RequestId {
    type Err = TopicError;

    fn from_str(rid: &str) -> Result<Self, TopicError> {
        Self::validate(rid)?;
        Ok(Self(rid.to_owned()))
    }
}

impl TryFrom<String> for RequestId {
    type Error = TopicError;

    fn try_from(rid: String) -> Result<Self, TopicError> {
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

/// Hands out request ids `{prefix}1`, `{prefix}2`, ... for one requester.
///
/// Twin `GET` responses and reported-patch responses arrive on the same topic filter, so the
/// requesters of one device must draw their ids from disjoint sets: give each its own prefix,
/// none of them starting with another.
/// [`crate::DesiredSync`] and [`crate::ReportedOutbox`] use the prefixes `g` and `r` unless told
/// otherwise. A device whose session survives a restart of the process (MQTT `CleanSession=0`)
/// may start its sequences at a random number ([`RequestIds::starting_at`]) or add something
/// unique to the run to its prefixes, so that a response addressed to the previous run is not
/// taken for an answer to this one.
///
/// ```
/// use iot_twin::RequestIds;
///
/// let mut ids = RequestIds::new("g-7f3a-")?;
/// assert_eq!(ids.next_id().as_str(), "g-7f3a-1");
/// assert_eq!(ids.next_id().as_str(), "g-7f3a-2");
/// assert!(RequestIds::new("x".repeat(200)).is_err());
///
/// // A prefix written in the program is checked when the program is compiled.
/// let mut ids = const { RequestIds::with_static_prefix("u") }.starting_at(41);
/// assert_eq!(ids.next_id().as_str(), "u41");
/// # Ok::<(), iot_twin::TopicError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestIds {
    prefix: Cow<'static, str>,
    next: u64,
}

impl RequestIds {
    /// Longest accepted prefix, in bytes: room is left for any counter value.
    pub const MAX_PREFIX_LEN: usize = RequestId::MAX_LEN - 20;

    /// A sequence starting at `{prefix}1`. The prefix may be empty; it must be at most
    /// [`RequestIds::MAX_PREFIX_LEN`] bytes without control characters.
    pub fn new(prefix: impl Into<String>) -> Result<Self, TopicError> {
        let prefix = prefix.into();
        if prefix.len() > Self::MAX_PREFIX_LEN {
            return Err(TopicError::RequestIdTooLong {
                len: prefix.len(),
                max: Self::MAX_PREFIX_LEN,
            });
        }
        if let Some(character) = prefix.chars().find(|c| c.is_control()) {
            return Err(TopicError::RequestIdControlCharacter { character });
        }
        Ok(Self {
            prefix: Cow::Owned(prefix),
            next: 1,
        })
    }

    /// A sequence starting at `{prefix}1` for a prefix written in the program, with the rules of
    /// [`RequestIds::new`]. Evaluated in a constant (`const { ... }` or a `const` item), a prefix
    /// that breaks them does not compile.
    ///
    /// ```compile_fail
    /// const IDS: iot_twin::RequestIds = iot_twin::RequestIds::with_static_prefix("a\tb");
    /// ```
    ///
    /// # Panics
    /// When called outside a constant with a prefix that breaks the rules.
    pub const fn with_static_prefix(prefix: &'static str) -> Self {
        assert!(
            prefix.len() <= Self::MAX_PREFIX_LEN,
            "a request-id prefix is too long"
        );
        assert!(
            !has_control_character(prefix.as_bytes()),
            "a request-id prefix holds a control character"
        );
        Self {
            prefix: Cow::Borrowed(prefix),
            next: 1,
        }
    }

    /// The same sequence, handing out `{prefix}{first}` next.
    #[must_use]
    pub const fn starting_at(mut self, first: u64) -> Self {
        self.next = first;
        self
    }

    /// A request id this sequence has not handed out before.
    ///
    /// After 2^64 ids the counter wraps around; no device lives that long.
    pub fn next_id(&mut self) -> RequestId {
        let id = RequestId(format!("{}{}", self.prefix, self.next));
        self.next = self.next.wrapping_add(1);
        id
    }
}

/// Whether UTF-8 `bytes` hold a control character (`char::is_control`): U+0000 to U+001F and
/// U+007F in one byte, U+0080 to U+009F as `C2 80` to `C2 9F`. A `const fn`, for
/// [`RequestIds::with_static_prefix`].
const fn has_control_character(bytes: &[u8]) -> bool {
    let mut index = 0;
    while index < bytes.len() {
        let c1 = bytes[index] == 0xC2
            && index + 1 < bytes.len()
            && matches!(bytes[index + 1], 0x80..=0x9F);
        if bytes[index] < 0x20 || bytes[index] == 0x7F || c1 {
            return true;
        }
        index += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_what_devices_send() {
        for rid in [
            "1",
            "65535",
            "id_one",
            "9f1c2d3e-0a1b-4c5d-8e9f-0123456789ab",
            "a b&c=d%2F+/?#",
            "défaut",
        ] {
            assert_eq!(rid.parse::<RequestId>().unwrap().as_str(), rid);
        }
    }

    #[test]
    fn rejects_empty_long_and_control_characters() {
        assert_eq!("".parse::<RequestId>(), Err(TopicError::EmptyRequestId));
        assert!("r".repeat(RequestId::MAX_LEN).parse::<RequestId>().is_ok());
        assert_eq!(
            RequestId::try_from("é".repeat(65)),
            Err(TopicError::RequestIdTooLong { len: 130, max: 128 })
        );
        for (rid, character) in [("a\tb", '\t'), ("\u{7f}", '\u{7f}'), ("\u{85}", '\u{85}')] {
            assert_eq!(
                rid.parse::<RequestId>(),
                Err(TopicError::RequestIdControlCharacter { character })
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

    #[test]
    fn sequences_count_from_one_after_their_prefix() {
        let mut ids = RequestIds::new("").unwrap();
        assert_eq!(ids.next_id().as_str(), "1");
        assert_eq!(ids.next_id().as_str(), "2");
        let mut ids = RequestIds::new("x".repeat(RequestIds::MAX_PREFIX_LEN)).unwrap();
        ids.next = u64::MAX;
        assert_eq!(ids.next_id().as_str().len(), RequestId::MAX_LEN);
        assert!(ids.next_id().as_str().ends_with('0'));
        assert_eq!(
            RequestIds::new("a\u{0}"),
            Err(TopicError::RequestIdControlCharacter { character: '\u{0}' })
        );
    }

    #[test]
    fn static_prefixes_follow_the_rules_of_new() {
        const IDS: RequestIds = RequestIds::with_static_prefix("g-\u{a0}é");
        assert_eq!(Ok(IDS), RequestIds::new("g-\u{a0}é"));
        let mut ids = IDS.starting_at(u64::MAX);
        assert_eq!(ids.next_id().as_str(), format!("g-\u{a0}é{}", u64::MAX));
        assert_eq!(ids.next_id().as_str(), "g-\u{a0}é0");
        for (text, control) in [
            ("a\tb", true),
            ("\u{7f}", true),
            ("x\u{9f}", true),
            ("é\u{a0}", false),
        ] {
            assert_eq!(has_control_character(text.as_bytes()), control, "{text:?}");
        }
        let long: &'static str = "x".repeat(RequestIds::MAX_PREFIX_LEN + 1).leak();
        assert!(std::panic::catch_unwind(|| RequestIds::with_static_prefix(long)).is_err());
        assert!(std::panic::catch_unwind(|| RequestIds::with_static_prefix("a\n")).is_err());
    }

    proptest! {
        #[test]
        fn control_characters_are_found_in_utf8(text in "\\PC{0,8}(\\p{Cc}\\PC{0,8})?") {
            prop_assert_eq!(
                has_control_character(text.as_bytes()),
                text.chars().any(char::is_control)
            );
        }

        #[test]
        fn parse_display_round_trip(text in "[^\\p{Cc}]{1,32}") {
            let rid: RequestId = text.parse().unwrap();
            prop_assert_eq!(rid.to_string().parse::<RequestId>().unwrap(), rid);
        }

        #[test]
        fn counter_round_trip(counter in 1u64..) {
            prop_assert_eq!(RequestId::from_counter(counter).to_counter(), Some(counter));
        }

        #[test]
        fn sequence_ids_are_valid_and_distinct(prefix in "[^\\p{Cc}]{0,20}", skip in 0u64..1000) {
            let mut ids = RequestIds::new(prefix).unwrap();
            ids.next = ids.next.wrapping_add(skip);
            let first = ids.next_id();
            let second = ids.next_id();
            prop_assert_ne!(&first, &second);
            prop_assert_eq!(first.as_str().parse::<RequestId>().unwrap(), first);
        }
    }
}
