//! The twin `etag`: opaque text, which our hub writes as base64 of an eight-byte big-endian
//! write counter.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Length of the text form: 8 bytes are 12 base64 characters with one `=` of padding.
const TEXT_LEN: usize = 12;
/// The standard base64 alphabet (RFC 4648 section 4).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The etag of a twin, e.g. `AAAAAAAAAAE=`.
///
/// IoT Hub documents etags as opaque; every twin etag it has been seen to return is standard
/// base64 (with padding) of a counter as eight big-endian bytes, going up by one per service
/// write, and that is the form this crate writes ([`Etag::from_counter`], [`Etag::next`]).
/// Parsing never fails: text in that form (canonical base64 of exactly eight bytes) gives an
/// etag with a [`counter`](Etag::counter); any other text is kept verbatim as an opaque etag
/// without one, so that a twin from a hub that numbers its etags otherwise still reads, and is
/// written back and matched (`If-Match`) exactly as received. Two etags are equal when their
/// texts are.
///
/// Cloning an opaque etag shares its text; an etag in our form holds no allocation.
///
/// ```
/// use iot_twin::Etag;
///
/// let etag = Etag::from_counter(1);
/// assert_eq!(etag.as_str(), "AAAAAAAAAAE=");
/// assert_eq!(Etag::parse("AAAAAAAAAAQ=").counter(), Some(4));
/// let opaque = Etag::parse("W/\"datetime'2026-11-26T10%3A04%3A26Z'\"");
/// assert_eq!(opaque.counter(), None);
/// assert_eq!(opaque.as_str(), "W/\"datetime'2026-11-26T10%3A04%3A26Z'\"");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Etag(Repr);

/// The two kinds of etag text. A text in our form is always [`Repr::Counter`], so equal texts
/// have equal representations.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Our form: the counter and its text, always ASCII from [`ALPHABET`] and `=`.
    Counter { counter: u64, text: [u8; TEXT_LEN] },
    /// Any other text, verbatim.
    Opaque(Arc<str>),
}

impl Etag {
    /// The etag of a twin that was never written by a service: counter 1.
    pub const INITIAL: Self = Self::from_counter(1);

    /// The etag for the given counter value.
    pub const fn from_counter(counter: u64) -> Self {
        Self(Repr::Counter {
            counter,
            text: encode(counter.to_be_bytes()),
        })
    }

    /// The etag `text`: with its counter when the text is in our form, opaque otherwise.
    pub fn parse(text: &str) -> Self {
        match decode(text.as_bytes()) {
            Some(counter) => Self::from_counter(counter),
            None => Self(Repr::Opaque(Arc::from(text))),
        }
    }

    /// The counter this etag encodes, or `None` for an opaque etag.
    pub const fn counter(&self) -> Option<u64> {
        match &self.0 {
            Repr::Counter { counter, .. } => Some(*counter),
            Repr::Opaque(_) => None,
        }
    }

    /// The etag after one more write, or `None` once the counter reaches `u64::MAX`.
    ///
    /// IoT Hub does not say how its etags advance; after an opaque etag this gives counter 2
    /// (a twin written once since it was new), which differs from the opaque text as every etag
    /// in our form does.
    pub const fn next(&self) -> Option<Self> {
        let counter = match self.counter() {
            Some(counter) => counter.checked_add(1),
            None => Some(2),
        };
        match counter {
            Some(counter) => Some(Self::from_counter(counter)),
            None => None,
        }
    }

    /// The text form, as it appears in the twin's `etag` field (without quotes).
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The text is built from ASCII only, so the conversion always succeeds.
            Repr::Counter { text, .. } => std::str::from_utf8(text).unwrap_or_default(),
            Repr::Opaque(text) => text,
        }
    }
}

/// Encodes eight bytes as twelve base64 characters ending in one `=`.
const fn encode(bytes: [u8; 8]) -> [u8; TEXT_LEN] {
    let mut out = [b'='; TEXT_LEN];
    let mut group = 0;
    while group < 3 {
        let at = group * 3;
        let b0 = bytes[at];
        let b1 = bytes[at + 1];
        let b2 = if at + 2 < 8 { bytes[at + 2] } else { 0 };
        let word = ((b0 as u32) << 16) | ((b1 as u32) << 8) | b2 as u32;
        let chars = if group < 2 { 4 } else { 3 };
        let mut i = 0;
        while i < chars {
            let index = (word >> (18 - 6 * i)) & 0x3f;
            out[group * 4 + i] = ALPHABET[index as usize];
            i += 1;
        }
        group += 1;
    }
    out
}

/// The 6-bit value of a base64 character, if it is one.
fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes our twelve-character form back into the counter; `None` for any other text
/// (another length, no `=` at the end, a character outside base64, padding bits set).
fn decode(text: &[u8]) -> Option<u64> {
    let [body @ .., b'='] = text else {
        return None;
    };
    if text.len() != TEXT_LEN {
        return None;
    }
    let mut bits: u128 = 0;
    for &c in body {
        bits = (bits << 6) | u128::from(sextet(c)?);
    }
    // 11 characters carry 66 bits: 64 bits of counter followed by 2 bits that must be zero.
    if bits & 0b11 != 0 {
        return None;
    }
    u64::try_from(bits >> 2).ok()
}

/// [`Etag::parse`], which never fails.
impl FromStr for Etag {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(text))
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.counter() {
            Some(counter) => write!(f, "Etag({} = {counter})", self.as_str()),
            None => write!(f, "Etag({:?})", self.as_str()),
        }
    }
}

impl Serialize for Etag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Etag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_the_values_seen_on_the_hub() {
        assert_eq!(Etag::from_counter(1).as_str(), "AAAAAAAAAAE=");
        assert_eq!(Etag::from_counter(4).as_str(), "AAAAAAAAAAQ=");
        assert_eq!(Etag::INITIAL, Etag::from_counter(1));
        assert_eq!(Etag::from_counter(0).as_str(), "AAAAAAAAAAA=");
        assert_eq!(Etag::from_counter(u64::MAX).as_str(), "//////////8=");
        assert_eq!(
            Etag::from_counter(0x0102_0304_0506_0708).as_str(),
            "AQIDBAUGBwg="
        );
        assert_eq!(
            Etag::parse("AQIDBAUGBwg=").counter(),
            Some(0x0102_0304_0506_0708)
        );
    }

    #[test]
    fn other_texts_are_opaque_and_kept_verbatim() {
        for odd in [
            "",
            "AAAAAAAAAAE",
            "AAAAAAAAAAE==",
            "AAAAAAAAAA==",
            "AAAAAAAAAAF=",
            "AAAAAAAA*AE=",
            "\"AAAAAAAAAAE=\"",
            "NjU4ODE3NDIy",
            "W/\"datetime'2026-11-26T10%3A04%3A26.776Z'\"",
            "é€",
        ] {
            let etag = Etag::parse(odd);
            assert_eq!((etag.counter(), etag.as_str()), (None, odd), "{odd:?}");
            assert_eq!(etag.to_string(), odd);
            assert_eq!(odd.parse::<Etag>(), Ok(etag.clone()));
            assert_ne!(etag, Etag::INITIAL);
        }
        assert_eq!(format!("{:?}", Etag::parse("x")), "Etag(\"x\")");
        assert_eq!(format!("{:?}", Etag::INITIAL), "Etag(AAAAAAAAAAE= = 1)");
    }

    #[test]
    fn counts_and_stops_at_the_end() {
        assert_eq!(Etag::INITIAL.next(), Some(Etag::from_counter(2)));
        assert_eq!(Etag::from_counter(u64::MAX).next(), None);
        assert_eq!(Etag::parse("opaque").next(), Some(Etag::from_counter(2)));
    }

    #[test]
    fn serde_is_the_text_form() {
        let etag = Etag::from_counter(5);
        assert_eq!(serde_json::to_string(&etag).unwrap(), "\"AAAAAAAAAAU=\"");
        let back: Etag = serde_json::from_str("\"AAAAAAAAAAU=\"").unwrap();
        assert_eq!(back, etag);
        let odd: Etag = serde_json::from_str("\"ODgxNTgwOA==\"").unwrap();
        assert_eq!((odd.counter(), odd.as_str()), (None, "ODgxNTgwOA=="));
        assert_eq!(serde_json::to_string(&odd).unwrap(), "\"ODgxNTgwOA==\"");
        assert!(serde_json::from_str::<Etag>("5").is_err());
    }

    proptest! {
        #[test]
        fn text_round_trip(counter in any::<u64>()) {
            let etag = Etag::from_counter(counter);
            let parsed = Etag::parse(etag.as_str());
            prop_assert_eq!(parsed.counter(), Some(counter));
            prop_assert_eq!(parsed, etag);
        }

        #[test]
        fn any_text_is_kept_verbatim(text in "\\PC{0,16}") {
            let etag = Etag::parse(&text);
            prop_assert_eq!(etag.as_str(), text.as_str());
            if let Some(counter) = etag.counter() {
                prop_assert_eq!(etag, Etag::from_counter(counter));
            }
        }

        #[test]
        fn equality_is_equality_of_texts(a in "[A-Za-z0-9+/=]{11,13}", b in "[A-Za-z0-9+/=]{11,13}") {
            prop_assert_eq!(Etag::parse(&a) == Etag::parse(&b), a == b);
        }
    }
}
